//! The checker: judges a recorded history. Each consistency check is valid,
//! invalid or unknown (it could not run or timed out: never counted as
//! valid); the trial's row follows from those verdicts and the residue.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::export::FaultLabel;
pub use crate::export::{Outcome, TriBool, TrialRecord};
use crate::history::{CheckKind, History, Phase, Step};

/// A check's verdict on the system's state. Not `verify::Verdict`: that one
/// judges a guarantee over many rows (with shares), this one one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Valid,
    Invalid,
    Unknown,
}

impl Verdict {
    /// All valid → valid; any invalid → invalid; else unknown.
    pub fn all(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let mut out = Verdict::Valid;
        let mut any = false;
        for v in verdicts {
            any = true;
            match v {
                Verdict::Invalid => return Verdict::Invalid,
                Verdict::Unknown => out = Verdict::Unknown,
                Verdict::Valid => {}
            }
        }
        if any {
            out
        } else {
            Verdict::Unknown
        }
    }

    /// As a results column says it: valid is true, invalid false.
    pub fn as_tri(self) -> TriBool {
        match self {
            Verdict::Valid => TriBool::True,
            Verdict::Invalid => TriBool::False,
            Verdict::Unknown => TriBool::Unknown,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Unknown => "unknown",
        })
    }
}

/// One check's verdict. 126/127: the checker itself could not run; -1: it
/// timed out. Those say nothing about the system under test.
pub fn check_verdict(step: &Step) -> Verdict {
    match step.exit_code {
        0 if step.quiet
            && !(step.stdout_tail.trim().is_empty() && step.stderr_tail.trim().is_empty()) =>
        {
            Verdict::Invalid
        }
        0 => Verdict::Valid,
        -1 | 126 | 127 => Verdict::Unknown,
        _ => Verdict::Invalid,
    }
}

/// The verdict of the checks of `kind` among `steps` (None: no check of
/// that kind ran). Only checks are counted; other steps are skipped.
pub fn verdict_of_kind<'a>(
    steps: impl IntoIterator<Item = &'a Step>,
    kind: CheckKind,
) -> Option<Verdict> {
    let verdicts: Vec<Verdict> = steps
        .into_iter()
        .filter(|s| s.kind_of_check() == Some(kind))
        .map(check_verdict)
        .collect();
    (!verdicts.is_empty()).then(|| Verdict::all(verdicts))
}

/// Distinct attempted side effects (op, path) that landed at least once /
/// never: pip runs a failing setup.py twice when `wheel` is present, which
/// is one attempted side effect made twice.
fn attempt_counts(h: &History) -> (usize, usize) {
    let mut by_path: std::collections::BTreeMap<(&str, &str), bool> =
        std::collections::BTreeMap::new();
    for a in h.operation_attempts() {
        *by_path
            .entry((a.op.as_str(), a.path.as_str()))
            .or_insert(false) |= a.landed;
    }
    let landed = by_path.values().filter(|l| **l).count();
    (landed, by_path.len() - landed)
}

/// A trial's row. `consistent` is the package manager's own checks right
/// after the operation, `probes_ok` the scenario's probes there; the
/// service's health has its own columns (`healthy_*`, from the probe's
/// timeline). `recovered` asks for a known-good state, so it takes every
/// check at the end (a service still down is not recovered).
pub fn judge(h: &History) -> TrialRecord {
    let after_operation = || h.steps_in(Phase::CheckAfterFailure);
    let consistent = verdict_of_kind(after_operation(), CheckKind::Own).unwrap_or(Verdict::Unknown);
    let probes = verdict_of_kind(after_operation(), CheckKind::Probe);
    let retry_step = h.steps_in(Phase::Retry).last();
    let experiment =
        h.steps_in(Phase::Operation).next().is_some() && h.experiment && h.error.is_none();
    let op_ok = h
        .steps_in(Phase::Operation)
        .last()
        .map(|s| s.exit_code == 0);
    // Without a playbook (or a retry) the end state is the state after the
    // operation.
    let end_checks = if h.playbook_ran || retry_step.is_some() {
        Phase::CheckAfterRecovery
    } else {
        Phase::CheckAfterFailure
    };
    let after_recovery = Verdict::all(h.steps_in(end_checks).map(check_verdict));
    let outcome = match (&h.error, h.steps_in(Phase::Operation).last()) {
        (Some(_), _) | (None, None) => Outcome::Errored,
        // The nemesis interrupted it, whatever the exit status says (a
        // SIGTERM'd tool may exit with its own code).
        (None, Some(op)) if op.fault_fired_ms.is_some() => Outcome::Killed,
        (None, Some(op)) if op.exit_code == 0 => Outcome::Succeeded,
        // The agent's own timeout, or a signal from outside the package manager.
        (None, Some(op)) if op.exit_code == -1 || op.exit_code > 128 => Outcome::Killed,
        (None, Some(_)) => Outcome::Failed,
    };
    let errored = outcome == Outcome::Errored;
    // An errored trial is no data: whatever it measured before the error
    // stays in trials.jsonl, and its row claims no result.
    let r1 = h.residue_after_failure.as_ref().filter(|_| !errored);
    let r2 = h.residue_after_recovery.as_ref().filter(|_| !errored);
    let clean = (!errored).then_some(h.clean.as_ref()).flatten();
    let retry = clean.filter(|_| retry_step.is_some());
    let recovered = match (errored, r2) {
        (false, Some(_)) if retry_step.is_some() => matches_clean_install(clean, after_recovery),
        // An experiment is "recovered" when leaving the project left the
        // global system as it was: no global file, no package change.
        (false, Some(r)) if experiment => {
            let unchanged =
                global_paths(r, true) == 0 && r.packages.is_empty() && r.commands.is_empty();
            match after_recovery {
                Verdict::Valid if unchanged => TriBool::True,
                Verdict::Unknown if unchanged => TriBool::Unknown,
                _ => TriBool::False,
            }
        }
        // A successful install's new state is the known-good one: it must
        // equal a clean install of it (`runner::clean_install`). A
        // configuration change (a trial with a service) is the mistake, so
        // only the old state is good there.
        (false, Some(_)) if outcome == Outcome::Succeeded && h.service.is_none() => {
            matches_clean_install(clean, after_recovery)
        }
        (false, Some(r)) => match after_recovery {
            Verdict::Valid if r.visible_changes() == 0 && r.packages.is_empty() => TriBool::True,
            Verdict::Unknown if r.visible_changes() == 0 && r.packages.is_empty() => {
                TriBool::Unknown
            }
            _ => TriBool::False,
        },
        _ => TriBool::Unknown,
    };
    let fleet = if errored { None } else { h.fleet.as_ref() };
    // A fleet is back to known-good when every node serves, answers SSH
    // and holds the old configuration or the new one.
    let recovered = match fleet {
        Some(f) => TriBool::from(
            f.nodes_unhealthy_after_recovery == 0
                && f.nodes_unreachable_after_recovery == 0
                && f.nodes_mixed == 0,
        ),
        None => recovered,
    };
    let in_container_ms: f64 = h.steps.iter().map(|s| s.ms).sum();
    let service = if errored { None } else { h.service.as_ref() };
    TrialRecord {
        scenario: h.scenario.clone(),
        approach: h.approach,
        fault: FaultLabel(h.fault.clone()),
        rep: h.rep,
        seed: h.seed,
        outcome,
        consistent: if errored {
            TriBool::Unknown
        } else {
            consistent.as_tri()
        },
        residue_files: r1.map(|r| r.visible_files()),
        residue_added: r1.map(|r| r.added),
        residue_removed: r1.map(|r| r.removed),
        residue_modified: r1.map(|r| r.modified),
        residue_packages: r1.map(|r| r.packages.len()),
        garbage_paths: r1.map(|r| r.garbage),
        attempts_landed: (!errored).then(|| attempt_counts(h).0),
        attempts_refused: (!errored).then(|| attempt_counts(h).1),
        playbook_ran: h.playbook_ran,
        recovery_ms: (!errored).then(|| h.ms_in(Phase::Recovery)),
        recovered,
        final_residue_files: r2.map(|r| r.visible_files()),
        final_residue_packages: r2.map(|r| r.packages.len()),
        final_garbage_paths: r2.map(|r| r.garbage),
        operation_ms: h.steps_in(Phase::Operation).last().map(|s| s.ms),
        trial_wall_ms: h.timings.wall_ms,
        overhead_ms: (h.timings.wall_ms - in_container_ms).max(0.0),
        error: h.error.clone().unwrap_or_default(),
        healthy_before: service.and_then(|t| t.healthy_before),
        healthy_after_change: service.and_then(|t| t.healthy_after_change),
        detect_ms: service.and_then(|t| t.detect_ms),
        downtime_ms: service.and_then(|t| t.downtime_ms),
        restore_ms: service.and_then(|t| t.restore_ms),
        healthy_after_recovery: service.and_then(|t| t.healthy_after_recovery),
        wanted_edit_lost: service.and_then(|t| t.wanted_edit_lost),
        data_lost: service.and_then(|t| t.data_lost),
        recovery: h.recovery.clone().unwrap_or_default(),
        service: h.service_name.clone().unwrap_or_default(),
        engine: String::new(),
        retry_outcome: retry_step
            .filter(|_| !errored)
            .map(|s| step_outcome(s.exit_code)),
        retry_ms: retry_step
            .filter(|_| !errored)
            .map(|_| h.ms_in(Phase::Retry)),
        retry_diff_files: retry.map(|r| r.difference.visible_files()),
        retry_diff_packages: retry.map(|r| r.difference.packages.len()),
        experiment_ok: experiment.then_some(op_ok).flatten(),
        side_by_side: experiment.then(|| side_by_side(h)).flatten(),
        global_residue_files: experiment
            .then(|| r1.map(|r| global_paths(r, false)))
            .flatten(),
        path_commands: experiment.then(|| r1.map(|r| r.commands.len())).flatten(),
        probes_ok: probes.filter(|_| !errored).map(Verdict::as_tri),
        residue_dirs: r1.map(|r| r.dirs),
        final_residue_dirs: r2.map(|r| r.dirs),
        change_ms: service.and_then(|t| t.change_ms),
        downtime_censored: service.and_then(|t| t.downtime_censored),
        clean_diff_files: clean.map(|c| c.difference.visible_files()),
        clean_diff_packages: clean.map(|c| c.difference.packages.len()),
        nodes: fleet.map(|f| f.nodes),
        broken: fleet.map(|f| f.broken),
        nodes_changed: fleet.map(|f| f.nodes_changed),
        nodes_unhealthy_after_change: fleet.map(|f| f.nodes_unhealthy_after_change),
        fleet_change_ms: fleet.map(|f| f.fleet_change_ms),
        fleet_detect_ms: fleet.and_then(|f| f.fleet_detect_ms),
        fleet_restore_ms: fleet.and_then(|f| f.fleet_restore_ms),
        node_downtime_ms: fleet.map(|f| f.node_downtime_ms),
        nodes_unhealthy_after_recovery: fleet.map(|f| f.nodes_unhealthy_after_recovery),
        nodes_unreachable_after_recovery: fleet.map(|f| f.nodes_unreachable_after_recovery),
        nodes_mixed: fleet.map(|f| f.nodes_mixed),
        fleet_residue_files: fleet.map(|f| f.fleet_residue_files),
    }
}

/// An experiment's second project and the first used again beside it
/// both worked (None without a second project).
fn side_by_side(h: &History) -> Option<bool> {
    let steps: Vec<&Step> = h.steps_in(Phase::SecondProject).collect();
    (steps.len() == 2).then(|| steps.iter().all(|s| s.exit_code == 0))
}

/// Visible paths an experiment changed outside the projects and the store
/// (directories only with `dirs`).
fn global_paths(r: &crate::snapshot::Residue, dirs: bool) -> usize {
    r.paths
        .iter()
        .filter(|p| {
            p.class == crate::snapshot::classify::Class::Visible
                && (dirs || !p.dir)
                && crate::vocab::is_global_path(&p.path)
        })
        .count()
}

/// A command's outcome from its exit code (no fault fires in a retry).
fn step_outcome(exit_code: i64) -> Outcome {
    match exit_code {
        0 => Outcome::Succeeded,
        c if c == -1 || c > 128 => Outcome::Killed,
        _ => Outcome::Failed,
    }
}

/// A retry, or a successful install, recovered when its end state is the
/// clean install's (no visible difference, no package difference) with the
/// checks passing. A clean install that failed or whose checks did not
/// pass is no reference, and no clean install is none: unknown, unless the
/// trial's own checks already fail.
fn matches_clean_install(
    clean: Option<&crate::history::CleanComparison>,
    checks: Verdict,
) -> TriBool {
    let Some(c) = clean else {
        if checks == Verdict::Invalid {
            return TriBool::False;
        }
        return TriBool::Unknown;
    };
    let same = c.difference.visible_changes() == 0 && c.difference.packages.is_empty();
    match (
        checks,
        c.clean_exit_code == 0 && c.clean_checks == Some(true),
    ) {
        (Verdict::Invalid, _) => TriBool::False,
        (_, false) => TriBool::Unknown,
        (Verdict::Valid, true) if same => TriBool::True,
        (Verdict::Unknown, true) if same => TriBool::Unknown,
        _ => TriBool::False,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Timings;
    use crate::snapshot::Residue;

    fn step(phase: Phase, exit_code: i64, out: &str, quiet: bool) -> Step {
        Step {
            phase,
            command: "x".into(),
            exit_code,
            ms: 10.0,
            stdout_tail: out.into(),
            stderr_tail: String::new(),
            quiet,
            fault_fired_ms: None,
            attempts: Vec::new(),
            started_ns: None,
            check: None,
            check_kind: None,
        }
    }

    fn history(steps: Vec<Step>, r1: Residue, r2: Residue) -> History {
        History {
            scenario: "s".into(),
            approach: crate::approach::kind("apt"),
            fault: "none".into(),
            rep: 0,
            seed: 1,
            recovery: None,
            service_name: None,
            steps,
            residue_after_failure: Some(r1),
            residue_after_recovery: Some(r2),
            playbook_ran: true,
            timings: Timings {
                wall_ms: 100.0,
                ..Default::default()
            },
            error: None,
            service: None,
            clean: None,
            experiment: false,
            fleet: None,
        }
    }

    #[test]
    fn quiet_checks_fail_on_output_and_missing_tools_are_unknown() {
        assert_eq!(
            check_verdict(&step(
                Phase::CheckAfterFailure,
                0,
                "fastmath half-configured",
                true
            )),
            Verdict::Invalid
        );
        assert_eq!(
            check_verdict(&step(Phase::CheckAfterFailure, 0, "", true)),
            Verdict::Valid
        );
        assert_eq!(
            check_verdict(&step(Phase::CheckAfterFailure, 0, "ok", false)),
            Verdict::Valid
        );
        assert_eq!(
            check_verdict(&step(Phase::CheckAfterFailure, 127, "", false)),
            Verdict::Unknown
        );
        assert_eq!(
            check_verdict(&step(Phase::CheckAfterFailure, 1, "", false)),
            Verdict::Invalid
        );
        assert_eq!(
            Verdict::all([Verdict::Valid, Verdict::Unknown]),
            Verdict::Unknown
        );
        assert_eq!(
            Verdict::all([Verdict::Unknown, Verdict::Invalid]),
            Verdict::Invalid
        );
        assert_eq!(
            Verdict::all([]),
            Verdict::Unknown,
            "no check at all proves nothing"
        );
    }

    #[test]
    fn row_follows_from_history() {
        let r1 = Residue {
            added: 5,
            modified: 2,
            garbage: 3,
            packages: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        let r2 = Residue {
            added: 1,
            ..Default::default()
        };
        let h = history(
            vec![
                step(Phase::Operation, 100, "", false),
                step(Phase::CheckAfterFailure, 0, "broken", true),
                step(Phase::Recovery, 0, "", false),
                step(Phase::Recovery, 0, "", false),
                step(Phase::CheckAfterRecovery, 0, "", true),
            ],
            r1,
            r2,
        );
        let row = judge(&h);
        assert_eq!(row.outcome, Outcome::Failed);
        assert_eq!(row.consistent, TriBool::False);
        assert_eq!(row.residue_files, Some(7));
        assert_eq!(row.residue_packages, Some(2));
        assert_eq!(row.garbage_paths, Some(3));
        assert_eq!(row.recovery_ms, Some(20.0));
        assert_eq!(row.recovered, TriBool::False, "a file is left");
        assert_eq!(row.final_residue_files, Some(1));
        assert_eq!(row.overhead_ms, 50.0);
    }

    #[test]
    fn an_errored_row_claims_no_result() {
        let r = Residue {
            added: 5,
            ..Default::default()
        };
        let mut h = history(vec![step(Phase::Operation, 1, "", false)], r.clone(), r);
        h.error = Some("engine gone".into());
        let row = judge(&h);
        assert_eq!(row.outcome, Outcome::Errored);
        assert_eq!(row.consistent, TriBool::Unknown);
        assert_eq!(row.recovered, TriBool::Unknown);
        assert_eq!((row.residue_files, row.final_residue_files), (None, None));
        assert_eq!((row.residue_packages, row.garbage_paths), (None, None));
        assert_eq!(row.error, "engine gone");
    }

    #[test]
    fn a_successful_install_is_recovered_when_it_equals_a_clean_install() {
        use crate::history::CleanComparison;
        let r = Residue {
            added: 400,
            packages: vec!["app".into()],
            ..Default::default()
        };
        let mut h = history(
            vec![
                step(Phase::Operation, 0, "", false),
                step(Phase::CheckAfterFailure, 0, "", false),
            ],
            r.clone(),
            r,
        );
        h.playbook_ran = false;
        // Checks passing say nothing about what else the install left.
        let row = judge(&h);
        assert_eq!(row.outcome, Outcome::Succeeded);
        assert_eq!(row.recovered, TriBool::Unknown, "nothing to compare with");
        let same = CleanComparison {
            difference: Residue::default(),
            clean_exit_code: 0,
            clean_checks: Some(true),
            reused: true,
        };
        h.clean = Some(same.clone());
        let row = judge(&h);
        assert_eq!(row.recovered, TriBool::True);
        assert_eq!(
            (row.clean_diff_files, row.clean_diff_packages),
            (Some(0), Some(0))
        );
        assert_eq!(row.retry_diff_files, None, "not a retry");
        let mut differs = same;
        differs.difference.added = 2;
        h.clean = Some(differs);
        let row = judge(&h);
        assert_eq!(row.recovered, TriBool::False);
        assert_eq!(row.clean_diff_files, Some(2));
        // A failing check is not recovered, reference or not.
        h.steps[1].exit_code = 1;
        h.clean = None;
        assert_eq!(judge(&h).recovered, TriBool::False);

        let mut fired = step(Phase::Operation, 0, "", false);
        fired.fault_fired_ms = Some(3.0);
        let h = history(vec![fired], Residue::default(), Residue::default());
        assert_eq!(
            judge(&h).outcome,
            Outcome::Killed,
            "a fired fault is a kill whatever the exit code"
        );
    }

    #[test]
    fn a_configuration_change_is_recovered_only_back_to_the_old_state() {
        // The change applied (exit 0) and the recovery left the service
        // healthy, but one configuration file differs from before (a lost
        // wanted edit): not recovered. Without the residue: recovered.
        let left = Residue {
            modified: 1,
            ..Default::default()
        };
        let steps = vec![
            step(Phase::Operation, 0, "", false),
            step(Phase::CheckAfterFailure, 1, "", false),
            step(Phase::Recovery, 0, "", false),
            step(Phase::CheckAfterRecovery, 0, "", false),
        ];
        let service = crate::service::timeline::Timeline {
            healthy_after_recovery: Some(true),
            wanted_edit_lost: Some(true),
            ..Default::default()
        };
        let mut h = history(steps.clone(), left.clone(), left);
        h.service = Some(service.clone());
        let row = judge(&h);
        assert_eq!(row.outcome, Outcome::Succeeded);
        assert_eq!(row.recovered, TriBool::False);
        assert_eq!(
            (row.healthy_after_recovery, row.wanted_edit_lost),
            (Some(true), Some(true))
        );
        let mut h = history(steps, Residue::default(), Residue::default());
        h.service = Some(service);
        assert_eq!(judge(&h).recovered, TriBool::True);
    }

    /// A check step of `kind`, named as the lifecycle names it.
    fn check(phase: Phase, kind: CheckKind, name: &str, exit_code: i64) -> Step {
        Step {
            check: Some(name.into()),
            check_kind: Some(kind),
            ..step(phase, exit_code, "", false)
        }
    }

    #[test]
    fn consistent_is_the_package_managers_own_checks_only() {
        // A bad configuration took the service down; dpkg is content. The
        // outage is the health columns' to say, not `consistent`'s.
        let health = crate::service::HEALTH_CHECK;
        let steps = vec![
            step(Phase::Operation, 0, "", false),
            check(Phase::CheckAfterFailure, CheckKind::Own, "dpkg --audit", 0),
            check(Phase::CheckAfterFailure, CheckKind::Health, health, 1),
            step(Phase::Recovery, 0, "", false),
            check(Phase::CheckAfterRecovery, CheckKind::Own, "dpkg --audit", 0),
            check(Phase::CheckAfterRecovery, CheckKind::Health, health, 0),
        ];
        let mut h = history(steps, Residue::default(), Residue::default());
        h.service = Some(crate::service::timeline::Timeline {
            healthy_before: Some(true),
            healthy_after_change: Some(false),
            healthy_after_recovery: Some(true),
            ..Default::default()
        });
        let row = judge(&h);
        assert_eq!(row.consistent, TriBool::True);
        assert_eq!(row.probes_ok, None, "no probe in this scenario");
        assert_eq!(
            (row.healthy_after_change, row.healthy_after_recovery),
            (Some(false), Some(true))
        );
        assert_eq!(row.recovered, TriBool::True);

        // A service still down at the end is not recovered, whatever dpkg says.
        let mut down = h.clone();
        down.steps[5].exit_code = 1;
        assert_eq!(judge(&down).recovered, TriBool::False);

        // A history from before kinds were recorded: the health check is
        // told by its name.
        let mut old = h.clone();
        for s in &mut old.steps {
            s.check_kind = None;
        }
        assert_eq!(judge(&old).consistent, TriBool::True);

        // A scenario probe failing goes to `probes_ok`, not `consistent`;
        // one that could not run is unknown.
        let steps = vec![
            step(Phase::Operation, 1, "", false),
            check(Phase::CheckAfterFailure, CheckKind::Own, "pip check", 0),
            check(Phase::CheckAfterFailure, CheckKind::Probe, "imports", 1),
        ];
        let mut h = history(steps, Residue::default(), Residue::default());
        h.playbook_ran = false;
        let row = judge(&h);
        assert_eq!(
            (row.consistent, row.probes_ok),
            (TriBool::True, Some(TriBool::False))
        );
        h.steps[2].exit_code = 127;
        assert_eq!(judge(&h).probes_ok, Some(TriBool::Unknown));
        h.error = Some("gone".into());
        assert_eq!(judge(&h).probes_ok, None, "an errored row claims nothing");
    }

    #[test]
    fn a_retry_is_recovered_only_when_it_matches_a_clean_install() {
        use crate::history::CleanComparison;
        let steps = vec![
            step(Phase::Operation, 1, "", false),
            step(Phase::CheckAfterFailure, 0, "", false),
            step(Phase::Retry, 0, "", false),
            step(Phase::CheckAfterRecovery, 0, "", false),
        ];
        let mut h = history(steps, Residue::default(), Residue::default());
        h.playbook_ran = false;
        let same = CleanComparison {
            difference: Residue::default(),
            clean_exit_code: 0,
            clean_checks: Some(true),
            reused: false,
        };
        h.clean = Some(same.clone());
        let row = judge(&h);
        assert_eq!(row.retry_outcome, Some(Outcome::Succeeded));
        assert_eq!(
            (row.retry_diff_files, row.retry_diff_packages),
            (Some(0), Some(0))
        );
        assert_eq!(row.recovered, TriBool::True);
        assert_eq!(row.recovery_ms, Some(0.0), "no playbook time");
        assert_eq!(row.retry_ms, Some(10.0));

        let mut differs = same.clone();
        differs.difference.added = 1;
        h.clean = Some(differs);
        assert_eq!(judge(&h).recovered, TriBool::False);

        // No reference: the clean install failed, or its checks did not pass.
        let mut failed = same.clone();
        failed.clean_exit_code = 100;
        h.clean = Some(failed);
        assert_eq!(judge(&h).recovered, TriBool::Unknown);
        let mut unknown = same.clone();
        unknown.clean_checks = None;
        h.clean = Some(unknown);
        assert_eq!(judge(&h).recovered, TriBool::Unknown);

        // The comparison never happened (the trial errored before it).
        h.clean = None;
        assert_eq!(judge(&h).recovered, TriBool::Unknown);
        assert_eq!(judge(&h).retry_diff_files, None);

        // Rows of other scenarios leave the retry columns empty.
        let plain = history(
            vec![step(Phase::Operation, 1, "", false)],
            Residue::default(),
            Residue::default(),
        );
        let row = judge(&plain);
        assert_eq!((row.retry_outcome, row.retry_ms), (None, None));
    }

    #[test]
    fn an_experiment_is_judged_by_its_global_residue_and_both_projects() {
        use crate::snapshot::classify::Class;
        use crate::snapshot::manifest::ChangeKind;
        use crate::snapshot::ResiduePath;
        let path = |p: &str, class| ResiduePath {
            path: p.into(),
            kind: ChangeKind::Added,
            class,
            dir: false,
        };
        let in_project = Residue {
            added: 2,
            paths: vec![
                path("/srv/projects/first/venv/x", Class::Visible),
                path("/nix/store/abc-libfoo-1.0", Class::Visible),
                path("/root/.cache/pip/y", Class::Garbage),
            ],
            ..Default::default()
        };
        let steps = |second_ok: i64| {
            vec![
                step(Phase::Operation, 0, "", false),
                step(Phase::SecondProject, 0, "", false),
                step(Phase::SecondProject, second_ok, "", false),
                step(Phase::CheckAfterFailure, 0, "", false),
            ]
        };
        let mut h = history(steps(0), in_project.clone(), in_project.clone());
        h.playbook_ran = false;
        h.experiment = true;
        let row = judge(&h);
        assert_eq!(row.experiment_ok, Some(true));
        assert_eq!(row.side_by_side, Some(true));
        assert_eq!(
            row.global_residue_files,
            Some(0),
            "projects and store are not global"
        );
        assert_eq!(row.recovered, TriBool::True);

        let mut global = in_project.clone();
        global
            .paths
            .push(path("/usr/share/libfoo/VERSION", Class::Visible));
        let mut h = history(steps(1), global.clone(), global);
        h.playbook_ran = false;
        h.experiment = true;
        let row = judge(&h);
        assert_eq!(row.side_by_side, Some(false), "the first project broke");
        assert_eq!(row.global_residue_files, Some(1));
        assert_eq!(row.recovered, TriBool::False);

        // Other rows leave the experiment columns empty.
        let plain = history(
            vec![step(Phase::Operation, 1, "", false)],
            Residue::default(),
            Residue::default(),
        );
        let row = judge(&plain);
        assert_eq!(
            (
                row.experiment_ok,
                row.side_by_side,
                row.global_residue_files
            ),
            (None, None, None)
        );
    }

    #[test]
    fn signals_are_kills_and_errors_are_not_data() {
        let mut h = history(
            vec![step(Phase::Operation, 137, "", false)],
            Residue::default(),
            Residue::default(),
        );
        assert_eq!(judge(&h).outcome, Outcome::Killed);
        h.error = Some("docker went away".into());
        let row = judge(&h);
        assert_eq!(row.outcome, Outcome::Errored);
        assert_eq!(row.recovered, TriBool::Unknown);
        assert_eq!(row.consistent, TriBool::Unknown);
    }
}
