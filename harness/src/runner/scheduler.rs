//! Bounded-concurrency scheduling of a plan. Trials start in plan order,
//! the next one warmed (`Executor::warm`) as each starts; each finished
//! trial is judged and handed on at once, so results are
//! written as they come. Cancellation stops starting new trials and drops
//! the running ones (their sandboxes are removed by the run's sweep). A
//! trial that panics becomes an `errored` row, never a missing one.

use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::{Event, Executor};
use crate::checker::judge;
use crate::history::History;
use crate::plan::Trial;

/// Runs every trial; returns how many finished (all of them unless cancelled).
pub async fn run_plan<E: Executor>(
    executor: Arc<E>,
    trials: Vec<Trial>,
    jobs: usize,
    events: mpsc::UnboundedSender<Event>,
    cancel: CancellationToken,
) -> usize {
    let permits = Arc::new(Semaphore::new(jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let mut trials = trials.into_iter().peekable();
    while let Some(trial) = trials.next() {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("semaphore never closed"),
            _ = cancel.cancelled() => break,
        };
        // One trial ahead is warmed while this one runs: its container
        // starts off the critical path, and at most one per running trial
        // waits unused.
        if let Some(next) = trials.peek() {
            executor.warm(next);
        }
        let executor = executor.clone();
        let events = events.clone();
        let cancel = cancel.clone();
        set.spawn(async move {
            let _permit = permit;
            let index = trial.index;
            let blank = History::new(
                trial.scenario.scenario.scenario.name.clone(),
                trial.approach,
                trial.fault.to_string(),
                trial.rep,
                trial.seed,
            );
            let run = AssertUnwindSafe(executor.run(trial, events.clone())).catch_unwind();
            tokio::select! {
                history = run => {
                    let history = history.unwrap_or_else(|panic| History {
                        error: Some(format!("the harness panicked in this trial: {}", panic_message(&*panic))),
                        ..blank
                    });
                    let record = judge(&history);
                    let _ = events.send(Event::TrialFinished { index, record: Box::new(record), history: Box::new(history) });
                    true
                }
                _ = cancel.cancelled() => false,
            }
        });
    }
    let mut finished = 0;
    while let Some(r) = set.join_next().await {
        if matches!(r, Ok(true)) {
            finished += 1;
        }
    }
    finished
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
                }],
                residue_after_failure: None,
                residue_after_recovery: None,
                playbook_ran: false,
                timings: Timings::default(),
                error: None,
                service: None,
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
        let n = run_plan(mock.clone(), trials(), 3, tx, CancellationToken::new()).await;
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
            let n = run_plan(mock.clone(), trials(), jobs, tx, CancellationToken::new()).await;
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
    async fn cancellation_stops_the_run() {
        let mock = Arc::new(Mock::default());
        let (tx, _rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let n = run_plan(mock, trials(), 2, tx, cancel).await;
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn a_panicking_trial_becomes_an_errored_row() {
        let mock = Arc::new(Mock {
            panic_at_rep: Some(3),
            ..Mock::default()
        });
        let (tx, mut rx) = mpsc::unbounded_channel();
        let n = run_plan(mock, trials(), 2, tx, CancellationToken::new()).await;
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
