//! A slow state set-up is committed once as an image and reused: every
//! later trial starts from it and measures exactly what the first trial,
//! which ran the set-up itself, measured; the image is removed with the run.
//! pip-venv's venv is all files; apt-etckeeper's set-up (etckeeper
//! installed, /etc committed) is files up to nginx's start, and the live
//! part (nginx, the probe, the wanted edit) runs in every trial.

mod common;

use std::collections::HashMap;

/// `scenario` narrowed to `approach`, run `reps` times one at a time: its
/// trials' histories.
fn run_one_approach(scenario: &str, approach: &str, reps: u32) -> (Vec<serde_json::Value>, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(common::repo().join(scenario))
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("approaches = ") {
                format!("approaches = [\"{approach}\"]")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let file = dir.path().join("narrowed.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    let o = common::run(&[
        "run",
        file.to_str().unwrap(),
        "--reps",
        &reps.to_string(),
        "--jobs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows = common::read_jsonl(&out.join("trials.jsonl"));
    assert_eq!(rows.len(), reps as usize);
    (rows, out, dir)
}

fn reused(r: &serde_json::Value) -> f64 {
    r["history"]["timings"]["setup_reused_ms"]
        .as_f64()
        .unwrap_or(0.0)
}

fn setup_steps(r: &serde_json::Value) -> Vec<String> {
    r["history"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["phase"] == "setup")
        .map(|s| s["command"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Every measured column but the timings.
fn measured(r: &serde_json::Value) -> HashMap<String, String> {
    let timing = [
        "recovery_ms",
        "operation_ms",
        "trial_wall_ms",
        "overhead_ms",
        "seed",
        "rep",
        "detect_ms",
        "downtime_ms",
        "restore_ms",
        "change_ms",
    ];
    r["record"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !timing.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

fn assert_no_image_left(out: &std::path::Path) {
    let label = common::run_label(out);
    let filters = HashMap::from([("label".to_string(), vec![label])]);
    let docker = common::docker();
    let left = tokio::runtime::Runtime::new().unwrap().block_on(async {
        docker
            .list_images(Some(
                bollard::query_parameters::ListImagesOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .unwrap()
    });
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_committed_set_up_measures_the_same_and_leaves_no_image() {
    let (rows, out, _dir) = run_one_approach("scenarios/failed-install.toml", "pip-venv", 5);
    // The first trial made the venv itself; one at a time, every later one
    // starts from the image (its build starts once the first trial's
    // set-up is timed, and a trial waits for a build under way).
    assert_eq!(reused(&rows[0]), 0.0);
    assert!(!setup_steps(&rows[0]).is_empty());
    for r in &rows[1..] {
        assert!(reused(r) > 0.0, "not from the committed set-up: {}", r["record"]);
        assert!(setup_steps(r).is_empty(), "the venv is not made again");
    }
    for r in &rows[1..] {
        assert_eq!(measured(r), measured(&rows[0]));
    }
    assert_eq!(rows[0]["record"]["error"], "");
    assert_no_image_left(&out);
}

#[test]
fn a_service_set_up_commits_its_files_and_starts_the_service_in_every_trial() {
    let (rows, out, _dir) =
        run_one_approach("scenarios/bad-config-wrong-root-etckeeper.toml", "apt", 3);
    let first = setup_steps(&rows[0]);
    assert_eq!(reused(&rows[0]), 0.0);
    assert!(
        first.iter().any(|c| c.contains("etckeeper")),
        "the first trial installs etckeeper itself: {first:?}"
    );
    for r in &rows[1..] {
        assert!(reused(r) > 0.0, "not from the committed set-up: {}", r["record"]);
        let steps = setup_steps(r);
        // The live part only: nginx started, the wanted edit applied and
        // committed to etckeeper's repository (which the image holds).
        assert!(
            !steps.iter().any(|c| c.contains("dpkg -i")),
            "etckeeper is not installed again: {steps:?}"
        );
        assert!(steps.iter().any(|c| c.contains("nginx")), "{steps:?}");
        assert!(first.ends_with(&steps), "{first:?} does not end with {steps:?}");
        assert_eq!(r["record"]["healthy_before"], true, "{}", r["record"]);
        // Runtime files the probe's timing decides (nginx's logs) vary
        // from trial to trial without any commit: apt's bad-config-wrong-root
        // rows in results/reference/study have 2 and 1 garbage paths.
        let without_garbage = |r| {
            let mut m = measured(r);
            m.remove("garbage_paths");
            m.remove("final_garbage_paths");
            m
        };
        assert_eq!(without_garbage(r), without_garbage(&rows[0]));
    }
    assert_eq!(rows[0]["record"]["error"], "");
    assert_no_image_left(&out);
}
