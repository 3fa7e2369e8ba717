//! Isolation through the real tools: a project using libfoo 1.0, then a
//! second one using libfoo 2.0, set up by every approach its way (global
//! installs by apt, pip, npm -g (root's and the user's prefix), nix-env,
//! nix profile; environments by a venv per project (root's, or the
//! unprivileged user's), npm in the project folder, nix-shell). The
//! expectations are what these tools did on this machine kind (measured
//! 2026-11-27); if a tool changes its behaviour this test says so.

mod common;

use common::*;
use std::collections::HashMap;

/// Visible paths an approach's experiment changed outside the projects and
/// the store, from trials.jsonl.
fn global_paths(lines: &[serde_json::Value], approach: &str) -> Vec<String> {
    let line = lines
        .iter()
        .find(|l| l["record"]["approach"] == approach)
        .unwrap_or_else(|| panic!("no jsonl line for {approach}"));
    line["history"]["residue_after_failure"]["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .filter(|p| p["class"] == "visible")
        // Results format 2: directories are counted apart (`dir`).
        .filter(|p| p["dir"] != true)
        .map(|p| p["path"].as_str().unwrap().to_string())
        .filter(|p| !p.starts_with("/srv/projects") && !p.starts_with("/nix/store"))
        .collect()
}

#[test]
fn environments_leave_nothing_global_and_keep_versions_apart() {
    let out = tempfile::tempdir().unwrap();
    let o = run(&[
        "run",
        "scenarios/isolation-project-shell.toml",
        "--reps",
        "1",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows = read_csv(&out.path().join("trials.csv"));
    let lines = read_jsonl(&out.path().join("trials.jsonl"));
    let by: HashMap<&str, &HashMap<String, String>> =
        rows.iter().map(|r| (r["approach"].as_str(), r)).collect();
    assert_eq!(rows.len(), 11);

    for r in &rows {
        let a = r["approach"].as_str();
        assert_eq!(r["outcome"], "succeeded", "{a}: {}", r["error"]);
        assert_eq!(
            r["experiment_ok"], "true",
            "{a}: libfoo 1.0 usable in the first project"
        );
        assert_eq!(
            r["playbook_ran"], "false",
            "{a}: an experiment has no playbook"
        );
        // The column is the count of the jsonl's global paths.
        assert_eq!(
            r["global_residue_files"],
            global_paths(&lines, a).len().to_string(),
            "{a}"
        );
    }

    // Environments: nothing outside the projects (and the store), both
    // versions usable side by side, and the global system "recovered".
    for a in ["pip-venv", "pip-venv-user", "npm-local", "nix-shell"] {
        let r = by[a];
        assert_eq!(
            r["global_residue_files"],
            "0",
            "{a}: {:?}",
            global_paths(&lines, a)
        );
        assert_eq!(
            r["path_commands"], "0",
            "{a}: libfoo's command stays in the project"
        );
        assert_eq!(r["side_by_side"], "true", "{a}");
        assert_eq!(r["recovered"], "true", "{a}");
    }
    // The venvs and node_modules are in the projects' folders: residue,
    // but not global.
    assert!(by["pip-venv"]["residue_files"].parse::<u64>().unwrap() > 100);
    assert!(by["pip-venv-user"]["residue_files"].parse::<u64>().unwrap() > 100);

    // Global installs: the second project's libfoo 2.0 replaced 1.0, so
    // the first project no longer finds its version.
    for a in [
        "apt",
        "pip",
        "npm-global",
        "npm-global-user",
        "nix",
        "nix-single-user",
        "nix-profile",
    ] {
        let r = by[a];
        assert_eq!(r["side_by_side"], "false", "{a}");
        assert_eq!(r["recovered"], "false", "{a}");
        assert!(
            r["global_residue_files"].parse::<u64>().unwrap() > 0,
            "{a}: a global install changes the system"
        );
        assert_eq!(
            r["path_commands"], "1",
            "{a}: `libfoo` is on the PATH of whoever installed it"
        );
    }
    // npm-global-user's global is the user's prefix, whose bin is on the
    // user's PATH (npm's documented set-up): nothing of root's changed.
    let user_global = global_paths(&lines, "npm-global-user");
    assert!(
        user_global
            .iter()
            .all(|p| p.starts_with("/home/alice/.npm-global/")),
        "{user_global:?}"
    );
    // For Nix the global change is the profile switch, nothing else: the
    // packages themselves live in the store (their command reaches PATH
    // through ~/.nix-profile/bin, counted in path_commands).
    for a in ["nix", "nix-single-user", "nix-profile"] {
        assert_eq!(
            global_paths(&lines, a),
            ["/nix/var/nix/profiles/default"],
            "{a}"
        );
    }
    assert!(global_paths(&lines, "apt")
        .iter()
        .any(|p| p == "/usr/share/libfoo/VERSION"));

    assert_eq!(
        containers_with_label(&run_label(out.path())),
        0,
        "no container left behind"
    );

    // The report answers the claim with these rows.
    let o = run(&["report", out.path().to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(
        report.contains("**Holds only for pip-venv, pip-venv-user, npm-local and nix-shell.**"),
        "{report}"
    );
    assert!(
        report
            .contains("nix-shell (a project environment) left nothing outside the projects in 1/1"),
        "{report}"
    );
}
