//! Bad configurations of a real service (Debian's nginx) through apt's
//! edit-in-place, Ansible's template (`ansible-playbook` with a variables
//! file) and Nix's system profile, judged from trials.csv only.
//! What the assertions say is what these tools did when run here: a
//! configuration nginx -t accepts but that breaks the site shows as
//! downtime for every approach; a syntax error applied with `nginx -t &&
//! reload` leaves the old workers serving (no downtime); the same error
//! applied by a restart stops the service until the recovery. Each
//! recovery's fate for the wanted edit (an earlier good change made after
//! apt's backup copy was taken): the backup loses it, etckeeper's checkout,
//! Ansible's previous variables and Nix's rollback keep it; with no copy
//! kept, reinstalling the package's default site does not bring the site
//! back at all.

mod common;

use common::*;
use std::collections::HashMap;

fn num(r: &HashMap<String, String>, col: &str) -> f64 {
    r[col]
        .parse()
        .unwrap_or_else(|_| panic!("{} {}: {col} = {:?}", r["scenario"], r["approach"], r[col]))
}

#[test]
fn the_probe_sees_outages_and_reloads_that_keep_serving() {
    let out = tempfile::tempdir().unwrap();
    let o = run(&[
        "run",
        "scenarios/bad-config-wrong-root.toml",
        "scenarios/bad-config-syntax-error.toml",
        "scenarios/bad-config-restart.toml",
        "scenarios/bad-config-wrong-root-etckeeper.toml",
        "scenarios/bad-config-wrong-root-no-backup.toml",
        "--reps",
        "1",
        "--seed",
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
    assert_eq!(
        rows.len(),
        12,
        "three scenarios × apt, ansible, nix; the etckeeper one × apt, nix; the no-backup one × apt"
    );
    for r in &rows {
        let who = format!("{} {}", r["scenario"], r["approach"]);
        if r["scenario"] == "bad-config-wrong-root-no-backup" {
            // Without a copy, the package's default site comes back: it
            // listens on 80, not on the site's port, so nothing serves the
            // site, and the conffile differs from before.
            assert_eq!(r["error"], "", "{who}");
            assert_eq!(r["healthy_before"], "true", "{who}");
            assert_eq!(r["healthy_after_change"], "false", "{who}");
            assert_eq!(r["healthy_after_recovery"], "false", "{who}");
            assert_eq!(r["restore_ms"], "", "{who}");
            assert_eq!(r["recovered"], "false", "{who}");
            assert_eq!(
                r["wanted_edit_lost"], "true",
                "{who}: the package's default site replaced it"
            );
            assert_eq!(num(r, "final_residue_files"), 1.0, "{who}");
            continue;
        }
        assert_eq!(r["error"], "", "{who}");
        assert_eq!(
            r["healthy_before"], "true",
            "{who}: serving before the change"
        );
        assert_eq!(
            r["playbook_ran"], "true",
            "{who}: the file changed, so the operator recovers"
        );
        assert_eq!(r["healthy_after_recovery"], "true", "{who}");
        let backup = r["approach"] == "apt" && r["scenario"] != "bad-config-wrong-root-etckeeper";
        if backup {
            assert_eq!(
                r["wanted_edit_lost"], "true",
                "{who}: the backup predates it"
            );
            assert_eq!(
                r["recovered"], "false",
                "{who}: site.conf differs from before"
            );
            assert_eq!(num(r, "final_residue_files"), 1.0, "{who}");
        } else {
            assert_eq!(r["wanted_edit_lost"], "false", "{who}");
            assert_eq!(r["recovered"], "true", "{who}: serving, nothing left");
            assert_eq!(num(r, "final_residue_files"), 0.0, "{who}");
        }
        match r["scenario"].as_str() {
            "bad-config-wrong-root" | "bad-config-restart" | "bad-config-wrong-root-etckeeper" => {
                assert_eq!(r["healthy_after_change"], "false", "{who}");
                // The outage is the health columns'; `consistent` is the
                // package manager's own checks, which a site config passes.
                assert_eq!(r["consistent"], "true", "{who}: own checks only");
                assert_eq!(r["probes_ok"], "", "{who}: no scenario probe");
                assert!(
                    num(r, "downtime_ms") > 0.0,
                    "{who}: the probe saw the outage"
                );
                // From the change command's return: 0 when the probe
                // already failed while the command ran (a restart).
                assert!(num(r, "detect_ms") >= 0.0, "{who}");
                assert!(num(r, "change_ms") > 0.0, "{who}: the tool's own time");
                assert_eq!(r["downtime_censored"], "false", "{who}: it came back");
                assert!(num(r, "restore_ms") > 0.0, "{who}");
            }
            "bad-config-syntax-error" => {
                assert_eq!(r["outcome"], "failed", "{who}: nginx -t refused it");
                assert_eq!(r["healthy_after_change"], "true", "{who}");
                assert_eq!(
                    num(r, "downtime_ms"),
                    0.0,
                    "{who}: the old workers kept serving"
                );
                assert_eq!(r["detect_ms"], "", "{who}: no failing probe");
            }
            other => panic!("unexpected scenario {other}"),
        }
    }
}

/// The bad upgrade: the site nginx serves is a package whose 2.0 lacks the
/// page's marker. Every approach's upgrade succeeds and breaks the site;
/// its way back to 1.0 (pinned downgrade, pinned reinstall, the venv made
/// anew, `nix-env --rollback`, `nix profile rollback --to` the set-up's
/// generation) brings it back with nothing left. Once the
/// repository dropped 1.0, only the rollback, which needs no repository,
/// still does: the others leave the site broken.
#[test]
fn a_bad_upgrade_breaks_the_site_until_the_way_back() {
    let out = tempfile::tempdir().unwrap();
    let o = run(&[
        "run",
        "scenarios/bad-upgrade.toml",
        "scenarios/bad-upgrade-old-version-gone.toml",
        "--reps",
        "1",
        "--seed",
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
    assert_eq!(
        rows.len(),
        10,
        "two scenarios × apt, pip, pip-venv, nix, nix-profile"
    );
    for r in &rows {
        let who = format!("{} {}", r["scenario"], r["approach"]);
        assert_eq!(r["error"], "", "{who}");
        assert_eq!(r["outcome"], "succeeded", "{who}: the upgrade itself works");
        assert_eq!(r["healthy_before"], "true", "{who}");
        assert_eq!(
            r["healthy_after_change"], "false",
            "{who}: 2.0's page has no marker"
        );
        assert!(num(r, "downtime_ms") > 0.0, "{who}");
        assert_eq!(
            r["wanted_edit_lost"], "",
            "{who}: no wanted edit in a package site"
        );
        let gone = r["scenario"] == "bad-upgrade-old-version-gone";
        if gone && !r["approach"].starts_with("nix") {
            assert_eq!(
                r["healthy_after_recovery"], "false",
                "{who}: 1.0 is not there to go back to"
            );
            assert_eq!(r["restore_ms"], "", "{who}");
            assert_eq!(r["recovered"], "false", "{who}");
        } else {
            assert!(num(r, "restore_ms") > 0.0, "{who}");
            assert_eq!(r["healthy_after_recovery"], "true", "{who}");
            assert_eq!(r["recovered"], "true", "{who}: back at 1.0, nothing left");
        }
    }
}

/// Faults combine with a configuration change: a SIGKILL in the middle of
/// Nix's switch and a container kill (a crashed machine, booting the
/// service again from the configuration on disk) are data, never errors,
/// and the health check after the crash sees the service the boot left.
#[test]
fn faults_hit_the_switch_and_the_machine() {
    // The container kill comes 5 ms into the change: apt's change (cp,
    // nginx -t, reload) takes longer than that. 30 ms was safe only while
    // every exec took ~60 ms to start; through the agent session the
    // command starts within a few ms, and apt's change could end first.
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("bad-config-faults.toml");
    std::fs::write(
        &scenario,
        "[scenario]\nname = \"bad-config-faults\"\napproaches = [\"apt\", \"nix\"]\nreps = 1\n\
         [service]\nport = 8080\nmarker = \"mistake-cost site v1\"\n\
         [operation]\nkind = \"configure\"\nchange = \"wrong-root\"\n\
         [[fault]]\nkind = \"kill\"\nsignal = \"KILL\"\nat_ms = [60]\n\
         [[fault]]\nkind = \"container-kill\"\nat_ms = [5]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = run(&[
        "run",
        scenario.to_str().unwrap(),
        "--seed",
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
    let rows = read_csv(&out.join("trials.csv"));
    assert_eq!(rows.len(), 4, "apt, nix × two faults");
    for r in &rows {
        let who = format!("{} {}", r["approach"], r["fault"]);
        assert_eq!(r["error"], "", "{who}");
        assert_ne!(r["outcome"], "errored", "{who}");
        if r["fault"].starts_with("container-kill") {
            // The probe's clock restarted with the container: no timeline.
            assert_eq!(r["downtime_ms"], "", "{who}");
            assert_eq!(r["outcome"], "killed", "{who}");
        } else {
            assert_eq!(r["healthy_before"], "true", "{who}");
        }
        if r["approach"] == "nix" && r["fault"].starts_with("kill") {
            // nix-build + nix-env take longer than 60 ms: killed mid-switch.
            assert_eq!(r["outcome"], "killed", "{who}");
            assert_eq!(
                r["healthy_after_change"], "true",
                "{who}: the switch never reached nginx"
            );
        }
    }
}
