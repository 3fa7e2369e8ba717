//! The one lifecycle every trial and crash point runs in its target:
//! set-up → snapshot (before) → the operation under its fault → snapshot +
//! checks → the recovery playbook when the caller's rule asks → snapshot +
//! checks. `run` and `explore` differ only in the fault and in that rule.
//!
//! Invariants (unit-tested below with a fake target):
//! - every step lands in the history in the order it ran, also when a later
//!   phase fails or the lifecycle is dropped (cancelled) part-way;
//! - a failing set-up step is a harness error: no operation runs;
//! - the checks after the failure and after the recovery are the same list;
//! - a check's verdict is `checker::check_verdict`'s, nowhere else (exit
//!   126/127 or a timeout is unknown, never failed and never passed);
//! - the residue after the operation and at the end are both recorded
//!   whenever the lifecycle completes.
//!
//! The lifecycle owns no container: the caller creates the target and
//! removes it afterwards (`Sandbox` removes itself when dropped).

use std::future::Future;
use std::time::Duration;

use crate::approach::{self, playbook, Approach, TrialCheck};
use crate::checker::{check_verdict, Verdict};
use crate::docker::DockerError;
use crate::history::{CheckKind, History, Phase, Step, Timings};
use crate::nemesis::Fault;
use crate::scenario::Scenario;
use crate::snapshot::{self, Residue, Snapshot};

/// What the lifecycle drives: an approach's sandbox. The real one is a
/// Docker container (`docker_executor::SandboxTarget`); tests use a fake.
pub trait Target: Sync {
    /// Runs `commands` in order, each timed inside the target; `quiet[i]`
    /// marks a check that also fails on any output.
    fn steps(
        &self,
        phase: Phase,
        commands: &[String],
        quiet: &[bool],
        timeout: Duration,
    ) -> impl Future<Output = Result<Vec<Step>, DockerError>> + Send;

    /// The operation under `fault`: its step, the processes an injected
    /// kill ended (empty when none fired) and what a crash point's kill hit.
    fn operation(
        &self,
        fault: &Fault,
        command: String,
        timeout: Duration,
    ) -> impl Future<Output = Result<crate::nemesis::Injected, DockerError>> + Send;

    /// The approach's package view and the changed files, timed into `timings`.
    fn snapshot(
        &self,
        timings: &mut Timings,
    ) -> impl Future<Output = Result<Snapshot, DockerError>> + Send;

    /// The health probe's whole log (`service::timeline::parse`'s input):
    /// empty where no probe runs.
    fn probe_log(&self) -> impl Future<Output = Result<String, DockerError>> + Send {
        async { Ok(String::new()) }
    }

    /// True when the target starts from a committed image of the state
    /// set-up's files ([`approach::SetupParts::files`]): only the approach's `ready`
    /// and the live part run then.
    fn state_set_up(&self) -> bool {
        false
    }

    /// The state set-up's files part has just run here (recorded in `h`),
    /// before any of its processes start: the moment a slow set-up can be
    /// committed as the pair's image. Nothing by default.
    fn files_set_up(
        &self,
        _h: &mut History,
    ) -> impl Future<Output = Result<(), DockerError>> + Send {
        async { Ok(()) }
    }
}

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
    let unchanged = s.residue.visible_changes() == 0 && s.residue.packages.is_empty();
    s.verdict != Verdict::Valid || !(unchanged || succeeded)
}

/// What a lifecycle observed; the history holds every step besides.
pub struct Observed {
    pub before: Snapshot,
    pub after: Snapshot,
    pub verdict_after_operation: Verdict,
    /// The processes an injected kill ended (empty when none fired).
    pub killed: Vec<String>,
    /// What a crash point's kill hit, as the injector logged it.
    pub hit: Vec<String>,
    /// Present when the playbook (or a retry scenario's retry) ran.
    pub recovery: Option<Recovery>,
}

pub struct Recovery {
    /// The playbook's (or the retry's) steps' time, measured inside the
    /// container.
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

/// Prepare and set-up steps; a failing one is a harness error (the trial
/// measures nothing), so no operation runs after it.
pub async fn set_up<T: Target>(
    t: &T,
    a: &dyn Approach,
    s: &Scenario,
    h: &mut History,
) -> Result<(), DockerError> {
    set_up_in(t, Phase::Setup, a, s, h).await
}

/// [`set_up`], its steps recorded under `phase` (a clean install's set-up
/// is not the trial's).
async fn set_up_in<T: Target>(
    t: &T,
    phase: Phase,
    a: &dyn Approach,
    s: &Scenario,
    h: &mut History,
) -> Result<(), DockerError> {
    let timeout = Duration::from_secs(s.scenario.step_timeout_s);
    let mut first: Vec<String> = a.ready().into_iter().collect();
    let parts = state_setup_parts(a, s);
    let from_image = t.state_set_up();
    if !from_image {
        first.extend(parts.files);
    }
    run_set_up_steps(t, phase, &first, timeout, h).await?;
    if !from_image {
        t.files_set_up(h).await?;
    }
    run_set_up_steps(t, phase, &parts.live, timeout, h).await
}

async fn run_set_up_steps<T: Target>(
    t: &T,
    phase: Phase,
    commands: &[String],
    timeout: Duration,
    h: &mut History,
) -> Result<(), DockerError> {
    if commands.is_empty() {
        return Ok(());
    }
    let steps = t.steps(phase, commands, &[], timeout).await?;
    let failed = steps.iter().find(|s| s.exit_code != 0).cloned();
    h.steps.extend(steps);
    match failed {
        Some(f) => Err(DockerError::Other(format!(
            "set-up step `{}` failed (exit {}): {}",
            f.command, f.exit_code, f.stderr_tail
        ))),
        None => Ok(()),
    }
}

/// The set-up after the approach's `ready`, in order: what a trial's
/// container must hold before the snapshot before the operation.
pub fn state_setup(a: &dyn Approach, s: &Scenario) -> Vec<String> {
    let parts = state_setup_parts(a, s);
    parts.files.into_iter().chain(parts.live).collect()
}

/// [`state_setup`] in its two parts; the live part runs in every trial,
/// also in one started from the committed files.
pub fn state_setup_parts(a: &dyn Approach, s: &Scenario) -> approach::SetupParts {
    let mut files = a.prepare();
    files.extend(approach::setup_command(a, s));
    let service = approach::service_setup_parts(a, s);
    files.extend(service.files);
    let mut live = service.live;
    // After the service has started, as it always ran: a repository that
    // moves on is a change the running service must not see first.
    let moves_on = approach::repository_moves_on(a, s);
    if live.is_empty() {
        files.extend(moves_on);
    } else {
        live.extend(moves_on);
    }
    approach::SetupParts { files, live }
}

/// Whether part of the state set-up can be committed as an image: it
/// leaves files behind (a venv, old versions, etckeeper's repository of
/// /etc) before any process starts.
pub fn state_setup_is_committable(a: &dyn Approach, s: &Scenario) -> bool {
    !state_setup_parts(a, s).files.is_empty()
}

/// Runs `checks`, each step named after its check and marked with its kind.
pub async fn run_checks<T: Target>(
    t: &T,
    phase: Phase,
    checks: &[TrialCheck],
    timeout: Duration,
) -> Result<Vec<Step>, DockerError> {
    let commands: Vec<String> = checks.iter().map(|c| c.check.command.clone()).collect();
    let quiet: Vec<bool> = checks.iter().map(|c| c.check.quiet).collect();
    let mut steps = t.steps(phase, &commands, &quiet, timeout).await?;
    for (step, c) in steps.iter_mut().zip(checks) {
        step.check = Some(c.check.name.clone());
        step.check_kind = Some(c.kind);
    }
    Ok(steps)
}

/// Runs the lifecycle in `t`, recording into `h` (steps, residue after the
/// operation and at the end, whether the playbook ran).
pub async fn run<T: Target>(
    t: &T,
    req: Request<'_>,
    hooks: &dyn Hooks,
    h: &mut History,
) -> Result<Observed, DockerError> {
    let (a, s) = (req.approach, req.scenario);
    let timeout = Duration::from_secs(s.scenario.step_timeout_s);

    hooks.phase(Phase::Prepare);
    set_up(t, a, s, h).await?;
    let before = t.snapshot(&mut h.timings).await?;

    hooks.phase(Phase::Operation);
    let crate::nemesis::Injected {
        step: op,
        killed,
        hit,
    } = t
        .operation(req.fault, approach::operation_command(a, s), timeout)
        .await?;
    // Recorded at once: a failing snapshot below must not lose it.
    h.steps.push(op.clone());
    let experiment = *s.operation.kind.get_ref() == crate::scenario::OperationKind::Experiment;
    h.experiment = experiment;
    if experiment {
        // The second project, then the first used again beside it: two
        // steps whose exit codes say whether both work side by side.
        if let (Some(first), Some(second)) = approach::experiment_projects(a, s) {
            hooks.phase(Phase::SecondProject);
            let steps = t
                .steps(
                    Phase::SecondProject,
                    &[second.enter, first.check],
                    &[],
                    timeout,
                )
                .await?;
            h.steps.extend(steps);
        }
    }

    hooks.phase(Phase::CheckAfterFailure);
    let after = t.snapshot(&mut h.timings).await?;
    let checks = approach::checks_and_probes(a, s);
    let check_steps = run_checks(t, Phase::CheckAfterFailure, &checks, timeout).await?;
    let verdict = Verdict::all(check_steps.iter().map(check_verdict));
    h.steps.extend(check_steps);
    let residue = snapshot::residue(&before, &after);
    // A retry scenario's person installs again at once, whatever the state:
    // the retry takes the playbook's place, and nothing else runs between.
    let retry = approach::retry_command(a, s);
    // An experiment's measure is what leaving the project left: no playbook.
    let recover = !experiment
        && (retry.is_some()
            || hooks.needs_recovery(&AfterOperation {
                before: &before,
                after: &after,
                residue: &residue,
                verdict,
                operation: &op,
            }));
    h.residue_after_failure = Some(residue);

    let recovery = if recover {
        let (phase, commands) = match retry {
            Some(command) => (Phase::Retry, vec![command]),
            None => {
                h.playbook_ran = true;
                (Phase::Recovery, playbook(a, s))
            }
        };
        hooks.phase(phase);
        let steps = t.steps(phase, &commands, &[], timeout).await?;
        let playbook_ms = steps.iter().map(|s| s.ms).sum();
        h.steps.extend(steps);
        hooks.phase(Phase::CheckAfterRecovery);
        let snapshot = t.snapshot(&mut h.timings).await?;
        let mut end_checks = checks.clone();
        end_checks.extend(approach::service_state_checks(s));
        let steps = run_checks(t, Phase::CheckAfterRecovery, &end_checks, timeout).await?;
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
        hit,
        recovery,
    };
    h.residue_after_recovery = Some(snapshot::residue(
        &observed.before,
        observed.final_snapshot(),
    ));
    if let Some(spec) = &s.service {
        h.service = service_timeline(t, h, *spec.settle_ms.get_ref()).await?;
    }
    Ok(observed)
}

/// The command whose clean install a trial's end state must equal: a
/// retry scenario's retry; the operation itself when it is an install or
/// an upgrade that succeeded undisturbed (its new state is the good one).
/// None when the state to equal is the one before (a failed or interrupted
/// operation, a configuration change) or an experiment's.
pub fn clean_install_command(a: &dyn Approach, s: &Scenario, h: &History) -> Option<String> {
    use crate::scenario::OperationKind;
    if s.retry.is_some() {
        return approach::retry_command(a, s);
    }
    let op = h.steps_in(Phase::Operation).last()?;
    let installs = matches!(
        s.operation.kind.get_ref(),
        OperationKind::Install | OperationKind::Upgrade
    );
    let undisturbed = op.exit_code == 0 && op.fault_fired_ms.is_none();
    (installs && undisturbed && s.service.is_none() && h.error.is_none())
        .then(|| approach::operation_command(a, s))
}

/// A clean install's end state and whether it is a reference at all.
#[derive(Debug, Clone)]
pub struct CleanInstall {
    pub snapshot: Snapshot,
    pub exit_code: i64,
    /// Its checks: true all passed, false one failed, None unknown.
    pub checks: Option<bool>,
}

impl CleanInstall {
    /// `end` (a trial's end state) against this clean install.
    pub fn compare(&self, end: &Snapshot, reused: bool) -> crate::history::CleanComparison {
        crate::history::CleanComparison {
            difference: snapshot::residue(&self.snapshot, end),
            clean_exit_code: self.exit_code,
            clean_checks: self.checks,
            reused,
        }
    }
}

/// A clean install in `t`, a fresh target from the same image as the
/// trial's: the set-up, then `command` alone, snapshot and checks (all
/// recorded in `h` under `Phase::CleanInstall`).
pub async fn clean_install<T: Target>(
    t: &T,
    a: &dyn Approach,
    s: &Scenario,
    command: String,
    h: &mut History,
) -> Result<CleanInstall, DockerError> {
    let timeout = Duration::from_secs(s.scenario.step_timeout_s);
    set_up_in(t, Phase::CleanInstall, a, s, h).await?;
    let install = t
        .steps(Phase::CleanInstall, &[command], &[], timeout)
        .await?;
    let exit_code = install.first().map_or(-1, |s| s.exit_code);
    h.steps.extend(install);
    let snapshot = t.snapshot(&mut h.timings).await?;
    let checks = approach::checks_and_probes(a, s);
    let steps = run_checks(t, Phase::CleanInstall, &checks, timeout).await?;
    let checks = match Verdict::all(steps.iter().map(check_verdict)) {
        Verdict::Valid => Some(true),
        Verdict::Invalid => Some(false),
        Verdict::Unknown => None,
    };
    h.steps.extend(steps);
    Ok(CleanInstall {
        snapshot,
        exit_code,
        checks,
    })
}

/// The probe's samples around the operation and the recovery, on the
/// container's clock. None when the operation has no start time on it (a
/// container kill restarts the container, and the probe with it).
async fn service_timeline<T: Target>(
    t: &T,
    h: &History,
    settle_ms: u64,
) -> Result<Option<crate::service::timeline::Timeline>, DockerError> {
    use crate::service::timeline;
    let Some(op) = h.steps_in(Phase::Operation).next() else {
        return Ok(None);
    };
    let Some(change) = op.started_ns else {
        return Ok(None);
    };
    let change_end = change + (op.ms * 1e6) as u64;
    let at = timeline::Moments {
        change,
        change_end,
        reaction_end: change_end + settle_ms * 1_000_000,
        recovery: h
            .steps_in(Phase::Recovery)
            .next()
            .and_then(|s| s.started_ns),
    };
    let samples = timeline::parse(&t.probe_log().await?).map_err(DockerError::Other)?;
    let mut judged = timeline::judge(&samples, at);
    // The harness's inspections after the recovery: 0 kept / intact, 1
    // lost; anything else (the server cannot be asked) says nothing.
    let inspected = |name: &str| {
        h.steps_in(Phase::CheckAfterRecovery)
            .find(|s| {
                s.kind_of_check() == Some(CheckKind::Service) && s.check.as_deref() == Some(name)
            })
            .and_then(|s| match s.exit_code {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            })
    };
    judged.wanted_edit_lost = inspected(crate::service::WANTED_CHECK);
    judged.data_lost = inspected(crate::service::DATA_CHECK);
    Ok(Some(judged))
}

#[cfg(test)]
mod tests {
    //! The lifecycle against a fake target: which phases run in which
    //! order, how check results become verdicts, and what a failure or a
    //! cancellation leaves in the history. No Docker involved.

    use super::*;
    use crate::approach::approach;
    use crate::snapshot::manifest::{Entry, EntryKind};
    use std::collections::{BTreeMap, BTreeSet, VecDeque};
    use std::sync::{Arc, Mutex};

    const SCENARIO: &str = r#"
[scenario]
name = "t"
approaches = ["apt"]

[[package]]
name = "fastmath"
version = "1.0"
files = [{ path = "lib/a.dat", size = 10 }]
[package.fail]
step = "configure"

[operation]
kind = "install"
packages = ["fastmath"]
"#;

    /// How the fake answers a step: its exit code and stdout.
    type Rule = Box<dyn Fn(Phase, &str) -> (i64, &'static str) + Send + Sync>;

    /// A scripted target: answers steps by `rule`, returns `snapshots` in
    /// order, and logs every call.
    struct Fake {
        rule: Rule,
        snapshots: Mutex<VecDeque<Result<Snapshot, DockerError>>>,
        log: Mutex<Vec<String>>,
        /// The operation never returns (to cancel the lifecycle there).
        hang: bool,
    }

    fn step(phase: Phase, command: &str, code: i64, out: &str, quiet: bool) -> Step {
        Step {
            phase,
            check: None,
            check_kind: None,
            command: command.into(),
            exit_code: code,
            ms: 1.0,
            stdout_tail: out.into(),
            stderr_tail: String::new(),
            quiet,
            fault_fired_ms: None,
            attempts: Vec::new(),
            started_ns: None,
        }
    }

    impl Target for Fake {
        async fn steps(
            &self,
            phase: Phase,
            commands: &[String],
            quiet: &[bool],
            _: Duration,
        ) -> Result<Vec<Step>, DockerError> {
            let mut log = self.log.lock().unwrap();
            Ok(commands
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    log.push(format!("{phase:?}"));
                    let (code, out) = (self.rule)(phase, c);
                    step(phase, c, code, out, quiet.get(i).copied().unwrap_or(false))
                })
                .collect())
        }

        async fn operation(
            &self,
            _: &Fault,
            command: String,
            _: Duration,
        ) -> Result<crate::nemesis::Injected, DockerError> {
            self.log.lock().unwrap().push("Operation".into());
            if self.hang {
                std::future::pending::<()>().await;
            }
            let (code, out) = (self.rule)(Phase::Operation, &command);
            Ok(crate::nemesis::Injected {
                step: step(Phase::Operation, &command, code, out, false),
                killed: Vec::new(),
                hit: Vec::new(),
            })
        }

        async fn snapshot(&self, _: &mut Timings) -> Result<Snapshot, DockerError> {
            self.log.lock().unwrap().push("snapshot".into());
            self.snapshots
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| Err(DockerError::Other("no snapshot scripted".into())))
        }
    }

    /// A snapshot with these files changed over an empty image.
    fn snap(files: &[&str]) -> Result<Snapshot, DockerError> {
        let entry = Entry {
            kind: EntryKind::File,
            mode: 0o644,
            owner: "0:0".into(),
            size: 1,
            hash: Some("h".into()),
        };
        Ok(Snapshot {
            base: Arc::new(BTreeMap::new()),
            overlay: files
                .iter()
                .map(|f| (f.to_string(), Some(entry.clone())))
                .collect(),
            packages: BTreeMap::new(),
            live: BTreeSet::new(),
            commands: BTreeSet::new(),
        })
    }

    fn fake(
        rule: impl Fn(Phase, &str) -> (i64, &'static str) + Send + Sync + 'static,
        snapshots: Vec<Result<Snapshot, DockerError>>,
    ) -> Fake {
        Fake {
            rule: Box::new(rule),
            snapshots: Mutex::new(snapshots.into()),
            log: Mutex::new(Vec::new()),
            hang: false,
        }
    }

    /// Hooks that note each phase and apply the trial's recovery rule.
    #[derive(Default)]
    struct Phases(Mutex<Vec<Phase>>);

    impl Hooks for Phases {
        fn phase(&self, phase: Phase) {
            self.0.lock().unwrap().push(phase);
        }
        fn needs_recovery(&self, s: &AfterOperation) -> bool {
            trial_needs_recovery(s)
        }
    }

    async fn drive(t: &Fake) -> (Result<Observed, DockerError>, History, Vec<Phase>) {
        let scenario = crate::scenario::parse(SCENARIO).unwrap();
        let a = approach(crate::approach::kind("apt"));
        let hooks = Phases::default();
        let mut h = History::new("t", crate::approach::kind("apt"), "none", 0, 0);
        let req = Request {
            approach: a.as_ref(),
            scenario: &scenario,
            fault: &Fault::None,
        };
        let r = run(t, req, &hooks, &mut h).await;
        let phases = hooks.0.into_inner().unwrap();
        (r, h, phases)
    }

    /// Phases of the recorded steps, consecutive repeats collapsed.
    fn step_phases(h: &History) -> Vec<Phase> {
        let mut out: Vec<Phase> = h.steps.iter().map(|s| s.phase).collect();
        out.dedup();
        out
    }

    fn fails_operation(phase: Phase, _: &str) -> (i64, &'static str) {
        (if phase == Phase::Operation { 1 } else { 0 }, "")
    }

    #[tokio::test]
    async fn a_failed_operation_runs_every_phase_in_order() {
        let t = fake(
            fails_operation,
            vec![snap(&[]), snap(&["/etc/x"]), snap(&[])],
        );
        let (r, h, phases) = drive(&t).await;
        let seen = r.unwrap();
        use Phase::*;
        assert_eq!(
            phases,
            [
                Prepare,
                Operation,
                CheckAfterFailure,
                Recovery,
                CheckAfterRecovery
            ]
        );
        assert_eq!(
            step_phases(&h),
            [
                Setup,
                Operation,
                CheckAfterFailure,
                Recovery,
                CheckAfterRecovery
            ]
        );
        // The same checks, by name, after the failure and after the recovery.
        let names = |p| h.steps_in(p).map(|s| s.check.clone()).collect::<Vec<_>>();
        assert!(!names(CheckAfterFailure).is_empty());
        assert!(names(CheckAfterFailure).iter().all(Option::is_some));
        assert_eq!(names(CheckAfterFailure), names(CheckAfterRecovery));
        assert_eq!(
            t.log
                .lock()
                .unwrap()
                .iter()
                .filter(|l| *l == "snapshot")
                .count(),
            3
        );
        assert!(h.playbook_ran);
        assert_eq!(h.residue_after_failure.as_ref().unwrap().visible_files(), 1);
        assert_eq!(
            h.residue_after_recovery.as_ref().unwrap().visible_files(),
            0
        );
        let recovery = seen.recovery.expect("the playbook ran");
        assert_eq!(recovery.verdict, Verdict::Valid);
        assert_eq!(
            recovery.playbook_ms,
            h.steps_in(Recovery).map(|s| s.ms).sum::<f64>()
        );
    }

    /// A retry scenario: the retry takes the playbook's place, also when
    /// nothing visible changed (the person installs again at once), and
    /// the clean install compares its own state with the retry's end.
    #[tokio::test]
    async fn a_retry_replaces_the_playbook_and_is_compared_with_a_clean_install() {
        let text = SCENARIO.replace(
            "[operation]",
            "[[package]]\nname = \"quickmath\"\nversion = \"1.0\"\nfiles = [{ path = \"lib/q.dat\", size = 10 }]\n[retry]\npackages = [\"quickmath\"]\n[operation]",
        );
        let scenario = crate::scenario::parse(&text).unwrap();
        let a = approach(crate::approach::kind("apt"));
        let t = fake(
            fails_operation,
            vec![snap(&[]), snap(&[]), snap(&["/etc/x", "/q"])],
        );
        let hooks = Phases::default();
        let mut h = History::new("t", crate::approach::kind("apt"), "none", 0, 0);
        let req = Request {
            approach: a.as_ref(),
            scenario: &scenario,
            fault: &Fault::None,
        };
        let seen = run(&t, req, &hooks, &mut h).await.unwrap();
        use Phase::*;
        assert_eq!(
            hooks.0.into_inner().unwrap(),
            [
                Prepare,
                Operation,
                CheckAfterFailure,
                Retry,
                CheckAfterRecovery
            ]
        );
        assert!(!h.playbook_ran, "no playbook ran");
        let retry: Vec<String> = h.steps_in(Retry).map(|s| s.command.clone()).collect();
        assert_eq!(retry.len(), 1);
        assert!(retry[0].contains("quickmath"), "{}", retry[0]);
        assert_eq!(h.steps_in(Recovery).count(), 0);

        // The clean install, in another target: set-up, the same command,
        // its checks; its state lacks /etc/x, so that is the difference.
        let clean = fake(|_, _| (0, ""), vec![snap(&["/q"])]);
        let command = clean_install_command(a.as_ref(), &scenario, &h).expect("a retry");
        assert_eq!(command, retry[0]);
        let reference = clean_install(&clean, a.as_ref(), &scenario, command, &mut h)
            .await
            .unwrap();
        let c = reference.compare(seen.final_snapshot(), false);
        assert_eq!((c.clean_exit_code, c.clean_checks), (0, Some(true)));
        assert_eq!(c.difference.visible_files(), 1);
        assert!(h.steps_in(CleanInstall).any(|s| s.command == retry[0]));
    }

    #[tokio::test]
    async fn a_clean_success_or_an_unchanged_failure_needs_no_recovery() {
        let ok: Rule = Box::new(|_, _| (0, ""));
        for (rule, after) in [
            (ok, snap(&["/usr/lib/a.dat"])),
            (Box::new(fails_operation) as Rule, snap(&[])),
        ] {
            let t = fake(rule, vec![snap(&[]), after]);
            let (r, h, phases) = drive(&t).await;
            let seen = r.unwrap();
            assert!(seen.recovery.is_none() && !h.playbook_ran);
            assert_eq!(phases.last(), Some(&Phase::CheckAfterFailure));
            assert_eq!(h.steps_in(Phase::Recovery).count(), 0);
            // Without a playbook the end state is the state after the operation.
            assert_eq!(h.residue_after_recovery, h.residue_after_failure);
        }
    }

    #[tokio::test]
    async fn a_check_that_cannot_decide_is_unknown_never_failed_or_passed() {
        // 126/127: the check could not run; -1: it timed out.
        for (code, expected) in [
            (0, Verdict::Valid),
            (1, Verdict::Invalid),
            (126, Verdict::Unknown),
            (127, Verdict::Unknown),
            (-1, Verdict::Unknown),
        ] {
            let t = fake(
                move |p, _| {
                    (
                        if p == Phase::CheckAfterFailure {
                            code
                        } else {
                            0
                        },
                        "",
                    )
                },
                vec![snap(&[]), snap(&[]), snap(&[])],
            );
            let (r, h, _) = drive(&t).await;
            let seen = r.unwrap();
            assert_eq!(seen.verdict_after_operation, expected, "check exit {code}");
            // Anything but a passing check sends the trial to recovery, even
            // when nothing visible changed.
            assert_eq!(
                h.playbook_ran,
                expected != Verdict::Valid,
                "check exit {code}"
            );
        }
    }

    #[tokio::test]
    async fn a_quiet_check_with_output_fails() {
        // `dpkg --audit` exits 0 while listing broken packages.
        let t = fake(
            |p, _| {
                (
                    0,
                    if p == Phase::CheckAfterFailure {
                        "broken"
                    } else {
                        ""
                    },
                )
            },
            vec![snap(&[]), snap(&[]), snap(&[])],
        );
        let scenario_checks = approach(crate::approach::kind("apt"))
            .checks(&crate::scenario::parse(SCENARIO).unwrap());
        assert!(
            scenario_checks.iter().any(|c| c.quiet),
            "apt has a quiet check"
        );
        let (r, _, _) = drive(&t).await;
        assert_eq!(r.unwrap().verdict_after_operation, Verdict::Invalid);
    }

    #[tokio::test]
    async fn a_failing_set_up_stops_before_the_operation() {
        let t = fake(
            |p, _| (if p == Phase::Setup { 2 } else { 0 }, ""),
            vec![snap(&[])],
        );
        let (r, h, _) = drive(&t).await;
        let e = r.err().expect("a failing set-up is an error");
        assert!(e.to_string().contains("set-up step"), "{e}");
        assert!(!t.log.lock().unwrap().iter().any(|l| l == "Operation"));
        assert!(h.steps.iter().all(|s| s.phase == Phase::Setup) && !h.steps.is_empty());
        assert!(h.residue_after_failure.is_none());
    }

    #[tokio::test]
    async fn an_error_after_the_operation_keeps_the_operation_step() {
        let t = fake(
            fails_operation,
            vec![snap(&[]), Err(DockerError::Other("engine gone".into()))],
        );
        let (r, h, _) = drive(&t).await;
        assert!(r.is_err());
        assert_eq!(step_phases(&h), [Phase::Setup, Phase::Operation]);
        assert_eq!(h.steps_in(Phase::Operation).next().unwrap().exit_code, 1);
        assert!(h.residue_after_failure.is_none() && h.residue_after_recovery.is_none());
    }

    #[tokio::test]
    async fn a_cancelled_lifecycle_keeps_what_it_recorded() {
        let t = Fake {
            hang: true,
            ..fake(fails_operation, vec![snap(&[])])
        };
        let scenario = crate::scenario::parse(SCENARIO).unwrap();
        let a = approach(crate::approach::kind("apt"));
        let mut h = History::new("t", crate::approach::kind("apt"), "none", 0, 0);
        let req = Request {
            approach: a.as_ref(),
            scenario: &scenario,
            fault: &Fault::None,
        };
        // Dropping the future is how the scheduler cancels a trial.
        let dropped = tokio::time::timeout(
            Duration::from_millis(50),
            run(&t, req, &Phases::default(), &mut h),
        )
        .await;
        assert!(dropped.is_err(), "the operation hangs until cancelled");
        assert_eq!(step_phases(&h), [Phase::Setup]);
        assert!(!h.playbook_ran && h.residue_after_failure.is_none());
    }

    /// A service's set-up is cut where the service starts: what comes
    /// before is files an image can hold (here etckeeper's install), what
    /// comes after runs in every trial; together, the set-up in its order.
    #[test]
    fn a_service_set_up_is_cut_where_the_service_starts() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/bad-config-wrong-root-etckeeper.toml"
        ))
        .unwrap();
        let scenario = crate::scenario::parse(&text).unwrap();
        let apt = approach(crate::vocab::ApproachKind::lookup("apt").unwrap());
        let parts = state_setup_parts(apt.as_ref(), &scenario);
        assert!(
            parts.files.iter().any(|c| c.contains("dpkg -i")),
            "{parts:?}"
        );
        assert!(
            !parts.files.iter().any(|c| c.contains("nginx -t")),
            "{parts:?}"
        );
        // The live part starts the service (after making sure the
        // container resolves `localhost`).
        assert!(parts.live[1].starts_with("nginx"), "{parts:?}");
        assert_eq!(
            state_setup(apt.as_ref(), &scenario),
            [parts.files.clone(), parts.live].concat()
        );
        assert!(state_setup_is_committable(apt.as_ref(), &scenario));

        // Without a service everything is files.
        let plain = crate::scenario::parse(SCENARIO).unwrap();
        let parts = state_setup_parts(apt.as_ref(), &plain);
        assert!(parts.live.is_empty());
        assert_eq!(parts.files, state_setup(apt.as_ref(), &plain));
    }
}
