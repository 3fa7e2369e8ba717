//! A trial's sandbox is what docs/running.md (Containment) promises: no network, memory and
//! pid limits, not privileged, fixtures read-only, labelled with the run.

mod common;

use mistake_cost::docker::{RunId, Sandbox, SandboxSpec};
use std::time::Duration;

#[test]
fn sandbox_is_isolated_limited_and_labelled() {
    let o = common::run(&["images", "build"]);
    assert_eq!(o.status.code(), Some(0));
    let fixtures = tempfile::tempdir().unwrap();
    std::fs::write(fixtures.path().join("hello"), "hi").unwrap();
    let run = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let docker = mistake_cost::docker::connect().await.unwrap();
        let run = RunId::new();
        let tracker = tokio_util::task::TaskTracker::new();
        let mut spec = SandboxSpec::new(
            mistake_cost::docker::images::Family::Apt.image(),
            format!("mc-{run}-sandbox-test"),
        );
        let volume = common::FixturesVolume::fill(&docker, &run, "sandbox-test", fixtures.path()).await;
        spec.fixtures = Some(volume.name.clone());
        let mut sandbox = Sandbox::start(&docker, &run, &spec, &tracker)
            .await
            .unwrap();

        let info = docker.inspect_container(&sandbox.id, None).await.unwrap();
        let host = info.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.privileged, Some(false));
        assert_eq!(host.memory, Some(2 << 30));
        assert_eq!(host.pids_limit, Some(2048));
        assert_eq!(host.memory_swap, Some(2 << 30), "memory and swap: no swap");
        let cpus = mistake_cost::docker::Limits::cpus_default();
        assert_eq!(host.nano_cpus, Some(cpus * 1_000_000_000));
        assert!(host
            .security_opt
            .unwrap_or_default()
            .contains(&"no-new-privileges:true".to_string()));
        assert!(host
            .cap_drop
            .unwrap_or_default()
            .contains(&"NET_RAW".to_string()));
        let labels = info.config.unwrap().labels.unwrap();
        assert_eq!(labels.get("mistake-cost.run"), Some(&run.0));
        let mount = info
            .mounts
            .unwrap()
            .into_iter()
            .find(|m| m.destination.as_deref() == Some("/fixtures"))
            .unwrap();
        assert_eq!(mount.rw, Some(false));

        let sh = |c: &str| vec!["sh".to_string(), "-c".to_string(), c.to_string()];
        let t = Duration::from_secs(30);
        let read = sandbox
            .exec(&sh("cat /fixtures/hello"), None, t)
            .await
            .unwrap();
        assert_eq!(read.stdout, b"hi");
        // The CPU limit reached the kernel, as quota and period: cgroup v2
        // states both in cpu.max, v1 (these machines) in two files.
        let read_quota = "cat /sys/fs/cgroup/cpu.max 2>/dev/null || \
             echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)";
        let cpu_max = sandbox.exec(&sh(read_quota), None, t).await.unwrap();
        let cpu_max = String::from_utf8_lossy(&cpu_max.stdout).to_string();
        let mut fields = cpu_max.split_whitespace().map(|f| f.parse::<i64>().unwrap());
        let (quota, period) = (fields.next().unwrap(), fields.next().unwrap());
        assert_eq!(quota, cpus * period, "cpu.max: {cpu_max}");
        let write = sandbox
            .exec(&sh("touch /fixtures/x"), None, t)
            .await
            .unwrap();
        assert_ne!(write.exit_code, 0, "fixtures are read-only");
        let nets = sandbox
            .exec(&sh("ls /sys/class/net"), None, t)
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&nets.stdout)
                .split_whitespace()
                .collect::<Vec<_>>(),
            vec!["lo"],
            "loopback only"
        );
        // The confinement as the container's own processes see it: no new
        // privileges, and NET_RAW (bit 13) and MKNOD (bit 27) out of the
        // bounding set; CHOWN (bit 0), which dpkg needs, still in it.
        let status = sandbox
            .exec(
                &sh("grep -E '^(NoNewPrivs|CapBnd):' /proc/self/status"),
                None,
                t,
            )
            .await
            .unwrap();
        let status = String::from_utf8_lossy(&status.stdout).into_owned();
        assert!(status.contains("NoNewPrivs:\t1"), "{status}");
        let bnd = status
            .lines()
            .find_map(|l| l.strip_prefix("CapBnd:"))
            .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
            .unwrap();
        assert_eq!((bnd >> 13) & 1, 0, "NET_RAW dropped: {status}");
        assert_eq!((bnd >> 27) & 1, 0, "MKNOD dropped: {status}");
        assert_eq!(bnd & 1, 1, "CHOWN kept: {status}");
        // stdin reaches the command, and large output is not truncated.
        let echo = sandbox
            .exec(&sh("wc -c"), Some(vec![b'x'; 300_000]), t)
            .await
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&echo.stdout).trim(), "300000");

        sandbox.remove().await.unwrap();
        tracker.close();
        tracker.wait().await;
        run
    });
    assert_eq!(
        common::containers_with_label(&format!("mistake-cost.run={run}")),
        0
    );
}

/// The fast change list (overlay2's upper directory, read on this host)
/// covers exactly what the engine's `docker diff` reports.
#[test]
fn upper_dir_walk_agrees_with_the_engine() {
    let o = common::run(&["images", "build"]);
    assert_eq!(o.status.code(), Some(0));
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let docker = mistake_cost::docker::connect().await.unwrap();
        let run = RunId::new();
        let tracker = tokio_util::task::TaskTracker::new();
        let spec = SandboxSpec::new(mistake_cost::docker::images::Family::Apt.image(), format!("mc-{run}-diff-test"));
        let mut sandbox = Sandbox::start(&docker, &run, &spec, &tracker).await.unwrap();
        let script = "mkdir -p /opt/new/deep && echo x > /opt/new/deep/f \
            && echo y >> /etc/debian_version && rm /etc/issue.net \
            && rm -rf /usr/share/doc/perl && mkdir /usr/share/doc/perl && echo z > /usr/share/doc/perl/only";
        let r = sandbox.exec(&["sh".into(), "-c".into(), script.into()], None, Duration::from_secs(30)).await.unwrap();
        assert_eq!(r.exit_code, 0, "{}", String::from_utf8_lossy(&r.stderr));
        let fast = sandbox.changes().await.unwrap();
        let engine = sandbox.engine_changes().await.unwrap();
        sandbox.remove().await.unwrap();
        tracker.close();
        tracker.wait().await;

        let covered = |p: &str, c: &mistake_cost::docker::changes::ChangedPaths| {
            c.paths.iter().any(|x| x == p) || c.replaced_dirs.iter().any(|d| p.starts_with(&format!("{d}/")))
        };
        let interesting = |p: &&String| !mistake_cost::snapshot::classify::excluded(p);
        for p in engine.paths.iter().filter(interesting) {
            assert!(covered(p, &fast), "engine reports {p}, the upper-dir walk does not");
        }
        for p in fast.paths.iter().filter(interesting) {
            assert!(covered(p, &engine), "upper-dir walk reports {p}, the engine does not");
        }
        for must in ["/opt/new/deep/f", "/etc/debian_version", "/etc/issue.net", "/usr/share/doc/perl/only"] {
            assert!(covered(must, &fast), "{must}");
        }
        assert!(fast.replaced_dirs.iter().any(|d| d == "/etc/issue.net"), "whiteout seen: {:?}", fast.replaced_dirs);
        assert!(fast.replaced_dirs.iter().any(|d| d == "/usr/share/doc/perl"), "opaque dir seen: {:?}", fast.replaced_dirs);
    });
}

/// Execs through the agent session answer exactly as execs of their own:
/// exit codes (a missing program, a signal), stdout and stderr kept apart
/// and whole, stdin, the output cap, a timeout, a daemon left running, and
/// a container restart (the session is reopened, nothing is lost).
#[test]
fn the_agent_session_answers_as_a_plain_exec_would() {
    let o = common::run(&["images", "build"]);
    assert_eq!(o.status.code(), Some(0));
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let docker = mistake_cost::docker::connect().await.unwrap();
        let run = RunId::new();
        let tracker = tokio_util::task::TaskTracker::new();
        let spec = SandboxSpec::new(
            mistake_cost::docker::images::Family::Apt.image(),
            format!("mc-{run}-session-test"),
        );
        let mut sandbox = Sandbox::start(&docker, &run, &spec, &tracker)
            .await
            .unwrap();
        let sh = |c: &str| vec!["sh".to_string(), "-c".to_string(), c.to_string()];
        let t = Duration::from_secs(30);
        let big_in: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let cases: Vec<(Vec<String>, Option<Vec<u8>>)> = vec![
            (sh("echo out; echo err >&2; exit 3"), None),
            (vec!["no-such-program".into()], None),
            (sh("kill -9 $$"), None),
            (sh("head -c 5000000 /dev/zero | tr '\\0' x"), None),
            (vec!["cat".into()], Some(big_in.clone())),
            (vec!["cat".into()], Some(Vec::new())),
            (sh("cat; echo ."), None),
            (sh("printf 'a\\tb\\n\\0c'; env | grep -c ^PATH="), None),
            (
                vec![
                    "perl".into(),
                    mistake_cost::docker::AGENT.into(),
                    "run".into(),
                    "10".into(),
                    "echo hi; exit 4".into(),
                ],
                None,
            ),
        ];
        for (cmd, stdin) in cases {
            let alone = sandbox
                .exec_alone(&cmd, stdin.clone(), t, Default::default())
                .await
                .unwrap();
            let served = sandbox.exec(&cmd, stdin.clone(), t).await.unwrap();
            if cmd[0] == "no-such-program" {
                // Engines disagree (Docker 20.10 says 126, later ones 127);
                // both mean "could not run", which is all the harness reads.
                assert!([126, 127].contains(&alone.exit_code), "{alone:?}");
                assert!([126, 127].contains(&served.exit_code), "{served:?}");
                continue;
            }
            assert_eq!(served.exit_code, alone.exit_code, "{cmd:?}");
            assert_eq!(served.stdout.len(), alone.stdout.len(), "{cmd:?}");
            if cmd[0] == "perl" {
                // The agent's line holds times; the exit code and output do not change.
                let fields = |o: &[u8]| {
                    let s = String::from_utf8_lossy(o).into_owned();
                    let f: Vec<String> = s.split('\t').map(String::from).collect();
                    (f[0].clone(), f[2].clone(), f[3].clone())
                };
                assert_eq!(fields(&served.stdout), fields(&alone.stdout));
            } else {
                assert_eq!(served.stdout, alone.stdout, "{cmd:?}");
                assert_eq!(served.stderr, alone.stderr, "{cmd:?}");
            }
        }
        assert_eq!(
            sandbox
                .exec(&["cat".into()], Some(big_in.clone()), t)
                .await
                .unwrap()
                .stdout,
            big_in,
            "stdin and stdout travel whole"
        );

        // Over the cap: refused, never cut; the next exec still answers.
        let capped = sandbox
            .exec_limited(
                &sh("head -c 100000 /dev/zero"),
                None,
                t,
                mistake_cost::docker::ExecLimits {
                    max_output_bytes: 4096,
                },
            )
            .await;
        assert!(
            matches!(
                capped,
                Err(mistake_cost::docker::DockerError::OutputTooLarge { .. })
            ),
            "{capped:?}"
        );
        // A timeout is an error; the session is not reused in an unknown place.
        let slow = sandbox
            .exec(&sh("sleep 5"), None, Duration::from_secs(1))
            .await;
        assert!(slow.is_err());
        let after = sandbox.exec(&sh("echo back"), None, t).await.unwrap();
        assert_eq!(after.stdout, b"back\n");

        // A daemon holding the output open does not hang the exec.
        let started = std::time::Instant::now();
        let daemon = sandbox
            .exec(&sh("sleep 60 & echo started"), None, t)
            .await
            .unwrap();
        assert_eq!(daemon.stdout, b"started\n");
        assert!(started.elapsed() < Duration::from_secs(10));

        // After a restart the old session is dead; execs still answer.
        sandbox.kill_and_restart().await.unwrap();
        let restarted = sandbox.exec(&sh("echo up"), None, t).await.unwrap();
        assert_eq!(restarted.stdout, b"up\n");
        sandbox.remove().await.unwrap();
    });
}
