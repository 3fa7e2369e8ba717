//! Nothing leaks: Ctrl-C removes the run's containers and keeps only whole
//! rows; a later start sweeps a dead run's leftovers; `clean` removes all.

mod common;

use bollard::models::ContainerCreateBody;
use common::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn create_labelled(labels: HashMap<String, String>) -> String {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let docker = mistake_cost::docker::connect().await.unwrap();
        let body = ContainerCreateBody {
            image: Some(mistake_cost::docker::images::Family::Nix.image()),
            cmd: Some(vec!["sleep".into(), "infinity".into()]),
            labels: Some(labels),
            ..Default::default()
        };
        docker
            .create_container(
                None::<bollard::query_parameters::CreateContainerOptions>,
                body,
            )
            .await
            .unwrap()
            .id
    })
}

/// `clean` removes every labelled container, so these tests must not overlap.
static DOCKER_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn ensure_images() {
    let o = run(&["images", "build"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn dead_runs_are_swept_live_ones_kept_and_clean_removes_all() {
    let _lock = DOCKER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    ensure_images();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let label = |run: &str, pid: &str| {
        HashMap::from([
            ("mistake-cost.run".to_string(), run.to_string()),
            ("mistake-cost.pid".to_string(), pid.to_string()),
            ("mistake-cost.host".to_string(), host.clone()),
        ])
    };
    // pid_max is at most 2^22: this pid cannot be alive.
    create_labelled(label("test-dead", "4194305"));
    create_labelled(label("test-live", &std::process::id().to_string()));
    let report = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let docker = mistake_cost::docker::connect().await.unwrap();
        mistake_cost::docker::sweep_dead_runs(&docker)
            .await
            .unwrap()
    });
    assert!(report.containers >= 1);
    assert_eq!(containers_with_label("mistake-cost.run=test-dead"), 0);
    assert_eq!(
        containers_with_label("mistake-cost.run=test-live"),
        1,
        "a live run's container is not touched"
    );

    let o = run(&["clean"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(containers_with_label("mistake-cost.run"), 0);
}

#[test]
fn ctrl_c_removes_containers_and_keeps_whole_rows() {
    let _lock = DOCKER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    ensure_images();
    let out = tempfile::tempdir().unwrap();
    let child = bin()
        .args([
            "run",
            "scenarios/failed-install.toml",
            "--reps",
            "3",
            "--jobs",
            "2",
            "--out",
            out.path().to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until trials are running (trial containers are named `…-t<index>`;
    // the base scans come first), then interrupt.
    let deadline = Instant::now() + Duration::from_secs(120);
    let is_trial = |n: &String| {
        n.rsplit_once("-t")
            .is_some_and(|(_, i)| i.parse::<usize>().is_ok())
    };
    while !container_names("mistake-cost.run").iter().any(is_trial) {
        assert!(Instant::now() < deadline, "no trial started");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    unsafe_sigint(child.id());
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        containers_with_label(&run_label(out.path())),
        0,
        "every container removed"
    );
    assert!(std::fs::read_to_string(out.path().join("run.json"))
        .unwrap()
        .contains("interrupted"));
    // Whatever was written is whole: every row parses with every column.
    let rows = read_csv(&out.path().join("trials.csv"));
    assert!(rows.len() < 12);
    for r in rows {
        assert!(!r["outcome"].is_empty());
    }
}

/// A SIGKILLed run reaches none of its clean-up: the next run's start must
/// sweep its containers and its scratch folder, and mark its run.json.
#[test]
fn a_sigkilled_run_is_swept_by_the_next_start() {
    let _lock = DOCKER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    ensure_images();
    let out = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args([
            "run",
            "scenarios/failed-install.toml",
            "--reps",
            "3",
            "--out",
            out.path().to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !out.path().join("trials.csv").exists() || containers_with_label("mistake-cost.run") == 0
    {
        assert!(Instant::now() < deadline, "no trial started");
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let label = run_label(out.path());
    let run_id = label.trim_start_matches("mistake-cost.run=");
    let scratch = std::env::temp_dir().join(format!("mistake-cost-{run_id}"));
    assert!(scratch.exists(), "the killed run left its scratch folder");
    assert!(
        containers_with_label(&label) > 0,
        "the killed run left containers"
    );

    // Any later run sweeps: a one-trial scenario is enough.
    let dir = tempfile::tempdir().unwrap();
    let tiny = dir.path().join("tiny.toml");
    std::fs::write(
        &tiny,
        "[scenario]\nname = \"tiny\"\napproaches = [\"apt\"]\nreps = 1\n\n[[package]]\nname = \"a\"\nversion = \"1.0\"\n\n[operation]\nkind = \"install\"\npackages = [\"a\"]\n",
    )
    .unwrap();
    let second = tempfile::tempdir().unwrap();
    let o = run(&[
        "run",
        tiny.to_str().unwrap(),
        "--out",
        second.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("left by a dead run"), "{stderr}");
    assert_eq!(containers_with_label(&label), 0, "containers swept");
    assert!(!scratch.exists(), "scratch folder swept");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("run.json")).unwrap())
            .unwrap();
    assert_eq!(meta["status"], "killed");
    // The rows written before the kill are whole.
    for r in read_csv(&out.path().join("trials.csv")) {
        assert!(!r["outcome"].is_empty());
    }
}

/// One process per results folder; a killed run is finished by `--resume`
/// with every plan key exactly once.
#[test]
fn a_busy_folder_is_refused_and_a_killed_run_resumes_to_the_full_plan() {
    let _lock = DOCKER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    ensure_images();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_s = out.to_str().unwrap();
    let args = [
        "run",
        "scenarios/failed-install.toml",
        "--reps",
        "2",
        "--out",
        out_s,
    ];
    let mut first = bin()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let approaches = approach_count(args[1]);
    let planned = approaches * 2;
    let deadline = Instant::now() + Duration::from_secs(300);
    let rows = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0)
    };
    while rows(&out.join("trials.csv")) < 2 {
        assert!(Instant::now() < deadline, "no rows written");
        std::thread::sleep(Duration::from_millis(200));
    }
    // A second process is refused without touching the folder.
    let meta_before = std::fs::read_to_string(out.join("run.json")).unwrap();
    let second = run(&args);
    assert_eq!(second.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&second.stderr).contains("in use"));
    assert_eq!(
        std::fs::read_to_string(out.join("run.json")).unwrap(),
        meta_before
    );

    first.kill().unwrap();
    first.wait().unwrap();
    let killed_id = run_label(&out);
    let partial = rows(&out.join("trials.csv"));
    assert!(
        partial < planned,
        "the kill came before the end ({partial} rows)"
    );

    // Without --resume a folder with results is refused.
    let again = run(&args);
    assert_eq!(again.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));

    let resumed = run(&["run", "--resume", "--out", out_s]);
    assert_eq!(resumed.status.code(), Some(0));
    let table = read_csv(&out.join("trials.csv"));
    let keys: std::collections::BTreeSet<(String, String, String, String)> = table
        .iter()
        .map(|r| {
            (
                r["scenario"].clone(),
                r["approach"].clone(),
                r["fault"].clone(),
                r["rep"].clone(),
            )
        })
        .collect();
    assert_eq!(table.len(), planned, "{approaches} approaches × 2 reps, each once");
    assert_eq!(keys.len(), planned, "no plan key twice");
    let jsonl = std::fs::read_to_string(out.join("trials.jsonl")).unwrap();
    // A kill between a trial's CSV row and its JSONL line (written in that
    // order) can cost one history; the rows are the plan's record.
    assert!(jsonl.lines().count() >= planned - 1 && jsonl.ends_with('\n'));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(meta["status"], "finished");
    let previous = killed_id.trim_start_matches("mistake-cost.run=");
    assert!(
        meta["resumed_from"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == previous)),
        "{meta}"
    );
}

fn unsafe_sigint(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}
