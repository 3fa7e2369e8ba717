//! A trial's history: every step as it happened (command, exit code, time
//! measured inside the container, output tails) and the residue measured
//! between snapshots. Recorded first; the checker judges it afterwards.

use serde::{Deserialize, Serialize};

use crate::snapshot::Residue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Prepare,
    Setup,
    Operation,
    CheckAfterFailure,
    Recovery,
    CheckAfterRecovery,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub phase: Phase,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub scenario: String,
    pub approach: String,
    pub fault: String,
    pub rep: u32,
    pub seed: u64,
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
}

impl History {
    pub fn steps_in(&self, phase: Phase) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |s| s.phase == phase)
    }

    pub fn ms_in(&self, phase: Phase) -> f64 {
        // Folded from +0.0: an empty float sum is -0.0.
        self.steps_in(phase).fold(0.0, |acc, s| acc + s.ms)
    }
}
