//! A slow state set-up is committed once as an image and reused: every
//! later trial starts from it and measures exactly what the first trial,
//! which ran the set-up itself, measured; the image is removed with the run.
//! pip-venv's venv is all files; apt-etckeeper's set-up (etckeeper
//! installed, /etc committed) is files up to nginx's start, and the live
//! part (nginx, the probe, the wanted edit) runs in every trial.

mod common;

use std::collections::HashMap;

/// A run's trials.jsonl lines, its results folder and the temporary
/// folder that holds it.
type Ran = (Vec<serde_json::Value>, std::path::PathBuf, tempfile::TempDir);

/// `scenario` narrowed to `approach`, run `reps` times one at a time: its
/// trials' histories.
fn run_one_approach(
    scenario: &str,
    approach: &str,
    reps: u32,
) -> Ran {
    let text = std::fs::read_to_string(common::repo().join(scenario)).unwrap();
    run_text(&text, approach, reps)
}

/// A scenario's `text` narrowed to `approach`, run `reps` times one at a
/// time: its trials' histories.
fn run_text(
    text: &str,
    approach: &str,
    reps: u32,
) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let text = text
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

fn committed_here(r: &serde_json::Value) -> f64 {
    r["history"]["timings"]["setup_commit_ms"]
        .as_f64()
        .unwrap_or(0.0)
}

fn reused(r: &serde_json::Value) -> f64 {
    r["history"]["timings"]["setup_reused_ms"]
        .as_f64()
        .unwrap_or(0.0)
}

fn setup_steps(r: &serde_json::Value) -> Vec<String> {
    steps_in(r, "setup")
}

fn steps_in(r: &serde_json::Value, phase: &str) -> Vec<String> {
    r["history"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["phase"] == phase)
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
    // The first trial made the venv itself and committed its container
    // right after; every later one starts from that image.
    assert_eq!(reused(&rows[0]), 0.0);
    assert!(
        committed_here(&rows[0]) > 0.0,
        "{}",
        rows[0]["history"]["timings"]
    );
    assert!(!setup_steps(&rows[0]).is_empty());
    for r in &rows[1..] {
        assert!(
            reused(r) > 0.0,
            "not from the committed set-up: {}",
            r["record"]
        );
        assert_eq!(committed_here(r), 0.0);
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
        assert!(
            reused(r) > 0.0,
            "not from the committed set-up: {}",
            r["record"]
        );
        let steps = setup_steps(r);
        // The live part only: nginx started, the wanted edit applied and
        // committed to etckeeper's repository (which the image holds).
        assert!(
            !steps.iter().any(|c| c.contains("dpkg -i")),
            "etckeeper is not installed again: {steps:?}"
        );
        assert!(steps.iter().any(|c| c.contains("nginx")), "{steps:?}");
        assert!(
            first.ends_with(&steps),
            "{first:?} does not end with {steps:?}"
        );
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

/// An install that succeeds, and a retry, are compared with a clean
/// install of the new state; the pair's trials share one, made from the
/// committed set-up by the first trial that needs it.
#[test]
fn a_pair_compares_with_one_clean_install_made_from_its_image() {
    // fastmath without its failing script: the install succeeds.
    let text =
        std::fs::read_to_string(common::repo().join("scenarios/failed-install.toml")).unwrap();
    let mut succeeding = String::new();
    let mut skipping = false;
    for l in text.lines() {
        if l.starts_with('[') {
            skipping = l == "[package.fail]" || l == "[[guarantee]]" || l == "[[probe]]";
        }
        if !skipping {
            succeeding.push_str(l);
            succeeding.push('\n');
        }
    }
    for approach in ["apt", "pip-venv"] {
        let (rows, out, _dir) = run_text(&succeeding, approach, 3);
        let made: Vec<usize> = (0..rows.len())
            .filter(|&i| !steps_in(&rows[i], "clean-install").is_empty())
            .collect();
        assert_eq!(
            made,
            [0],
            "{approach}: one clean install, the first trial's"
        );
        for (i, r) in rows.iter().enumerate() {
            let rec = &r["record"];
            assert_eq!(rec["outcome"], "succeeded", "{approach}: {rec}");
            // Measured: the same install twice leaves the same visible
            // files and packages, for apt and for pip in a venv.
            assert_eq!(
                rec["clean_diff_files"], 0,
                "{approach}: {}",
                r["history"]["clean"]
            );
            assert_eq!(rec["clean_diff_packages"], 0, "{approach}");
            assert_eq!(rec["recovered"], "true", "{approach}: {rec}");
            assert_eq!(rec["retry_diff_files"], serde_json::Value::Null);
            let reused = r["history"]["clean"]["reused"].as_bool().unwrap_or(false);
            assert_eq!(reused, i > 0, "{approach} trial {i}");
        }
        if approach == "pip-venv" {
            // The clean install starts from the committed venv too.
            let clean = steps_in(&rows[0], "clean-install");
            assert!(!clean.iter().any(|c| c.contains("-m venv")), "{clean:?}");
        }
        assert_no_image_left(&out);
    }
}
