//! A trial's history: every step as it happened (command, exit code, time
//! measured inside the container, output tails) and the residue measured
//! between snapshots. Recorded first; the checker judges it afterwards.

use serde::{Deserialize, Serialize};

use crate::snapshot::Residue;
use crate::vocab::ApproachKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Prepare,
    Setup,
    Operation,
    CheckAfterFailure,
    Recovery,
    CheckAfterRecovery,
    /// A retry scenario's second install, right after the failure.
    Retry,
    /// The clean install a retry is compared with, in a fresh container:
    /// its set-up, install and checks (never the trial's own state).
    CleanInstall,
    /// An isolation experiment's second project, then the first project
    /// used again beside it.
    SecondProject,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub phase: Phase,
    /// For checks: the approach's name for it (`dpkg --audit`, `import + RECORD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// For checks: whose check it is. Absent in histories from before
    /// kinds were recorded (see [`Step::kind_of_check`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_kind: Option<CheckKind>,
    pub command: String,
    /// Exit status as a shell reports it: 128+N for signal N, -1 when the
    /// agent's timeout killed it.
    pub exit_code: i64,
    /// Monotonic time inside the container.
    pub ms: f64,
    pub stdout_tail: String,
    pub stderr_tail: String,
    /// For checks: any output also means failure (`dpkg --audit`).
    #[serde(default)]
    pub quiet: bool,
    /// For the operation: when the nemesis's kill or container kill fired,
    /// in ms after the operation started (None: it did not fire).
    #[serde(default)]
    pub fault_fired_ms: Option<f64>,
    /// The side effects a failing package script attempted, from its own
    /// log in the command's whole output (not the tails).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
    /// When it started on the container's monotonic clock (ns), the clock
    /// the health probe stamps its samples with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ns: Option<u64>,
}

/// Whose check a check step is: each kind is judged into its own columns
/// (`consistent`, the `healthy_*` columns, `probes_ok`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// The package manager's own consistency check (`dpkg --audit`,
    /// `pip check`, `nix-store --verify`).
    Own,
    /// The service's health check (`service::HEALTH_CHECK`).
    Health,
    /// One of the scenario's `[[probe]]`s.
    Probe,
    /// The harness's inspection of the service after the recovery (the
    /// wanted edit kept, the known rows intact): judged into its own
    /// columns (`wanted_edit_lost`, `data_lost`).
    Service,
}

impl Step {
    /// The kind of a check step (None for other steps). A check recorded
    /// before kinds were is the health check by its name, else counted as
    /// the approach's own (probes were not told apart then); every step of
    /// the two check phases is a check, named or not.
    pub fn kind_of_check(&self) -> Option<CheckKind> {
        if let Some(kind) = self.check_kind {
            return Some(kind);
        }
        match self.check.as_deref() {
            Some(crate::service::HEALTH_CHECK) => Some(CheckKind::Health),
            Some(_) => Some(CheckKind::Own),
            None if matches!(
                self.phase,
                Phase::CheckAfterFailure | Phase::CheckAfterRecovery
            ) =>
            {
                Some(CheckKind::Own)
            }
            None => None,
        }
    }
}

/// One side effect a failing package script attempted (a write, append or
/// removal of an absolute path outside its package) and what became of it.
/// Every ecosystem's script makes the same attempts; the mechanism under
/// test (root, build users, the build sandbox) decides whether they land.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// `write`, `append` or `remove`.
    pub op: String,
    pub path: String,
    pub landed: bool,
    /// The uid the script ran as (a Nix build user, or root).
    pub uid: String,
    /// Why it was refused, as the script saw it (empty when it landed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// The marker a failing script prints before each attempt record:
/// `mistake-cost-attempt|#|id|#|op|#|path|#|landed-or-refused|#|uid|#|error`.
/// Not tabs: Nix and pip re-render a build's output and expand tabs to
/// spaces, which would lose the fields.
pub const ATTEMPT_MARKER: &str = "mistake-cost-attempt";
/// The field separator of attempt records (scenario paths may not hold it).
pub use crate::vocab::ATTEMPT_SEP;

/// Parses attempt records, one a line. The same record seen twice (Nix
/// prints a failed build's last log lines again) counts once: `id` is the
/// script's pid and the attempt's number, unique per attempt.
pub fn parse_attempts(text: &str) -> Result<Vec<Attempt>, String> {
    if text.trim() == "!overflow" {
        return Err("the attempt records of one command exceed 1 MiB".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.splitn(7, ATTEMPT_SEP).map(str::trim).collect();
        if f.len() < 6 || f[0] != ATTEMPT_MARKER {
            return Err(format!("malformed attempt record {line:?}"));
        }
        let landed = match f[4] {
            "landed" => true,
            "refused" => false,
            other => {
                return Err(format!(
                    "attempt record {line:?}: `{other}` is neither landed nor refused"
                ))
            }
        };
        if !seen.insert(f[1].to_string()) {
            continue;
        }
        out.push(Attempt {
            op: f[2].into(),
            path: f[3].into(),
            landed,
            uid: f[5].into(),
            error: f.get(6).unwrap_or(&"").trim().into(),
        });
    }
    Ok(out)
}

/// Host-side timings, for the overhead figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub wall_ms: f64,
    pub container_start_ms: f64,
    pub snapshot_ms: f64,
    /// Parts of `snapshot_ms`: the package view, the engine's change list,
    /// hashing the changed paths in the container.
    pub snapshot_view_ms: f64,
    pub snapshot_changes_ms: f64,
    pub snapshot_hash_ms: f64,
    pub container_remove_ms: f64,
    /// The state set-up's time when the trial started from a committed
    /// image of it (`runner::setup_image`): measured once, in the trial (or
    /// explore's template) that made the image, not during this trial. 0 when the trial ran its set-up itself.
    #[serde(default)]
    pub setup_reused_ms: f64,
    /// Committing this trial's own set-up as the pair's image
    /// (`runner::setup_image::commit_in_place`): the harness's time, spent
    /// before the operation. 0 when it made no image.
    #[serde(default)]
    pub setup_commit_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub scenario: String,
    pub approach: ApproachKind,
    /// The fault's label (`FaultLabel` in the results).
    pub fault: String,
    pub rep: u32,
    pub seed: u64,
    /// The configuration recovery this trial runs (`backup`,
    /// `etckeeper`, …): configure scenarios only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<String>,
    /// The service the scenario's `[service]` names (`nginx`, `sshd`,
    /// `postgresql`): rows with a probed service only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    pub steps: Vec<Step>,
    /// Between the snapshot before the operation and the one after it.
    pub residue_after_failure: Option<Residue>,
    /// Between the snapshot before the operation and the one after recovery.
    pub residue_after_recovery: Option<Residue>,
    /// False when the state after the operation needed no recovery.
    pub playbook_ran: bool,
    pub timings: Timings,
    /// A harness or Docker problem: the trial is not data.
    pub error: Option<String>,
    /// What the health probe saw (configure scenarios only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<crate::service::timeline::Timeline>,
    /// The end state against a clean install of the new state in a fresh
    /// container: a retry's, and a successful install's or upgrade's.
    /// (Called `retry` in results before format 3.)
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "retry")]
    pub clean: Option<CleanComparison>,
    /// An isolation experiment (its operation entered a project).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub experiment: bool,
    /// A rollout's fleet: what its nodes and their probes showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetMeasures>,
}

/// A rollout trial's fleet, measured (`fleet::judge`; the columns of the
/// same names in export/schema.rs say what each means).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetMeasures {
    pub nodes: u32,
    pub broken: u32,
    pub nodes_changed: u32,
    pub nodes_unhealthy_after_change: u32,
    pub fleet_change_ms: f64,
    pub fleet_detect_ms: Option<f64>,
    pub fleet_restore_ms: Option<f64>,
    pub node_downtime_ms: f64,
    pub nodes_unhealthy_after_recovery: u32,
    pub nodes_unreachable_after_recovery: u32,
    pub nodes_mixed: u32,
    pub fleet_residue_files: usize,
    /// Per node, in node order: what each showed (for the report and for
    /// a reader of trials.jsonl).
    pub per_node: Vec<NodeMeasures>,
}

/// One node of a fleet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeMeasures {
    pub name: String,
    /// Set up to lack what the change needs.
    pub broken: bool,
    /// Its configuration after the rollout: `old`, `new` or `other`.
    pub after_change: String,
    /// …and at the end.
    pub at_end: String,
    pub unhealthy_after_change: bool,
    pub healthy_at_end: bool,
    pub reachable_at_end: bool,
    /// The deployer still held a shared SSH connection to it
    /// (ControlPersist) when the fleet rollback began: a rollback over
    /// that connection reaches a node whose sshd refuses new ones.
    #[serde(default)]
    pub kept_connection_at_rollback: bool,
    /// The node rolled itself back, by this mechanism (`dead-man switch`,
    /// `deploy-rs auto rollback`), as the node's own record says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_by: Option<String>,
    /// Unhealthy time from the rollout's start to the end of the watch.
    pub downtime_ms: f64,
    /// Rollback start → this node healthy for good (None: never, or no
    /// rollback).
    pub restore_ms: Option<f64>,
    pub residue_files: usize,
    /// Samples its prober took.
    pub samples: usize,
}

/// A trial's end state against a clean install of the same packages in a
/// fresh container from the same image: `difference` is what the trial
/// left that a clean install does not have (or lacks what it has).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanComparison {
    /// Residue from the clean install's end state to the trial's.
    pub difference: Residue,
    /// The clean install's own exit code and checks: a clean install that
    /// fails or is inconsistent is no reference (the comparison is unknown).
    pub clean_exit_code: i64,
    /// Its checks: true all passed, false one failed, None unknown.
    pub clean_checks: Option<bool>,
    /// The clean install was made once for the pair's trials, by another
    /// trial (its steps are in that trial's history), not by this one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
}

impl History {
    /// A history with nothing recorded yet.
    pub fn new(
        scenario: impl Into<String>,
        approach: ApproachKind,
        fault: impl Into<String>,
        rep: u32,
        seed: u64,
    ) -> History {
        History {
            scenario: scenario.into(),
            approach,
            fault: fault.into(),
            rep,
            seed,
            recovery: None,
            service_name: None,
            steps: Vec::new(),
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

    pub fn steps_in(&self, phase: Phase) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |s| s.phase == phase)
    }

    /// The attempts of the operation under test.
    pub fn operation_attempts(&self) -> impl Iterator<Item = &Attempt> {
        self.steps_in(Phase::Operation)
            .flat_map(|s| s.attempts.iter())
    }

    pub fn ms_in(&self, phase: Phase) -> f64 {
        // Folded from +0.0: an empty float sum is -0.0.
        self.steps_in(phase).fold(0.0, |acc, s| acc + s.ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_parse_and_dedupe() {
        let text = "mistake-cost-attempt|#|12.1|#|write|#|/etc/a.conf|#|landed|#|0|#|\n\
                    mistake-cost-attempt|#|12.2|#|remove|#|/etc/b|#|refused|#|30001|#|rm: cannot remove '/etc/b': Permission denied  \n\
                    mistake-cost-attempt|#|12.2|#|remove|#|/etc/b|#|refused|#|30001|#|rm: cannot remove '/etc/b': Permission denied\n";
        let a = parse_attempts(text).unwrap();
        assert_eq!(a.len(), 2);
        assert!(a[0].landed && a[0].error.is_empty() && a[0].path == "/etc/a.conf");
        assert!(!a[1].landed && a[1].error.contains("Permission denied") && a[1].uid == "30001");
        assert!(parse_attempts("").unwrap().is_empty());
        assert!(parse_attempts("!overflow").is_err());
        assert!(parse_attempts("mistake-cost-attempt|#|1|#|write|#|/x|#|maybe|#|0|#|").is_err());
    }
}
