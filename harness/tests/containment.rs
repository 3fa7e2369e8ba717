//! A hostile scenario cannot make the harness use memory or host I/O
//! without bound: a probe that prints 1 GiB reaches the harness as a 4 KiB
//! tail, and a playbook that leaves a 9 GiB file errors its trial (the
//! snapshot refuses to read it) with a clear reason.

mod common;

use common::*;
use std::time::{Duration, Instant};

const SCENARIO: &str = r#"
[scenario]
name = "hostile"
approaches = ["apt"]
reps = 1

[[package]]
name = "breaks"
version = "1.0"
files = [{ path = "lib/a.dat", size = 64 }]
[package.fail]
step = "configure"

[operation]
kind = "install"
packages = ["breaks"]

[recovery.apt]
commands = ["truncate -s 9G /var/big.img"]

[[probe]]
name = "loud"
command = "head -c 1073741824 /dev/zero; true"
"#;

/// The peak resident memory of a process, in KiB (VmHWM).
fn peak_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn a_loud_probe_and_a_huge_file_are_contained() {
    let o = run(&["images", "build"]);
    assert_eq!(o.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out = dir.path().join("run");
    let mut child = bin()
        .args([
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut peak = 0;
    let status = loop {
        if let Some(p) = peak_kib(child.id()) {
            peak = peak.max(p);
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the run did not end");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "one errored trial: {stderr}");
    let rows = read_csv(&out.join("trials.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["outcome"], "errored");
    assert!(
        rows[0]["error"].contains("changed files hold more than 8 GiB"),
        "{}",
        rows[0]["error"]
    );
    // The 1 GiB of probe output never reached the harness whole.
    assert!(
        peak > 0 && peak < 512 * 1024,
        "peak resident memory {peak} KiB"
    );
    eprintln!("harness peak resident memory: {peak} KiB");
}
