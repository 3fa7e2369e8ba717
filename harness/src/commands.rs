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
use crate::cli::{ExploreArgs, ImagesAction, RunArgs, VerifyArgs};
use crate::docker::images::{self, Family};
use crate::docker::{self, RunId};
use crate::error::{exit, Error, Result};
use crate::export::{CsvExporter, Exporter, JsonlExporter};
use crate::runner::{run_plan, DockerExecutor, Event};
use crate::{payload, plan, scenario, verify};

pub async fn images(action: Option<ImagesAction>) -> Result<i32> {
    let docker = docker::connect().await?;
    match action {
        None | Some(ImagesAction::List) => {
            for s in images::status(&docker).await? {
                let id =
                    s.id.as_deref()
                        .map(|i| i.trim_start_matches("sha256:"))
                        .map(|i| &i[..12.min(i.len())])
                        .unwrap_or("-");
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

async fn build_images(
    docker: &bollard::Docker,
    families: &[Family],
    force: bool,
) -> Result<Vec<String>> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {msg}").expect("static template"),
    );
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
        eprintln!(
            "images built in {:.1}s: {}",
            started.elapsed().as_secs_f64(),
            built.join(", ")
        );
    }
    Ok(built)
}

pub async fn clean() -> Result<i32> {
    let docker = docker::connect().await?;
    let r = docker::sweep(&docker, None).await?;
    println!(
        "removed {} container(s), {} network(s), {} volume(s)",
        r.containers, r.networks, r.volumes
    );
    Ok(exit::OK)
}

/// What every Docker-running command shares: the engine, the run id and its
/// results folder, signals caught from before the first container exists,
/// tracked Docker calls, and the final sweep that every way out passes.
pub(crate) struct Session {
    pub docker: bollard::Docker,
    pub run: RunId,
    pub out: PathBuf,
    pub fixtures_root: PathBuf,
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
    signals: tokio::task::JoinHandle<()>,
    meta: RunMeta,
    pub security: docker::SecurityProfile,
}

impl Session {
    pub async fn open(
        loaded: &[Arc<scenario::LoadedScenario>],
        out: Option<PathBuf>,
        seed: u64,
        reps: Option<u32>,
        jobs: u16,
        security: docker::SecurityProfile,
    ) -> Result<Session> {
        let docker = docker::connect().await?;
        let swept = docker::sweep_dead_runs(&docker).await?;
        if swept.total() > 0 {
            eprintln!(
                "swept {} container(s), {} network(s), {} volume(s) left by a dead run",
                swept.containers, swept.networks, swept.volumes
            );
        }
        build_images(&docker, &families_of(loaded), false).await?;
        let run = RunId::new();
        let environment =
            crate::docker::environment::record(&docker, &run, &families_of(loaded), security)
                .await?;
        for w in &environment.warnings {
            eprintln!("warning: {w}");
        }
        let approaches: BTreeMap<String, String> = loaded
            .iter()
            .flat_map(|s| s.scenario.approaches())
            .map(|k| {
                (
                    k.to_string(),
                    crate::approach::approach(k).configuration(security),
                )
            })
            .collect();
        let out = out.unwrap_or_else(|| PathBuf::from("results").join(&run.0));
        std::fs::create_dir_all(&out)
            .map_err(|e| Error::io(format!("creating {}", out.display()), e))?;
        let cancel = CancellationToken::new();
        let signals = tokio::spawn(watch_signals(signal_streams()?, cancel.clone()));
        let meta = RunMeta {
            run_id: run.0.clone(),
            status: "running".into(),
            seed,
            reps,
            jobs,
            scenarios: loaded
                .iter()
                .map(|s| s.path.display().to_string())
                .collect(),
            started: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            harness_version: env!("CARGO_PKG_VERSION").to_string(),
            security_profile: security,
            security_profile_detail: security.describe(),
            approaches,
            environment,
        };
        write_meta(&out, &meta)?;
        let fixtures_root = std::env::temp_dir().join(format!("mistake-cost-{run}"));
        Ok(Session {
            docker,
            run,
            out,
            fixtures_root,
            cancel,
            tracker: TaskTracker::new(),
            signals,
            meta,
            security,
        })
    }

    /// Fixtures of every scenario, each in its own folder.
    pub fn write_fixtures(
        &self,
        loaded: &[Arc<scenario::LoadedScenario>],
    ) -> Result<HashMap<String, PathBuf>> {
        let mut fixtures = HashMap::new();
        for s in loaded {
            let dir = self.fixtures_root.join(&s.scenario.scenario.name);
            payload::write_fixtures(&s.scenario, &dir)
                .map_err(|e| Error::io(format!("writing fixtures to {}", dir.display()), e))?;
            fixtures.insert(s.scenario.scenario.name.clone(), dir);
        }
        Ok(fixtures)
    }

    /// Runs the command's body; after an interrupt it gets 30 s to stop.
    pub async fn guard(&self, body: impl std::future::Future<Output = Result<i32>>) -> Result<i32> {
        tokio::select! {
            r = body => r,
            _ = async { self.cancel.cancelled().await; tokio::time::sleep(Duration::from_secs(30)).await } => {
                eprintln!("trials did not stop within 30 s of the interrupt; removing containers anyway");
                Ok(exit::INTERRUPTED)
            }
        }
    }

    /// Every way out passes here: normal end, error, Ctrl-C. Container
    /// creations and removals still in flight finish first.
    pub async fn close(mut self, result: Result<i32>) -> Result<i32> {
        self.signals.abort();
        self.tracker.close();
        self.tracker.wait().await;
        let swept = docker::sweep(&self.docker, Some(&self.run)).await;
        std::fs::remove_dir_all(&self.fixtures_root).ok();
        self.meta.status = match &result {
            Ok(c) if *c == exit::INTERRUPTED => "interrupted",
            Ok(_) => "finished",
            Err(_) => "failed",
        }
        .into();
        write_meta(&self.out, &self.meta)?;
        let code = result?;
        swept?;
        Ok(code)
    }
}

pub async fn run(args: RunArgs) -> Result<i32> {
    // Bad input stops everything before any container exists.
    let loaded: Vec<Arc<scenario::LoadedScenario>> = verify::load_scenarios(&args.scenarios)?
        .into_iter()
        .map(Arc::new)
        .collect();
    let session = Session::open(
        &loaded,
        args.out.clone(),
        args.seed,
        args.reps,
        args.jobs,
        args.security,
    )
    .await?;
    let result = session.guard(run_inner(&session, &args, &loaded)).await;
    session.close(result).await
}

pub async fn explore(args: ExploreArgs) -> Result<i32> {
    let loaded = Arc::new(verify::load_scenario(&args.scenario)?);
    let syscalls = crate::explore::points::expand_syscalls(&args.syscalls)
        .map_err(|e| Error::Usage(format!("--syscalls: {e}")))?;
    let session = Session::open(
        std::slice::from_ref(&loaded),
        args.out.clone(),
        args.seed,
        None,
        args.jobs,
        args.security,
    )
    .await?;
    let result = session
        .guard(explore_inner(&session, &args, &syscalls, loaded))
        .await;
    session.close(result).await
}

async fn explore_inner(
    session: &Session,
    args: &ExploreArgs,
    syscalls: &[String],
    loaded: Arc<scenario::LoadedScenario>,
) -> Result<i32> {
    use crate::explore::{self, points, CrashPointRecord};
    use futures_util::StreamExt;
    let fixtures = session.write_fixtures(std::slice::from_ref(&loaded))?;
    let ex = Arc::new(
        DockerExecutor::new(
            session.docker.clone(),
            session.run.clone(),
            fixtures,
            session.tracker.clone(),
        )
        .with_security(session.security),
    );
    let approaches = if args.approaches.is_empty() {
        loaded.scenario.approaches()
    } else {
        args.approaches.clone()
    };
    let out = &session.out;
    eprintln!(
        "explore {}: dry runs for {} (syscalls {}) → {}",
        session.run,
        approaches
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        args.syscalls.join(","),
        out.display()
    );
    let started = std::time::Instant::now();

    // 1. One traced dry run per approach.
    let bar = ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut dries = Vec::new();
    for &a in &approaches {
        bar.set_message(format!("dry run: {a}"));
        let dry = tokio::select! {
            d = explore::dry_run(&ex, &loaded, a, syscalls) => d?,
            _ = session.cancel.cancelled() => return Ok(exit::INTERRUPTED),
        };
        let selected = points::select(&dry.points, args.max_points as usize, args.seed);
        let found = points::count_by_family(dry.points.iter().map(|p| p.family.as_str()));
        let chosen = points::count_by_family(selected.iter().map(|p| p.family.as_str()));
        bar.suspend(|| {
            eprintln!(
                "{a}: {} crash points found ({}); exploring {} of them{}{}",
                dry.points.len(),
                points::family_counts_line(&found),
                selected.len(),
                if selected.len() < dry.points.len() {
                    format!(" ({})", points::family_counts_line(&chosen))
                } else {
                    " (all)".into()
                },
                if dry.new_state.is_some() {
                    ""
                } else {
                    " (the undisturbed operation did not succeed: no state can classify as `new`)"
                }
            )
        });
        dries.push((Arc::new(dry), selected));
    }
    bar.finish_and_clear();
    let points_json: Vec<serde_json::Value> = dries
        .iter()
        .map(|(d, selected)| {
            let found = points::count_by_family(d.points.iter().map(|p| p.family.as_str()));
            let chosen = points::count_by_family(selected.iter().map(|p| p.family.as_str()));
            let families: serde_json::Map<String, serde_json::Value> = found
                .iter()
                .map(|(k, n)| (k.1.clone(), serde_json::json!({"found": n, "selected": chosen.get(k).copied().unwrap_or(0)})))
                .collect();
            serde_json::json!({
                "approach": d.approach,
                "syscalls": syscalls,
                "max_points": args.max_points,
                "seed": args.seed,
                "families": families,
                "selected": selected.iter().map(|p| p.index).collect::<Vec<_>>(),
                "points": d.points,
                "dry_run": d.history,
            })
        })
        .collect();
    std::fs::write(
        out.join("points.json"),
        serde_json::to_vec_pretty(&points_json).expect("plain data"),
    )
    .map_err(|e| Error::io("writing points.json", e))?;

    // 2. One crash per selected point, in fresh containers.
    let work: Vec<(Arc<explore::DryRun>, points::CrashPoint)> = dries
        .iter()
        .flat_map(|(d, selected)| selected.iter().cloned().map(move |p| (d.clone(), p)))
        .collect();
    let bar = ProgressBar::new(work.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} crash points [{elapsed}, eta {eta}] {msg}",
        )
        .expect("static template"),
    );
    let csv_path = out.join("crashpoints.csv");
    let mut csv = csv::Writer::from_path(&csv_path).map_err(|e| Error::Results {
        path: csv_path.clone(),
        source: e,
    })?;
    let mut jsonl = std::fs::File::create(out.join("crashpoints.jsonl"))
        .map_err(|e| Error::io("creating crashpoints.jsonl", e))?;
    let mut records: Vec<CrashPointRecord> = Vec::new();
    let total = work.len();
    let mut stream = futures_util::stream::iter(work.into_iter().map(|(dry, p)| {
        let (ex, loaded) = (ex.clone(), loaded.clone());
        async move { explore::crash_at(&ex, &loaded, &dry, &p).await }
    }))
    .buffer_unordered(args.jobs as usize);
    loop {
        let next = tokio::select! {
            n = stream.next() => n,
            _ = session.cancel.cancelled() => break,
        };
        let Some((rec, history)) = next else { break };
        csv.serialize(&rec)
            .and_then(|_| csv.flush().map_err(csv::Error::from))
            .map_err(|e| Error::Results {
                path: csv_path.clone(),
                source: e,
            })?;
        let mut line = serde_json::to_vec(&serde_json::json!({"record": rec, "history": history}))
            .expect("plain data");
        line.push(b'\n');
        std::io::Write::write_all(&mut jsonl, &line)
            .map_err(|e| Error::io("writing crashpoints.jsonl", e))?;
        if !rec.error.is_empty() {
            bar.suspend(|| eprintln!("{} {} errored: {}", rec.approach, rec.fault, rec.error));
        }
        bar.set_message(format!("{} {}", rec.approach, rec.fault));
        bar.inc(1);
        records.push(rec);
    }
    drop(stream);
    bar.finish_and_clear();
    for line in explore::summary(&records) {
        println!("{line}");
    }
    eprintln!("explore took {:.0}s", started.elapsed().as_secs_f64());
    eprintln!("results: {}", csv_path.display());
    if session.cancel.is_cancelled() {
        eprintln!(
            "interrupted after {} of {total} points; complete rows are kept",
            records.len()
        );
        return Ok(exit::INTERRUPTED);
    }
    Ok(if records.iter().any(|r| !r.error.is_empty()) {
        exit::TRIAL_ERRORS
    } else {
        exit::OK
    })
}

pub async fn verify(args: VerifyArgs) -> Result<i32> {
    match verify_inner(args).await {
        // verify's 1 means "a guarantee is violated", which CI may read as
        // data: verify failing itself must not look like a finding.
        Err(e) if e.exit_code() == exit::OTHER => {
            eprintln!("error: {e}");
            Ok(exit::UNKNOWN)
        }
        r => r,
    }
}

/// Without SCENARIO arguments: what `--from`'s run.json says ran, if those
/// files are still there; else the `scenarios` folder.
fn verify_scenario_paths(args: &VerifyArgs) -> Vec<PathBuf> {
    if !args.scenarios.is_empty() {
        return args.scenarios.clone();
    }
    let from_meta = args.from.as_ref().and_then(|dir| {
        let text = std::fs::read_to_string(dir.join("run.json")).ok()?;
        let meta: crate::report::RunMeta = serde_json::from_str(&text).ok()?;
        let paths: Vec<PathBuf> = meta.scenarios.iter().map(PathBuf::from).collect();
        (!paths.is_empty() && paths.iter().all(|p| p.is_file())).then_some(paths)
    });
    from_meta.unwrap_or_else(|| vec![PathBuf::from("scenarios")])
}

async fn verify_inner(args: VerifyArgs) -> Result<i32> {
    use verify::{Input, Inputs, Source};
    let loaded: Vec<Arc<scenario::LoadedScenario>> =
        verify::load_scenarios(&verify_scenario_paths(&args))?
            .into_iter()
            .map(Arc::new)
            .collect();
    let bare: Vec<String> = loaded
        .iter()
        .filter(|s| s.scenario.guarantees.is_empty())
        .map(|s| s.path.display().to_string())
        .collect();
    if !bare.is_empty() {
        eprintln!("no [[guarantee]] to verify in {}", bare.join(", "));
    }
    let (inputs, run_code) = match &args.from {
        Some(dir) => (Inputs::from_dir(dir)?, exit::OK),
        None => {
            // Crash points need `explore` (dry runs, up to hundreds of
            // crashes): too slow to run implicitly; they stay unknown.
            let crashpoints = Input::Missing("needs `explore`; pass --from an explore run".into());
            let needed: Vec<Arc<scenario::LoadedScenario>> = loaded
                .iter()
                .filter(|s| {
                    s.scenario
                        .guarantees
                        .iter()
                        .any(|g| g.source() == Source::Trials)
                })
                .cloned()
                .collect();
            if needed.is_empty() {
                (
                    Inputs {
                        trials: Input::Missing("no trials run: no guarantee reads trials".into()),
                        crashpoints,
                    },
                    exit::OK,
                )
            } else {
                let run_args = RunArgs {
                    scenarios: needed.iter().map(|s| s.path.clone()).collect(),
                    reps: args.reps,
                    jobs: args.jobs,
                    seed: args.seed,
                    security: args.security,
                    out: args.out.clone(),
                };
                let session = Session::open(
                    &needed,
                    args.out.clone(),
                    args.seed,
                    args.reps,
                    args.jobs,
                    args.security,
                )
                .await?;
                let out = session.out.clone();
                let result = session.guard(run_inner(&session, &run_args, &needed)).await;
                let code = session.close(result).await?;
                if code == exit::INTERRUPTED {
                    return Ok(code);
                }
                (
                    Inputs {
                        trials: Input::Table(verify::rows::Table::read(&out.join("trials.csv"))?),
                        crashpoints,
                    },
                    code,
                )
            }
        }
    };
    let scenarios: Vec<&scenario::LoadedScenario> = loaded.iter().map(|s| s.as_ref()).collect();
    let judgements = verify::judge_all(&scenarios, &inputs);
    if args.from.is_none() {
        println!();
    }
    for j in &judgements {
        println!("{}", j.line());
    }
    let count = |v: verify::Verdict| judgements.iter().filter(|j| j.verdict == v).count();
    eprintln!(
        "{} guarantees: {} hold, {} violated, {} unknown",
        judgements.len(),
        count(verify::Verdict::Holds),
        count(verify::Verdict::Violated),
        count(verify::Verdict::Unknown)
    );
    let mut code = verify::exit_code(&judgements);
    if code == exit::OK && run_code == exit::TRIAL_ERRORS {
        eprintln!("a trial errored (it is no guarantee's evidence, but the run is not clean)");
        code = exit::UNKNOWN;
    }
    if let Some(path) = &args.junit {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        verify::junit::write(path, &judgements)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(code)
}

/// `run.json`: what ran and how it ended, beside the results.
#[derive(serde::Serialize)]
pub(crate) struct RunMeta {
    run_id: String,
    status: String,
    seed: u64,
    reps: Option<u32>,
    jobs: u16,
    scenarios: Vec<String>,
    started: String,
    harness_version: String,
    /// Shared by every container of the run.
    security_profile: docker::SecurityProfile,
    security_profile_detail: String,
    /// Approach → how it is configured under that profile.
    approaches: BTreeMap<String, String>,
    /// Tool versions and image ids, read from the images themselves.
    environment: crate::docker::environment::Environment,
}

/// Written to a temporary name and renamed: never half-written.
fn write_meta(out: &Path, meta: &RunMeta) -> Result<()> {
    let tmp = out.join(".run.json.tmp");
    let text = serde_json::to_string_pretty(meta).expect("plain data serializes");
    std::fs::write(&tmp, text + "\n")
        .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, out.join("run.json"))
        .map_err(|e| Error::io("renaming run.json into place", e))
}

async fn run_inner(
    session: &Session,
    args: &RunArgs,
    loaded: &[Arc<scenario::LoadedScenario>],
) -> Result<i32> {
    let (run, out, cancel) = (&session.run, session.out.as_path(), session.cancel.clone());
    let fixtures = session.write_fixtures(loaded)?;
    let executor = Arc::new(
        DockerExecutor::new(
            session.docker.clone(),
            run.clone(),
            fixtures,
            session.tracker.clone(),
        )
        .with_security(session.security),
    );
    for f in families_of(loaded) {
        tokio::select! {
            r = executor.base_manifest(f) => { r?; }
            _ = cancel.cancelled() => return Ok(exit::INTERRUPTED),
        }
    }

    let trials = plan::plan(loaded, args.reps, args.seed);
    let total = trials.len();
    let csv_path = out.join("trials.csv");
    let mut exporters: Vec<Box<dyn Exporter>> = vec![
        Box::new(
            CsvExporter::create(&csv_path)
                .map_err(|e| Error::io(format!("creating {}", csv_path.display()), e))?,
        ),
        Box::new(
            JsonlExporter::create(&out.join("trials.jsonl"))
                .map_err(|e| Error::io("creating trials.jsonl", e))?,
        ),
    ];
    eprintln!(
        "run {run}: {total} trials, {} at a time, seed {} → {}",
        args.jobs,
        args.seed,
        out.display()
    );

    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = tokio::spawn(run_plan(
        executor,
        trials,
        args.jobs as usize,
        tx,
        cancel.clone(),
    ));

    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} trials [{elapsed}, eta {eta}] {msg}")
            .expect("static template"),
    );
    let mut running: BTreeMap<usize, String> = BTreeMap::new();
    let mut records: Vec<TrialRecord> = Vec::new();
    let mut write_error = None;
    while let Some(event) = rx.recv().await {
        match event {
            Event::TrialStarted { index, label } => {
                running.insert(index, label);
            }
            Event::TrialPhase { .. } => {}
            Event::TrialFinished {
                index,
                record,
                history,
            } => {
                running.remove(&index);
                for e in exporters.iter_mut() {
                    if let Err(err) = e.trial(&record, &history) {
                        write_error.get_or_insert(err);
                        cancel.cancel();
                    }
                }
                if record.outcome == Outcome::Errored {
                    bar.println(format!(
                        "trial {} {} rep {} errored: {}",
                        record.scenario, record.approach, record.rep, record.error
                    ));
                }
                records.push(*record);
                bar.inc(1);
            }
        }
        bar.set_message(running.values().next().cloned().unwrap_or_default());
    }
    runner
        .await
        .map_err(|e| Error::Usage(format!("runner task failed: {e}")))?;
    bar.finish_and_clear();
    if let Some(e) = write_error {
        return Err(Error::io(
            format!("writing results in {}", out.display()),
            e,
        ));
    }
    print_summary(&records);
    eprintln!("results: {}", csv_path.display());
    if cancel.is_cancelled() {
        eprintln!(
            "interrupted after {} of {total} trials; complete rows are kept",
            records.len()
        );
        return Ok(exit::INTERRUPTED);
    }
    Ok(if records.iter().any(|r| r.outcome == Outcome::Errored) {
        exit::TRIAL_ERRORS
    } else {
        exit::OK
    })
}

type SignalStreams = (tokio::signal::unix::Signal, tokio::signal::unix::Signal);

/// Registers for SIGINT and SIGTERM now (not when a task first runs), so no
/// signal can arrive unhandled and kill the process with containers up.
fn signal_streams() -> Result<SignalStreams> {
    use tokio::signal::unix::{signal, SignalKind};
    let int = signal(SignalKind::interrupt())
        .map_err(|e| Error::io("installing the SIGINT handler", e))?;
    let term = signal(SignalKind::terminate())
        .map_err(|e| Error::io("installing the SIGTERM handler", e))?;
    Ok((int, term))
}

pub(crate) fn families_of(loaded: &[Arc<scenario::LoadedScenario>]) -> Vec<Family> {
    let set: BTreeSet<Family> = loaded
        .iter()
        .flat_map(|s| s.scenario.approaches())
        .map(Family::of)
        .collect();
    set.into_iter().collect()
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
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// One line per scenario × approach, on stdout.
fn print_summary(records: &[TrialRecord]) {
    let mut groups: BTreeMap<(&str, &str), Vec<&TrialRecord>> = BTreeMap::new();
    for r in records {
        groups
            .entry((&r.scenario, &r.approach))
            .or_default()
            .push(r);
    }
    println!(
        "{:<22} {:<15} {:>6} {:>7} {:>7} {:>10} {:>10} {:>9} {:>10} {:>11} {:>10}",
        "scenario",
        "approach",
        "trials",
        "failed",
        "errored",
        "consistent",
        "residue~",
        "packages~",
        "garbage~",
        "recovered",
        "recov_ms~"
    );
    for ((s, a), rs) in groups {
        let ok: Vec<&&TrialRecord> = rs
            .iter()
            .filter(|r| r.outcome != Outcome::Errored)
            .collect();
        let med = |f: &dyn Fn(&TrialRecord) -> Option<f64>| {
            median(ok.iter().filter_map(|r| f(r)).collect())
                .map(|m| format!("{m:.0}"))
                .unwrap_or_else(|| "-".into())
        };
        let share = |f: &dyn Fn(&TrialRecord) -> bool| {
            format!("{}/{}", ok.iter().filter(|r| f(r)).count(), ok.len())
        };
        println!(
            "{:<22} {:<15} {:>6} {:>7} {:>7} {:>10} {:>10} {:>9} {:>10} {:>11} {:>10}",
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
