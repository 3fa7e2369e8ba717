//! Bounded-concurrency scheduling of a plan over one or more engines, each
//! with its own job limit. Trials start in plan order, each on an engine
//! with a free slot; each engine warms its next trial (`Executor::warm`)
//! as one starts there. Each finished trial is judged, stamped with its
//! engine and handed on at once, so results are written as they come.
//! Cancellation stops starting new trials and drops the running ones
//! (their sandboxes are removed by the run's sweep). A trial that panics
//! becomes an `errored` row, never a missing one.

use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Event, Executor};
use crate::checker::judge;
use crate::history::History;
use crate::plan::Trial;

/// One engine's share of a run: its executor (containers, warm pool and
/// committed set-ups all live on that engine) and its job limit.
pub struct Engine<E> {
    /// The `engine` column's value.
    pub name: String,
    pub executor: Arc<E>,
    pub jobs: usize,
}

// By hand: a derive would ask `E: Clone`, and only the Arc is cloned.
impl<E> Clone for Engine<E> {
    fn clone(&self) -> Self {
        Engine {
            name: self.name.clone(),
            executor: self.executor.clone(),
            jobs: self.jobs,
        }
    }
}

impl<E> Engine<E> {
    /// The one engine of a run without `--engine`.
    pub fn only(executor: Arc<E>, jobs: usize) -> Vec<Engine<E>> {
        vec![Engine {
            name: crate::docker::engines::DEFAULT_NAME.into(),
            executor,
            jobs,
        }]
    }
}

/// What each engine did: trials started there, and the most that ran
/// there at the same time (never above its limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineTally {
    pub name: String,
    pub jobs: usize,
    pub trials: usize,
    pub peak: usize,
}

/// What `run_plan` did: trials finished (all of them unless cancelled),
/// and each engine's tally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanReport {
    pub finished: usize,
    pub engines: Vec<EngineTally>,
}

/// A free slot on engine `.0`: the scheduler holds one per job an engine
/// may run, takes one to start a trial, and the trial gives it back when it
/// ends (also when it panics or is cancelled: on drop).
struct Slot(usize, mpsc::UnboundedSender<usize>);

impl Drop for Slot {
    fn drop(&mut self) {
        let _ = self.1.send(self.0);
    }
}

/// Runs every trial on the engines, at most `jobs` at a time on each.
pub async fn run_plan<E: Executor>(
    engines: Vec<Engine<E>>,
    trials: Vec<Trial>,
    events: mpsc::UnboundedSender<Event>,
    cancel: CancellationToken,
) -> PlanReport {
    let (free, mut freed) = mpsc::unbounded_channel();
    // Slots interleaved (engine 0, 1, 0, 1, …) so that every engine gets
    // work from the start.
    let most = engines.iter().map(|e| e.jobs.max(1)).max().unwrap_or(0);
    for round in 0..most {
        for (i, e) in engines.iter().enumerate() {
            if round < e.jobs.max(1) {
                free.send(i).expect("receiver held here");
            }
        }
    }
    let in_flight: Vec<Arc<AtomicUsize>> = engines.iter().map(|_| Arc::default()).collect();
    let mut tallies: Vec<EngineTally> = engines
        .iter()
        .map(|e| EngineTally {
            name: e.name.clone(),
            jobs: e.jobs.max(1),
            trials: 0,
            peak: 0,
        })
        .collect();
    // Each engine's next trial, warmed there while its running ones run.
    let mut next: Vec<Option<Trial>> = engines.iter().map(|_| None).collect();
    let mut set = tokio::task::JoinSet::new();
    let mut trials = trials.into_iter();
    loop {
        if trials.len() == 0 && next.iter().all(Option::is_none) {
            break;
        }
        let engine = tokio::select! {
            e = freed.recv() => e.expect("the scheduler holds a sender"),
            _ = cancel.cancelled() => break,
        };
        // Its warmed trial, else the plan's next (a trial warmed on another
        // engine stays there).
        let Some(trial) = next[engine].take().or_else(|| trials.next()) else {
            // Nothing left for this engine: its slot is not given back.
            continue;
        };
        let slot = Slot(engine, free.clone());
        let e = &engines[engine];
        // One trial ahead is warmed on this engine while this one runs:
        // its container starts off the critical path, and at most one per
        // running trial waits unused.
        next[engine] = trials.next();
        if let Some(n) = &next[engine] {
            e.executor.warm(n);
        }
        let now = in_flight[engine].fetch_add(1, Ordering::SeqCst) + 1;
        tallies[engine].trials += 1;
        tallies[engine].peak = tallies[engine].peak.max(now);
        let running = in_flight[engine].clone();
        let (executor, name) = (e.executor.clone(), e.name.clone());
        let events = events.clone();
        let cancel = cancel.clone();
        set.spawn(async move {
            let _slot = slot;
            let index = trial.index;
            let blank = trial.blank_history();
            let run = AssertUnwindSafe(executor.run(trial, events.clone())).catch_unwind();
            let finished = tokio::select! {
                history = run => {
                    let history = history.unwrap_or_else(|panic| History {
                        error: Some(format!("the harness panicked in this trial: {}", panic_message(&*panic))),
                        ..blank
                    });
                    let mut record = judge(&history);
                    record.engine = name;
                    let _ = events.send(Event::TrialFinished { index, record: Box::new(record), history: Box::new(history) });
                    true
                }
                _ = cancel.cancelled() => false,
            };
            // Before the slot goes back (on return), so the count never
            // exceeds the limit.
            running.fetch_sub(1, Ordering::SeqCst);
            finished
        });
    }
    let mut finished = 0;
    while let Some(r) = set.join_next().await {
        if matches!(r, Ok(true)) {
            finished += 1;
        }
    }
    PlanReport {
        finished,
        engines: tallies,
    }
}

/// A panic's payload as text (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Phase, Step, Timings};
    use crate::plan::plan;
    use crate::scenario::parse;
    use crate::scenario::LoadedScenario;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Deterministic executor: the operation fails for odd reps; tracks the
    /// highest number of trials in flight.
    #[derive(Default)]
    struct Mock {
        in_flight: AtomicUsize,
        peak: AtomicUsize,
        /// Panic in the trial with this rep.
        panic_at_rep: Option<u32>,
        /// `warm TRIAL` and `run TRIAL`, in the order they happened.
        calls: std::sync::Mutex<Vec<String>>,
    }

    impl Executor for Mock {
        fn warm(&self, trial: &Trial) {
            self.calls
                .lock()
                .unwrap()
                .push(format!("warm {}", trial.index));
        }

        async fn run(&self, trial: Trial, _: mpsc::UnboundedSender<Event>) -> History {
            self.calls
                .lock()
                .unwrap()
                .push(format!("run {}", trial.index));
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if self.panic_at_rep == Some(trial.rep) {
                panic!("mock trial {} exploded", trial.index);
            }
            History {
                scenario: trial.scenario.scenario.scenario.name.clone(),
                approach: trial.approach,
                fault: trial.fault.to_string(),
                rep: trial.rep,
                seed: trial.seed,
                recovery: None,
                service_name: None,
                steps: vec![Step {
                    phase: Phase::Operation,
                    command: "op".into(),
                    exit_code: (trial.rep % 2) as i64,
                    ms: 1.0,
                    stdout_tail: String::new(),
                    stderr_tail: String::new(),
                    quiet: false,
                    fault_fired_ms: None,
                    attempts: Vec::new(),
                    started_ns: None,
                    check: None,
                    check_kind: None,
                }],
                residue_after_failure: None,
                residue_after_recovery: None,
                playbook_ran: false,
                timings: Timings::default(),
                error: None,
                service: None,
                clean: None,
                experiment: false,
            fleet: None,
            }
        }
    }

    fn trials() -> Vec<Trial> {
        let text = "[scenario]\nname='m'\napproaches=['apt','nix']\n[[package]]\nname='a'\nversion='1'\n[operation]\nkind='install'\npackages=['a']\n";
        let s = Arc::new(LoadedScenario {
            path: "m.toml".into(),
            scenario: parse(text).unwrap(),
        });
        plan(&[s], Some(5), 1)
    }

    #[tokio::test]
    async fn respects_the_job_bound_and_reports_every_trial() {
        let mock = Arc::new(Mock::default());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let n = run_plan(
            Engine::only(mock.clone(), 3),
            trials(),
            tx,
            CancellationToken::new(),
        )
        .await
        .finished;
        assert_eq!(n, 10);
        assert!(mock.peak.load(Ordering::SeqCst) <= 3);
        let mut outcomes = Vec::new();
        while let Ok(Event::TrialFinished { record, .. }) = rx.try_recv() {
            outcomes.push((record.rep, record.outcome));
        }
        assert_eq!(outcomes.len(), 10);
        for (rep, outcome) in outcomes {
            let expected = if rep % 2 == 0 {
                crate::checker::Outcome::Succeeded
            } else {
                crate::checker::Outcome::Failed
            };
            assert_eq!(outcome, expected);
        }
    }

    #[tokio::test]
    async fn each_trial_but_the_first_is_warmed_once_before_it_runs() {
        for jobs in [1, 3] {
            let mock = Arc::new(Mock::default());
            let (tx, _rx) = mpsc::unbounded_channel();
            let n = run_plan(
                Engine::only(mock.clone(), jobs),
                trials(),
                tx,
                CancellationToken::new(),
            )
            .await
            .finished;
            assert_eq!(n, 10);
            let calls = mock.calls.lock().unwrap().clone();
            for i in 0..10 {
                let warmed: Vec<usize> = calls
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == format!("warm {i}"))
                    .map(|(at, _)| at)
                    .collect();
                let ran = calls.iter().position(|c| *c == format!("run {i}")).unwrap();
                if i == 0 {
                    assert!(warmed.is_empty(), "jobs {jobs}: {calls:?}");
                } else {
                    assert_eq!(warmed.len(), 1, "jobs {jobs}: {calls:?}");
                    assert!(
                        warmed[0] < ran,
                        "jobs {jobs}: warmed after it ran: {calls:?}"
                    );
                }
            }
            // Never more than one trial warmed ahead of those running: the
            // warm for trial i waits for a free job, so trial i - 1 - jobs
            // had begun (and ended) before it.
            for i in (jobs + 1)..10 {
                let warm = calls
                    .iter()
                    .position(|c| *c == format!("warm {i}"))
                    .unwrap();
                let started = calls
                    .iter()
                    .position(|c| *c == format!("run {}", i - 1 - jobs))
                    .unwrap();
                assert!(
                    started < warm,
                    "jobs {jobs}: pool grew past the bound: {calls:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn several_engines_keep_their_limits_and_run_every_trial_once() {
        for (a_jobs, b_jobs) in [(1, 2), (2, 1), (1, 1), (3, 2)] {
            let (a, b) = (Arc::new(Mock::default()), Arc::new(Mock::default()));
            let engines = vec![
                Engine {
                    name: "a".into(),
                    executor: a.clone(),
                    jobs: a_jobs,
                },
                Engine {
                    name: "b".into(),
                    executor: b.clone(),
                    jobs: b_jobs,
                },
            ];
            let (tx, mut rx) = mpsc::unbounded_channel();
            let report = run_plan(engines, trials(), tx, CancellationToken::new()).await;
            assert_eq!(report.finished, 10);
            assert!(
                a.peak.load(Ordering::SeqCst) <= a_jobs,
                "engine a over its limit"
            );
            assert!(
                b.peak.load(Ordering::SeqCst) <= b_jobs,
                "engine b over its limit"
            );
            let ran = |m: &Mock| -> Vec<String> {
                let calls = m.calls.lock().unwrap();
                calls
                    .iter()
                    .filter(|c| c.starts_with("run "))
                    .cloned()
                    .collect()
            };
            let (ran_a, ran_b) = (ran(&a), ran(&b));
            assert!(!ran_a.is_empty() && !ran_b.is_empty(), "both engines used");
            let mut all: Vec<String> = ran_a.iter().chain(&ran_b).cloned().collect();
            all.sort();
            all.dedup();
            assert_eq!(all.len(), 10, "every trial ran exactly once");
            assert_eq!(ran_a.len() + ran_b.len(), 10);
            // A trial warmed on an engine runs there (its container is there).
            for (m, ran) in [(&a, &ran_a), (&b, &ran_b)] {
                for c in m.calls.lock().unwrap().iter() {
                    if let Some(i) = c.strip_prefix("warm ") {
                        assert!(ran.contains(&format!("run {i}")), "{c} ran elsewhere");
                    }
                }
            }
            // Each row names the engine that ran it.
            let mut rows = 0;
            while let Ok(ev) = rx.try_recv() {
                if let Event::TrialFinished { index, record, .. } = ev {
                    let on = if ran_a.contains(&format!("run {index}")) {
                        "a"
                    } else {
                        "b"
                    };
                    assert_eq!(record.engine, on);
                    rows += 1;
                }
            }
            assert_eq!(rows, 10);
            assert_eq!(report.engines.iter().map(|e| e.trials).sum::<usize>(), 10);
            assert_eq!(report.engines[0].trials, ran_a.len());
            assert!(report.engines[0].peak <= a_jobs && report.engines[1].peak <= b_jobs);
        }
    }

    #[tokio::test]
    async fn cancellation_stops_the_run() {
        let mock = Arc::new(Mock::default());
        let (tx, _rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let n = run_plan(Engine::only(mock, 2), trials(), tx, cancel)
            .await
            .finished;
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn a_panicking_trial_becomes_an_errored_row() {
        let mock = Arc::new(Mock {
            panic_at_rep: Some(3),
            ..Mock::default()
        });
        let (tx, mut rx) = mpsc::unbounded_channel();
        let n = run_plan(
            Engine::only(mock, 2),
            trials(),
            tx,
            CancellationToken::new(),
        )
        .await
        .finished;
        assert_eq!(n, 10, "every trial is accounted for");
        let mut errored = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            if let Event::TrialFinished { record, .. } = ev {
                if record.outcome == crate::checker::Outcome::Errored {
                    errored.push((
                        record.rep,
                        record.approach.to_string(),
                        record.error.clone(),
                    ));
                }
            }
        }
        assert_eq!(errored.len(), 2, "{errored:?}");
        for (rep, _, error) in &errored {
            assert_eq!(*rep, 3);
            assert!(
                error.contains("panicked") && error.contains("exploded"),
                "{error}"
            );
        }
    }
}
