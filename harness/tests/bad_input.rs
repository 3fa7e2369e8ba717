//! Bad input and an unreachable engine: a clear message, the documented
//! exit code, and nothing started.

mod common;

use common::*;

#[test]
fn invalid_scenario_reports_file_line_col_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[scenario]\nname = \"bad\"\napproaches = [\"apt\", \"yum\"]\n[[package]]\nname = \"a\"\nversion = \"1.0\"\n[operation]\nkind = \"install\"\npackages = [\"a\"]\n",
    )
    .unwrap();
    let before = containers_with_label("mistake-cost.run");
    let o = bin().args(["run", bad.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("{}:3:", bad.display())),
        "location in: {err}"
    );
    assert!(
        err.contains("yum") || err.contains("unknown variant"),
        "{err}"
    );
    assert_eq!(containers_with_label("mistake-cost.run"), before);
}

#[test]
fn unknown_dependency_is_pointed_at() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("dep.toml");
    std::fs::write(
        &bad,
        "[scenario]\nname = \"d\"\napproaches = [\"nix\"]\n[[package]]\nname = \"a\"\nversion = \"1.0\"\ndepends = [\"nope\"]\n[operation]\nkind = \"install\"\npackages = [\"a\"]\n",
    )
    .unwrap();
    let o = bin().args(["run", bad.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        err.contains(&format!("{}:7:12: dependency `nope`", bad.display())),
        "{err}"
    );
}

#[test]
fn unreachable_docker_says_how_to_start_it() {
    let o = bin()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["run", "scenarios/failed-install.toml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(
        err.contains("dockerd") && err.contains("DOCKER_HOST"),
        "{err}"
    );
}

#[test]
fn bad_arguments_are_bad_input() {
    let o = bin().args(["run", "--reps", "0"]).output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    let help = bin().args(["run", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert_eq!(help.status.code(), Some(0));
    assert!(
        text.contains("Exit codes:") && text.contains("130"),
        "{text}"
    );
}

#[test]
fn flake_parses() {
    let o = std::process::Command::new("nix-instantiate")
        .args(["--parse", "flake.nix"])
        .current_dir(repo())
        .output()
        .expect("nix-instantiate (nix-bin, installed by scripts/setup-host.sh)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn missing_mmdebstrap_is_named_with_its_install_command() {
    // --force goes straight to the base build, which needs mmdebstrap
    // first: nothing is removed or replaced before the check.
    let o = bin()
        .env("PATH", "/nonexistent")
        .args(["images", "build", "--force"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(
        err.contains("mmdebstrap") && err.contains("apt-get install -y mmdebstrap"),
        "{err}"
    );
}

/// Attempt paths (issue 8): relative, inside the harness's scratch area,
/// or repeated → exit 3 with the location of the offending path.
#[test]
fn bad_attempt_paths_are_pointed_at() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (writes, needle)) in [
        ("[\"etc/x.conf\"]", "expected an absolute path"),
        ("[\"/run/mistake-cost/x\"]", "belongs to the harness"),
        ("[\"/etc/x.conf\", \"/etc/x.conf\"]", "already attempted"),
    ]
    .into_iter()
    .enumerate()
    {
        let bad = dir.path().join(format!("w{i}.toml"));
        std::fs::write(
            &bad,
            format!("[scenario]\nname = \"w\"\napproaches = [\"apt\"]\n[[package]]\nname = \"a\"\nversion = \"1.0\"\n[package.fail]\nstep = \"configure\"\nwrites = {writes}\n[operation]\nkind = \"install\"\npackages = [\"a\"]\n"),
        )
        .unwrap();
        let o = bin().args(["run", bad.to_str().unwrap()]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert!(
            err.contains(&format!("{}:9:", bad.display())),
            "location in: {err}"
        );
        assert!(err.contains(needle), "{needle} in: {err}");
    }
}
