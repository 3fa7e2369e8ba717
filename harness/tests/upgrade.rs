//! Upgrades against real package managers: the matched fixtures really
//! upgrade 1.0 → 2.0 everywhere, a kill before anything leaves 1.0, and a
//! crashed upgrade gets the roll-back playbook. What the crash leaves is
//! data, not an expectation.

mod common;

use common::*;

/// Two versions of a two-package set; `{faults}` is replaced per file.
const SCENARIO: &str = r#"
[scenario]
name = "NAME"
approaches = ["apt", "pip", "pip-venv", "nix"]
reps = 1

[[package]]
name = "tinya"
version = "1.0"
files = [{ path = "share/tinya/f{}.dat", count = 20, size = 4096 }]

[[package]]
name = "tinyapp"
version = "1.0"
depends = ["tinya=1.0"]
files = [{ path = "share/tinyapp/big.bin", size = 1048576 }]

[[package]]
name = "tinya"
version = "2.0"
files = [{ path = "share/tinya/f{}.dat", count = 19, size = 4096 }, { path = "share/tinya/new.dat", size = 10 }]

[[package]]
name = "tinyapp"
version = "2.0"
depends = ["tinya=2.0"]
files = [{ path = "share/tinyapp/big.bin", size = 1048576 }]

[setup]
install = ["tinyapp=1.0"]

[operation]
kind = "upgrade"
packages = ["tinyapp=2.0"]
"#;

const FAULTS: &str = r#"
[[fault]]
kind = "kill"
at_ms = [0]

[[fault]]
kind = "syscall"
syscalls = ["rename"]
at = [1]
"#;

#[test]
fn upgrades_upgrade_and_crashed_ones_get_the_roll_back_playbook() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir(&scenarios).unwrap();
    std::fs::write(
        scenarios.join("clean.toml"),
        SCENARIO.replace("NAME", "upgrade-clean"),
    )
    .unwrap();
    std::fs::write(
        scenarios.join("crashed.toml"),
        SCENARIO.replace("NAME", "upgrade-crashed") + FAULTS,
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = run(&[
        "run",
        scenarios.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows = read_csv(&out.join("trials.csv"));
    assert_eq!(rows.len(), 12, "4 undisturbed + 2 faults × 4 approaches");
    for r in &rows {
        assert_ne!(r["outcome"], "errored", "{r:?}");
    }

    let lines = read_jsonl(&out.join("trials.jsonl"));
    for l in lines
        .iter()
        .filter(|l| l["record"]["scenario"] == "upgrade-clean")
    {
        let r = &l["record"];
        let a = r["approach"].as_str().unwrap();
        // The fixtures work: the undisturbed upgrade succeeds, its checks
        // pass, and 2.0's files replace 1.0's.
        assert_eq!(r["outcome"], "succeeded", "{a}: {r}");
        assert_eq!(r["consistent"], "true", "{a}");
        let paths: Vec<&str> = l["history"]["residue_after_failure"]["paths"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["class"] == "visible")
            .map(|p| p["path"].as_str().unwrap())
            .collect();
        assert!(
            paths
                .iter()
                .any(|p| p.ends_with("tinya/new.dat") || p.contains("-tinya-2.0")),
            "{a}: 2.0 not installed: {paths:?}"
        );
        assert_ne!(
            r["residue_packages"], 0,
            "{a}: the package view must change"
        );
        // Set-up installed 1.0 with the same command shape as the operation.
        let setup: Vec<&str> = l["history"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["phase"] == "setup")
            .map(|s| s["command"].as_str().unwrap())
            .collect();
        let pinned = match a {
            "apt" => "tinyapp=1.0 tinya=1.0",
            "nix" => "-A tinyapp_1_0",
            _ => "tinyapp==1.0",
        };
        assert!(setup.iter().any(|c| c.contains(pinned)), "{a}: {setup:?}");
    }
    for r in rows.iter().filter(|r| r["fault"] == "kill:KILL@0ms") {
        assert_eq!(
            r["residue_files"], "0",
            "{}: a kill at 0 ms leaves 1.0",
            r["approach"]
        );
        assert_eq!(r["residue_packages"], "0", "{}", r["approach"]);
        assert_eq!(r["recovered"], "true", "{}", r["approach"]);
    }
    // After a crash at the first rename the roll-back playbook runs
    // whenever the state changed; what it achieves is data.
    for l in lines
        .iter()
        .filter(|l| l["record"]["fault"] == "syscall:rename#1:KILL")
    {
        let r = &l["record"];
        let a = r["approach"].as_str().unwrap();
        let recovery: Vec<&str> = l["history"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["phase"] == "recovery")
            .map(|s| s["command"].as_str().unwrap())
            .collect();
        if r["playbook_ran"] == true {
            let rollback: &[&str] = match a {
                "apt" => &["--allow-downgrades", "tinya=1.0", "tinyapp=1.0"],
                "nix" => &["nix-env --rollback"],
                _ => &["tinya==1.0", "tinyapp==1.0"],
            };
            assert!(
                recovery
                    .iter()
                    .any(|c| rollback.iter().all(|w| c.contains(w))),
                "{a}: {recovery:?}"
            );
            assert!(r["recovery_ms"].is_number(), "{a}");
        }
        assert!(["true", "false", "unknown"].contains(&r["recovered"].as_str().unwrap()));
    }
    assert_eq!(containers_with_label(&run_label(&out)), 0);
}
