//! Docker's engine dies mid-run: the run stops with exit 4 instead of
//! erroring every remaining trial, keeps its finished rows, and `--resume`
//! finishes the plan once the engine is back. Stops and restarts this
//! machine's dockerd (through scripts/setup-host.sh).

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn start_engine() {
    let ok = Command::new("bash")
        .arg(repo().join("scripts/setup-host.sh"))
        .status()
        .expect("run setup-host.sh");
    assert!(ok.success(), "dockerd did not come back");
}

/// Stops dockerd and waits until it is gone.
fn stop_engine() {
    let _ = Command::new("pkill")
        .args(["-TERM", "-x", "dockerd"])
        .status();
    let deadline = Instant::now() + Duration::from_secs(90);
    while Command::new("pgrep")
        .args(["-x", "dockerd"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(Instant::now() < deadline, "dockerd did not stop");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_lost_engine_stops_the_run_and_resume_finishes_it() {
    start_engine();
    let o = run(&["images", "build"]);
    assert_eq!(o.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_s = out.to_str().unwrap();
    let child = bin()
        .args([
            "run",
            "scenarios/failed-install.toml",
            "--reps",
            "2",
            "--out",
            out_s,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let csv = out.join("trials.csv");
    let rows = || {
        std::fs::read_to_string(&csv)
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    while rows() < 1 {
        assert!(Instant::now() < deadline, "no row written");
        std::thread::sleep(Duration::from_millis(200));
    }
    stop_engine();
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Bring the engine back before asserting, so later tests have one.
    start_engine();
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "stopped within two minutes of the engine"
    );
    assert!(stderr.contains("run --resume --out"), "{stderr}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(meta["status"], "failed");
    // Rows are whole; an errored one claims no result.
    for r in read_csv(&csv) {
        if r["outcome"] == "errored" {
            assert!(r["consistent"] == "unknown" && r["residue_files"].is_empty());
        }
    }

    let resumed = run(&["run", "--resume", "--out", out_s]);
    assert_eq!(resumed.status.code(), Some(0));
    let table = read_csv(&csv);
    let planned = approach_count("scenarios/failed-install.toml") * 2;
    assert_eq!(table.len(), planned, "every approach × 2 reps");
    let keys: std::collections::BTreeSet<_> = table
        .iter()
        .map(|r| (r["approach"].clone(), r["rep"].clone(), r["fault"].clone()))
        .collect();
    assert_eq!(keys.len(), planned, "every plan key exactly once");
    assert!(table.iter().all(|r| r["outcome"] != "errored"));
}
