//! Systematic crash-point exploration (after ALICE and CrashMonkey): a
//! traced dry run per approach finds every point where the chosen syscalls
//! happen; each selected point is then crashed in a fresh container, the
//! state classified old / new / inconsistent, and recovery timed.

pub mod points;
pub mod state;

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

use crate::approach::{approach, playbook, Approach, ApproachKind};
use crate::checker::{check_verdict, Verdict};
use crate::docker::{DockerError, Sandbox};
use crate::history::{History, Phase};
use crate::nemesis;
use crate::runner::DockerExecutor;
use crate::scenario::LoadedScenario;
use crate::snapshot::{self, Snapshot};
use points::CrashPoint;
use state::State;

/// One row of crashpoints.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrashPointRecord {
    pub scenario: String,
    pub approach: String,
    pub fault: String,
    /// The syscall's family (`create`, `write`, `rename`, ...; see
    /// `points::FAMILIES`). Empty in files written before families existed.
    #[serde(default)]
    pub family: String,
    pub syscall: String,
    /// strace's call number k: each process's k-th call of `syscall`, every
    /// call counted (the dry run found a state-changing one there).
    pub point: u64,
    /// Rank of the point by first occurrence in the dry run.
    pub index: usize,
    /// The process that reached the point first in the dry run.
    pub process: String,
    /// Whether the injected kill fired (a point the crash run never reached
    /// leaves the operation undisturbed).
    pub fired: bool,
    pub state_after_crash: Option<State>,
    pub consistent: String,
    pub residue_files: Option<usize>,
    pub residue_packages: Option<usize>,
    pub garbage_paths: Option<usize>,
    pub playbook_ran: bool,
    pub recovered: String,
    pub state_after_recovery: Option<State>,
    pub recovery_ms: Option<f64>,
    pub final_residue_files: Option<usize>,
    pub point_wall_ms: f64,
    pub error: String,
}

/// What the dry run of one approach found.
pub struct DryRun {
    pub approach: ApproachKind,
    pub points: Vec<CrashPoint>,
    /// The clean result, when the undisturbed operation succeeded with
    /// passing checks; without it no state can classify as `new`.
    pub new_state: Option<Snapshot>,
    pub history: History,
}

fn history(s: &LoadedScenario, a: ApproachKind, fault: String) -> History {
    History::new(s.scenario.scenario.name.clone(), a.to_string(), fault, 0, 0)
}

fn op_command(a: &dyn Approach, s: &LoadedScenario) -> String {
    crate::approach::operation_command(a, &s.scenario)
}

/// Traces the undisturbed operation; its state-changing calls of the chosen
/// syscalls are the crash points.
pub async fn dry_run(
    ex: &DockerExecutor,
    s: &LoadedScenario,
    kind: ApproachKind,
    syscalls: &[String],
) -> Result<DryRun, DockerError> {
    let a = approach(kind);
    let base = ex.base_manifest(a.family()).await?;
    let mut h = history(s, kind, "dry-run".into());
    let mut sandbox = ex
        .sandbox(a.as_ref(), &s.scenario, &format!("dry-{kind}"))
        .await?;
    let result = async {
        ex.set_up(&sandbox, a.as_ref(), &s.scenario, &mut h).await?;
        let timeout = Duration::from_secs(s.scenario.scenario.step_timeout_s);
        let before = ex.snapshot(&sandbox, a.as_ref(), &base, &mut h).await?;
        let log = "/run/mistake-cost/trace.log";
        let worker_log = "/run/mistake-cost/trace-worker.log";
        let worker = a.worker_pid_file().map(|pid_file| (pid_file, worker_log));
        let traced = nemesis::strace_count(&op_command(a.as_ref(), s), syscalls, log, worker);
        let op = DockerExecutor::run_steps(&sandbox, Phase::Operation, &[traced], timeout, &[])
            .await?
            .remove(0);
        if op.stderr_tail.contains(nemesis::WORKER_STRACE_KILLED) {
            return Err(DockerError::Other(format!(
                "dry run: {} (its trace may be cut short)",
                nemesis::WORKER_STRACE_KILLED
            )));
        }
        // The whole traces, not the agent's output tail.
        let mut traces = Vec::new();
        for l in std::iter::once(log).chain(worker.map(|(_, l)| l)) {
            let trace = read_trace(&sandbox, l).await.map_err(|e| {
                DockerError::Other(format!(
                    "{e} (the traced operation exited {}: {})",
                    op.exit_code,
                    op.stderr_tail.trim()
                ))
            })?;
            traces.push(trace);
        }
        let after = ex.snapshot(&sandbox, a.as_ref(), &base, &mut h).await?;
        let checks = DockerExecutor::run_checks(
            &sandbox,
            Phase::CheckAfterFailure,
            &crate::approach::checks_and_probes(a.as_ref(), &s.scenario),
            timeout,
        )
        .await?;
        let valid = Verdict::all(checks.iter().map(check_verdict)) == Verdict::Valid;
        let calls = points::merge_traces(
            &traces.iter().map(String::as_str).collect::<Vec<_>>(),
            syscalls,
        );
        let succeeded = op.exit_code == 0 && valid;
        h.residue_after_failure = Some(snapshot::residue(&before, &after));
        h.steps.push(op);
        h.steps.extend(checks);
        Ok::<_, DockerError>((points::points(&calls), succeeded.then_some(after)))
    }
    .await;
    sandbox.remove().await?;
    let (points, new_state) = result?;
    Ok(DryRun {
        approach: kind,
        points,
        new_state,
        history: h,
    })
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
    let fault = format!("syscall:{}#{}:KILL", point.syscall, point.k);
    let mut h = history(s, dry.approach, fault.clone());
    let t = Instant::now();
    let mut rec = CrashPointRecord {
        scenario: h.scenario.clone(),
        approach: h.approach.clone(),
        fault,
        family: point.family.clone(),
        syscall: point.syscall.clone(),
        point: point.k,
        index: point.index,
        process: point.process.clone(),
        fired: false,
        state_after_crash: None,
        consistent: "unknown".into(),
        residue_files: None,
        residue_packages: None,
        garbage_paths: None,
        playbook_ran: false,
        recovered: "unknown".into(),
        state_after_recovery: None,
        recovery_ms: None,
        final_residue_files: None,
        point_wall_ms: 0.0,
        error: String::new(),
    };
    let result = async {
        let started = Instant::now();
        let mut sandbox = ex
            .sandbox(
                a.as_ref(),
                &s.scenario,
                &format!("p-{}-{}", dry.approach, point.index),
            )
            .await?;
        h.timings.container_start_ms = started.elapsed().as_secs_f64() * 1000.0;
        let r = crash_in(ex, &sandbox, a.as_ref(), s, dry, point, &mut h, &mut rec).await;
        let removing = Instant::now();
        sandbox.remove().await?;
        h.timings.container_remove_ms = removing.elapsed().as_secs_f64() * 1000.0;
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

#[allow(clippy::too_many_arguments)]
async fn crash_in(
    ex: &DockerExecutor,
    sandbox: &Sandbox,
    a: &dyn Approach,
    s: &LoadedScenario,
    dry: &DryRun,
    point: &CrashPoint,
    h: &mut History,
    rec: &mut CrashPointRecord,
) -> Result<(), DockerError> {
    let base = ex.base_manifest(a.family()).await?;
    let timeout = Duration::from_secs(s.scenario.scenario.step_timeout_s);
    ex.set_up(sandbox, a, &s.scenario, h).await?;
    let before = ex.snapshot(sandbox, a, &base, h).await?;
    let wrapped = nemesis::strace_wrap_for(
        a.worker_pid_file(),
        &op_command(a, s),
        std::slice::from_ref(&point.syscall),
        point.k,
        None,
    );
    let mut op = DockerExecutor::run_steps(sandbox, Phase::Operation, &[wrapped], timeout, &[])
        .await?
        .remove(0);
    let killed = crate::runner::injected_kills(sandbox).await?;
    rec.fired = !killed.is_empty();
    if rec.fired {
        op.fault_fired_ms = Some(op.ms);
        // The process this crash actually hit (the dry run's may differ).
        rec.process = killed.join(",");
    }
    h.steps.push(op);

    let after = ex.snapshot(sandbox, a, &base, h).await?;
    let checks = crate::approach::checks_and_probes(a, &s.scenario);
    let steps =
        DockerExecutor::run_checks(sandbox, Phase::CheckAfterFailure, &checks, timeout).await?;
    let verdict = Verdict::all(steps.iter().map(check_verdict));
    h.steps.extend(steps);
    let residue = snapshot::residue(&before, &after);
    rec.consistent = verdict.as_bool_str().into();
    rec.residue_files = Some(residue.visible_files());
    rec.residue_packages = Some(residue.packages.len());
    rec.garbage_paths = Some(residue.garbage);
    h.residue_after_failure = Some(residue);
    let state = state::classify(&after, &before, dry.new_state.as_ref(), verdict);
    rec.state_after_crash = Some(state);

    let (final_state, final_snap) = if state == State::Inconsistent {
        rec.playbook_ran = true;
        h.playbook_ran = true;
        let steps = DockerExecutor::run_steps(
            sandbox,
            Phase::Recovery,
            &playbook(a, &s.scenario),
            timeout,
            &[],
        )
        .await?;
        rec.recovery_ms = Some(steps.iter().fold(0.0, |acc, s| acc + s.ms));
        h.steps.extend(steps);
        let snap = ex.snapshot(sandbox, a, &base, h).await?;
        let steps =
            DockerExecutor::run_checks(sandbox, Phase::CheckAfterRecovery, &checks, timeout)
                .await?;
        let v = Verdict::all(steps.iter().map(check_verdict));
        h.steps.extend(steps);
        let st = state::classify(&snap, &before, dry.new_state.as_ref(), v);
        (st, snap)
    } else {
        rec.recovery_ms = Some(0.0);
        (state, after)
    };
    let final_residue = snapshot::residue(&before, &final_snap);
    rec.final_residue_files = Some(final_residue.visible_files());
    h.residue_after_recovery = Some(final_residue);
    rec.state_after_recovery = Some(final_state);
    rec.recovered = if final_state == State::Inconsistent {
        "false"
    } else {
        "true"
    }
    .into();
    Ok(())
}

/// Summary lines for the terminal: per approach, then per syscall family.
pub fn summary(records: &[CrashPointRecord]) -> Vec<String> {
    let mut by: std::collections::BTreeMap<(String, usize, String), Vec<&CrashPointRecord>> =
        std::collections::BTreeMap::new();
    for r in records {
        by.entry((r.approach.clone(), 0, String::new()))
            .or_default()
            .push(r);
        by.entry((
            r.approach.clone(),
            1 + points::family_rank(&r.family),
            r.family.clone(),
        ))
        .or_default()
        .push(r);
    }
    let mut lines = vec![format!(
        "{:<18} {:>6} {:>6} {:>6} {:>6} {:>13} {:>10} {:>12}",
        "approach", "points", "fired", "old", "new", "inconsistent", "recovered", "recov_ms~"
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
        let mut rec_ms: Vec<f64> = judged
            .iter()
            .filter(|r| r.playbook_ran)
            .filter_map(|r| r.recovery_ms)
            .collect();
        rec_ms.sort_by(|x, y| x.total_cmp(y));
        let median = if rec_ms.is_empty() {
            "-".to_string()
        } else {
            format!("{:.0}", rec_ms[rec_ms.len() / 2])
        };
        let label = if family.is_empty() {
            a
        } else {
            format!("  {family}")
        };
        lines.push(format!(
            "{:<18} {:>6} {:>6} {:>5.0}% {:>5.0}% {:>12.0}% {:>9.0}% {:>12}",
            label,
            rs.len(),
            judged.iter().filter(|r| r.fired).count(),
            pct(State::Old),
            pct(State::New),
            pct(State::Inconsistent),
            100.0 * judged.iter().filter(|r| r.recovered == "true").count() as f64 / n,
            median
        ));
    }
    lines
}
