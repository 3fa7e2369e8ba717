//! What each subcommand does, wiring the rooms together: scenarios are
//! loaded before anything starts; Docker objects are swept on every exit.
//! `session` is what every Docker-running command shares; `explore` and
//! `verify_cmd`, `validate_cmd` are those subcommands; `run`, `images`,
//! `clean` are here.

use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

use crate::checker::{Outcome, TrialRecord};
use crate::cli::{ImagesAction, RunArgs};
use crate::docker::engines::EngineSpec;
use crate::docker::images::{self, Family};
use crate::docker::{self};
use crate::error::{exit, Error, Result};
use crate::export::{CsvWriter, Exporter, JsonlExporter};
use crate::runner::{run_plan, Event};
use crate::vocab::ApproachKind;
use crate::{plan, scenario, verify};

mod explore;
mod resume;
mod scratch;
mod session;
mod study;
mod validate_cmd;
mod verify_cmd;

pub use explore::explore;
pub use study::study;
pub(crate) use session::{families_of, Session};
pub(crate) use validate_cmd::check_trials;
pub use validate_cmd::validate;
pub use verify_cmd::verify;

pub async fn images(action: Option<ImagesAction>, engines: &[EngineSpec]) -> Result<i32> {
    let engines = connect_each(engines).await?;
    let several = engines.len() > 1;
    match action {
        None | Some(ImagesAction::List) => {
            for (name, docker) in &engines {
                if several {
                    println!("engine {name}:");
                }
                for s in images::status(docker).await? {
                    let id =
                        s.id.as_deref()
                            .map(|i| i.trim_start_matches("sha256:"))
                            .map(|i| &i[..12.min(i.len())])
                            .unwrap_or("-");
                    println!("{:<40} {:<14} {}", s.name, id, s.detail);
                }
            }
        }
        Some(ImagesAction::Build { force }) => {
            let first = &engines[0].1;
            let built = build_images(first, &Family::ALL, force).await?;
            if built.is_empty() {
                println!("all images current");
            } else {
                println!("built: {}", built.join(", "));
            }
            // The others get the very images (same ids), not a rebuild
            // that could differ by a package updated in between.
            for (name, docker) in &engines[1..] {
                let copied = images::copy(first, docker, &Family::ALL, &|line| {
                    tracing::info!("{line}")
                })
                .await?;
                if copied.is_empty() {
                    println!("engine {name}: all images current");
                } else {
                    println!("engine {name}: copied {}", copied.join(", "));
                }
            }
        }
    }
    Ok(exit::OK)
}

/// `--engine` URLs of `images` and `clean` (their `jobs` mean nothing
/// there), each connected; without any, the default engine.
async fn connect_each(specs: &[EngineSpec]) -> Result<Vec<(String, bollard::Docker)>> {
    let plans = docker::engines::resolve(specs, 1).map_err(Error::Usage)?;
    let mut engines = Vec::new();
    for plan in plans {
        let docker = docker::engines::connect_to(plan.url.as_deref()).await?;
        engines.push((plan.name, docker));
    }
    Ok(engines)
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

pub async fn clean(engines: &[EngineSpec]) -> Result<i32> {
    let engines = connect_each(engines).await?;
    let several = engines.len() > 1;
    for (name, docker) in &engines {
        let r = docker::sweep(docker, None).await?;
        println!(
            "{}removed {} container(s), {} network(s), {} volume(s), {} image(s)",
            if several { format!("engine {name}: ") } else { String::new() },
            r.containers, r.networks, r.volumes, r.images
        );
    }
    Ok(exit::OK)
}

/// Whether every engine of the session still answers.
async fn all_engines_answer(session: &Session) -> bool {
    for e in &session.engines {
        if !engine_answers(&e.docker).await {
            return false;
        }
    }
    true
}

/// Whether Docker's engine still answers a ping (within 10 s).
async fn engine_answers(docker: &bollard::Docker) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(10), docker.ping()).await,
        Ok(Ok(_))
    )
}

/// A line above the progress bar. Without a terminal (CI) the bar is
/// hidden and so would be anything printed through it: print directly.
pub(crate) fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

pub async fn run(mut args: RunArgs) -> Result<i32> {
    if args.resume {
        resume::take_plan_from_run_json(&mut args)?;
    }
    // Bad input stops everything before any container exists.
    let loaded: Vec<Arc<scenario::LoadedScenario>> = verify::load_scenarios(&args.scenarios)?
        .into_iter()
        .map(Arc::new)
        .collect();
    check_trials(&loaded, args.reps)?;
    let engines = docker::engines::resolve(&args.engine, args.jobs).map_err(Error::Usage)?;
    let session = Session::open_on(
        engines,
        &loaded,
        args.out.clone(),
        args.seed,
        args.reps,
        args.security,
        args.resume,
    )
    .await?;
    let result = session.guard(run_inner(&session, &args, &loaded)).await;
    let t = std::time::Instant::now();
    let code = session.close(result).await;
    tracing::info!(
        "wind-down: this run's containers swept, run.json written in {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    code
}

async fn run_inner(
    session: &Session,
    args: &RunArgs,
    loaded: &[Arc<scenario::LoadedScenario>],
) -> Result<i32> {
    let (run, out, cancel) = (&session.run, session.out.as_path(), session.cancel.clone());
    let t = std::time::Instant::now();
    let engines = session.executors(loaded).await?;
    let t = session::startup_phase("fixtures written", t);
    // Before the first trial, so no trial's wall time includes a scan.
    let families = families_of(loaded);
    tokio::select! {
        r = session::base_manifests(&engines, &families, args.jobs) => { r?; }
        _ = cancel.cancelled() => return Ok(exit::INTERRUPTED),
    }
    let t = session::startup_phase("base manifests ready", t);

    let mut trials = plan::plan(loaded, args.reps, args.seed);
    let csv_path = out.join("trials.csv");
    if args.resume {
        resume::upgrade_header(out)?;
        let dropped = resume::drop_errored(out)?;
        if dropped > 0 {
            eprintln!(
                "resuming: {dropped} errored trial(s) removed from the results, to run again"
            );
        }
        let done = resume::finished_trials(&csv_path)?;
        let before = trials.len();
        trials.retain(|t| !done.contains(&resume::key_of(t)));
        eprintln!(
            "resuming: {} of {before} planned trials are already in {}; running the other {}",
            before - trials.len(),
            csv_path.display(),
            trials.len()
        );
    }
    let total = trials.len();
    // Resuming appends to the files as they are (less a cut last line).
    let mut exporters: Vec<Box<dyn Exporter<TrialRecord>>> = vec![
        Box::new(
            CsvWriter::<TrialRecord>::open(&csv_path, args.resume)
                .map_err(|e| Error::io(format!("opening {}", csv_path.display()), e))?,
        ),
        Box::new(
            JsonlExporter::<TrialRecord>::open(&out.join("trials.jsonl"), args.resume)
                .map_err(|e| Error::io("opening trials.jsonl", e))?,
        ),
    ];
    session::startup_phase("plan made, results files opened", t);
    let jobs: usize = engines.iter().map(|e| e.jobs).sum();
    let on = session.engines_line();
    eprintln!(
        "run {run}: {total} trials, {jobs} at a time{on}, seed {} → {}",
        args.seed,
        out.display()
    );

    let driven = drive(session, engines, trials, &mut exporters).await?;
    let records = driven.records;
    if !on.is_empty() {
        for e in &driven.report.engines {
            eprintln!(
                "engine {}: {} trial(s), at most {} at a time (limit {})",
                e.name, e.trials, e.peak, e.jobs
            );
        }
    }
    let t = std::time::Instant::now();
    if let Some(e) = driven.write_error {
        return Err(Error::io(
            format!("writing results in {}", out.display()),
            e,
        ));
    }
    print_summary(&records);
    eprintln!("results: {}", csv_path.display());
    tracing::info!(
        "wind-down: summary printed in {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    if driven.engine_lost {
        return Ok(exit::DOCKER_UNREACHABLE);
    }
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

/// What one pass of the scheduler left: the rows (also written to the
/// exporters as each trial finished), and why it stopped early, if it did.
pub(crate) struct Driven {
    pub records: Vec<TrialRecord>,
    pub report: crate::runner::PlanReport,
    /// An exporter failed: the run was cancelled after it.
    pub write_error: Option<std::io::Error>,
    /// Every engine stopped answering after an errored trial.
    pub engine_lost: bool,
}

/// Runs `trials` on `engines` with a progress bar, writing each finished
/// row to every exporter as it comes, and stops the run (rows kept) when an
/// exporter fails or the engines stop answering. `run` drives its plan
/// once; `study` once per round of repetitions.
pub(crate) async fn drive(
    session: &Session,
    engines: Vec<crate::runner::Engine<crate::runner::DockerExecutor>>,
    trials: Vec<plan::Trial>,
    exporters: &mut [Box<dyn Exporter<TrialRecord>>],
) -> Result<Driven> {
    let (out, cancel) = (session.out.as_path(), session.cancel.clone());
    let total = trials.len();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = tokio::spawn(run_plan(engines, trials, tx, cancel.clone()));

    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} trials [{elapsed}, eta {eta}] {msg}")
            .expect("static template"),
    );
    let mut running: BTreeMap<usize, String> = BTreeMap::new();
    let mut records: Vec<TrialRecord> = Vec::new();
    let mut write_error: Option<std::io::Error> = None;
    let mut engine_lost = false;
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
                    if let Err(err) = e.export(&record, &history) {
                        write_error.get_or_insert(err);
                        cancel.cancel();
                    }
                }
                if record.outcome == Outcome::Errored
                    && !engine_lost
                    && !all_engines_answer(session).await
                {
                    // Every remaining trial would error the same way: stop,
                    // keep the rows, and let --resume finish later.
                    engine_lost = true;
                    say(
                        &bar,
                        format!(
                            "Docker's engine stopped answering: stopping the run. Finished rows are kept; \
                             start dockerd again and finish with `mistake-cost run --resume --out {}{}`",
                            out.display(),
                            session
                                .engines
                                .iter()
                                .filter_map(|e| e.plan.as_argument())
                                .map(|a| format!(" {a}"))
                                .collect::<String>()
                        ),
                    );
                    cancel.cancel();
                }
                if record.outcome == Outcome::Errored {
                    say(
                        &bar,
                        format!(
                            "trial {} {} rep {} errored: {}",
                            record.scenario, record.approach, record.rep, record.error
                        ),
                    );
                }
                records.push(*record);
                bar.inc(1);
            }
        }
        bar.set_message(running.values().next().cloned().unwrap_or_default());
    }
    let report = runner
        .await
        .map_err(|e| Error::Usage(format!("runner task failed: {e}")))?;
    bar.finish_and_clear();
    Ok(Driven {
        records,
        report,
        write_error,
        engine_lost,
    })
}

/// One line per scenario × approach, on stdout.
fn print_summary(records: &[TrialRecord]) {
    let mut groups: BTreeMap<(&str, ApproachKind), Vec<&TrialRecord>> = BTreeMap::new();
    for r in records {
        groups.entry((&r.scenario, r.approach)).or_default().push(r);
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
            crate::stats::median(&ok.iter().filter_map(|r| f(r)).collect::<Vec<_>>())
                .map(|m| format!("{m:.0}"))
                .unwrap_or_else(|| "-".into())
        };
        let share = |f: &dyn Fn(&TrialRecord) -> bool| {
            format!("{}/{}", ok.iter().filter(|r| f(r)).count(), ok.len())
        };
        println!(
            "{:<22} {:<15} {:>6} {:>7} {:>7} {:>10} {:>10} {:>9} {:>10} {:>11} {:>10}",
            s,
            a.as_str(),
            rs.len(),
            rs.iter().filter(|r| r.outcome == Outcome::Failed).count(),
            rs.len() - ok.len(),
            share(&|r| r.consistent.is_true()),
            med(&|r| r.residue_files.map(|x| x as f64)),
            med(&|r| r.residue_packages.map(|x| x as f64)),
            med(&|r| r.garbage_paths.map(|x| x as f64)),
            share(&|r| r.recovered.is_true()),
            med(&|r| r.recovery_ms),
        );
    }
}
