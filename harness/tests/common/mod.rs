//! Shared helpers for the integration tests: the binary, the repository,
//! reading results back, and asking Docker what is left.
#![allow(dead_code)]

pub mod browser;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mistake-cost"));
    c.current_dir(repo());
    c
}

pub fn run(args: &[&str]) -> Output {
    let out = bin().args(args).output().expect("start mistake-cost");
    eprintln!(
        "--- mistake-cost {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// trials.csv as one map per row, keyed by column name.
pub fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let headers = r.headers().expect("header").clone();
    r.records()
        .map(|rec| {
            let rec = rec.expect("complete row");
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// trials.jsonl as JSON values.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("complete JSON line"))
        .collect()
}

pub fn docker() -> bollard::Docker {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        mistake_cost::docker::connect()
            .await
            .expect("docker engine (run scripts/setup-host.sh)")
    })
}

/// Containers carrying `label` (a `key` or `key=value` filter).
pub fn containers_with_label(label: &str) -> usize {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let docker = mistake_cost::docker::connect().await.expect("docker");
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        docker
            .list_containers(Some(options))
            .await
            .expect("list")
            .len()
    })
}

/// Names of the containers carrying `label`.
pub fn container_names(label: &str) -> Vec<String> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let docker = mistake_cost::docker::connect().await.expect("docker");
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        docker
            .list_containers(Some(options))
            .await
            .expect("list")
            .into_iter()
            .flat_map(|c| c.names.unwrap_or_default())
            .collect()
    })
}

/// The run id a results folder belongs to (from its run.json).
pub fn run_label(out_dir: &Path) -> String {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("run.json")).expect("run.json"))
            .expect("JSON");
    format!(
        "mistake-cost.run={}",
        meta["run_id"].as_str().expect("run_id")
    )
}

/// A scenario's fixtures volume as a run makes it (`docker::fixtures`),
/// labelled with `run`; removed when dropped, a panic included (after
/// the sandboxes that mount it, so declare it before them).
pub struct FixturesVolume {
    pub name: String,
}

impl FixturesVolume {
    pub async fn fill(
        docker: &bollard::Docker,
        run: &mistake_cost::docker::RunId,
        scenario: &str,
        dir: &Path,
    ) -> FixturesVolume {
        let name = mistake_cost::docker::fixtures::volume_name(run, scenario);
        let image = mistake_cost::docker::images::Family::Apt.image();
        mistake_cost::docker::fixtures::fill_volume(docker, run, &name, dir, &image)
            .await
            .expect("filling the fixtures volume");
        FixturesVolume { name }
    }
}

impl Drop for FixturesVolume {
    fn drop(&mut self) {
        // Its own thread and runtime: a drop may happen inside another runtime.
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let docker = mistake_cost::docker::connect().await?;
                let force = bollard::query_parameters::RemoveVolumeOptionsBuilder::default()
                    .force(true)
                    .build();
                docker
                    .remove_volume(&name, Some(force))
                    .await
                    .map_err(|e| mistake_cost::docker::DockerError::Other(e.to_string()))
            })
        })
        .join();
    }
}

/// How many approaches a scenario file (relative to the repository) names:
/// a plan's size follows the file, so adding an approach does not silently
/// shrink what a test checks.
pub fn approach_count(scenario: &str) -> usize {
    let text = std::fs::read_to_string(repo().join(scenario)).unwrap();
    let file: toml::Value = toml::from_str(&text).unwrap();
    file["scenario"]["approaches"].as_array().unwrap().len()
}
