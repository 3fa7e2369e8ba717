//! The one lifecycle every trial and crash point runs in its sandbox:
//! set-up → snapshot (before) → the operation under its fault → snapshot +
//! checks → the recovery playbook when the caller's rule asks → snapshot +
//! checks. `run` and `explore` differ only in the fault and in that rule.
//!
//! Invariants: every step lands in the history in the order it ran; the
//! checks after the failure and after the recovery are the same list; the
//! verdict of a check is `checker::check_verdict`'s, nowhere else.

use std::time::Duration;

use super::docker_executor::DockerExecutor;
use crate::approach::{playbook, Approach};
use crate::checker::{check_verdict, Verdict};
use crate::docker::{DockerError, Sandbox};
use crate::history::{History, Phase, Step};
use crate::nemesis::Fault;
use crate::scenario::Scenario;
use crate::snapshot::{self, Residue, Snapshot};

/// What one lifecycle runs: which approach, in which scenario, under which fault.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    pub approach: &'a dyn Approach,
    pub scenario: &'a Scenario,
    pub fault: &'a Fault,
}

/// The state right after the operation, as the recovery rule sees it.
pub struct AfterOperation<'a> {
    pub before: &'a Snapshot,
    pub after: &'a Snapshot,
    pub residue: &'a Residue,
    /// The checks' combined verdict.
    pub verdict: Verdict,
    pub operation: &'a Step,
}

/// What the caller hears and decides between the phases.
pub trait Hooks: Sync {
    /// A phase starts (the progress display listens).
    fn phase(&self, _phase: Phase) {}
    /// Whether the recovery playbook runs.
    fn needs_recovery(&self, state: &AfterOperation) -> bool;
}

/// A trial's rule: known-good states need no recovery — the old state
/// (nothing visible changed) or, when the operation succeeded undisturbed,
/// the new one — with the checks passing either way.
pub fn trial_needs_recovery(s: &AfterOperation) -> bool {
    let succeeded = s.operation.exit_code == 0 && s.operation.fault_fired_ms.is_none();
    let unchanged = s.residue.visible_files() == 0 && s.residue.packages.is_empty();
    s.verdict != Verdict::Valid || !(unchanged || succeeded)
}

/// What a lifecycle observed; the history holds every step besides.
pub struct Observed {
    pub before: Snapshot,
    pub after: Snapshot,
    pub verdict_after_operation: Verdict,
    /// The processes an injected kill ended (empty when none fired).
    pub killed: Vec<String>,
    /// Present when the playbook ran.
    pub recovery: Option<Recovery>,
}

pub struct Recovery {
    /// The playbook's steps' time, measured inside the container.
    pub playbook_ms: f64,
    pub snapshot: Snapshot,
    pub verdict: Verdict,
}

impl Observed {
    /// The end state: after the playbook if it ran, else after the operation.
    pub fn final_snapshot(&self) -> &Snapshot {
        self.recovery.as_ref().map_or(&self.after, |r| &r.snapshot)
    }
}

impl DockerExecutor {
    /// Runs the lifecycle in `sandbox`, recording into `h` (steps, residue
    /// after the operation and at the end, whether the playbook ran).
    pub async fn lifecycle(
        &self,
        sandbox: &Sandbox,
        req: Request<'_>,
        hooks: &dyn Hooks,
        h: &mut History,
    ) -> Result<Observed, DockerError> {
        let (a, s) = (req.approach, req.scenario);
        let timeout = Duration::from_secs(s.scenario.step_timeout_s);
        let base = self.base_manifest(a.family()).await?;

        hooks.phase(Phase::Prepare);
        self.set_up(sandbox, a, s, h).await?;
        let before = self.snapshot(sandbox, a, &base, h).await?;

        hooks.phase(Phase::Operation);
        let (op, killed) = self
            .operation(
                sandbox,
                a,
                req.fault,
                crate::approach::operation_command(a, s),
                timeout,
            )
            .await?;

        hooks.phase(Phase::CheckAfterFailure);
        let after = self.snapshot(sandbox, a, &base, h).await?;
        let checks = crate::approach::checks_and_probes(a, s);
        let check_steps =
            Self::run_checks(sandbox, Phase::CheckAfterFailure, &checks, timeout).await?;
        let verdict = Verdict::all(check_steps.iter().map(check_verdict));
        let residue = snapshot::residue(&before, &after);
        let recover = hooks.needs_recovery(&AfterOperation {
            before: &before,
            after: &after,
            residue: &residue,
            verdict,
            operation: &op,
        });
        h.steps.push(op);
        h.steps.extend(check_steps);
        h.residue_after_failure = Some(residue);

        let recovery = if recover {
            hooks.phase(Phase::Recovery);
            h.playbook_ran = true;
            let steps =
                Self::run_steps(sandbox, Phase::Recovery, &playbook(a, s), timeout, &[]).await?;
            let playbook_ms = steps.iter().map(|s| s.ms).sum();
            h.steps.extend(steps);
            hooks.phase(Phase::CheckAfterRecovery);
            let snapshot = self.snapshot(sandbox, a, &base, h).await?;
            let steps =
                Self::run_checks(sandbox, Phase::CheckAfterRecovery, &checks, timeout).await?;
            let verdict = Verdict::all(steps.iter().map(check_verdict));
            h.steps.extend(steps);
            Some(Recovery {
                playbook_ms,
                snapshot,
                verdict,
            })
        } else {
            None
        };
        let observed = Observed {
            before,
            after,
            verdict_after_operation: verdict,
            killed,
            recovery,
        };
        h.residue_after_recovery = Some(snapshot::residue(
            &observed.before,
            observed.final_snapshot(),
        ));
        Ok(observed)
    }
}
