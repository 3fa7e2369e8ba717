//! Per-approach aggregates of a set of trials: outcome counts, three-valued
//! tallies, summaries of every metric, the checks that failed and the
//! paths left after the playbook.

use std::collections::{BTreeMap, BTreeSet};

use super::Trial;
use crate::checker::{Outcome, TrialRecord};
use crate::export::{ApproachKind, TriBool};
use crate::stats::{self, Summary, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED};

/// true / false / unknown counts of a three-valued column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub yes: usize,
    pub no: usize,
    pub unknown: usize,
}

impl Tally {
    pub fn of(values: impl IntoIterator<Item = TriBool>) -> Tally {
        let mut t = Tally::default();
        for v in values {
            match v {
                TriBool::True => t.yes += 1,
                TriBool::False => t.no += 1,
                TriBool::Unknown => t.unknown += 1,
            }
        }
        t
    }

    pub fn total(&self) -> usize {
        self.yes + self.no + self.unknown
    }

    /// "40% (2/5)", "40% (2/5, 1 unknown)", "—" with no trials.
    pub fn percent(&self) -> String {
        let n = self.total();
        if n == 0 {
            return "—".into();
        }
        let pct = 100.0 * self.yes as f64 / n as f64;
        let unknown = if self.unknown > 0 {
            format!(", {} unknown", self.unknown)
        } else {
            String::new()
        };
        format!("{pct:.0}% ({}/{n}{unknown})", self.yes)
    }
}

/// One approach's trials (in one scenario, or any filtered set) and what
/// they add up to. Metrics use only the trials that did not error.
#[derive(Debug, Clone)]
pub struct ApproachStats<'a> {
    pub approach: ApproachKind,
    pub all: Vec<&'a Trial>,
    /// Non-errored trials: the data.
    pub data: Vec<&'a Trial>,
    /// succeeded, failed, killed, errored.
    pub outcomes: [usize; 4],
    pub consistent: Tally,
    /// The scenario's probes right after the operation, over the trials
    /// that ran one (empty tally: no probe for this approach).
    pub probes_ok: Tally,
    pub recovered: Tally,
    pub residue_files: Option<Summary>,
    pub residue_packages: Option<Summary>,
    pub garbage: Option<Summary>,
    pub recovery_ms: Option<Summary>,
    pub recovery_ci: Option<(f64, f64)>,
    pub final_files: Option<Summary>,
    pub final_garbage: Option<Summary>,
    pub operation_ms: Option<Summary>,
    pub playbook_ran: usize,
    /// Trials of `data` that have a history in trials.jsonl.
    pub histories: usize,
    /// Check name → data trials where it judged the state invalid / ran.
    pub checks_failed: BTreeMap<String, usize>,
    pub checks_run: BTreeMap<String, usize>,
    /// Visible path → data trials where it was still there after the playbook.
    pub leftovers: BTreeMap<String, usize>,
}

impl<'a> ApproachStats<'a> {
    pub fn of(approach: ApproachKind, trials: Vec<&'a Trial>) -> ApproachStats<'a> {
        let data: Vec<&Trial> = trials.iter().copied().filter(|t| !t.errored()).collect();
        let mut outcomes = [0; 4];
        for t in &trials {
            outcomes[match t.record.outcome {
                Outcome::Succeeded => 0,
                Outcome::Failed => 1,
                Outcome::Killed => 2,
                Outcome::Errored => 3,
            }] += 1;
        }
        let col = |f: &dyn Fn(&TrialRecord) -> Option<f64>| {
            Summary::of(&data.iter().filter_map(|t| f(&t.record)).collect::<Vec<_>>())
        };
        let recovery: Vec<f64> = data.iter().filter_map(|t| t.record.recovery_ms).collect();
        let mut checks_failed = BTreeMap::new();
        let mut checks_run = BTreeMap::new();
        let mut leftovers = BTreeMap::new();
        let mut histories = 0;
        for h in data.iter().filter_map(|t| t.history.as_ref()) {
            histories += 1;
            for c in h.checks_failed.iter().collect::<BTreeSet<_>>() {
                *checks_failed.entry(c.clone()).or_insert(0) += 1;
            }
            for c in h.checks_run.iter().collect::<BTreeSet<_>>() {
                *checks_run.entry(c.clone()).or_insert(0) += 1;
            }
            if let Some(r) = &h.residue_after_recovery {
                for p in r.visible_paths().collect::<BTreeSet<_>>() {
                    *leftovers.entry(p.to_string()).or_insert(0) += 1;
                }
            }
        }
        ApproachStats {
            approach,
            outcomes,
            consistent: Tally::of(data.iter().map(|t| t.record.consistent)),
            probes_ok: Tally::of(data.iter().filter_map(|t| t.record.probes_ok)),
            recovered: Tally::of(data.iter().map(|t| t.record.recovered)),
            residue_files: col(&|r| r.residue_files.map(|v| v as f64)),
            residue_packages: col(&|r| r.residue_packages.map(|v| v as f64)),
            garbage: col(&|r| r.garbage_paths.map(|v| v as f64)),
            recovery_ms: Summary::of(&recovery),
            recovery_ci: stats::bootstrap_median_ci(
                &recovery,
                BOOTSTRAP_SEED,
                BOOTSTRAP_RESAMPLES,
                0.95,
            ),
            final_files: col(&|r| r.final_residue_files.map(|v| v as f64)),
            final_garbage: col(&|r| r.final_garbage_paths.map(|v| v as f64)),
            operation_ms: col(&|r| r.operation_ms),
            playbook_ran: data.iter().filter(|t| t.record.playbook_ran).count(),
            histories,
            checks_failed,
            checks_run,
            leftovers,
            all: trials,
            data,
        }
    }

    /// Per-trial visible added / removed / modified and garbage paths.
    pub fn residue_kinds(&self) -> Vec<[f64; 4]> {
        self.data.iter().filter_map(|t| t.residue_kinds()).collect()
    }
}

/// An approach's place in the report: the registry's order (docs/approaches.md's).
pub fn approach_rank(a: ApproachKind) -> (usize, ApproachKind) {
    (a.rank(), a)
}

/// Registered approaches in the registry's order (docs/approaches.md's), others
/// (from an older or newer harness) after them by name.
pub fn approach_order(name: &str) -> (usize, String) {
    let rank = crate::approach::ApproachKind::lookup(name).map_or(usize::MAX, |k| k.rank());
    (rank, name.to_string())
}

/// Trials grouped by approach, in [`approach_rank`] order.
pub fn by_approach<'a>(trials: impl IntoIterator<Item = &'a Trial>) -> Vec<ApproachStats<'a>> {
    let mut groups: BTreeMap<(usize, ApproachKind), Vec<&Trial>> = BTreeMap::new();
    for t in trials {
        groups
            .entry(approach_rank(t.record.approach))
            .or_default()
            .push(t);
    }
    groups
        .into_iter()
        .map(|((_, a), ts)| ApproachStats::of(a, ts))
        .collect()
}
