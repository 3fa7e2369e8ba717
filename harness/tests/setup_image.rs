//! A slow state set-up (pip-venv's venv) is committed once as an image and
//! reused: every later trial starts from it and measure exactly what the first
//! trial, which ran the set-up itself, measured; the image is removed with
//! the run.

mod common;

use std::collections::HashMap;

#[test]
fn a_committed_set_up_measures_the_same_and_leaves_no_image() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(common::repo().join("scenarios/failed-install.toml"))
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("approaches = ") {
                "approaches = [\"pip-venv\"]".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let scenario = dir.path().join("venv.toml");
    std::fs::write(&scenario, text).unwrap();
    let out = dir.path().join("out");
    let o = common::run(&[
        "run",
        scenario.to_str().unwrap(),
        "--reps",
        "5",
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
    assert_eq!(rows.len(), 5);
    let reused = |r: &serde_json::Value| {
        r["history"]["timings"]["setup_reused_ms"]
            .as_f64()
            .unwrap_or(0.0)
    };
    let setup_steps = |r: &serde_json::Value| {
        r["history"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["phase"] == "setup")
            .count()
    };
    // The first trial made the venv itself; one at a time, every later one
    // starts from the image (its build starts once the first trial's
    // set-up is timed, and a trial waits for a build under way).
    assert_eq!(reused(&rows[0]), 0.0);
    assert!(setup_steps(&rows[0]) > 0);
    for r in &rows[1..] {
        assert!(reused(r) > 0.0, "not from the committed set-up: {}", r["record"]);
        assert_eq!(setup_steps(r), 0, "the venv is not made again");
    }
    // Every measured column agrees, timing columns aside.
    let timing = [
        "recovery_ms",
        "operation_ms",
        "trial_wall_ms",
        "overhead_ms",
        "seed",
        "rep",
    ];
    let measured = |r: &serde_json::Value| -> HashMap<String, String> {
        r["record"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !timing.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect()
    };
    for r in &rows[1..] {
        assert_eq!(measured(r), measured(&rows[0]));
    }
    assert_eq!(rows[0]["record"]["error"], "");

    // The run's images are gone with it.
    let label = common::run_label(&out);
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
