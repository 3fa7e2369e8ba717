//! The kill injector (`mistake-cost-inject`) crashes a command exactly where
//! strace's `inject=NAME:signal=KILL:when=K` does: for a multi-process
//! workload of real coreutils, Python and dpkg-style renames, every (syscall,
//! k) gives the same exit status, the same killed processes and the same
//! files left behind under both. Runs in the apt image, as trials do.

mod common;

use mistake_cost::docker::{RunId, Sandbox, SandboxSpec};
use mistake_cost::nemesis::{self, injector, Strace, INJECT_LOG};
use std::time::Duration;

/// Sequential (so the end state is deterministic), several processes, and
/// each family's calls: the shell's own openat/write, mv's renameat2,
/// mkdir, rm's unlinkat, ln's symlinkat, chmod's fchmodat, a Python
/// process's rename, fsync and writes.
const WORKLOAD: &str = "W=/tmp/w; rm -rf $W; mkdir -p $W/a $W/b; \
    for i in 1 2 3 4 5; do echo v$i > $W/a/f$i; done; \
    for i in 1 2 3; do mv $W/a/f$i $W/b/; done; \
    mkdir $W/c $W/d; rm $W/a/f4; ln -s f5 $W/a/l5; chmod 600 $W/a/f5; \
    python3 -c 'import os\nfor i in range(3):\n  p=\"/tmp/w/d/p%d\" % i\n  with open(p+\".tmp\",\"w\") as f:\n    f.write(\"x\"*i); f.flush(); os.fsync(f.fileno())\n  os.rename(p+\".tmp\", p)'; \
    echo done > $W/c/end";

/// What a crash left: the exit status, the processes killed, the files.
const OUTCOME: &str =
    "rc=$?; echo rc=$rc; grep -o '<[^>]*> +++ killed' /run/mistake-cost/strace.log | sort; \
    find /tmp/w -printf '%p %y %s %m\\n' | sort; cat /tmp/w/*/* 2>/dev/null | md5sum";

#[test]
fn the_injector_kills_where_strace_does() {
    let o = common::run(&["images", "build"]);
    assert_eq!(o.status.code(), Some(0));
    let fixtures = tempfile::tempdir().unwrap();
    assert!(
        injector::ship(fixtures.path()).unwrap(),
        "cargo builds {} next to the test binaries",
        injector::FILE_NAME
    );
    let run = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (run, tracker, volume, mut sandbox) =
            apt_sandbox(fixtures.path(), "injector-test").await;
        let sh = |c: String| vec!["sh".to_string(), "-c".to_string(), c];
        let t = Duration::from_secs(60);

        let cases: &[(&str, &[u64])] = &[
            ("renameat2", &[1, 2, 3]),
            ("rename", &[1, 3]),
            ("openat", &[1, 4, 6, 9, 15, 40]),
            ("write", &[1, 2, 3]),
            ("mkdir", &[1, 2]),
            ("unlinkat", &[1]),
            ("symlinkat", &[1]),
            ("fchmodat", &[1]),
            ("fsync", &[1, 2, 3]),
        ];
        let mut killed_somewhere = 0;
        for (syscall, ks) in cases {
            for &k in *ks {
                let strace = nemesis::strace_command(
                    &Strace {
                        log: INJECT_LOG,
                        trace: &[syscall.to_string()],
                        inject: Some((k, None)),
                        decode_fds: false,
                        quiet_exits: true,
                        timestamps: false,
                        seccomp_bpf: false,
                    },
                    WORKLOAD,
                );
                let ours = format!(
                    "{} --syscall {syscall} --at {k} --log {INJECT_LOG} -- sh -c {}",
                    injector::IN_CONTAINER,
                    nemesis::shell_quote(WORKLOAD)
                );
                let mut outcomes = Vec::new();
                for wrapped in [strace, ours] {
                    let out = sandbox
                        .exec(&sh(format!("rm -f {INJECT_LOG}; {wrapped}; {OUTCOME}")), None, t)
                        .await
                        .unwrap();
                    outcomes.push(String::from_utf8_lossy(&out.stdout).into_owned());
                }
                assert_eq!(
                    outcomes[0], outcomes[1],
                    "{syscall}#{k}: strace (left) and the injector (right) differ"
                );
                if outcomes[1].contains("+++ killed") {
                    killed_somewhere += 1;
                }
            }
        }
        // Most cases must actually crash something, or the comparison says little.
        assert!(killed_somewhere >= 20, "only {killed_somewhere} cases killed a process");

        // Explore's crash point names its process: at openat#4, where mkdir
        // and rm both get killed untargeted, only rm is.
        let both = sandbox
            .exec(
                &sh(format!(
                    "rm -f {INJECT_LOG}; {} --syscall openat --at 4 --log {INJECT_LOG} -- sh -c {}; {OUTCOME}",
                    injector::IN_CONTAINER,
                    nemesis::shell_quote(WORKLOAD)
                )),
                None,
                t,
            )
            .await
            .unwrap();
        let both = String::from_utf8_lossy(&both.stdout).into_owned();
        assert!(both.contains("<mkdir> +++ killed") && both.contains("<rm> +++ killed"), "{both}");
        let point = nemesis::Point {
            target: nemesis::Target {
                syscall: "openat",
                at: 4,
                process: "rm",
                label: "",
            },
            in_worker: false,
        };
        let wrapped = nemesis::crash_point_wrap(None, WORKLOAD, &point).unwrap();
        let one = sandbox
            .exec(&sh(format!("rm -f {INJECT_LOG}; {wrapped}; {OUTCOME}")), None, t)
            .await
            .unwrap();
        let one = String::from_utf8_lossy(&one.stdout).into_owned();
        assert!(one.contains("<rm> +++ killed") && !one.contains("<mkdir>"), "{one}");
        assert_ne!(one, both, "sparing mkdir leaves other files");

        // The wrapper the trials use picks the injector when the fixtures have it.
        let wrapped = nemesis::strace_wrap("mv /tmp/w/b/f1 /tmp/w/b/g1", &["renameat2".into()], 1, None);
        let out = sandbox
            .exec(&sh(format!("{wrapped}; echo rc=$?; cat {INJECT_LOG}; ls /tmp/w/b")), None, t)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("rc=137"), "{text}");
        assert_eq!(nemesis::killed_processes(&text), vec!["mv".to_string()], "{text}");
        assert!(text.contains("f1") && !text.contains("g1"), "killed before the rename: {text}");

        sandbox.remove().await.unwrap();
        drop(volume);
        tracker.close();
        tracker.wait().await;
        run
    });
    assert_eq!(
        common::containers_with_label(&format!("mistake-cost.run={run}")),
        0
    );
}

/// Explore's dry run traces the workload with strace `-y`; every point it
/// finds is then crashed by the injector, which must find the same
/// operation from the stopped thread alone (string arguments from its
/// memory, descriptors and working directory from /proc): each kill fires
/// and the injector's log names the dry run's operation. Counting per file
/// must matter here: some points' k differ from the process's raw call
/// number of the syscall.
#[test]
fn the_injector_finds_each_dry_run_operation_by_its_files() {
    use mistake_cost::explore::points;
    let o = common::run(&["images", "build"]);
    assert_eq!(o.status.code(), Some(0));
    let fixtures = tempfile::tempdir().unwrap();
    assert!(injector::ship(fixtures.path()).unwrap());
    let run = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (run, tracker, volume, mut sandbox) =
            apt_sandbox(fixtures.path(), "injector-labels").await;
        let sh = |c: String| vec!["sh".to_string(), "-c".to_string(), c];
        let t = Duration::from_secs(60);
        let syscalls = points::expand_syscalls(
            &points::family_names()
                .iter()
                .map(|f| format!("@{f}"))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let traced = nemesis::strace_count(WORKLOAD, &syscalls, nemesis::TRACE_LOG, None);
        let out = sandbox
            .exec(
                &sh(format!(
                    "{traced} >/dev/null 2>&1; cat {}",
                    nemesis::TRACE_LOG
                )),
                None,
                t,
            )
            .await
            .unwrap();
        let calls = points::parse_trace(&String::from_utf8_lossy(&out.stdout), &syscalls);
        let found = points::points(&calls);
        assert!(found.len() >= 25, "{} points", found.len());
        let raw_k_differs = found.iter().any(|p| {
            let raw = calls
                .iter()
                .filter(|c| c.syscall == p.syscall && c.process == p.process)
                .count();
            p.k as usize != raw && raw > 1
        });
        assert!(
            raw_k_differs,
            "the workload must have calls on other files in between"
        );
        for p in &found {
            let point = nemesis::Point {
                target: nemesis::Target {
                    syscall: &p.syscall,
                    at: p.k,
                    process: &p.process,
                    label: &p.label,
                },
                in_worker: false,
            };
            let wrapped = nemesis::crash_point_wrap(None, WORKLOAD, &point).unwrap();
            let out = sandbox
                .exec(
                    &sh(format!(
                        "rm -f {INJECT_LOG}; {wrapped} >/dev/null 2>&1; cat {INJECT_LOG}"
                    )),
                    None,
                    t,
                )
                .await
                .unwrap();
            let log = String::from_utf8_lossy(&out.stdout).into_owned();
            let hits: Vec<String> = nemesis::hit_operations(&log)
                .into_iter()
                .map(|h| h.operation)
                .collect();
            assert_eq!(hits, vec![p.operation()], "{p:?}\n{log}");
            assert_eq!(
                nemesis::killed_processes(&log),
                vec![p.process.clone()],
                "{log}"
            );
        }
        sandbox.remove().await.unwrap();
        drop(volume);
        tracker.close();
        tracker.wait().await;
        run
    });
    assert_eq!(
        common::containers_with_label(&format!("mistake-cost.run={run}")),
        0
    );
}

/// An injector that is there but cannot run in the container (built
/// against a newer C library than the image's, say): a scenario's kill
/// falls back to strace and still kills; an explore crash point (no strace
/// fallback) exits 126, which the checker reads as unknown. Neither may
/// pass for the program's own failure.
#[test]
fn an_injector_that_cannot_run_is_never_taken_for_the_program() {
    let o = common::run(&["images", "build"]);
    assert_eq!(o.status.code(), Some(0));
    let fixtures = tempfile::tempdir().unwrap();
    let tools = fixtures.path().join(injector::TOOLS_DIR);
    std::fs::create_dir_all(&tools).unwrap();
    // An ELF header and nothing else: exec fails as for a binary whose
    // loader or C library version the container lacks.
    let broken = tools.join(injector::FILE_NAME);
    std::fs::write(&broken, b"\x7fELF\x02\x01\x01").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (run, tracker, volume, mut sandbox) =
            apt_sandbox(fixtures.path(), "injector-broken").await;
        let sh = |c: String| vec!["sh".to_string(), "-c".to_string(), c];
        let t = Duration::from_secs(60);
        sandbox
            .exec(
                &sh("mkdir -p /tmp/w/b && echo x > /tmp/w/b/f1".into()),
                None,
                t,
            )
            .await
            .unwrap();

        let wrapped =
            nemesis::strace_wrap("mv /tmp/w/b/f1 /tmp/w/b/g1", &["renameat2".into()], 1, None);
        let out = sandbox
            .exec(
                &sh(format!(
                    "{wrapped}; echo rc=$?; cat {INJECT_LOG}; ls /tmp/w/b"
                )),
                None,
                t,
            )
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("rc=137"), "strace killed mv instead: {text}");
        assert_eq!(
            nemesis::killed_processes(&text),
            vec!["mv".to_string()],
            "{text}"
        );
        // (strace's log names g1 in the call it killed: the folder alone.)
        assert_eq!(
            text.lines().last(),
            Some("f1"),
            "killed before the rename: {text}"
        );

        let point = nemesis::Point {
            target: nemesis::Target {
                syscall: "renameat2",
                at: 1,
                process: "mv",
                label: "",
            },
            in_worker: false,
        };
        let wrapped =
            nemesis::crash_point_wrap(None, "mv /tmp/w/b/f1 /tmp/w/b/g1", &point).unwrap();
        let out = sandbox.exec(&sh(wrapped), None, t).await.unwrap();
        assert_eq!(
            out.exit_code,
            126,
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("cannot run in this container"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let files = sandbox
            .exec(&sh("ls /tmp/w/b".into()), None, t)
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&files.stdout).trim(),
            "f1",
            "nothing ran"
        );

        sandbox.remove().await.unwrap();
        drop(volume);
        tracker.close();
        tracker.wait().await;
        run
    });
    assert_eq!(
        common::containers_with_label(&format!("mistake-cost.run={run}")),
        0
    );
}

/// A sandbox of the apt image, as trials get, with `fixtures` as its
/// fixtures volume and the folder the kill logs go to.
async fn apt_sandbox(
    fixtures: &std::path::Path,
    name: &str,
) -> (
    RunId,
    tokio_util::task::TaskTracker,
    common::FixturesVolume,
    Sandbox,
) {
    let docker = mistake_cost::docker::connect().await.unwrap();
    let run = RunId::new();
    let tracker = tokio_util::task::TaskTracker::new();
    let volume = common::FixturesVolume::fill(&docker, &run, name, fixtures).await;
    let mut spec = SandboxSpec::new(
        mistake_cost::docker::images::Family::Apt.image(),
        format!("mc-{run}-{name}"),
    );
    spec.fixtures = Some(volume.name.clone());
    let sandbox = Sandbox::start(&docker, &run, &spec, &tracker)
        .await
        .unwrap();
    let mkdir = vec![
        "sh".into(),
        "-c".into(),
        "mkdir -p /run/mistake-cost".into(),
    ];
    sandbox
        .exec(&mkdir, None, Duration::from_secs(60))
        .await
        .unwrap();
    (run, tracker, volume, sandbox)
}
