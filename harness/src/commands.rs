//! What each subcommand does, wiring the rooms together: scenarios are
//! loaded before anything starts; Docker objects are swept on every exit.

use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::checker::{Outcome, TrialRecord};
use crate::cli::{ImagesAction, RunArgs};
use crate::docker::images::{self, Family};
use crate::docker::{self, RunId};
use crate::error::{exit, Error, Result};
use crate::export::{CsvExporter, Exporter, JsonlExporter};
use crate::runner::{run_plan, DockerExecutor, Event};
use crate::{payload, plan, scenario};

pub async fn images(action: Option<ImagesAction>) -> Result<i32> {
    let docker = docker::connect().await?;
    match action {
        None | Some(ImagesAction::List) => {
            for s in images::status(&docker).await? {
                let id = s.id.as_deref().map(|i| i.trim_start_matches("sha256:")).map(|i| &i[..12.min(i.len())]).unwrap_or("-");
                println!("{:<40} {:<14} {}", s.name, id, s.detail);
            }
        }
        Some(ImagesAction::Build { force }) => {
            let built = build_images(&docker, &Family::ALL, force).await?;
            if built.is_empty() {
                println!("all images current");
            } else {
                println!("built: {}", built.join(", "));
            }
        }
    }
    Ok(exit::OK)
}

async fn build_images(docker: &bollard::Docker, families: &[Family], force: bool) -> Result<Vec<String>> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} [{elapsed}] {msg}").expect("static template"));
    bar.enable_steady_tick(Duration::from_millis(200));
    let progress = |line: String| {
        if bar.is_hidden() {
            tracing::info!("{line}");
        }
        bar.set_message(line);
    };
    let started = std::time::Instant::now();
    let built = images::ensure(docker, families, force, &progress).await;
    bar.finish_and_clear();
    let built = built?;
    if !built.is_empty() {
        eprintln!("images built in {:.1}s: {}", started.elapsed().as_secs_f64(), built.join(", "));
    }
    Ok(built)
}

pub async fn clean() -> Result<i32> {
    let docker = docker::connect().await?;
    let r = docker::sweep(&docker, None).await?;
    println!("removed {} container(s), {} network(s), {} volume(s)", r.containers, r.networks, r.volumes);
    Ok(exit::OK)
}

pub async fn run(args: RunArgs) -> Result<i32> {
    // Bad input stops everything before any container exists.
    let loaded: Vec<Arc<scenario::LoadedScenario>> = scenario::load_all(&args.scenarios)?.into_iter().map(Arc::new).collect();
    let docker = docker::connect().await?;
    let swept = docker::sweep_dead_runs(&docker).await?;
    if swept.total() > 0 {
        eprintln!("swept {} container(s), {} network(s), {} volume(s) left by a dead run", swept.containers, swept.networks, swept.volumes);
    }
    let families: BTreeSet<Family> = loaded.iter().flat_map(|s| s.scenario.approaches()).map(Family::of).collect();
    let families: Vec<Family> = families.into_iter().collect();
    build_images(&docker, &families, false).await?;

    let run = RunId::new();
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(&run.0));
    std::fs::create_dir_all(&out).map_err(|e| Error::io(format!("creating {}", out.display()), e))?;
    let fixtures_root = std::env::temp_dir().join(format!("mistake-cost-{run}"));
    // Signals are caught from before the first container exists, so even
    // the base-manifest scans are cleaned up on Ctrl-C.
    let cancel = CancellationToken::new();
    let signals = tokio::spawn(watch_signals(signal_streams()?, cancel.clone()));
    let started = time::OffsetDateTime::now_utc();
    let meta = |status: &str| RunMeta {
        run_id: run.0.clone(),
        status: status.to_string(),
        seed: args.seed,
        reps: args.reps,
        jobs: args.jobs,
        scenarios: loaded.iter().map(|s| s.path.display().to_string()).collect(),
        started: started.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    write_meta(&out, &meta("running"))?;
    let tracker = TaskTracker::new();
    let result = tokio::select! {
        r = run_inner(&docker, &run, &args, &loaded, &families, &out, &fixtures_root, cancel.clone(), tracker.clone()) => r,
        _ = async { cancel.cancelled().await; tokio::time::sleep(Duration::from_secs(30)).await } => {
            eprintln!("trials did not stop within 30 s of the interrupt; removing containers anyway");
            Ok(exit::INTERRUPTED)
        }
    };
    signals.abort();

    // Every way out passes here: normal end, error, Ctrl-C. Container
    // creations and removals still in flight finish first.
    tracker.close();
    tracker.wait().await;
    let swept = docker::sweep(&docker, Some(&run)).await;
    std::fs::remove_dir_all(&fixtures_root).ok();
    let status = match &result {
        Ok(c) if *c == exit::INTERRUPTED => "interrupted",
        Ok(_) => "finished",
        Err(_) => "failed",
    };
    write_meta(&out, &meta(status))?;
    let code = result?;
    swept?;
    Ok(code)
}

/// `run.json`: what ran and how it ended, beside the results.
#[derive(serde::Serialize)]
struct RunMeta {
    run_id: String,
    status: String,
    seed: u64,
    reps: Option<u32>,
    jobs: u16,
    scenarios: Vec<String>,
    started: String,
    harness_version: String,
}

/// Written to a temporary name and renamed: never half-written.
fn write_meta(out: &Path, meta: &RunMeta) -> Result<()> {
    let tmp = out.join(".run.json.tmp");
    let text = serde_json::to_string_pretty(meta).expect("plain data serializes");
    std::fs::write(&tmp, text + "\n").map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, out.join("run.json")).map_err(|e| Error::io("renaming run.json into place", e))
}

async fn run_inner(
    docker: &bollard::Docker,
    run: &RunId,
    args: &RunArgs,
    loaded: &[Arc<scenario::LoadedScenario>],
    families: &[Family],
    out: &Path,
    fixtures_root: &Path,
    cancel: CancellationToken,
    tracker: TaskTracker,
) -> Result<i32> {
    let mut fixtures = HashMap::new();
    for s in loaded {
        let dir = fixtures_root.join(&s.scenario.scenario.name);
        payload::write_fixtures(&s.scenario, &dir).map_err(|e| Error::io(format!("writing fixtures to {}", dir.display()), e))?;
        fixtures.insert(s.scenario.scenario.name.clone(), dir);
    }
    let executor = Arc::new(DockerExecutor::new(docker.clone(), run.clone(), fixtures, tracker));
    for &f in families {
        tokio::select! {
            r = executor.base_manifest(f) => { r?; }
            _ = cancel.cancelled() => return Ok(exit::INTERRUPTED),
        }
    }

    let trials = plan::plan(loaded, args.reps, args.seed);
    let total = trials.len();
    let csv_path = out.join("trials.csv");
    let mut exporters: Vec<Box<dyn Exporter>> = vec![
        Box::new(CsvExporter::create(&csv_path).map_err(|e| Error::io(format!("creating {}", csv_path.display()), e))?),
        Box::new(JsonlExporter::create(&out.join("trials.jsonl")).map_err(|e| Error::io("creating trials.jsonl", e))?),
    ];
    eprintln!("run {run}: {total} trials, {} at a time, seed {} → {}", args.jobs, args.seed, out.display());

    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = tokio::spawn(run_plan(executor, trials, args.jobs as usize, tx, cancel.clone()));

    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} trials [{elapsed}, eta {eta}] {msg}").expect("static template"),
    );
    let mut running: BTreeMap<usize, String> = BTreeMap::new();
    let mut records: Vec<TrialRecord> = Vec::new();
    let mut write_error = None;
    while let Some(event) = rx.recv().await {
        match event {
            Event::Preparing { message } => bar.set_message(message),
            Event::TrialStarted { index, label } => {
                running.insert(index, label);
            }
            Event::TrialPhase { .. } => {}
            Event::TrialFinished { index, record, history } => {
                running.remove(&index);
                for e in exporters.iter_mut() {
                    if let Err(err) = e.trial(&record, &history) {
                        write_error.get_or_insert(err);
                        cancel.cancel();
                    }
                }
                if record.outcome == Outcome::Errored {
                    bar.println(format!("trial {} {} rep {} errored: {}", record.scenario, record.approach, record.rep, record.error));
                }
                records.push(*record);
                bar.inc(1);
            }
        }
        bar.set_message(running.values().next().cloned().unwrap_or_default());
    }
    runner.await.map_err(|e| Error::Usage(format!("runner task failed: {e}")))?;
    bar.finish_and_clear();
    if let Some(e) = write_error {
        return Err(Error::io(format!("writing results in {}", out.display()), e));
    }
    print_summary(&records);
    eprintln!("results: {}", csv_path.display());
    if cancel.is_cancelled() {
        eprintln!("interrupted after {} of {total} trials; complete rows are kept", records.len());
        return Ok(exit::INTERRUPTED);
    }
    Ok(if records.iter().any(|r| r.outcome == Outcome::Errored) { exit::TRIAL_ERRORS } else { exit::OK })
}

type SignalStreams = (tokio::signal::unix::Signal, tokio::signal::unix::Signal);

/// Registers for SIGINT and SIGTERM now (not when a task first runs), so no
/// signal can arrive unhandled and kill the process with containers up.
fn signal_streams() -> Result<SignalStreams> {
    use tokio::signal::unix::{signal, SignalKind};
    let int = signal(SignalKind::interrupt()).map_err(|e| Error::io("installing the SIGINT handler", e))?;
    let term = signal(SignalKind::terminate()).map_err(|e| Error::io("installing the SIGTERM handler", e))?;
    Ok((int, term))
}

async fn watch_signals((mut int, mut term): SignalStreams, cancel: CancellationToken) {
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    eprintln!("\ninterrupted: stopping trials and removing this run's containers…");
    cancel.cancel();
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// One line per scenario × approach, on stdout.
fn print_summary(records: &[TrialRecord]) {
    let mut groups: BTreeMap<(&str, &str), Vec<&TrialRecord>> = BTreeMap::new();
    for r in records {
        groups.entry((&r.scenario, &r.approach)).or_default().push(r);
    }
    println!(
        "{:<22} {:<9} {:>6} {:>7} {:>7} {:>10} {:>10} {:>9} {:>10} {:>11} {:>10}",
        "scenario", "approach", "trials", "failed", "errored", "consistent", "residue~", "packages~", "garbage~", "recovered", "recov_ms~"
    );
    for ((s, a), rs) in groups {
        let ok: Vec<&&TrialRecord> = rs.iter().filter(|r| r.outcome != Outcome::Errored).collect();
        let med = |f: &dyn Fn(&TrialRecord) -> Option<f64>| {
            median(ok.iter().filter_map(|r| f(r)).collect()).map(|m| format!("{m:.0}")).unwrap_or_else(|| "-".into())
        };
        let share = |f: &dyn Fn(&TrialRecord) -> bool| format!("{}/{}", ok.iter().filter(|r| f(r)).count(), ok.len());
        println!(
            "{:<22} {:<9} {:>6} {:>7} {:>7} {:>10} {:>10} {:>9} {:>10} {:>11} {:>10}",
            s,
            a,
            rs.len(),
            rs.iter().filter(|r| r.outcome == Outcome::Failed).count(),
            rs.len() - ok.len(),
            share(&|r| r.consistent == "true"),
            med(&|r| r.residue_files.map(|x| x as f64)),
            med(&|r| r.residue_packages.map(|x| x as f64)),
            med(&|r| r.garbage_paths.map(|x| x as f64)),
            share(&|r| r.recovered == "true"),
            med(&|r| r.recovery_ms),
        );
    }
}
