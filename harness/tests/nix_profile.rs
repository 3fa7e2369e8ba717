//! The `nix-profile` approach (`nix profile install -f … ATTR` on the
//! multi-user Nix image) against `nix` (`nix-env`) on the real scenario
//! files, judged from trials.csv and trials.jsonl only. The expectations
//! are what Nix 2.8.0 did in these containers when the approach was added
//! (seed 1); if Nix changes its behaviour this test says so.

mod common;

use common::*;
use std::collections::HashMap;
use std::path::Path;

fn row<'a>(rows: &'a [HashMap<String, String>], approach: &str) -> &'a HashMap<String, String> {
    rows.iter()
        .find(|r| r["approach"] == approach)
        .unwrap_or_else(|| panic!("no row for {approach}"))
}

fn num(r: &HashMap<String, String>, col: &str) -> f64 {
    r[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?} is not a number", r[col]))
}

fn history<'a>(lines: &'a [serde_json::Value], approach: &str) -> &'a serde_json::Value {
    &lines
        .iter()
        .find(|l| l["record"]["approach"] == approach)
        .expect("jsonl line")["history"]
}

fn paths(h: &serde_json::Value, which: &str, class: &str) -> Vec<String> {
    let mut v: Vec<String> = h[which]["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .filter(|p| p["class"] == class)
        .map(|p| p["path"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn steps<'a>(h: &'a serde_json::Value, phase: &str) -> Vec<&'a serde_json::Value> {
    h["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["phase"] == phase)
        .collect()
}

/// A shipped scenario file for `nix` and `nix-profile` only: its packages,
/// operation and set-up unchanged; its probes, guarantees and faults
/// (other approaches' or the scenario's own) left out, `faults` put in.
fn nix_only(dir: &Path, file: &str, faults: &str) -> String {
    let text = std::fs::read_to_string(repo().join("scenarios").join(file)).unwrap();
    let mut out = String::new();
    let mut skipping = false;
    for l in text.lines() {
        if l.starts_with("[[probe]]")
            || l.starts_with("[[guarantee]]")
            || l.starts_with("[[fault]]")
        {
            skipping = true;
        } else if l.starts_with('[') {
            skipping = false;
        }
        if skipping {
            continue;
        }
        if l.starts_with("approaches = ") && !out.contains("approaches = ") {
            out += "approaches = [\"nix\", \"nix-profile\"]\n";
        } else {
            out += l;
            out += "\n";
        }
    }
    out += faults;
    let path = dir.join(file);
    std::fs::write(&path, out).unwrap();
    path.to_str().unwrap().to_string()
}

fn run_rows(scenario: &str, out: &Path) -> (Vec<HashMap<String, String>>, Vec<serde_json::Value>) {
    let o = run(&[
        "run",
        scenario,
        "--reps",
        "1",
        "--jobs",
        "2",
        "--seed",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "run must succeed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        containers_with_label(&run_label(out)),
        0,
        "no container left behind"
    );
    (
        read_csv(&out.join("trials.csv")),
        read_jsonl(&out.join("trials.jsonl")),
    )
}

/// failed-install: fastmath's builder fails after its three dependencies
/// were built. `nix profile install` fails before it makes a generation:
/// no visible residue, no package changed, consistent, no playbook needed;
/// the same garbage as `nix-env` (the identical derivations: the built
/// dependencies, the failed output's lock, logs, the database), because
/// both evaluate the same expression.
#[test]
fn failed_install_with_nix_profile_as_with_nix_env() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = nix_only(dir.path(), "failed-install.toml", "");
    let out = dir.path().join("out");
    let (rows, lines) = run_rows(&scenario, &out);
    assert_eq!(rows.len(), 2, "one trial per approach");
    for r in &rows {
        assert_eq!(r["outcome"], "failed", "{}: {}", r["approach"], r["error"]);
    }
    let np = row(&rows, "nix-profile");
    let nix = row(&rows, "nix");
    assert_eq!(num(np, "residue_files"), 0.0);
    assert_eq!(num(np, "residue_packages"), 0.0);
    assert_eq!(np["consistent"], "true");
    assert_eq!(
        np["playbook_ran"], "false",
        "nothing changed: nothing to recover"
    );
    assert_eq!(np["recovered"], "true");
    assert_eq!(num(np, "recovery_ms"), 0.0);
    assert_eq!(num(np, "final_residue_packages"), 0.0);
    // The build user is refused the builder's write, as with nix-env.
    assert_eq!(num(np, "attempts_landed"), 0.0);
    assert_eq!(num(np, "attempts_refused"), 1.0);
    // Garbage is counted, not hidden, and is exactly nix-env's.
    assert!(num(np, "garbage_paths") > 0.0);
    assert_eq!(num(np, "garbage_paths"), num(nix, "garbage_paths"));
    let (hp, hn) = (history(&lines, "nix-profile"), history(&lines, "nix"));
    let garbage = paths(hp, "residue_after_failure", "garbage");
    assert_eq!(garbage, paths(hn, "residue_after_failure", "garbage"));
    assert!(
        garbage
            .iter()
            .any(|p| p.starts_with("/nix/store/") && p.contains("-depa-1.0")),
        "the built dependency is garbage: {garbage:?}"
    );
    // No generation was made: no profile link among the changed paths.
    assert!(
        !garbage
            .iter()
            .any(|p| p.starts_with("/nix/var/nix/profiles/")),
        "{garbage:?}"
    );
    // Nix's own words, through the new CLI.
    let op = steps(hp, "operation");
    assert_eq!(op.len(), 1);
    let cmd = op[0]["command"].as_str().unwrap();
    assert!(
        cmd.contains(
            "nix --extra-experimental-features 'nix-command flakes' profile install -f /var/lib/mistake-cost/nix/default.nix fastmath"
        ),
        "{cmd}"
    );
    let err = op[0]["stderr_tail"].as_str().unwrap();
    assert!(
        err.contains("-fastmath-1.0.drv' failed with exit code 1"),
        "{err}"
    );
    assert!(steps(hp, "recovery").is_empty(), "no playbook step");
}

/// kill-during-upgrade, the daemon killed at its 5th rename (while it
/// builds 2.0): `nix-env -i` replaces app in one generation, so the kill
/// leaves 1.0 in place. `nix profile install` of app 2.0 collides with the
/// installed 1.0, so the approach removes it first (a generation of its
/// own, done when the kill comes): the profile has lost app, which is
/// visible residue and a changed package; the playbook (`nix profile
/// rollback --to` the set-up's generation) brings 1.0 back.
#[test]
fn an_interrupted_upgrade_leaves_the_package_removed_until_the_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = nix_only(
        dir.path(),
        "kill-during-upgrade.toml",
        "[[fault]]\nkind = \"syscall\"\nsyscalls = [\"rename\"]\nat = [5]\n",
    );
    let out = dir.path().join("out");
    let (rows, lines) = run_rows(&scenario, &out);
    assert_eq!(rows.len(), 2, "one trial per approach");
    let nix = row(&rows, "nix");
    assert_eq!(nix["outcome"], "killed", "{}", nix["error"]);
    assert_eq!(num(nix, "residue_files"), 0.0);
    assert_eq!(num(nix, "residue_packages"), 0.0);
    assert_eq!(nix["playbook_ran"], "false");

    let np = row(&rows, "nix-profile");
    assert_eq!(np["outcome"], "killed", "{}", np["error"]);
    assert_eq!(np["consistent"], "true", "a smaller profile, still valid");
    assert_eq!(
        num(np, "residue_packages"),
        1.0,
        "app is gone from the profile"
    );
    assert_eq!(
        (num(np, "residue_files"), num(np, "residue_dirs")),
        (2.0, 1.0),
        "the new profile store path (a directory), its manifest.json, the profile link"
    );
    let hp = history(&lines, "nix-profile");
    let visible = paths(hp, "residue_after_failure", "visible");
    assert!(
        visible.contains(&"/nix/var/nix/profiles/default".to_string()),
        "{visible:?}"
    );
    let op = steps(hp, "operation");
    assert!(
        op[0]["stderr_tail"]
            .as_str()
            .unwrap()
            .contains("removed 1 packages, kept 0 packages"),
        "{}",
        op[0]["stderr_tail"]
    );
    assert_eq!(np["playbook_ran"], "true");
    let rec = steps(hp, "recovery");
    assert_eq!(rec.len(), 1);
    assert!(rec[0]["command"]
        .as_str()
        .unwrap()
        .contains("profile rollback --to"));
    assert_eq!(rec[0]["exit_code"], 0);
    assert!(
        rec[0]["stderr_tail"]
            .as_str()
            .unwrap()
            .contains("switching profile from version 2 to 1"),
        "{}",
        rec[0]["stderr_tail"]
    );
    assert_eq!(np["recovered"], "true");
    assert_eq!(num(np, "final_residue_packages"), 0.0);
    assert!(num(np, "recovery_ms") > 0.0);
}
