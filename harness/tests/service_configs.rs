//! The shipped configure scenarios written in the file format, one run
//! each against the real daemons (nginx, sshd, PostgreSQL 15) with every
//! approach and recovery they name, judged from trials.csv. What is
//! asserted is what the mechanisms decide: a mistake the service's config
//! test accepts breaks the probe until the recovery brings it back; one
//! the test refuses under `reload` is a failed change the service never
//! noticed (nginx keeps its old workers, sshd is not signalled); a backup
//! taken before the wanted edit loses it and every other recovery keeps
//! it; PostgreSQL rows say whether data was lost. The numbers themselves
//! (how long, how much) are the study's findings, not asserted here.

mod common;

use common::*;

const BREAKING: [&str; 4] = [
    "bad-config-nginx-listen",
    "bad-config-sshd-lockout",
    "bad-config-postgresql-restart",
    "bad-config-postgresql-hba",
];
const REFUSED: [&str; 2] = ["bad-config-nginx-refused", "bad-config-sshd-refused"];
const WITH_WANTED_EDIT: [&str; 3] = [
    "bad-config-nginx-listen",
    "bad-config-sshd-lockout",
    "bad-config-postgresql-restart",
];

#[test]
fn each_service_breaks_and_each_recovery_is_measured() {
    let out = tempfile::tempdir().unwrap();
    let files: Vec<String> = BREAKING
        .iter()
        .chain(&REFUSED)
        .map(|s| format!("scenarios/{s}.toml"))
        .collect();
    let mut args: Vec<&str> = vec!["run"];
    args.extend(files.iter().map(String::as_str));
    args.extend([
        "--reps",
        "1",
        "--seed",
        "3",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let o = run(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows = read_csv(&out.path().join("trials.csv"));
    assert_eq!(
        rows.len(),
        6 * 4,
        "six scenarios × apt (backup, etckeeper), ansible, nix"
    );
    for r in &rows {
        let who = format!("{} {} ({})", r["scenario"], r["approach"], r["recovery"]);
        assert_eq!(r["error"], "", "{who}");
        let expected_recovery = match r["approach"].as_str() {
            "apt" => ["backup", "etckeeper"].contains(&r["recovery"].as_str()),
            "ansible" => r["recovery"] == "previous-vars",
            "nix" => r["recovery"] == "rollback",
            other => panic!("{who}: unexpected approach {other}"),
        };
        assert!(expected_recovery, "{who}: the recovery column names it");
        assert_eq!(
            r["healthy_before"], "true",
            "{who}: serving before the change"
        );
        assert_eq!(
            r["healthy_after_recovery"], "true",
            "{who}: serving at the end"
        );
        let scenario = r["scenario"].as_str();
        if BREAKING.contains(&scenario) {
            assert_eq!(
                r["healthy_after_change"], "false",
                "{who}: the mistake broke the probe"
            );
            let down: f64 = r["downtime_ms"].parse().unwrap();
            assert!(down > 0.0, "{who}: the probe saw the outage");
            assert!(!r["restore_ms"].is_empty(), "{who}: it came back");
            assert_eq!(r["playbook_ran"], "true", "{who}");
        } else {
            assert!(REFUSED.contains(&scenario));
            assert_eq!(
                r["outcome"], "failed",
                "{who}: the config test refused the change"
            );
            assert_eq!(r["healthy_after_change"], "true", "{who}: still serving");
        }
        if scenario == "bad-config-nginx-refused" {
            assert_eq!(
                r["downtime_ms"], "0.0",
                "{who}: nginx's old workers kept serving"
            );
        }
        if WITH_WANTED_EDIT.contains(&scenario) {
            let lost = r["approach"] == "apt" && r["recovery"] == "backup";
            assert_eq!(
                r["wanted_edit_lost"],
                lost.to_string(),
                "{who}: only a backup taken before the wanted edit loses it"
            );
        } else {
            assert_eq!(r["wanted_edit_lost"], "", "{who}: no wanted edit");
        }
        let service = ["nginx", "sshd", "postgresql"]
            .into_iter()
            .find(|s| scenario.contains(s))
            .unwrap();
        assert_eq!(r["service"], service, "{who}: the service column");
        if scenario.contains("postgresql") {
            assert!(
                ["true", "false"].contains(&r["data_lost"].as_str()),
                "{who}: the known rows were read back: {:?}",
                r["data_lost"]
            );
        } else {
            assert_eq!(r["data_lost"], "", "{who}: no data");
        }
    }
    // The report splits an approach's recoveries into rows of their own.
    let o = run(&["report", out.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(
        report.contains("| apt (backup) |") && report.contains("| apt (etckeeper) |"),
        "{report}"
    );
    // Each recovery's commands are its own (trials.jsonl joined by recovery too).
    for (recovery, command) in [
        ("backup", "/root/config-backup/"),
        ("etckeeper", "etckeeper vcs checkout"),
    ] {
        let line = report
            .lines()
            .find(|l| l.contains(&format!("apt ({recovery})'s recovery ran")))
            .unwrap_or_else(|| panic!("no recovery line for {recovery}: {report}"));
        assert!(line.contains(command), "{line}");
    }
    // The summary answers the claim per service.
    let o = run(&["summary", out.path().to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    for service in ["nginx", "sshd", "postgresql"] {
        assert!(
            summary.contains(&format!(
                "## A bad configuration is undone in seconds: {service}"
            )),
            "{summary}"
        );
    }
    assert!(summary.contains("- Data: "), "{summary}");
}
