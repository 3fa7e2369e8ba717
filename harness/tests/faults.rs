//! The nemesis against real package managers: the same faults reach every
//! approach, fire, and are recorded; what the tools then leave is data,
//! except where the harness's own behaviour is the subject.

mod common;

use common::*;

const SCENARIO: &str = r#"
[scenario]
name = "tiny-faults"
approaches = ["apt", "pip", "pip-venv", "nix"]
reps = 1

[[package]]
name = "tinya"
version = "1.0"
files = [{ path = "share/tinya/f{}.dat", count = 20, size = 4096 }]

[[package]]
name = "tinyapp"
version = "1.0"
depends = ["tinya"]
files = [{ path = "share/tinyapp/big.bin", size = 1048576 }]

[operation]
kind = "install"
packages = ["tinyapp"]

[[fault]]
kind = "kill"
at_ms = [0]

[[fault]]
kind = "container-kill"
at_ms = [0]

[[fault]]
kind = "syscall"
syscalls = ["rename"]
at = [1]
"#;

#[test]
fn faults_fire_identically_and_a_kill_before_anything_leaves_the_old_state() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny-faults.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out = dir.path().join("out");
    let o = run(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let rows = read_csv(&out.join("trials.csv"));
    assert_eq!(rows.len(), 12, "3 faults × 4 approaches");
    for r in &rows {
        assert_ne!(r["outcome"], "errored", "{r:?}");
        assert!([
            "kill:KILL@0ms",
            "container-kill@0ms",
            "syscall:rename#1:KILL"
        ]
        .contains(&r["fault"].as_str()));
    }
    // Each fault reached every approach with the same seed.
    for fault in [
        "kill:KILL@0ms",
        "container-kill@0ms",
        "syscall:rename#1:KILL",
    ] {
        let of: Vec<_> = rows.iter().filter(|r| r["fault"] == fault).collect();
        assert_eq!(of.len(), 4, "{fault}");
        assert!(of.iter().all(|r| r["seed"] == of[0]["seed"]));
    }
    // A kill at 0 ms lands before the package manager did anything: the
    // state must be the old one, for every approach.
    for r in rows
        .iter()
        .filter(|r| r["fault"] == "kill:KILL@0ms" || r["fault"] == "container-kill@0ms")
    {
        assert_eq!(r["outcome"], "killed", "{r:?}");
        assert_eq!(r["residue_files"], "0", "{} {}", r["fault"], r["approach"]);
        assert_eq!(r["residue_packages"], "0");
        assert_eq!(r["consistent"], "true");
        assert_eq!(r["recovered"], "true");
    }
    // The jsonl says how the fault was injected.
    let lines = read_jsonl(&out.join("trials.jsonl"));
    for l in &lines {
        let op = l["history"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["phase"] == "operation")
            .unwrap();
        let cmd = op["command"].as_str().unwrap();
        match l["record"]["fault"].as_str().unwrap() {
            "kill:KILL@0ms" => assert!(
                cmd.contains("[nemesis: SIGKILL after 0 ms]") && !op["fault_fired_ms"].is_null(),
                "{cmd}"
            ),
            "container-kill@0ms" => assert!(cmd.contains("container killed"), "{cmd}"),
            _ => assert!(
                cmd.contains("strace -f") && cmd.contains("inject=rename:signal=KILL:when=1"),
                "{cmd}"
            ),
        }
    }
    assert_eq!(containers_with_label(&run_label(&out)), 0);
}
