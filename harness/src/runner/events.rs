//! Events between the runner and the reporting side (progress bar,
//! exporters), so neither knows the other.

use crate::checker::TrialRecord;
use crate::history::{History, Phase};

#[derive(Debug, Clone)]
pub enum Event {
    TrialStarted {
        index: usize,
        label: String,
    },
    TrialPhase {
        index: usize,
        phase: Phase,
    },
    TrialFinished {
        index: usize,
        record: Box<TrialRecord>,
        history: Box<History>,
    },
}
