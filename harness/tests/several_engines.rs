//! Trials spread over two engines (issue 12): a second dockerd on this
//! machine (its own socket, data-root, exec-root, no bridge or iptables)
//! beside the main one. Both share this machine's cores: this proves the
//! plumbing (fixtures through the API, images copied, per-engine limits,
//! the engine column, the sweep of both), not a speed-up.

mod common;

use common::{bin, read_csv, read_jsonl, run_label};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SCENARIO: &str = "harness/tests/fixtures/engines/tiny-fail.toml";

/// A second dockerd, stopped and its folders deleted when dropped (a
/// failing assertion included).
struct SecondEngine {
    root: PathBuf,
    child: Child,
    url: String,
}

impl SecondEngine {
    fn start() -> SecondEngine {
        // Under /tmp, not $TMPDIR: a unix socket's path must stay short.
        let root = PathBuf::from(format!("/tmp/mc-engine2-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        // Its own (empty) configuration: the main engine's daemon.json may
        // name hosts or a data-root of its own.
        std::fs::write(root.join("daemon.json"), "{}").unwrap();
        let url = format!("unix://{}/docker.sock", root.display());
        let log = std::fs::File::create(root.join("dockerd.log")).unwrap();
        // In a network namespace of its own: a dockerd started with
        // `--bridge none` deletes the host's `docker0` (the main engine's
        // default bridge; image builds then fail with "could not find
        // bridge docker0"). `unshare` execs dockerd, so the pid is its own.
        let child = Command::new("unshare")
            .args(["--net", "--", "dockerd"])
            .arg("--host")
            .arg(&url)
            .arg("--config-file")
            .arg(root.join("daemon.json"))
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("exec"))
            .arg("--pidfile")
            .arg(root.join("docker.pid"))
            // Containers are hermetic (no network): no bridge, no iptables
            // rules beside the main engine's.
            .args(["--bridge", "none", "--iptables=false", "--ip-masq=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd (installed by scripts/setup-host.sh)");
        let mut engine = SecondEngine { root, child, url };
        let deadline = Instant::now() + Duration::from_secs(60);
        let rt = tokio::runtime::Runtime::new().unwrap();
        while rt
            .block_on(mistake_cost::docker::engines::connect_to(Some(&engine.url)))
            .is_err()
        {
            if let Ok(Some(status)) = engine.child.try_wait() {
                panic!(
                    "the second dockerd exited ({status}):\n{}",
                    std::fs::read_to_string(engine.root.join("dockerd.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the second dockerd did not answer in 60 s"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        engine
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        // SIGTERM: dockerd stops its containers and unmounts its layers.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // What a dockerd that did not stop in time left mounted.
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let mut under: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| Path::new(m).starts_with(&self.root))
            .collect();
        under.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in under {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Objects labelled `label` (`key` or `key=value`) on the engine at `url`:
/// containers, volumes, images.
fn labelled(url: &str, label: &str) -> (usize, usize, usize) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let docker = mistake_cost::docker::engines::connect_to(Some(url))
            .await
            .expect("engine");
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        let containers = docker
            .list_containers(Some(
                bollard::query_parameters::ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .unwrap()
            .len();
        let volumes = docker
            .list_volumes(Some(
                bollard::query_parameters::ListVolumesOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .unwrap()
            .volumes
            .unwrap_or_default()
            .len();
        let images = docker
            .list_images(Some(
                bollard::query_parameters::ListImagesOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .unwrap()
            .len();
        (containers, volumes, images)
    })
}

/// The main engine's URL: DOCKER_HOST, as the harness's default engine.
fn main_url() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

fn run(args: &[&str]) -> Output {
    let started = Instant::now();
    let out = common::run(args);
    eprintln!("(took {:.1} s)", started.elapsed().as_secs_f64());
    out
}

/// Each engine's "at most K at a time (limit L)" line from run's stderr.
fn peaks(stderr: &str) -> BTreeMap<String, (usize, usize)> {
    stderr
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("engine ")?;
            let (name, rest) = rest.split_once(": ")?;
            let k = rest
                .split("at most ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()?;
            let l = rest
                .split("(limit ")
                .nth(1)?
                .trim_end_matches(')')
                .parse()
                .ok()?;
            Some((name.to_string(), (k, l)))
        })
        .collect()
}

/// Per engine, the most trials (or crash points) of a results file
/// (trials.jsonl, crashpoints.jsonl) whose in-container activity
/// overlapped: each spans its first timed step's start to its last one's
/// end on the container's monotonic clock (both engines share this
/// kernel's).
fn overlap_per_engine(jsonl: &Path) -> BTreeMap<String, usize> {
    let mut spans: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for line in read_jsonl(jsonl) {
        let steps = line["history"]["steps"].as_array().unwrap();
        let timed: Vec<(u64, u64)> = steps
            .iter()
            .filter_map(|s| {
                let start = s["started_ns"].as_u64()?;
                Some((start, start + (s["ms"].as_f64()? * 1e6) as u64))
            })
            .collect();
        let (Some(start), Some(end)) = (
            timed.iter().map(|t| t.0).min(),
            timed.iter().map(|t| t.1).max(),
        ) else {
            continue;
        };
        let engine = line["record"]["engine"].as_str().unwrap().to_string();
        spans.entry(engine).or_default().push((start, end));
    }
    spans
        .into_iter()
        .map(|(engine, s)| {
            let most = s
                .iter()
                .map(|(start, _)| s.iter().filter(|(a, b)| a <= start && start < b).count())
                .max()
                .unwrap_or(0);
            (engine, most)
        })
        .collect()
}

/// A row without its timing columns and engine: what must not depend on
/// where or how fast a trial ran.
fn measured(row: &HashMap<String, String>) -> BTreeMap<String, String> {
    const TIMING: &[&str] = &[
        "trial_wall_ms",
        "overhead_ms",
        "operation_ms",
        "recovery_ms",
        "detect_ms",
        "downtime_ms",
        "restore_ms",
        "engine",
    ];
    row.iter()
        .filter(|(k, _)| !TIMING.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn key(row: &HashMap<String, String>) -> (String, String, String, String) {
    (
        row["scenario"].clone(),
        row["approach"].clone(),
        row["fault"].clone(),
        row["rep"].clone(),
    )
}

#[test]
fn trials_spread_over_two_engines_with_their_limits_and_leave_nothing() {
    if !is_root() {
        eprintln!("several_engines: skipped, starting a second dockerd needs root");
        return;
    }
    let bridge = Path::new("/sys/class/net/docker0");
    let had_bridge = bridge.exists();
    let second = SecondEngine::start();
    let main = main_url();
    let engines = [
        format!("{main},jobs=1,name=main"),
        format!("{},jobs=2,name=second", second.url),
    ];
    let limits = BTreeMap::from([("main".to_string(), 1), ("second".to_string(), 2)]);

    // Two engines. The second one gets the images from the first (copied
    // through the API) and its own fixtures volume.
    let spread = tempfile::tempdir().unwrap();
    let o = run(&[
        "run",
        SCENARIO,
        "--seed",
        "7",
        "--engine",
        &engines[0],
        "--engine",
        &engines[1],
        "--out",
        spread.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "the two-engine run");
    let rows = read_csv(&spread.path().join("trials.csv"));
    assert_eq!(rows.len(), 9);
    for r in &rows {
        assert!(
            limits.contains_key(&r["engine"]),
            "engine {:?}",
            r["engine"]
        );
        assert!(r["error"].is_empty(), "{r:?}");
    }
    for name in limits.keys() {
        assert!(
            rows.iter().any(|r| &r["engine"] == name),
            "engine {name} unused"
        );
    }
    // Each engine's limit: the scheduler's own count, and independently the
    // trials' in-container time spans.
    let stderr = String::from_utf8_lossy(&o.stderr);
    let counted = peaks(&stderr);
    let overlapped = overlap_per_engine(&spread.path().join("trials.jsonl"));
    for (name, limit) in &limits {
        assert_eq!(counted[name].1, *limit, "{stderr}");
        assert!(counted[name].0 <= *limit, "{name}: {:?}", counted[name]);
        assert!(overlapped[name] <= *limit, "{name}: {overlapped:?}");
    }
    let spread_run = run_label(spread.path());

    // One engine, the same seed: the same rows but for timing and engine.
    let alone = tempfile::tempdir().unwrap();
    let o = run(&[
        "run",
        SCENARIO,
        "--seed",
        "7",
        "--jobs",
        "2",
        "--out",
        alone.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "the one-engine run");
    let alone_rows = read_csv(&alone.path().join("trials.csv"));
    assert!(alone_rows.iter().all(|r| r["engine"] == "local"));
    let by_key = |rows: &[HashMap<String, String>]| -> BTreeMap<_, _> {
        rows.iter().map(|r| (key(r), measured(r))).collect()
    };
    let (spread_rows, alone_rows) = (by_key(&rows), by_key(&alone_rows));
    assert_eq!(
        spread_rows.keys().collect::<Vec<_>>(),
        alone_rows.keys().collect::<Vec<_>>()
    );
    let mut differ = Vec::new();
    for (k, row) in &spread_rows {
        for (c, v) in row {
            let one = alone_rows[k].get(c);
            if one != Some(v) {
                differ.push(format!("{k:?} {c}: {v} over two engines, {one:?} on one"));
            }
        }
    }
    assert!(differ.is_empty(), "{differ:#?}");

    // Nothing labelled is left: on the second engine nothing at all, on
    // the main one (shared with other runs) nothing of these runs.
    assert_eq!(labelled(&second.url, "mistake-cost.run"), (0, 0, 0));
    for label in [spread_run, run_label(alone.path())] {
        assert_eq!(labelled(&main, &label), (0, 0, 0), "{label}");
    }

    // Ctrl-C while trials run on both engines: both are swept.
    let interrupted = tempfile::tempdir().unwrap();
    let child = bin()
        .args([
            "run",
            SCENARIO,
            "--reps",
            "8",
            "--engine",
            &engines[0],
            "--engine",
            &engines[1],
            "--out",
            interrupted.path().to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    while labelled(&second.url, "mistake-cost.run").0 == 0
        || read_csv_if_any(&interrupted.path().join("trials.csv")).is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "no trial ran on the second engine"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(read_csv(&interrupted.path().join("trials.csv")).len() < 24);
    assert_eq!(
        labelled(&second.url, "mistake-cost.run"),
        (0, 0, 0),
        "{stderr}"
    );
    let label = run_label(interrupted.path());
    assert_eq!(labelled(&main, &label), (0, 0, 0), "{stderr}");
    explore_over_two_engines(&second, &main, &engines);
    drop(second);
    assert_eq!(
        bridge.exists(),
        had_bridge,
        "the second engine must leave the main engine's docker0 alone"
    );
}

/// Crash points shared out over both engines (the dry runs on the first,
/// the committed set-ups copied to the second): each engine's limit holds,
/// the same seed explores the same points with the same states as on one
/// engine, and a killed explore's leftovers go with `clean --engine` and
/// with the next start's sweep.
fn explore_over_two_engines(second: &SecondEngine, main: &str, engines: &[String; 2]) {
    let explore = |out: &Path, on: &[&String]| -> Output {
        let mut args = vec![
            "explore",
            SCENARIO,
            "--max-points",
            "2",
            "--seed",
            "5",
            "--out",
            out.to_str().unwrap(),
        ];
        for e in on {
            args.extend(["--engine", e.as_str()]);
        }
        run(&args)
    };
    let spread = tempfile::tempdir().unwrap();
    let o = explore(spread.path(), &[&engines[0], &engines[1]]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "the two-engine explore: {stderr}");
    let rows = read_csv(&spread.path().join("crashpoints.csv"));
    let approaches: BTreeSet<&str> = rows.iter().map(|r| r["approach"].as_str()).collect();
    assert_eq!(approaches.len(), 3, "{stderr}");
    for r in &rows {
        assert!(r["error"].is_empty(), "{r:?}");
        assert!(["main", "second"].contains(&r["engine"].as_str()), "{r:?}");
    }
    for name in ["main", "second"] {
        assert!(
            rows.iter().any(|r| r["engine"] == name),
            "no point crashed on {name}: {stderr}"
        );
    }
    // Each engine's limit: explore's own count, and independently the
    // points' in-container time spans.
    let counted = peaks(&stderr);
    let overlapped = overlap_per_engine(&spread.path().join("crashpoints.jsonl"));
    for (name, limit) in [("main", 1), ("second", 2)] {
        assert_eq!(counted[name].1, limit, "{stderr}");
        assert!(counted[name].0 <= limit, "{name}: {counted:?}");
        assert!(overlapped[name] <= limit, "{name}: {overlapped:?}");
    }
    assert_eq!(labelled(&second.url, "mistake-cost.run"), (0, 0, 0));
    assert_eq!(labelled(main, &run_label(spread.path())), (0, 0, 0));

    // Killed (no clean-up at all) while points run on both engines.
    let killed = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args([
            "explore",
            SCENARIO,
            "--syscalls",
            "rename,fsync",
            "--engine",
            &engines[0],
            "--engine",
            &engines[1],
            "--out",
            killed.path().to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while read_csv_if_any(&killed.path().join("crashpoints.csv")).is_empty()
        || labelled(&second.url, "mistake-cost.run").0 == 0
    {
        assert!(Instant::now() < deadline, "no crash point ran on the second engine");
        assert!(matches!(child.try_wait(), Ok(None)), "explore ended before it was killed");
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let label = run_label(killed.path());
    assert_ne!(labelled(&second.url, &label), (0, 0, 0), "left on the second engine");
    let o = run(&["clean", "--engine", &second.url]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(labelled(&second.url, "mistake-cost.run"), (0, 0, 0));

    // One engine, the same seed: the same points, crashed into the same
    // states. Its start sweeps what the killed explore left on the main
    // engine (a dead process's objects).
    let alone = tempfile::tempdir().unwrap();
    let o = explore(alone.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(labelled(main, &label), (0, 0, 0), "the killed explore's objects");
    let states = |rows: &[HashMap<String, String>]| -> BTreeMap<(String, String), (String, String)> {
        rows.iter()
            .map(|r| {
                (
                    (r["approach"].clone(), r["fault"].clone()),
                    (r["state_after_crash"].clone(), r["state_after_recovery"].clone()),
                )
            })
            .collect()
    };
    let alone_rows = read_csv(&alone.path().join("crashpoints.csv"));
    assert!(alone_rows.iter().all(|r| r["engine"] == "local"));
    // A dry run's count of a timing-dependent process's calls (the Nix
    // daemon's fsyncs) can differ between two runs, and with it a seeded
    // pick: the points both explored must agree, and most must be shared.
    let (two, one) = (states(&rows), states(&alone_rows));
    let shared: Vec<_> = two.keys().filter(|k| one.contains_key(*k)).collect();
    assert!(
        shared.len() * 5 >= two.len().max(one.len()) * 4,
        "same seed, mostly the same points: {two:?} / {one:?}"
    );
    for k in shared {
        assert_eq!(two[k], one[k], "{k:?} over two engines / on one");
    }
}

/// trials.csv's rows, or none while it does not exist yet.
fn read_csv_if_any(path: &Path) -> Vec<HashMap<String, String>> {
    if path.is_file() {
        read_csv(path)
    } else {
        Vec::new()
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        .unwrap_or(false)
}
