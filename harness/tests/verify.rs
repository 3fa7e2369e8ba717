//! `verify` through the real binary: judged from a committed run (no
//! Docker) for the exit codes and the JUnit file, then once for real.

mod common;

use common::*;
use std::path::Path;

const FIXTURE: &str = "harness/tests/fixtures/run-failed-install";

/// failed-install.toml with its own guarantees replaced by `guarantees`.
fn scenario_with(dir: &Path, guarantees: &str) -> String {
    let text = std::fs::read_to_string(repo().join("scenarios/failed-install.toml")).unwrap();
    let body = &text[..text
        .find("\n[[guarantee]]")
        .expect("failed-install.toml ships guarantees")];
    let path = dir.join("failed-install.toml");
    std::fs::write(&path, format!("{body}\n{guarantees}")).unwrap();
    path.to_str().unwrap().to_string()
}

fn junit(path: &Path) -> (String, usize, usize, usize) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("JUnit must parse: {e}\n{text}"));
    let count = |tag: &str| doc.descendants().filter(|n| n.has_tag_name(tag)).count();
    let counts = (count("testcase"), count("failure"), count("error"));
    (text.clone(), counts.0, counts.1, counts.2)
}

#[test]
fn holding_guarantees_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_with(
        dir.path(),
        "[[guarantee]]\nname = \"nix: no visible residue\"\napproaches = [\"nix\"]\nexpect = \"residue_files == 0\"\n\n\
         [[guarantee]]\nname = \"pip leaves its dependencies\"\napproaches = [\"pip\", \"pip-venv\"]\nexpect = \"residue_packages >= 3\"\nin = \"80%\"\n",
    );
    let xml = dir.path().join("out/verify.xml");
    let o = run(&[
        "verify",
        &scenario,
        "--from",
        FIXTURE,
        "--junit",
        xml.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("HOLDS")).count(),
        2,
        "{stdout}"
    );
    assert!(
        stdout.contains("5/5 rows hold") && stdout.contains("10/10 rows hold"),
        "{stdout}"
    );
    let (_, cases, failures, errors) = junit(&xml);
    assert_eq!((cases, failures, errors), (2, 0, 0));
}

#[test]
fn the_shipped_apt_guarantee_is_violated_with_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("verify.xml");
    let o = run(&[
        "verify",
        "scenarios/failed-install.toml",
        "--from",
        FIXTURE,
        "--junit",
        xml.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    let violated: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("VIOLATED"))
        .collect();
    assert_eq!(violated.len(), 1, "{stdout}");
    assert!(
        violated[0].contains("apt rep 0 (fault none): recovered = false [trials.csv:3]"),
        "{}",
        violated[0]
    );
    let (text, cases, failures, errors) = junit(&xml);
    // The fixture predates the nix-single-user and the *-user approaches
    // and the attempt columns: the all-approach, the single-user and the
    // unprivileged-user guarantees have no rows for them and the attempts
    // guarantee no column, so all four are unknown.
    assert_eq!((failures, errors), (1, 4));
    assert_eq!(cases, stdout.lines().count());
    assert!(
        text.contains("classname=\"failed-install\" name=\"apt&apos;s playbook"),
        "{text}"
    );
    assert_eq!(
        text.matches("recovered = false [trials.csv:").count(),
        5,
        "every violating row is evidence"
    );
}

#[test]
fn unknown_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    // A crash-point guarantee against a run folder: no crashpoints.csv → unknown (2), an <error> case.
    let scenario = scenario_with(
        dir.path(),
        "[[guarantee]]\nname = \"crashes\"\napproaches = [\"nix\"]\nsource = \"crashpoints\"\nexpect = \"state_after_crash != inconsistent\"\n",
    );
    let xml = dir.path().join("verify.xml");
    let o = run(&[
        "verify",
        &scenario,
        "--from",
        FIXTURE,
        "--junit",
        xml.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no crashpoints.csv"));
    assert_eq!(junit(&xml).3, 1);

    let bad = scenario_with(
        dir.path(),
        "[[guarantee]]\nname = \"typo\"\nexpect = \"residu_files == 0\"\n",
    );
    let o = run(&["verify", &bad, "--from", FIXTURE]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        err.contains(&format!("{bad}:")) && err.contains("unknown column `residu_files`"),
        "{err}"
    );

    let o = run(&[
        "verify",
        "scenarios/failed-install.toml",
        "--from",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "a folder without results is bad input"
    );
    let o = run(&["verify", "--from", FIXTURE, "--reps", "2"]);
    assert_eq!(o.status.code(), Some(3), "--reps means nothing with --from");
}

#[test]
fn compare_runs_without_docker() {
    let o = run(&["compare", FIXTURE, "results/reference/failed-install-r5"]);
    assert_eq!(o.status.code(), Some(0));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.contains("## Verdicts") && md.contains("`failed-install` × `nix`"),
        "{md}"
    );
    assert_eq!(
        run(&["compare", FIXTURE, "/nonexistent"]).status.code(),
        Some(3)
    );
}

/// A run killed mid-row leaves its last line without a newline: report,
/// verify and compare read every complete row and warn about the cut one.
#[test]
fn a_cut_last_row_is_read_around_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = repo().join(FIXTURE);
    let mut rows = 0;
    for name in ["trials.csv", "trials.jsonl"] {
        let text = std::fs::read_to_string(fixture.join(name)).unwrap();
        if name == "trials.csv" {
            rows = text.lines().count();
        }
        // The last line, cut in the middle.
        let cut = text.trim_end().len() - 10;
        std::fs::write(dir.path().join(name), &text[..cut]).unwrap();
    }
    let path = dir.path().to_str().unwrap();
    for args in [
        vec!["report", path, "--format", "md"],
        vec!["verify", "--from", path, "scenarios/failed-install.toml"],
        vec!["compare", path, FIXTURE],
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            matches!(o.status.code(), Some(0..=2)),
            "{args:?}: {:?}\n{err}",
            o.status.code()
        );
        assert!(
            err.contains(&format!("trials.csv:{rows}: the last line is incomplete")),
            "{args:?}: {err}"
        );
    }
}

/// The real thing: one repetition of failed-install in Docker.
#[test]
fn verify_runs_the_trials_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("ci-verify.xml");
    let out = dir.path().join("run");
    let o = run(&[
        "verify",
        "scenarios/failed-install.toml",
        "--reps",
        "1",
        "--junit",
        xml.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    // Today apt's guarantee is violated (1); 0 would mean apt changed, 2 a
    // trial errored. Either way the verdicts must be there.
    let code = o.status.code();
    assert!(matches!(code, Some(0..=2)), "{code:?}");
    let (_, cases, _, errors) = junit(&xml);
    assert_eq!(cases, 9);
    assert_eq!(
        code == Some(2),
        errors > 0
            || read_csv(&out.join("trials.csv"))
                .iter()
                .any(|r| r["outcome"] == "errored")
    );
    assert_eq!(
        read_csv(&out.join("trials.csv")).len(),
        9,
        "one trial per approach"
    );
    assert_eq!(
        containers_with_label(&run_label(&out)),
        0,
        "no container left behind"
    );
}
