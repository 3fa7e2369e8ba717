//! Systematic crash-point exploration (after ALICE and CrashMonkey): a
//! traced dry run per approach finds every point where the chosen syscalls
//! happen and groups them into classes; each selected point is then crashed
//! in a fresh container started from the committed set-up, the state
//! classified old / new / inconsistent, and recovery timed.

pub mod classes;
pub mod points;
pub mod points_file;
pub mod sample;
pub mod state;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::approach::{approach, ApproachKind};
use crate::checker::Verdict;
use crate::docker::{DockerError, Sandbox};
/// One row of crashpoints.csv (its schema lives with the other results files).
pub use crate::export::CrashPointRecord;
use crate::export::{FaultLabel, TriBool};
use crate::history::{History, Phase};
use crate::nemesis;
use crate::nemesis::Fault;
use crate::runner::lifecycle::{AfterOperation, Hooks, Request};
use crate::runner::setup_image::Committed;
use crate::runner::DockerExecutor;
use crate::scenario::LoadedScenario;
use crate::snapshot::Snapshot;
use classes::PointClass;
use points::CrashPoint;
use state::State;

/// What the dry run of one approach found.
pub struct DryRun {
    pub approach: ApproachKind,
    pub points: Vec<CrashPoint>,
    /// The clean result, when the undisturbed operation succeeded with
    /// passing checks; without it no state can classify as `new`.
    pub new_state: Option<Snapshot>,
    pub history: History,
    /// The points' classes ([`classes::classes`]).
    pub classes: Vec<PointClass>,
    /// The state set-up as an image: the dry run and every crash point
    /// start from it (`None`: nothing to set up, or not committable).
    pub setup: Option<Arc<Committed>>,
}

impl DryRun {
    /// The class `point` belongs to.
    pub fn class_of(&self, point: &CrashPoint) -> Option<&PointClass> {
        self.classes
            .iter()
            .find(|c| c.points.contains(&point.index))
    }
}

fn history(s: &LoadedScenario, a: ApproachKind, fault: String) -> History {
    History::new(s.scenario.scenario.name.clone(), a, fault, 0, 0)
}

/// Traces the undisturbed operation twice, in two containers from the same
/// set-up; the first trace's state-changing calls of the chosen syscalls
/// are the crash points, and the second says which of them are steady
/// ([`points::mark_unsteady`]): a point only one run makes (the Nix
/// daemon's database checkpoint comes and goes with its connections'
/// timing) cannot be crashed reproducibly, so it is not sampled.
pub async fn dry_run(
    ex: &DockerExecutor,
    s: &LoadedScenario,
    kind: ApproachKind,
    syscalls: &[String],
) -> Result<DryRun, DockerError> {
    let a = approach(kind);
    let mut h = history(s, kind, "dry-run".into());
    let mut again = history(s, kind, "dry-run".into());
    let setup = ex.commit_setup(a.as_ref(), &s.scenario).await?;
    let (first, second) = tokio::join!(
        traced_run(ex, s, kind, setup.as_deref(), syscalls, "dry", &mut h),
        traced_run(ex, s, kind, setup.as_deref(), syscalls, "dry2", &mut again),
    );
    let (mut points, new_state) = first?;
    let (other, _) = second?;
    points::mark_unsteady(&mut points, &other);
    Ok(DryRun {
        approach: kind,
        classes: classes::classes(&points),
        points,
        new_state,
        history: h,
        setup,
    })
}

/// One traced run of the undisturbed operation in a fresh container: its
/// crash points and, when it succeeded with passing checks, its end state.
async fn traced_run(
    ex: &DockerExecutor,
    s: &LoadedScenario,
    kind: ApproachKind,
    setup: Option<&Committed>,
    syscalls: &[String],
    name: &str,
    h: &mut History,
) -> Result<(Vec<CrashPoint>, Option<Snapshot>), DockerError> {
    let a = approach(kind);
    let mut sandbox = ex
        .sandbox_from(a.as_ref(), &s.scenario, &format!("{name}-{kind}"), setup)
        .await?;
    let result = async {
        let fault = Fault::Trace {
            syscalls: syscalls.to_vec(),
        };
        let req = Request {
            approach: a.as_ref(),
            scenario: &s.scenario,
            fault: &fault,
        };
        let seen = ex
            .lifecycle_from(&sandbox, setup, req, &DryRunHooks, h)
            .await?;
        let op = h
            .steps_in(Phase::Operation)
            .last()
            .cloned()
            .ok_or_else(|| DockerError::Other("the dry run has no operation step".into()))?;
        // The whole traces, not the agent's output tail.
        let logs = std::iter::once(nemesis::TRACE_LOG)
            .chain(a.worker_pid_file().map(|_| nemesis::WORKER_TRACE_LOG));
        let mut traces = Vec::new();
        for log in logs {
            let trace = read_trace(&sandbox, log).await.map_err(|e| {
                DockerError::Other(format!(
                    "{e} (the traced operation exited {}: {})",
                    op.exit_code,
                    op.stderr_tail.trim()
                ))
            })?;
            traces.push(trace);
        }
        let calls = points::merge_traces(
            &traces.iter().map(String::as_str).collect::<Vec<_>>(),
            syscalls,
        );
        let succeeded = op.exit_code == 0 && seen.verdict_after_operation == Verdict::Valid;
        Ok::<_, DockerError>((points::points(&calls), succeeded.then_some(seen.after)))
    }
    .await;
    sandbox.remove().await?;
    result
}

/// The dry run records the undisturbed operation's state; nothing recovers.
struct DryRunHooks;

impl Hooks for DryRunHooks {
    fn needs_recovery(&self, _: &AfterOperation) -> bool {
        false
    }
}

/// A dry run's trace file, whole.
async fn read_trace(sandbox: &Sandbox, log: &str) -> Result<String, DockerError> {
    let out = sandbox
        .exec(
            &["cat".to_string(), log.to_string()],
            None,
            Duration::from_secs(120),
        )
        .await?;
    if out.exit_code != 0 {
        return Err(DockerError::Other(format!(
            "reading the dry run's trace {log}: exit {}",
            out.exit_code
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Crashes the operation at one point in a fresh container and judges it.
pub async fn crash_at(
    ex: &DockerExecutor,
    s: &LoadedScenario,
    dry: &DryRun,
    point: &CrashPoint,
) -> (CrashPointRecord, History) {
    let a = approach(dry.approach);
    let fault = point_fault(point).to_string();
    let mut h = history(s, dry.approach, fault.clone());
    let class = dry.class_of(point);
    let t = Instant::now();
    let mut rec = CrashPointRecord {
        scenario: h.scenario.clone(),
        approach: h.approach,
        fault: FaultLabel(fault),
        family: point.family.clone(),
        syscall: point.syscall.clone(),
        point: point.k,
        index: point.index,
        process: point.process.clone(),
        operation: point.operation(),
        hit: String::new(),
        mismatch: String::new(),
        class: class.map(|c| c.label()).unwrap_or_default(),
        class_points: class.map(|c| c.points.len()),
        engine: String::new(),
        fired: false,
        state_after_crash: None,
        consistent: TriBool::Unknown,
        residue_files: None,
        residue_packages: None,
        garbage_paths: None,
        playbook_ran: false,
        recovered: TriBool::Unknown,
        state_after_recovery: None,
        recovery_ms: None,
        final_residue_files: None,
        point_wall_ms: 0.0,
        error: String::new(),
    };
    let result = async {
        let started = Instant::now();
        let sandbox = ex
            .sandbox_from(
                a.as_ref(),
                &s.scenario,
                &format!("p-{}-{}", dry.approach, point.index),
                dry.setup.as_deref(),
            )
            .await?;
        h.timings.container_start_ms = started.elapsed().as_secs_f64() * 1000.0;
        let fault = point_fault(point);
        let req = Request {
            approach: a.as_ref(),
            scenario: &s.scenario,
            fault: &fault,
        };
        let r = crash_in(ex, &sandbox, req, dry, &mut h, &mut rec).await;
        // Removed in the background (the run waits for it at its end): the
        // next point need not wait for this one's layers to go.
        drop(sandbox);
        r
    }
    .await;
    if let Err(e) = result {
        rec.error = e.to_string();
        h.error = Some(e.to_string());
    }
    rec.point_wall_ms = t.elapsed().as_secs_f64() * 1000.0;
    h.timings.wall_ms = rec.point_wall_ms;
    (rec, h)
}

/// A crash point's lifecycle rule: only a state that is neither the old
/// nor the new one needs the playbook.
struct CrashHooks<'a> {
    new_state: Option<&'a Snapshot>,
}

impl Hooks for CrashHooks<'_> {
    fn needs_recovery(&self, s: &AfterOperation) -> bool {
        state::classify(s.after, s.before, self.new_state, s.verdict) == State::Inconsistent
    }
}

/// The point's fault: SIGKILL at the k-th call of its syscall on its label,
/// in the process that made it (in the operation's tree or the worker's).
fn point_fault(point: &CrashPoint) -> Fault {
    Fault::CrashPoint {
        syscall: point.syscall.clone(),
        at: point.k,
        process: point.process.clone(),
        in_worker: point.in_worker,
        label: point.label.clone(),
    }
}

async fn crash_in(
    ex: &DockerExecutor,
    sandbox: &Sandbox,
    req: Request<'_>,
    dry: &DryRun,
    h: &mut History,
    rec: &mut CrashPointRecord,
) -> Result<(), DockerError> {
    let hooks = CrashHooks {
        new_state: dry.new_state.as_ref(),
    };
    let seen = ex
        .lifecycle_from(sandbox, dry.setup.as_deref(), req, &hooks, h)
        .await?;
    rec.fired = !seen.killed.is_empty();
    if rec.fired {
        // The process this crash actually hit (the dry run's may differ).
        rec.process = seen.killed.join(",");
    }
    rec.hit = seen.hit.join("; ");
    if let Some(why) = mismatch(&rec.operation, &seen.hit, rec.fired) {
        // The state is measured, but it cannot be put down to this point:
        // every verdict of the row is unknown, with the reason.
        rec.mismatch = why;
    }
    let residue = h
        .residue_after_failure
        .as_ref()
        .expect("the lifecycle records it");
    // The package manager's own checks, as trials.csv's `consistent`; the
    // state below is judged with the probes too (`explore::state`).
    rec.consistent = crate::checker::verdict_of_kind(
        h.steps_in(Phase::CheckAfterFailure),
        crate::history::CheckKind::Own,
    )
    .unwrap_or(Verdict::Unknown)
    .as_tri();
    rec.residue_files = Some(residue.visible_files());
    rec.residue_packages = Some(residue.packages.len());
    rec.garbage_paths = Some(residue.garbage);
    let state = state::classify(
        &seen.after,
        &seen.before,
        dry.new_state.as_ref(),
        seen.verdict_after_operation,
    );
    rec.state_after_crash = Some(state);
    let final_state = match &seen.recovery {
        Some(r) => {
            rec.playbook_ran = true;
            rec.recovery_ms = Some(r.playbook_ms);
            state::classify(&r.snapshot, &seen.before, dry.new_state.as_ref(), r.verdict)
        }
        None => {
            rec.recovery_ms = Some(0.0);
            state
        }
    };
    let final_residue = h
        .residue_after_recovery
        .as_ref()
        .expect("the lifecycle records it");
    rec.final_residue_files = Some(final_residue.visible_files());
    rec.state_after_recovery = Some(final_state);
    rec.recovered = TriBool::from(final_state != State::Inconsistent);
    if !rec.mismatch.is_empty() {
        rec.state_after_crash = None;
        rec.state_after_recovery = None;
        rec.consistent = TriBool::Unknown;
        rec.recovered = TriBool::Unknown;
    }
    Ok(())
}

/// Why a fired kill cannot be attributed to the dry run's operation: the
/// injector hit another one (or logged none). `None` when they agree or
/// nothing fired.
fn mismatch(operation: &str, hit: &[String], fired: bool) -> Option<String> {
    if !fired {
        return None;
    }
    match hit {
        [one] if one == operation => None,
        [] => Some(format!(
            "the kill fired but the injector logged no operation (the dry run chose {operation})"
        )),
        _ => Some(format!(
            "the kill hit {} where the dry run chose {operation}",
            hit.join("; ")
        )),
    }
}

/// Summary lines for the terminal: per approach, then per syscall family.
pub fn summary(records: &[CrashPointRecord]) -> Vec<String> {
    let mut by: std::collections::BTreeMap<(ApproachKind, usize, String), Vec<&CrashPointRecord>> =
        std::collections::BTreeMap::new();
    for r in records {
        by.entry((r.approach, 0, String::new()))
            .or_default()
            .push(r);
        by.entry((
            r.approach,
            1 + points::family_rank(&r.family),
            r.family.clone(),
        ))
        .or_default()
        .push(r);
    }
    let mut lines = vec![format!(
        "{:<18} {:>6} {:>11} {:>6} {:>6} {:>6} {:>13} {:>10} {:>12}",
        "approach",
        "points",
        "represent",
        "fired",
        "old",
        "new",
        "inconsistent",
        "recovered",
        "recov_ms~"
    )];
    for ((a, _, family), rs) in by {
        let judged: Vec<&&CrashPointRecord> = rs.iter().filter(|r| r.error.is_empty()).collect();
        let n = judged.len().max(1) as f64;
        let pct = |st: State| {
            100.0
                * judged
                    .iter()
                    .filter(|r| r.state_after_crash == Some(st))
                    .count() as f64
                / n
        };
        let rec_ms: Vec<f64> = judged
            .iter()
            .filter(|r| r.playbook_ran)
            .filter_map(|r| r.recovery_ms)
            .collect();
        let median = crate::stats::median(&rec_ms)
            .map(|m| format!("{m:.0}"))
            .unwrap_or_else(|| "-".into());
        let label = if family.is_empty() {
            a.to_string()
        } else {
            format!("  {family}")
        };
        lines.push(format!(
            "{:<18} {:>6} {:>11} {:>6} {:>5.0}% {:>5.0}% {:>12.0}% {:>9.0}% {:>12}",
            label,
            rs.len(),
            represents(&rs),
            judged.iter().filter(|r| r.fired).count(),
            pct(State::Old),
            pct(State::New),
            pct(State::Inconsistent),
            100.0 * judged.iter().filter(|r| r.recovered.is_true()).count() as f64 / n,
            median
        ));
    }
    lines
}

/// How many found points these rows stand for: each distinct class's size
/// once (`-` when a row has no class: a file from before classes).
fn represents(rows: &[&CrashPointRecord]) -> String {
    let mut classes = std::collections::BTreeMap::new();
    for r in rows {
        match r.class_points {
            Some(n) => classes.insert(r.class.as_str(), n),
            None => return "-".into(),
        };
    }
    classes.values().sum::<usize>().to_string()
}

#[cfg(test)]
mod tests {
    use super::mismatch;

    #[test]
    fn a_kill_is_attributed_only_to_the_operation_it_hit() {
        let op = "renameat /a/x.tmp-#-# -> /a/x #2";
        assert_eq!(mismatch(op, &[op.to_string()], true), None);
        assert_eq!(
            mismatch(op, &[], false),
            None,
            "nothing fired: nothing to attribute"
        );
        let other = mismatch(op, &["renameat /a/y -> /a/x #2".into()], true).unwrap();
        assert!(
            other.contains("hit renameat /a/y") && other.contains(op),
            "{other}"
        );
        assert!(mismatch(op, &[], true)
            .unwrap()
            .contains("logged no operation"));
        assert!(
            mismatch(op, &[op.into(), op.into()], true).is_some(),
            "two kills are not one point"
        );
    }
}
