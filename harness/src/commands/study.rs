//! `study`: every claim family in one results folder. Scenarios whose only
//! faults are crashes are explored (a sampled set of crash points per
//! approach, `explore/<scenario>/`); the others run as trials in rounds of
//! repetitions, a (scenario, approach) stopping once its verdicts are
//! decided and its key figure's interval is narrow. Then study.json and the
//! one-page summary (summary.md, summary.html).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::checker::TrialRecord;
use crate::cli::{ExploreArgs, StudyArgs};
use crate::error::{exit, Error, Result};
use crate::export::study_meta::{CellReps, ExplorePart, StudyMeta};
use crate::export::{CsvWriter, Exporter, JsonlExporter};
use crate::report::summary::{self, Summary};
use crate::scenario::{FaultKind, LoadedScenario, OperationKind};
use crate::vocab::ApproachKind;
use crate::{docker, plan, verify};

use super::session::{self, Session};

/// Whether the study explores a scenario instead of running its faults:
/// an install or upgrade whose every fault is a crash (a kill, a container
/// kill, a syscall kill), with nothing else the trials would measure (no
/// retry, no experiment, no service).
pub fn explored(s: &LoadedScenario) -> bool {
    let sc = &s.scenario;
    let crash = |f: &crate::scenario::FaultSpec| match f.kind.get_ref() {
        FaultKind::Kill | FaultKind::ContainerKill => true,
        FaultKind::Syscall => f.errno.is_none(),
    };
    matches!(
        sc.operation.kind.get_ref(),
        OperationKind::Install | OperationKind::Upgrade
    ) && !sc.faults.is_empty()
        && sc.faults.iter().all(crash)
        && sc.retry.is_none()
        && sc.experiment.is_none()
        && sc.service.is_none()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub async fn study(args: StudyArgs) -> Result<i32> {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let loaded: Vec<Arc<LoadedScenario>> = verify::load_scenarios(&args.scenarios)?
        .into_iter()
        .map(Arc::new)
        .collect();
    super::check_trials(&loaded, None)?;
    let (to_explore, to_run): (Vec<_>, Vec<_>) = loaded.iter().cloned().partition(|s| explored(s));
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("results").join(format!("study-{}", docker::RunId::new().0))
    });
    if out.join(crate::export::study_meta::FILE_NAME).exists() {
        return Err(Error::Usage(format!(
            "{} already holds a study (study.json): choose another --out",
            out.display()
        )));
    }
    let images_built = images_missing(&args).await?;
    eprintln!(
        "study → {}: {} scenario(s) as trials (at least {} rep(s) each), {} explored (--max-points {})",
        out.display(),
        to_run.len(),
        args.min_reps,
        to_explore.len(),
        args.max_points
    );
    let mut meta = StudyMeta {
        format_version: crate::export::study_meta::FORMAT_VERSION,
        harness_version: format!(
            "{} ({})",
            env!("CARGO_PKG_VERSION"),
            crate::export::run_meta::HARNESS_COMMIT
        ),
        seed: args.seed,
        scenarios: args
            .scenarios
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        started: started_at,
        finished: None,
        min_reps: args.min_reps,
        rounds: 0,
        cells: Vec::new(),
        trials_wall_s: 0.0,
        explores: Vec::new(),
        wall_s: 0.0,
        images_built,
    };
    let mut code = exit::OK;
    if !to_run.is_empty() {
        let t = Instant::now();
        let engines = docker::engines::resolve(&args.engine, args.jobs).map_err(Error::Usage)?;
        let session = Session::open_on(
            engines,
            &to_run,
            Some(out.clone()),
            args.seed,
            None,
            args.security,
            false,
        )
        .await?;
        let mut cells = Vec::new();
        let result = session
            .guard(run_rounds(
                &session,
                &args,
                &to_run,
                &mut meta.rounds,
                &mut cells,
            ))
            .await;
        code = session.close(result).await?;
        meta.cells = cells;
        meta.trials_wall_s = t.elapsed().as_secs_f64();
        if code == exit::INTERRUPTED || code == exit::DOCKER_UNREACHABLE {
            return finish(&out, meta, started, code);
        }
    }
    for s in &to_explore {
        let t = Instant::now();
        let dir = PathBuf::from(summary::EXPLORE_DIR).join(&s.scenario.scenario.name);
        eprintln!(
            "study: exploring {} (--max-points {})",
            s.scenario.scenario.name, args.max_points
        );
        let explore_code = super::explore(ExploreArgs {
            scenario: s.path.clone(),
            syscalls: crate::cli::DEFAULT_SYSCALLS
                .split(',')
                .map(str::to_string)
                .collect(),
            per_class: 1,
            max_points: Some(args.max_points),
            approaches: Vec::new(),
            seed: args.seed,
            security: args.security,
            jobs: args.jobs,
            engine: args.engine.clone(),
            out: Some(out.join(&dir)),
        })
        .await?;
        meta.explores.push(ExplorePart {
            scenario: s.scenario.scenario.name.clone(),
            dir: dir.display().to_string(),
            max_points: args.max_points,
            exit_code: explore_code,
            wall_s: t.elapsed().as_secs_f64(),
        });
        if explore_code == exit::INTERRUPTED || explore_code == exit::DOCKER_UNREACHABLE {
            return finish(&out, meta, started, explore_code);
        }
        code = code.max(explore_code);
    }
    finish(&out, meta, started, code)
}

/// Whether any matched image must be built first (the study's time then
/// includes the build: study.json says so).
async fn images_missing(args: &StudyArgs) -> Result<bool> {
    let plans = docker::engines::resolve(&args.engine, args.jobs).map_err(Error::Usage)?;
    let docker = docker::engines::connect_to(plans[0].url.as_deref()).await?;
    Ok(docker::images::status(&docker)
        .await?
        .iter()
        .any(|s| !s.current))
}

/// study.json, then the summary. Written also after an interrupted or
/// failed part, so what ran is never lost.
fn finish(out: &Path, mut meta: StudyMeta, started: Instant, code: i32) -> Result<i32> {
    meta.finished = Some(now_rfc3339());
    meta.wall_s = started.elapsed().as_secs_f64();
    std::fs::create_dir_all(out)
        .map_err(|e| Error::io(format!("creating {}", out.display()), e))?;
    meta.write(out)?;
    match Summary::load(out) {
        Ok(s) => {
            for (name, text) in [
                ("summary.md", summary::render_markdown(&s)),
                ("summary.html", summary::render_html(&s)),
            ] {
                crate::export::write_atomic(&out.join(name), &text)?;
            }
            eprintln!(
                "study: {:.1} min; summary: {}",
                meta.wall_s / 60.0,
                out.join("summary.html").display()
            );
        }
        Err(e) => eprintln!("study: no summary written: {e}"),
    }
    Ok(code)
}

type CellKey = (String, ApproachKind);

/// The trials in rounds: every cell's first `min_reps` repetitions, then
/// one more repetition at a time for the cells that have not settled
/// (`summary::settled`), up to each scenario's `reps`.
async fn run_rounds(
    session: &Session,
    args: &StudyArgs,
    loaded: &[Arc<LoadedScenario>],
    rounds: &mut u32,
    cells_out: &mut Vec<CellReps>,
) -> Result<i32> {
    let out = session.out.as_path();
    let engines = session.executors(loaded).await?;
    session::base_manifests(&engines, &super::families_of(loaded), args.jobs).await?;
    let full = plan::plan(loaded, None, args.seed);
    let max_reps: BTreeMap<CellKey, u32> = full
        .iter()
        .map(|t| {
            (
                (t.scenario.scenario.scenario.name.clone(), t.approach),
                t.scenario.scenario.scenario.reps,
            )
        })
        .collect();
    let mut done_reps: BTreeMap<CellKey, u32> = max_reps.keys().map(|k| (k.clone(), 0)).collect();
    let mut open: BTreeMap<CellKey, String> = max_reps
        .keys()
        .map(|k| (k.clone(), String::new()))
        .collect();
    let mut rows: BTreeMap<CellKey, Vec<TrialRecord>> = BTreeMap::new();
    let csv_path = out.join("trials.csv");
    let mut exporters: Vec<Box<dyn Exporter<TrialRecord>>> = vec![
        Box::new(
            CsvWriter::<TrialRecord>::open(&csv_path, false)
                .map_err(|e| Error::io(format!("opening {}", csv_path.display()), e))?,
        ),
        Box::new(
            JsonlExporter::<TrialRecord>::open(&out.join("trials.jsonl"), false)
                .map_err(|e| Error::io("opening trials.jsonl", e))?,
        ),
    ];
    let mut stopped: BTreeMap<CellKey, String> = BTreeMap::new();
    let mut code = exit::OK;
    loop {
        let batch: Vec<plan::Trial> = full
            .iter()
            .filter(|t| {
                let key = (t.scenario.scenario.scenario.name.clone(), t.approach);
                let Some(&done) = done_reps.get(&key) else {
                    return false;
                };
                let upto = if *rounds == 0 {
                    args.min_reps.min(max_reps[&key])
                } else {
                    done + 1
                };
                open.contains_key(&key) && t.rep >= done && t.rep < upto
            })
            .cloned()
            .collect();
        if batch.is_empty() {
            break;
        }
        *rounds += 1;
        eprintln!(
            "study round {}: {} trial(s) in {} open cell(s)",
            rounds,
            batch.len(),
            open.len()
        );
        let engines_now = engines.clone();
        let driven = super::drive(session, engines_now, batch.clone(), &mut exporters).await?;
        if let Some(e) = driven.write_error {
            return Err(Error::io(
                format!("writing results in {}", out.display()),
                e,
            ));
        }
        for r in driven.records {
            rows.entry((r.scenario.clone(), r.approach))
                .or_default()
                .push(r);
        }
        for t in &batch {
            let key = (t.scenario.scenario.scenario.name.clone(), t.approach);
            let d = done_reps.get_mut(&key).expect("planned cell");
            *d = (*d).max(t.rep + 1);
        }
        if driven.engine_lost {
            code = exit::DOCKER_UNREACHABLE;
            break;
        }
        if session.cancel.is_cancelled() {
            code = exit::INTERRUPTED;
            break;
        }
        let keys: Vec<CellKey> = open.keys().cloned().collect();
        for key in keys {
            let done = done_reps[&key];
            let verdict = summary::settled(rows.get(&key).map_or(&[][..], |v| &v[..]));
            let why = match verdict {
                Ok(()) => Some("decided".to_string()),
                Err(_) if done >= max_reps[&key] => Some("max reps".to_string()),
                Err(why) => {
                    open.insert(key.clone(), why);
                    None
                }
            };
            if let Some(why) = why {
                open.remove(&key);
                stopped.insert(key, why);
            }
        }
        for (key, why) in &open {
            tracing::info!("{} {}: another rep ({why})", key.0, key.1);
        }
    }
    for (key, why) in open {
        stopped.insert(key, format!("interrupted ({why})"));
    }
    *cells_out = stopped
        .into_iter()
        .map(|((scenario, approach), why)| CellReps {
            reps: done_reps[&(scenario.clone(), approach)],
            max_reps: max_reps[&(scenario.clone(), approach)],
            scenario,
            approach: approach.to_string(),
            stopped: why,
        })
        .collect();
    let all: Vec<TrialRecord> = rows.into_values().flatten().collect();
    if code == exit::OK
        && all
            .iter()
            .any(|r| r.outcome == crate::checker::Outcome::Errored)
    {
        code = exit::TRIAL_ERRORS;
    }
    eprintln!("results: {}", csv_path.display());
    Ok(code)
}
