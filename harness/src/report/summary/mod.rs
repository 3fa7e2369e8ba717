//! A study's one-page summary: the claim × approach matrix (holds /
//! contradicted / not applicable / unknown, k/n rows, the key figure with
//! its 95% interval), who ran the attempted writes, and per claim the
//! report's answer with its caveats. Every cell is judged by the built-in
//! guarantees `verify` and the report use (`verify::builtin::Claim`).

mod commands;
mod render;
mod settle;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use commands::{findings_command, summary_command};
pub use render::{findings_block, render_html, render_markdown};
pub use settle::settled;

use super::claims::{self, Answer};
use super::{Run, Trial};
use crate::checker::Outcome;
use crate::error::{Error, Result};
use crate::explore::CrashPointRecord;
use crate::export::{RunMeta, TrialRecord};
use crate::stats;
use crate::verify::builtin::Claim;
use crate::verify::rows::Table;
use crate::verify::{Input, Judgement, Verdict};
use crate::vocab::ApproachKind;

/// The folder of a study's explore runs, one subfolder per scenario.
pub const EXPLORE_DIR: &str = "explore";

/// A claim's row of the matrix: which claim, how it is judged, and how its
/// key figure is read off the rows the claim judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimId {
    Atomicity,
    Interrupted,
    Rollback,
    BadConfig,
    TryAgain,
    Isolation,
    Fleet,
}

impl ClaimId {
    pub const ALL: [ClaimId; 7] = [
        ClaimId::Atomicity,
        ClaimId::Interrupted,
        ClaimId::Rollback,
        ClaimId::BadConfig,
        ClaimId::TryAgain,
        ClaimId::Isolation,
        ClaimId::Fleet,
    ];

    /// The claim as the design notes word it.
    pub fn text(self) -> &'static str {
        match self {
            ClaimId::Atomicity => claims::ATOMICITY,
            ClaimId::Interrupted => claims::INTERRUPTED,
            ClaimId::Rollback => claims::ROLLBACK,
            ClaimId::BadConfig => claims::BAD_CONFIG,
            ClaimId::TryAgain => claims::TRY_AGAIN,
            ClaimId::Isolation => claims::ISOLATION,
            ClaimId::Fleet => claims::FLEET,
        }
    }

    /// A short name for the matrix's first column.
    pub fn short(self) -> &'static str {
        match self {
            ClaimId::Atomicity => "A failed install changes nothing",
            ClaimId::Interrupted => "An interrupted operation leaves old or new",
            ClaimId::Rollback => "Rollback is instant (≤ 1 s)",
            ClaimId::BadConfig => "A bad configuration is undone in seconds (≤ 10 s)",
            ClaimId::TryAgain => "Just try again, no clean-up",
            ClaimId::Isolation => "A project leaves the global system alone",
            ClaimId::Fleet => "A fleet is back to known-good in seconds (≤ 10 s)",
        }
    }

    /// The HTML anchor of the claim's evidence section.
    pub fn anchor(self) -> &'static str {
        match self {
            ClaimId::Atomicity => "atomicity",
            ClaimId::Interrupted => "interrupted",
            ClaimId::Rollback => "rollback",
            ClaimId::BadConfig => "bad-config",
            ClaimId::TryAgain => "try-again",
            ClaimId::Isolation => "isolation",
            ClaimId::Fleet => "fleet",
        }
    }

    /// The built-in guarantees that judge it (the interrupted claim over
    /// trials and over crash points).
    fn judged_by(self) -> &'static [Claim] {
        match self {
            ClaimId::Atomicity => &[Claim::Atomicity],
            ClaimId::Interrupted => &[Claim::InterruptedTrials, Claim::InterruptedPoints],
            ClaimId::Rollback => &[Claim::Rollback],
            ClaimId::BadConfig => &[Claim::BadConfig],
            ClaimId::TryAgain => &[Claim::TryAgain],
            ClaimId::Isolation => &[Claim::Isolation],
            ClaimId::Fleet => &[Claim::Fleet],
        }
    }

    /// What the key figure is, for the legend.
    pub fn figure_label(self) -> &'static str {
        match self {
            ClaimId::Atomicity => "visible residue paths after the failure, median",
            ClaimId::Interrupted => "states that are old or new, share",
            ClaimId::Rollback | ClaimId::BadConfig => {
                "recovery start → service answers again, median"
            }
            ClaimId::TryAgain => "paths differing from a clean install, median",
            ClaimId::Isolation => "global paths changed, median",
            ClaimId::Fleet => "fleet rollback start → every node serving, median",
        }
    }
}

/// A cell's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellStatus {
    Holds,
    Contradicted,
    /// No row of this approach is evidence for the claim (it was not run,
    /// or the claim does not apply: a rollback without generations).
    NotApplicable,
    /// Rows exist but leave it undecided (an unknown check, an errored trial).
    Unknown,
}

impl CellStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CellStatus::Holds => "holds",
            CellStatus::Contradicted => "contradicted",
            CellStatus::NotApplicable => "not applicable",
            CellStatus::Unknown => "unknown",
        }
    }
}

/// How a key figure is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Ms,
    /// A proportion in 0..=1, written as a percentage.
    Share,
}

/// A key figure with its 95% interval (bootstrap of the median, or Wilson
/// for a share).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure {
    pub value: f64,
    pub ci: Option<(f64, f64)>,
    pub unit: Unit,
    pub n: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub status: CellStatus,
    /// Rows judged that hold every guarantee of the claim…
    pub holding: usize,
    /// …of the rows the claim judges (errored rows included: they count
    /// against a decision, never for it).
    pub judged: usize,
    pub figure: Option<Figure>,
}

#[derive(Debug, Clone)]
pub struct ClaimRow {
    pub claim: ClaimId,
    /// The part of the data the row judges: a bad configuration is judged
    /// per service (`nginx`, `sshd`, …); None: every row.
    pub service: Option<String>,
    pub cells: Vec<Cell>,
}

impl ClaimRow {
    /// The matrix's name for the row: the claim's short name, and the service.
    pub fn short(&self) -> String {
        match &self.service {
            Some(s) => format!("{}: {s}", self.claim.short()),
            None => self.claim.short().to_string(),
        }
    }

    /// The HTML anchor of the row's evidence section.
    pub fn anchor(&self) -> String {
        match &self.service {
            Some(s) => format!("{}-{s}", self.claim.anchor()),
            None => self.claim.anchor().to_string(),
        }
    }
}

/// Who ran one approach's attempted side effects, and what became of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttemptsRow {
    pub approach: String,
    /// The uids the scripts ran as (`0`, `nixbld1`, …).
    pub uids: BTreeSet<String>,
    /// Trials with attempts, and how many attempts landed / were refused.
    pub trials: usize,
    pub landed: usize,
    pub refused: usize,
    /// One refusal as the script saw it.
    pub example_error: Option<String>,
}

/// Everything the summary shows, computed from a study folder.
#[derive(Debug, Clone)]
pub struct Summary {
    pub dir: PathBuf,
    pub meta: Option<RunMeta>,
    pub approaches: Vec<ApproachKind>,
    pub rows: Vec<ClaimRow>,
    pub attempts: Vec<AttemptsRow>,
    pub answers: Vec<Answer>,
    /// Trials and crash points the study holds.
    pub trials: usize,
    pub points: usize,
    pub errored: usize,
    /// Explore folders read (relative to the study folder).
    pub explores: Vec<String>,
    /// study.json, when the folder was made by `study`.
    pub study: Option<crate::export::StudyMeta>,
}

/// The trials of a study folder (its own trials.csv) and the crash points of
/// its `explore/*/` folders.
pub struct StudyData {
    pub run: Option<Run>,
    pub points: Vec<CrashPointRecord>,
    pub explores: Vec<String>,
}

impl StudyData {
    pub fn load(dir: &Path) -> Result<StudyData> {
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "summary: {} is not a folder (expected a study folder: trials.csv and explore/*/crashpoints.csv)",
                dir.display()
            )));
        }
        let run = if dir.join("trials.csv").is_file() || dir.join("crashpoints.csv").is_file() {
            Some(Run::load(dir)?)
        } else {
            None
        };
        let mut points: Vec<CrashPointRecord> = run
            .as_ref()
            .and_then(|r| r.crash.as_ref())
            .map(|c| c.records.clone())
            .unwrap_or_default();
        let mut explores = Vec::new();
        let explore_dir = dir.join(EXPLORE_DIR);
        if explore_dir.is_dir() {
            let mut subs: Vec<PathBuf> = std::fs::read_dir(&explore_dir)
                .map_err(|e| Error::io(format!("reading {}", explore_dir.display()), e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("crashpoints.csv").is_file())
                .collect();
            subs.sort();
            for sub in subs {
                let data = super::crashpoints::CrashData::load(&sub)?;
                points.extend(data.records);
                explores.push(format!(
                    "{EXPLORE_DIR}/{}",
                    sub.file_name().unwrap_or_default().to_string_lossy()
                ));
            }
        }
        if run.is_none() && explores.is_empty() {
            return Err(Error::Usage(format!(
                "summary: {} holds no trials.csv and no {EXPLORE_DIR}/*/crashpoints.csv",
                dir.display()
            )));
        }
        Ok(StudyData {
            run,
            points,
            explores,
        })
    }
}

impl Summary {
    pub fn load(dir: &Path) -> Result<Summary> {
        let data = StudyData::load(dir)?;
        let study = crate::export::StudyMeta::read_if_present(dir)?;
        Ok(Summary::of(dir, data, study))
    }

    pub fn of(dir: &Path, data: StudyData, study: Option<crate::export::StudyMeta>) -> Summary {
        let trials: &[Trial] = data.run.as_ref().map_or(&[], |r| &r.trials[..]);
        let records: Vec<TrialRecord> = trials.iter().map(|t| t.record.clone()).collect();
        let points = &data.points;
        let mut approaches: BTreeSet<ApproachKind> = records.iter().map(|r| r.approach).collect();
        approaches.extend(points.iter().map(|p| p.approach));
        let approaches: Vec<ApproachKind> = approaches.into_iter().collect();
        let inputs = Inputs::of(&records, points);
        let row = |claim: ClaimId, service: Option<&str>| {
            let cells = match service {
                None => approaches
                    .iter()
                    .map(|&a| cell(claim, a, &records, points, &inputs))
                    .collect(),
                Some(s) => {
                    let theirs: Vec<TrialRecord> = records
                        .iter()
                        .filter(|r| super::service::service_of(r) == Some(s))
                        .cloned()
                        .collect();
                    let inputs = Inputs::of(&theirs, points);
                    approaches
                        .iter()
                        .map(|&a| cell(claim, a, &theirs, points, &inputs))
                        .collect()
                }
            };
            ClaimRow {
                claim,
                service: service.map(String::from),
                cells,
            }
        };
        // The services of configure rows (a rollout's belongs to the fleet).
        let services: BTreeSet<&str> = records
            .iter()
            .filter(|r| r.nodes.is_none())
            .filter_map(super::service::service_of)
            .collect();
        let mut rows = Vec::new();
        for claim in ClaimId::ALL {
            if claim == ClaimId::BadConfig && !services.is_empty() {
                rows.extend(services.iter().map(|s| row(claim, Some(s))));
            } else {
                rows.push(row(claim, None));
            }
        }
        Summary {
            dir: dir.to_path_buf(),
            meta: data.run.as_ref().and_then(|r| r.meta.clone()),
            attempts: attempts_rows(trials),
            answers: claims::answer_all(trials, points),
            trials: records.len(),
            points: points.len(),
            errored: records
                .iter()
                .filter(|r| r.outcome == Outcome::Errored)
                .count()
                + points.iter().filter(|p| !p.error.is_empty()).count(),
            approaches,
            rows,
            explores: data.explores,
            study,
        }
    }

    /// The answer the report gives for a row of the matrix.
    pub fn answer(&self, row: &ClaimRow) -> Option<&Answer> {
        self.answers
            .iter()
            .find(|a| a.claim == row.claim.text() && a.scope == row.service)
            .or_else(|| {
                // A service row whose configure trials all errored has no
                // answer of its own: the claim's not-covered answer.
                self.answers
                    .iter()
                    .find(|a| a.claim == row.claim.text() && a.scope.is_none())
            })
    }
}

/// The rows each claim is judged over. A configure trial's failed change
/// is a bad configuration, not a failed install: atomicity leaves those
/// rows out, as the report does (`report::service::is_configure`).
struct Inputs {
    trials: Input,
    installs: Input,
    points: Input,
}

impl Inputs {
    fn of(records: &[TrialRecord], points: &[CrashPointRecord]) -> Inputs {
        let installs: Vec<TrialRecord> = records
            .iter()
            .filter(|r| !is_configure(r))
            .cloned()
            .collect();
        Inputs {
            trials: as_input("trials.csv", records),
            installs: as_input("trials.csv", &installs),
            points: as_input("crashpoints.csv", points),
        }
    }
}

/// A configure or rollout row: its failed operation is a bad
/// configuration, not a failed install.
fn is_configure(r: &TrialRecord) -> bool {
    r.healthy_before.is_some() || r.downtime_ms.is_some() || r.nodes.is_some()
}

fn as_input<R: serde::Serialize>(file: &str, records: &[R]) -> Input {
    match Table::from_records(Path::new(file), records) {
        Ok(t) => Input::Table(t),
        Err(e) => Input::Missing(e.to_string()),
    }
}

/// Whether the claim is about `a` at all: a rollback claim is about the
/// approaches that have a generation rollback.
fn applies(claim: ClaimId, a: ApproachKind) -> bool {
    match claim {
        ClaimId::Rollback => crate::approach::by_name(a.as_str())
            .and_then(|x| x.generation_rollback())
            .is_some(),
        _ => true,
    }
}

/// One cell: the claim's guarantees judged over `a`'s rows, k/n as the rows
/// that hold every guarantee of the rows judged, and the key figure.
fn cell(
    claim: ClaimId,
    a: ApproachKind,
    records: &[TrialRecord],
    points: &[CrashPointRecord],
    inputs: &Inputs,
) -> Cell {
    let empty = Cell {
        status: CellStatus::NotApplicable,
        holding: 0,
        judged: 0,
        figure: None,
    };
    if !applies(claim, a) {
        return empty;
    }
    let mut verdicts = Vec::new();
    let (mut holding, mut judged) = (0, 0);
    for c in claim.judged_by() {
        let input = match (c, c.source()) {
            (Claim::Atomicity, _) => &inputs.installs,
            (_, crate::vocab::Source::Trials) => &inputs.trials,
            (_, crate::vocab::Source::Crashpoints) => &inputs.points,
        };
        let (verdict, judgements) = c.judge(a, input);
        let n = judgements
            .iter()
            .map(|j| j.counts.holding + j.counts.violating + j.counts.unknown)
            .max()
            .unwrap_or(0);
        if n == 0 {
            continue;
        }
        verdicts.push(verdict);
        judged += n;
        holding += n - rows_not_holding(&judgements);
    }
    if judged == 0 {
        return empty;
    }
    let status = match crate::verify::builtin::merge(verdicts) {
        Verdict::Holds => CellStatus::Holds,
        Verdict::Violated => CellStatus::Contradicted,
        Verdict::Unknown => CellStatus::Unknown,
    };
    Cell {
        status,
        holding,
        judged,
        figure: figure(claim, a, records, points),
    }
}

/// Rows that violate or leave unknown at least one guarantee (each row
/// counted once however many of its cells fail).
fn rows_not_holding(judgements: &[Judgement]) -> usize {
    judgements
        .iter()
        .flat_map(|j| j.violating.iter().chain(j.unknown.iter()))
        .map(|e| e.at.as_str())
        .collect::<BTreeSet<&str>>()
        .len()
}

fn median_figure(values: Vec<f64>, unit: Unit) -> Option<Figure> {
    let value = stats::median(&values)?;
    Some(Figure {
        value,
        ci: stats::bootstrap_median_ci(
            &values,
            stats::BOOTSTRAP_SEED,
            stats::BOOTSTRAP_RESAMPLES,
            0.95,
        ),
        unit,
        n: values.len(),
    })
}

fn share_figure(k: usize, n: usize) -> Option<Figure> {
    (n > 0).then(|| Figure {
        value: k as f64 / n as f64,
        ci: stats::wilson_95(k, n),
        unit: Unit::Share,
        n,
    })
}

/// The rows of configure trials (the service columns are filled).
fn configure_row(r: &TrialRecord) -> bool {
    r.healthy_before.is_some() && r.outcome != Outcome::Errored
}

/// The claim's key figure over `a`'s rows that the claim judges.
fn figure(
    claim: ClaimId,
    a: ApproachKind,
    records: &[TrialRecord],
    points: &[CrashPointRecord],
) -> Option<Figure> {
    let mine = records.iter().filter(|r| r.approach == a);
    match claim {
        ClaimId::Atomicity => median_figure(
            mine.filter(|r| r.fault == "none" && r.outcome == Outcome::Failed && !is_configure(r))
                .filter_map(|r| r.residue_files.map(|x| x as f64))
                .collect(),
            Unit::Count,
        ),
        ClaimId::Interrupted => {
            // Old or new: a crash point's state, or a faulted trial whose
            // own checks passed.
            let trials: Vec<&TrialRecord> = mine
                .filter(|r| {
                    r.fault != "none"
                        && r.outcome != Outcome::Succeeded
                        && r.outcome != Outcome::Errored
                })
                .collect();
            let crashed: Vec<&CrashPointRecord> = points
                .iter()
                .filter(|p| p.approach == a && p.fired && p.error.is_empty())
                .collect();
            let k = trials.iter().filter(|r| r.consistent.is_true()).count()
                + crashed
                    .iter()
                    .filter(|p| {
                        matches!(
                            p.state_after_crash,
                            Some(crate::export::State::Old | crate::export::State::New)
                        )
                    })
                    .count();
            share_figure(k, trials.len() + crashed.len())
        }
        ClaimId::Rollback | ClaimId::BadConfig => median_figure(
            mine.filter(|r| configure_row(r))
                .filter_map(|r| r.restore_ms)
                .collect(),
            Unit::Ms,
        ),
        ClaimId::TryAgain => median_figure(
            mine.filter(|r| r.retry_outcome.is_some() && r.outcome != Outcome::Errored)
                .filter_map(|r| r.retry_diff_files.map(|x| x as f64))
                .collect(),
            Unit::Count,
        ),
        ClaimId::Isolation => median_figure(
            mine.filter(|r| r.experiment_ok.is_some() && r.outcome != Outcome::Errored)
                .filter_map(|r| r.global_residue_files.map(|x| x as f64))
                .collect(),
            Unit::Count,
        ),
        ClaimId::Fleet => median_figure(
            mine.filter(|r| r.nodes.is_some() && r.playbook_ran && r.outcome != Outcome::Errored)
                .filter_map(|r| r.fleet_restore_ms)
                .collect(),
            Unit::Ms,
        ),
    }
}

/// Per approach: who ran the attempted side effects of its operations and
/// whether they landed (from trials.jsonl; empty without it).
fn attempts_rows(trials: &[Trial]) -> Vec<AttemptsRow> {
    let mut rows: BTreeMap<ApproachKind, AttemptsRow> = BTreeMap::new();
    for t in trials.iter().filter(|t| !t.errored()) {
        let Some(h) = &t.history else { continue };
        let ops: Vec<_> = h
            .attempts
            .iter()
            .filter(|(phase, _)| *phase == crate::history::Phase::Operation)
            .map(|(_, a)| a)
            .collect();
        if ops.is_empty() {
            continue;
        }
        let row = rows
            .entry(t.record.approach)
            .or_insert_with(|| AttemptsRow {
                approach: t.record.approach.to_string(),
                ..Default::default()
            });
        row.trials += 1;
        for a in ops {
            row.uids.insert(a.uid.clone());
            if a.landed {
                row.landed += 1;
            } else {
                row.refused += 1;
                if row.example_error.is_none() && !a.error.is_empty() {
                    row.example_error = Some(a.error.clone());
                }
            }
        }
    }
    rows.into_values().collect()
}

#[cfg(test)]
mod tests;
