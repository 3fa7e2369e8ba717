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

/// Runs `mistake-cost ARGS FILE` with an engine that cannot exist: bad
/// input must be refused (exit 3) before any connection is tried (exit 4).
fn refused(args: &[&str], file: &std::path::Path) -> (Option<i32>, String, std::time::Duration) {
    let started = std::time::Instant::now();
    let o = bin()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(args)
        .arg(file)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        started.elapsed(),
    )
}

/// `file:line:col` of the first `needle` in `text`, `skip` bytes into it,
/// as the harness prints it.
fn located(file: &std::path::Path, text: &str, needle: &str, skip: usize) -> String {
    let at = text.find(needle).expect("needle in text") + skip;
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    format!("{}:{line}:{col}:", file.display())
}

/// Issue 10: a scenario name is never a host path. `/tmp/x`, `../../x`,
/// `a:b` (and a path in a fresh folder) are exit 3 at the name, from
/// `validate` and from `run` before it reaches the engine; nothing is
/// created on the host, not even the results folder.
#[test]
fn hostile_scenario_names_are_refused_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    let out = dir.path().join("out");
    let victim_name = victim.to_str().unwrap().to_string();
    for name in ["/tmp/x", "../../x", "a:b", victim_name.as_str(), "..", "A"] {
        let existed = std::path::Path::new(name).exists();
        let file = dir.path().join("s.toml");
        let text = format!("[scenario]\nname = \"{name}\"\napproaches = [\"apt\"]\n[[package]]\nname = \"a\"\nversion = \"1.0\"\n[operation]\nkind = \"install\"\npackages = [\"a\"]\n");
        std::fs::write(&file, &text).unwrap();
        for args in [
            &["validate"][..],
            &["run", "--out", out.to_str().unwrap()][..],
        ] {
            let (code, err, _) = refused(args, &file);
            assert_eq!(code, Some(3), "{args:?} {name}: {err}");
            assert!(
                err.contains(&located(&file, &text, &format!("\"{name}\""), 0)),
                "{args:?} {name}: location in {err}"
            );
            assert!(err.contains("a-z 0-9 . _ -"), "the rule is said: {err}");
        }
        assert!(!victim.exists() && !out.exists());
        if !existed {
            assert!(!std::path::Path::new(name).exists(), "{name} was created");
        }
    }
}

/// Issue 10: oversized numbers are exit 3 at the value, quickly (nothing
/// is allocated from them), from `validate` and from `run`.
#[test]
fn oversized_numbers_are_refused_at_the_value_quickly() {
    let base = "[scenario]\nname = \"big\"\napproaches = [\"apt\", \"nix\"]\nreps = 1\nstep_timeout_s = 60\n\n[[package]]\nname = \"a\"\nversion = \"1.0\"\nfiles = [{ path = \"f{}\", count = 2, size = 10 }]\n\n[operation]\nkind = \"install\"\npackages = [\"a\"]\n\n[[fault]]\nkind = \"kill\"\nrandom = 1\nwithin_ms = 100\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.toml");
    std::fs::write(&file, base).unwrap();
    assert_eq!(
        refused(&["validate"], &file).0,
        Some(0),
        "the base is valid"
    );
    for (from, to, field) in [
        ("size = 10", "size = 99999999999999", "size"),
        ("count = 2", "count = 4294967295", "count"),
        ("count = 2", "count = 99999999999999", "count"),
        ("reps = 1", "reps = 99999999999999", "reps"),
        ("random = 1", "random = 4294967295", "random"),
        (
            "step_timeout_s = 60",
            "step_timeout_s = 18446744073709551",
            "step_timeout_s",
        ),
        (
            "step_timeout_s = 60",
            "step_timeout_s = -1",
            "step_timeout_s",
        ),
        ("within_ms = 100", "within_ms = 99999999999999", "within_ms"),
    ] {
        let text = base.replace(from, to);
        std::fs::write(&file, &text).unwrap();
        for args in [&["validate"][..], &["run"][..]] {
            let (code, err, took) = refused(args, &file);
            assert_eq!(code, Some(3), "{to}: {err}");
            let expected = located(&file, &text, to, field.len() + 3);
            assert!(err.contains(&expected), "{to}: {expected} in {err}");
            assert!(err.contains(field) && err.contains("expected"), "{err}");
            assert!(
                took < std::time::Duration::from_secs(1),
                "{to}: took {took:?}"
            );
        }
    }
}

/// `validate` prints the plan of the shipped suite without Docker.
#[test]
fn validate_prints_the_plan_of_the_default_suite() {
    let o = bin()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["validate", "scenarios"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains(
            "failed-install — approaches apt, pip, pip-venv, pip-venv-user, npm-global, npm-global-user, nix, nix-single-user, nix-profile; no fault; reps 3; 27 trials"
        ),
        "{text}"
    );
    assert!(
        text.contains("kill-during-install — approaches apt, pip, pip-venv, nix, nix-profile; 11 faults; reps 1; 55 trials"),
        "{text}"
    );
    // An approach run with several recoveries is listed once per recovery.
    assert!(
        text.contains("bad-config-sshd-lockout — approaches apt (backup), apt (etckeeper), ansible, nix; no fault; reps 3; 12 trials"),
        "{text}"
    );
    assert!(
        text.contains("valid: 27 scenario(s), 463 trials in all"),
        "{text}"
    );
    let o = bin()
        .args(["validate", "--reps", "1001", "scenarios"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
}

/// A scenario file is read at most 1 MiB + 1 byte: a bigger one (or an
/// endless one) is exit 3 at once, never held in memory.
#[test]
fn huge_scenario_files_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.toml");
    std::fs::write(&big, format!("# {}\n", "x".repeat(2 << 20))).unwrap();
    for file in [big.as_path(), std::path::Path::new("/dev/zero")] {
        let (code, err, took) = refused(&["validate"], file);
        assert_eq!(code, Some(3), "{err}");
        assert!(err.contains("larger than 1048576 bytes"), "{err}");
        assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
    }
}

/// Configure scenarios: no `[service]` to probe, an approach that manages
/// no configuration, a port the wrong-port change cannot move past, no
/// mistake, an unknown service, an edit whose `find` is not in the declared
/// file, an edit outside the service's configuration, a probe of two
/// kinds, an edit doing nothing. Each is exit 3 at the field's
/// file:line:col.
#[test]
fn bad_configure_scenarios_are_pointed_at() {
    let dir = tempfile::tempdir().unwrap();
    let service = "[service]\nport = 8080\nmarker = \"m\"\n";
    let cases = [
        (
            "no-service",
            "[scenario]\nname = \"c\"\napproaches = [\"apt\"]\n[operation]\nkind = \"configure\"\nchange = \"wrong-root\"\n".to_string(),
            ":6:10: a `configure` operation needs a [service] table",
        ),
        (
            "pip",
            format!("[scenario]\nname = \"c\"\napproaches = [\"apt\", \"pip\"]\n{service}[operation]\nkind = \"configure\"\nchange = \"wrong-root\"\n"),
            ":3:22: approach `pip` does not manage a service's configuration",
        ),
        (
            "port",
            "[scenario]\nname = \"c\"\napproaches = [\"nix\"]\n[service]\nport = 65535\nmarker = \"m\"\n[operation]\nkind = \"configure\"\nchange = \"wrong-port\"\n".to_string(),
            ":5:8: port: expected 1 to 65534",
        ),
        (
            "no-change",
            format!("[scenario]\nname = \"c\"\napproaches = [\"apt\"]\n{service}[operation]\nkind = \"configure\"\n"),
            ":8:8: a `configure` operation names its mistake",
        ),
        (
            "unknown-recovery",
            "[scenario]\nname = \"c\"\napproaches = [\"apt\"]\n[service]\nport = 8080\nmarker = \"m\"\nrecovery = { apt = \"reinstall-all\" }\n[operation]\nkind = \"configure\"\nchange = \"wrong-root\"\n".to_string(),
            ":7:20: unknown recovery `reinstall-all` for apt: expected one of backup, etckeeper, reinstall",
        ),
        (
            "unknown-change",
            format!("[scenario]\nname = \"c\"\napproaches = [\"apt\"]\n{service}[operation]\nkind = \"configure\"\nchange = \"typo\"\n"),
            ":9:10: unknown variant `typo`",
        ),        (
            "unknown-service",
            "[scenario]\nname = \"c\"\napproaches = [\"apt\"]\n[service]\nname = \"mysql\"\n[operation]\nkind = \"configure\"\n[[operation.edit]]\npath = \"/etc/x\"\ndelete = true\n".to_string(),
            ":5:8: unknown variant `mysql`",
        ),
        (
            "find-absent",
            "[scenario]\nname = \"c\"\napproaches = [\"apt\"]\n[service]\nname = \"nginx\"\n[[service.file]]\npath = \"/etc/nginx/conf.d/a.conf\"\ntext = \"listen 80;\"\n[operation]\nkind = \"configure\"\n[[operation.edit]]\npath = \"/etc/nginx/conf.d/a.conf\"\nreplace = { find = \"listen 81;\", with = \"x\" }\n".to_string(),
            ":13:11: /etc/nginx/conf.d/a.conf: `find` text \"listen 81;\" does not occur in it",
        ),
        (
            "outside",
            "[scenario]\nname = \"c\"\napproaches = [\"apt\"]\n[service]\nname = \"nginx\"\n[[service.file]]\npath = \"/srv/site/index.html\"\ntext = \"v1\"\n[operation]\nkind = \"configure\"\n[[operation.edit]]\npath = \"/srv/site/index.html\"\ntext = \"v2\"\n".to_string(),
            ":12:8: path `/srv/site/index.html` is outside nginx's configuration",
        ),
        (
            "probe-two-kinds",
            "[scenario]\nname = \"c\"\napproaches = [\"apt\"]\n[service]\nname = \"sshd\"\n[[service.probe]]\ntcp = true\ncommand = \"true\"\n[operation]\nkind = \"configure\"\n[[operation.edit]]\npath = \"/etc/ssh/sshd_config\"\ndelete = true\n".to_string(),
            ":7:7: a [[service.probe]] is exactly one of",
        ),
        (
            // Found by tests/fuzz_scenarios.rs: a probe with no kind had no location.
            "probe-no-kind",
            "[scenario]\nname = \"c\"\napproaches = [\"apt\"]\n[service]\nname = \"sshd\"\n[[service.probe]]\nexpect_stdout = \"x\"\n[operation]\nkind = \"configure\"\n[[operation.edit]]\npath = \"/etc/ssh/sshd_config\"\ndelete = true\n".to_string(),
            ":6:1: a [[service.probe]] is exactly one of",
        ),
        (
            "edit-no-action",
            "[scenario]\nname = \"c\"\napproaches = [\"apt\"]\n[service]\nname = \"sshd\"\n[operation]\nkind = \"configure\"\n[[operation.edit]]\npath = \"/etc/ssh/sshd_config\"\n".to_string(),
            ":9:8: an edit is exactly one of",
        ),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let o = bin()
            .args(["validate", path.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{name}: {err}");
        assert!(
            err.contains(&format!("{}{want}", path.display())),
            "{name}: want {want} in: {err}"
        );
    }
}

/// A package site: an upgrade with a [service] names a declared `site`,
/// and a configure scenario takes none.
#[test]
fn a_service_site_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = "[[package]]\nname = \"page\"\nversion = \"1.0\"\nfiles = [{ path = \"index.html\", text = \"m\" }]\n";
    let cases = [
        (
            "no-site",
            format!("[scenario]\nname = \"u\"\napproaches = [\"apt\"]\n[service]\nport = 8080\nmarker = \"m\"\n{pkg}[operation]\nkind = \"install\"\npackages = [\"page\"]\n"),
            ":5:8: an install or upgrade with a [service] names its `site`",
        ),
        (
            "unknown-site",
            format!("[scenario]\nname = \"u\"\napproaches = [\"apt\"]\n[service]\nport = 8080\nmarker = \"m\"\nsite = \"nope\"\n{pkg}[operation]\nkind = \"install\"\npackages = [\"page\"]\n"),
            ":7:8: site: `nope` is not a declared package",
        ),
        (
            "configure-site",
            "[scenario]\nname = \"u\"\napproaches = [\"apt\"]\n[service]\nport = 8080\nmarker = \"m\"\nsite = \"page\"\n[operation]\nkind = \"configure\"\nchange = \"wrong-root\"\n".to_string(),
            ":7:8: `site` is for install and upgrade scenarios",
        ),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let o = bin()
            .args(["validate", path.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{name}: {err}");
        assert!(
            err.contains(&format!("{}{want}", path.display())),
            "{name}: want {want} in: {err}"
        );
    }
}

/// Issue 13: a `[retry]` needs a failure to retry and a retry that can
/// succeed; a configure operation has nothing to install again. Each is
/// exit 3 at `file:line:col`, from `validate` and before any engine.
#[test]
fn bad_retry_scenarios_are_pointed_at() {
    let dir = tempfile::tempdir().unwrap();
    let head = "[scenario]\nname = \"r\"\napproaches = [\"apt\", \"nix\"]\n";
    let ok = "[[package]]\nname = \"a\"\nversion = \"1.0\"\n";
    let failing =
        "[[package]]\nname = \"b\"\nversion = \"1.0\"\n[package.fail]\nstep = \"build\"\n";
    let install_b = "[operation]\nkind = \"install\"\npackages = [\"b\"]\n";
    let cases = [
        (
            // Nothing fails and no fault: nothing to retry.
            "no-failure",
            format!("{head}{ok}[operation]\nkind = \"install\"\npackages = [\"a\"]\n[retry]\npackages = [\"a\"]\n"),
            "[retry] retries a failed operation, but nothing makes this one fail",
        ),
        (
            // The retry installs the same failing package again.
            "retry-fails",
            format!("{head}{ok}{failing}{install_b}[retry]\npackages = [\"b\"]\n"),
            "the retry installs `b=1.0`, which fails itself",
        ),
        (
            "undeclared",
            format!("{head}{ok}{failing}{install_b}[retry]\npackages = [\"c\"]\n"),
            "package `c` is not declared",
        ),
        (
            "empty",
            format!("{head}{ok}{failing}{install_b}[retry]\npackages = []\n"),
            "packages: expected at least one package",
        ),
        (
            "configure",
            "[scenario]\nname = \"c\"\napproaches = [\"apt\"]\n[service]\nport = 8080\nmarker = \"m\"\n[[package]]\nname = \"a\"\nversion = \"1.0\"\n[operation]\nkind = \"configure\"\nchange = \"wrong-root\"\n[retry]\npackages = [\"a\"]\n".to_string(),
            "a `configure` or `experiment` operation has no failure to retry",
        ),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, &text).unwrap();
        let (code, err, _) = refused(&["validate"], &path);
        assert_eq!(code, Some(3), "{name}: {err}");
        assert!(err.contains(want), "{name}: want {want} in: {err}");
        // The error points into the [retry] table (its value, or the list).
        let at = err
            .split_once(&format!("{}:", path.display()))
            .map(|(_, rest)| rest.split(':').next().unwrap_or("").to_string())
            .unwrap_or_default();
        let line: usize = at.parse().unwrap_or(0);
        let retry_line = text.lines().position(|l| l == "[retry]").unwrap() + 1;
        assert!(
            line >= retry_line,
            "{name}: expected a location at or after [retry] (line {retry_line}) in: {err}"
        );
        // explore refuses it too, and so does run: nothing reaches an engine.
        let (code, _, _) = refused(&["run"], &path);
        assert_eq!(code, Some(3), "{name}: run");
    }
}

/// Issue 13: an isolation experiment names approaches that can set up a
/// project, runs undisturbed, and its second project needs another
/// version; the environment-only approaches run nowhere else. Each is exit
/// 3 at `file:line:col`.
#[test]
fn bad_isolation_scenarios_are_pointed_at() {
    let dir = tempfile::tempdir().unwrap();
    let pkgs = "[[package]]\nname = \"a\"\nversion = \"1.0\"\n[[package]]\nname = \"a\"\nversion = \"2.0\"\n[[package]]\nname = \"b\"\nversion = \"1.0\"\n";
    let experiment = "[operation]\nkind = \"experiment\"\npackages = [\"a=1.0\"]\n";
    let cases = [
        (
            "ansible",
            format!("[scenario]\nname = \"i\"\napproaches = [\"nix-shell\", \"ansible\"]\n{pkgs}{experiment}"),
            ":3:28: approach `ansible` cannot enter an environment",
        ),
        (
            "fault",
            format!("[scenario]\nname = \"i\"\napproaches = [\"nix-shell\"]\n{pkgs}{experiment}[[fault]]\nkind = \"kill\"\nat_ms = [5]\n"),
            ":17:8: an `experiment` runs undisturbed",
        ),
        (
            "shell-in-install",
            format!("[scenario]\nname = \"i\"\napproaches = [\"apt\", \"nix-shell\"]\n{pkgs}[operation]\nkind = \"install\"\npackages = [\"b\"]\n"),
            ":3:22: approach `nix-shell` is a project environment: it runs in `experiment` scenarios only",
        ),
        (
            "experiment-table-in-install",
            format!("[scenario]\nname = \"i\"\napproaches = [\"apt\"]\n{pkgs}[operation]\nkind = \"install\"\npackages = [\"b\"]\n[experiment]\nsecond = [\"a=2.0\"]\n"),
            ":16:1: [experiment] belongs to a scenario whose operation has `kind = \"experiment\"`",
        ),
        (
            "same-version",
            format!("[scenario]\nname = \"i\"\napproaches = [\"pip-venv\"]\n{pkgs}{experiment}[experiment]\nsecond = [\"b\"]\n"),
            ":16:1: [experiment] second: the second project must need another version",
        ),
        (
            "undeclared",
            format!("[scenario]\nname = \"i\"\napproaches = [\"pip-venv\"]\n{pkgs}{experiment}[experiment]\nsecond = [\"c\"]\n"),
            ":17:11: package `c` is not declared",
        ),
        (
            "bad-command",
            format!("[scenario]\nname = \"i\"\napproaches = [\"pip-venv\"]\n[[package]]\nname = \"a\"\nversion = \"1.0\"\nbin = [\"a\", \"../x\"]\n{experiment}"),
            ":7:13: bin `../x`: expected a command name",
        ),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, &text).unwrap();
        let (code, err, _) = refused(&["validate"], &path);
        assert_eq!(code, Some(3), "{name}: {err}");
        assert!(
            err.contains(&format!("{}{want}", path.display())),
            "{name}: want {want} in: {err}"
        );
    }
}

/// explore crashes through the kill injector, which knows the families'
/// syscalls: another name is a usage error (exit 3) before any engine is
/// contacted, naming the syscall.
#[test]
fn explore_refuses_a_syscall_the_injector_cannot_crash_at() {
    let o = bin()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args([
            "explore",
            "../scenarios/kill-during-install.toml",
            "--syscalls",
            "rename,getdents64",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("`getdents64` is not a syscall the kill injector"),
        "{err}"
    );
}

/// A rollout's `[fleet]`: each mistake pointed at its key.
#[test]
fn a_fleet_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let head = |approaches: &str| {
        format!("[scenario]\nname = \"f\"\napproaches = {approaches}\n[service]\n[[service.file]]\npath = \"/etc/nginx/sites-enabled/site\"\ntext = \"listen 80;\"\n[operation]\nkind = \"rollout\"\n[[operation.edit]]\npath = \"/etc/nginx/sites-enabled/site\"\nreplace = {{ find = \"80\", with = \"81\" }}\n")
    };
    let apt = head("[\"apt\"]");
    let cases = [
        ("no-fleet", apt.clone(), ":9:8: a `rollout` operation needs a [fleet] table"),
        ("too-many", format!("{apt}[fleet]\nnodes = 51\n"), ":14:9: nodes: expected 1 to 50"),
        (
            "more-broken",
            format!("{apt}[fleet]\nnodes = 3\nbroken = 4\nbroken_absent = [\"/srv/x\"]\n"),
            ":15:10: broken: 4 nodes broken of 3",
        ),
        (
            "broken-how",
            format!("{apt}[fleet]\nnodes = 3\nbroken = 1\n"),
            ":15:10: broken nodes differ from the others by what they lack",
        ),
        (
            "relative-absent",
            format!("{apt}[fleet]\nbroken = 1\nbroken_absent = [\"srv/x\"]\n"),
            ":15:18: broken_absent: `srv/x`: expected an absolute path",
        ),
        (
            "watch-short",
            format!("{apt}[fleet]\nsettle_ms = 3000\nwatch_ms = 2000\n"),
            ":15:12: watch_ms: the watch must last at least `settle_ms`",
        ),
        (
            "watch-past-timeout",
            format!(
                "{}[fleet]\nwatch_ms = 60000\n",
                apt.replace("approaches = [\"apt\"]\n", "approaches = [\"apt\"]\nstep_timeout_s = 60\n")
            ),
            ":15:12: watch_ms: the watch must end within the scenario's step_timeout_s (60 s)",
        ),
        (
            "not-a-fleet-tool",
            format!("{}[fleet]\n", head("[\"pip\"]")),
            ":3:15: approach `pip` does not roll a configuration out to a fleet; `rollout` scenarios take apt, ansible, nix",
        ),
        (
            "fleet-without-rollout",
            "[scenario]\nname = \"f\"\napproaches = [\"apt\"]\n[[package]]\nname = \"a\"\nversion = \"1.0\"\n[operation]\nkind = \"install\"\npackages = [\"a\"]\n[fleet]\nnodes = 3\n".to_string(),
            ":10:1: [fleet] belongs to a `rollout` operation",
        ),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let o = bin()
            .args(["validate", path.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{name}: {err}");
        assert!(
            err.contains(&format!("{}{want}", path.display())),
            "{name}: want {want} in: {err}"
        );
    }
}
