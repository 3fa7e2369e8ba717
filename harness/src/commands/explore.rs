//! `mistake-cost explore`: dry runs, crash points, crashpoints.csv.

use indicatif::{ProgressBar, ProgressStyle};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Session;
use crate::cli::ExploreArgs;
use crate::error::{exit, Error, Result};
use crate::explore::points_file::{self, DryRunRecord, FamilyCount};
use crate::runner::{DockerExecutor, Engine};
use crate::{scenario, verify};

pub async fn explore(args: ExploreArgs) -> Result<i32> {
    let loaded = Arc::new(verify::load_scenario(&args.scenario)?);
    if *loaded.scenario.operation.kind.get_ref() == scenario::OperationKind::Experiment {
        return Err(Error::Usage(format!(
            "{}: explore crashes an install or upgrade; an `experiment` scenario is for `run` and `verify`",
            args.scenario.display()
        )));
    }
    if loaded.scenario.retry.is_some() {
        // A crash point's recovery is the playbook; a retry scenario's end
        // state is judged against a clean install, which explore does not run.
        return Err(Error::Usage(format!(
            "{}: explore crashes an operation and recovers with the playbook; a scenario with [retry] is for `run` and `verify`",
            args.scenario.display()
        )));
    }
    let syscalls = crate::explore::points::expand_syscalls(&args.syscalls)
        .map_err(|e| Error::Usage(format!("--syscalls: {e}")))?;
    // Crash runs kill one process at its k-th call through the kill
    // injector: strace cannot limit a kill to one process.
    use crate::nemesis::injector;
    if let Some(unknown) = syscalls
        .iter()
        .find(|s| injector::syscall_number(s.trim_start_matches('?')).is_none())
    {
        return Err(Error::Usage(format!(
            "--syscalls: `{unknown}` is not a syscall the kill injector ({}) can crash at; \
             it takes those of the families (@create, @write, @rename, @unlink, @link, @mkdir, @metadata, @sync) and truncate, on x86_64",
            injector::FILE_NAME
        )));
    }
    if injector::host_binary().is_none() {
        return Err(Error::Usage(format!(
            "explore needs {} next to the harness binary (`cargo build --release` builds both)",
            injector::FILE_NAME
        )));
    }
    let engines = crate::docker::engines::resolve(&args.engine, args.jobs).map_err(Error::Usage)?;
    let session = Session::open_on(
        engines,
        std::slice::from_ref(&loaded),
        args.out.clone(),
        args.seed,
        None,
        args.security,
        false,
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
    use crate::explore::{self, classes, points, sample};
    use crate::export::{CrashPointRecord, CsvWriter, Exporter, JsonlExporter};
    use futures_util::StreamExt;
    // Dry runs on the first engine; crash points on every engine.
    let engines = session.executors(std::slice::from_ref(&loaded)).await?;
    let ex = engines[0].executor.clone();
    let approaches = if args.approaches.is_empty() {
        loaded.scenario.approaches()
    } else {
        args.approaches.clone()
    };
    let out = &session.out;
    eprintln!(
        "explore {}: dry runs for {} (syscalls {}){} → {}",
        session.run,
        approaches
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        args.syscalls.join(","),
        session.engines_line(),
        out.display()
    );
    let started = std::time::Instant::now();
    // The base manifests now, before the spinner: their lines (cache hit,
    // or a scan's seconds) would otherwise be written across it.
    let families: std::collections::BTreeSet<_> = approaches
        .iter()
        .map(|&a| crate::approach::approach(a).family())
        .collect();
    let families: Vec<_> = families.into_iter().collect();
    tokio::select! {
        r = super::session::base_manifests(&engines, &families, args.jobs) => { r?; }
        _ = session.cancel.cancelled() => return Ok(exit::INTERRUPTED),
    }

    // 1. One traced dry run per approach (each from its committed set-up),
    // `--jobs` at a time; then the points to crash: a seeded sample of each
    // class, capped by --max-points if given.
    let bar = ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(200));
    bar.set_message(format!(
        "dry runs: {}",
        approaches
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let runs = futures_util::stream::iter(approaches.iter().map(|&a| {
        let (ex, loaded) = (ex.clone(), loaded.clone());
        async move { explore::dry_run(&ex, &loaded, a, syscalls).await }
    }))
    .buffered(engines[0].jobs)
    .collect::<Vec<_>>();
    let runs = tokio::select! {
        r = runs => r,
        _ = session.cancel.cancelled() => return Ok(exit::INTERRUPTED),
    };
    let mut dries = Vec::new();
    for dry in runs {
        let dry = dry?;
        let a = dry.approach;
        // Only points a second dry run reproduced: the same seed must crash
        // the same operations in every explore.
        let steady: Vec<points::CrashPoint> =
            dry.points.iter().filter(|p| !p.unsteady).cloned().collect();
        let unsteady = dry.points.len() - steady.len();
        let sampled = classes::sample(&steady, &dry.classes, args.per_class as usize, args.seed);
        let selected = match args.max_points {
            Some(max) => sample::select(&sampled, max as usize, args.seed),
            None => sampled,
        };
        let found = points::count_by_family(dry.points.iter().map(|p| p.family.as_str()));
        let represented = represented(&dry, &selected);
        bar.suspend(|| {
            eprintln!(
                "{a}: {} crash points found ({}) in {} classes{}; exploring {}, which represent {}{}{}",
                dry.points.len(),
                points::family_counts_line(&found),
                dry.classes.len(),
                if unsteady > 0 {
                    format!(", {unsteady} unsteady (not in the second dry run; not sampled)")
                } else {
                    String::new()
                },
                selected.len(),
                if represented == dry.points.len() {
                    format!("all {represented}")
                } else {
                    format!("{represented} (--max-points left classes out)")
                },
                if dry.setup.is_some() { "; set-up committed once" } else { "" },
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
    // Every crash point starts from its approach's committed set-up: the
    // other engines get the very image (same id, same manifest).
    let copies = async {
        for to in &session.engines[1..] {
            for (d, _) in &dries {
                if let Some(c) = &d.setup {
                    tracing::info!(
                        "copying {}'s committed set-up to engine {}",
                        d.approach,
                        to.plan.name
                    );
                    crate::docker::images::transfer(&session.docker, &to.docker, &c.image).await?;
                }
            }
        }
        Ok::<_, Error>(())
    };
    tokio::select! {
        r = copies => r?,
        _ = session.cancel.cancelled() => return Ok(exit::INTERRUPTED),
    }
    let records: Vec<DryRunRecord> = dries
        .iter()
        .map(|(d, selected)| {
            let found = points::count_by_family(d.points.iter().map(|p| p.family.as_str()));
            let chosen = points::count_by_family(selected.iter().map(|p| p.family.as_str()));
            DryRunRecord {
                approach: d.approach,
                syscalls: syscalls.to_vec(),
                max_points: args.max_points,
                per_class: Some(args.per_class),
                seed: Some(args.seed),
                families: found
                    .iter()
                    .map(|(k, n)| {
                        let selected = chosen.get(k).copied().unwrap_or(0);
                        (
                            k.1.clone(),
                            FamilyCount {
                                found: *n,
                                selected,
                            },
                        )
                    })
                    .collect(),
                selected: selected.iter().map(|p| p.index).collect(),
                represented: Some(represented(d, selected)),
                classes: d.classes.clone(),
                points: d.points.clone(),
                dry_run: Some(d.history.clone()),
            }
        })
        .collect();
    points_file::write(out, &records)?;

    // 2. One crash per selected point, each in a fresh container from the
    // committed set-up.
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
    let jsonl_path = out.join("crashpoints.jsonl");
    let mut exporters: Vec<Box<dyn Exporter<CrashPointRecord>>> = vec![
        Box::new(
            CsvWriter::<CrashPointRecord>::create(&csv_path)
                .map_err(|e| Error::io(format!("creating {}", csv_path.display()), e))?,
        ),
        Box::new(
            JsonlExporter::<CrashPointRecord>::create(&jsonl_path)
                .map_err(|e| Error::io(format!("creating {}", jsonl_path.display()), e))?,
        ),
    ];
    let mut records: Vec<CrashPointRecord> = Vec::new();
    let total = work.len();
    let shares = share_out(&engines, work, &loaded);
    let mut stream = futures_util::stream::select_all(shares.streams);
    loop {
        let next = tokio::select! {
            n = stream.next() => n,
            _ = session.cancel.cancelled() => break,
        };
        let Some((rec, history)) = next else { break };
        // Written and flushed as each point finishes: an interrupted
        // explore keeps every complete row.
        for e in exporters.iter_mut() {
            e.export(&rec, &history)
                .map_err(|e| Error::io(format!("writing results in {}", out.display()), e))?;
        }
        if !rec.error.is_empty() {
            bar.suspend(|| eprintln!("{} {} errored: {}", rec.approach, rec.fault, rec.error));
        }
        bar.set_message(format!("{} {}", rec.approach, rec.fault));
        bar.inc(1);
        records.push(rec);
    }
    drop(stream);
    bar.finish_and_clear();
    if !session.engines_line().is_empty() {
        for (e, t) in engines.iter().zip(&shares.tallies) {
            eprintln!(
                "engine {}: {} point(s), at most {} at a time (limit {})",
                e.name,
                t.started.load(Ordering::Relaxed),
                t.peak.load(Ordering::Relaxed),
                e.jobs
            );
        }
    }
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

/// Crash points shared out over the engines: each engine's stream takes
/// the next point from one queue whenever it has a free slot (at most its
/// `jobs` at a time), so a faster engine crashes more points.
struct Shares<S> {
    streams: Vec<S>,
    tallies: Vec<Arc<Tally>>,
}

/// One engine's count of points started, and the most in flight at once.
#[derive(Default)]
struct Tally {
    started: AtomicUsize,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

type Work = (
    Arc<crate::explore::DryRun>,
    crate::explore::points::CrashPoint,
);
type PointResult = (crate::export::CrashPointRecord, crate::history::History);

fn share_out(
    engines: &[Engine<DockerExecutor>],
    work: Vec<Work>,
    loaded: &Arc<scenario::LoadedScenario>,
) -> Shares<std::pin::Pin<Box<dyn futures_util::Stream<Item = PointResult> + Send>>> {
    use futures_util::StreamExt;
    let queue = Arc::new(Mutex::new(VecDeque::from(work)));
    let mut shares = Shares {
        streams: Vec::new(),
        tallies: Vec::new(),
    };
    for e in engines {
        let tally = Arc::new(Tally::default());
        let (ex, name, queue, loaded, t) = (
            e.executor.clone(),
            e.name.clone(),
            queue.clone(),
            loaded.clone(),
            tally.clone(),
        );
        let next = futures_util::stream::poll_fn(move |_| {
            std::task::Poll::Ready(queue.lock().expect("queue lock").pop_front())
        });
        let stream = next
            .map(move |(dry, p): Work| {
                let (ex, name, loaded, t) = (ex.clone(), name.clone(), loaded.clone(), t.clone());
                async move {
                    t.started.fetch_add(1, Ordering::Relaxed);
                    let now = t.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
                    t.peak.fetch_max(now, Ordering::Relaxed);
                    let (mut rec, history) = crate::explore::crash_at(&ex, &loaded, &dry, &p).await;
                    t.in_flight.fetch_sub(1, Ordering::Relaxed);
                    rec.engine = name;
                    (rec, history)
                }
            })
            .buffer_unordered(e.jobs.max(1));
        shares
            .streams
            .push(Box::pin(stream) as std::pin::Pin<Box<_>>);
        shares.tallies.push(tally);
    }
    shares
}

/// How many found points the selected ones stand for: the sizes of the
/// classes with at least one selected point.
fn represented(
    dry: &crate::explore::DryRun,
    selected: &[crate::explore::points::CrashPoint],
) -> usize {
    dry.classes
        .iter()
        .filter(|c| selected.iter().any(|p| c.points.contains(&p.index)))
        .map(|c| c.points.len())
        .sum()
}
