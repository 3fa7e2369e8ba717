//! The results schema: one typed record per results file (a trial's row of
//! trials.csv, a crash point's row of crashpoints.csv), the value types of
//! their columns, and each file's column list, which the CSV writer,
//! `verify`, `compare` and the report all take from here.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::vocab::{ApproachKind, Source};

/// A yes/no answer the evidence may not settle. Every file writes it as
/// `true`, `false` or `unknown`: unknown (a check that could not run or
/// timed out, an errored trial) is never counted as true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TriBool {
    #[serde(rename = "true")]
    True,
    #[serde(rename = "false")]
    False,
    #[serde(rename = "unknown")]
    Unknown,
}

impl TriBool {
    pub fn as_str(self) -> &'static str {
        match self {
            TriBool::True => "true",
            TriBool::False => "false",
            TriBool::Unknown => "unknown",
        }
    }

    /// Known to be true (unknown is not).
    pub fn is_true(self) -> bool {
        self == TriBool::True
    }
}

impl From<bool> for TriBool {
    fn from(b: bool) -> TriBool {
        if b {
            TriBool::True
        } else {
            TriBool::False
        }
    }
}

impl std::str::FromStr for TriBool {
    type Err = String;
    fn from_str(s: &str) -> Result<TriBool, String> {
        [TriBool::True, TriBool::False, TriBool::Unknown]
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("`{s}`: expected true, false or unknown"))
    }
}

impl fmt::Display for TriBool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fault a trial or crash point ran under, as the nemesis labels it
/// (`none`, `kill@…`, `syscall:rename#3:KILL`). Kept as the label and not
/// parsed into a fault: its grammar belongs to `nemesis`, grows with every
/// fault family, and the results only carry, group and print it.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaultLabel(pub String);

impl FaultLabel {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for FaultLabel {
    fn from(s: String) -> FaultLabel {
        FaultLabel(s)
    }
}

impl From<&str> for FaultLabel {
    fn from(s: &str) -> FaultLabel {
        FaultLabel(s.to_string())
    }
}

impl PartialEq<str> for FaultLabel {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for FaultLabel {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for FaultLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a trial's operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Succeeded,
    Failed,
    /// The fault (or the agent's timeout, or a signal) interrupted it.
    Killed,
    /// A harness or Docker problem: the trial is not data.
    Errored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Killed => "killed",
            Outcome::Errored => "errored",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state after a crash (or after recovery) against two references: the
/// state before the operation (`old`) and a clean successful run's result
/// (`new`); anything else, or a failing check, is `inconsistent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Old,
    New,
    Inconsistent,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Old => "old",
            State::New => "new",
            State::Inconsistent => "inconsistent",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of trials.csv. docs/results-format.md's column table says the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// The scenario's name (its file's `[scenario] name`).
    pub scenario: String,
    pub approach: ApproachKind,
    pub fault: FaultLabel,
    /// Repetition number within the plan, from 0.
    pub rep: u32,
    /// The trial's seed, drawn from the plan seed.
    pub seed: u64,
    pub outcome: Outcome,
    /// The package manager's own consistency checks (`dpkg --audit`, `pip
    /// check`, `nix-store --verify`, ...) right after the operation all
    /// passed. Not the service's health (`healthy_*`) nor the scenario's
    /// probes (`probes_ok`); files from before format 2 counted those too.
    pub consistent: TriBool,
    /// Visible paths that are not directories (files, symlinks, others)
    /// added + removed + modified by the operation; directories are
    /// `residue_dirs` (before format 2 this counted them too).
    pub residue_files: Option<usize>,
    /// The three parts of `residue_files` (non-directory paths).
    pub residue_added: Option<usize>,
    pub residue_removed: Option<usize>,
    pub residue_modified: Option<usize>,
    /// Packages whose installed version changed.
    pub residue_packages: Option<usize>,
    /// Collectible paths (unreferenced store paths, logs, caches), apart
    /// from the visible residue.
    pub garbage_paths: Option<usize>,
    /// Side effects outside the package that the operation's failing
    /// script attempted and that landed (see trials.jsonl for each path
    /// and error). Absent in files from before attempts were recorded.
    #[serde(default)]
    pub attempts_landed: Option<usize>,
    /// …and that were refused.
    #[serde(default)]
    pub attempts_refused: Option<usize>,
    /// The approach's recovery playbook ran (false: nothing to recover).
    pub playbook_ran: bool,
    /// Time in the playbook (0 when it did not run).
    pub recovery_ms: Option<f64>,
    /// Back to a known-good state: checks pass and nothing visible is left.
    pub recovered: TriBool,
    /// The same counts after recovery (`final_residue_files`: non-directory
    /// paths, as `residue_files`).
    pub final_residue_files: Option<usize>,
    pub final_residue_packages: Option<usize>,
    pub final_garbage_paths: Option<usize>,
    /// The operation's time, measured inside the container.
    pub operation_ms: Option<f64>,
    /// The whole trial, container start to removal.
    pub trial_wall_ms: f64,
    /// Wall time not spent in package operations or checks measured inside
    /// the container: container start/stop, snapshots, Docker round trips.
    pub overhead_ms: f64,
    /// Why the trial errored; empty for data.
    pub error: String,
    /// The service answered (status 200 and the marker) before the change
    /// (configure scenarios: this and the next five columns; empty
    /// otherwise and in files from before they were recorded).
    #[serde(default)]
    pub healthy_before: Option<bool>,
    /// …when the change had settled (the last sample before the recovery).
    #[serde(default)]
    pub healthy_after_change: Option<bool>,
    /// The change command's return (the tool done: nix-build, ansible,
    /// apply) → first failing probe, ms; 0 when the probe already failed
    /// while the tool ran (empty: it never failed). Before format 2 it
    /// counted from the change's start, the tool's own time included.
    #[serde(default)]
    pub detect_ms: Option<f64>,
    /// Time the probe failed after the change started, ms (during the
    /// change and the reaction window, and from the recovery's start). A
    /// lower bound when `downtime_censored` is true.
    #[serde(default)]
    pub downtime_ms: Option<f64>,
    /// Recovery start → first healthy probe, ms (0: it was serving; empty:
    /// it never came back, see `downtime_censored`).
    #[serde(default)]
    pub restore_ms: Option<f64>,
    /// The service answered at the end of the trial.
    #[serde(default)]
    pub healthy_after_recovery: Option<bool>,
    /// The recovery lost the wanted edit (an earlier good change, made
    /// after the backup was taken): a file it changed does not hold its
    /// result after the recovery. Empty without a wanted edit or a
    /// recovery (before format 5: the header nginx served, empty unless it
    /// served at the end).
    #[serde(default)]
    pub wanted_edit_lost: Option<bool>,
    /// The engine the trial ran on (`--engine`'s name: `local` without
    /// it). Empty in files from before several engines.
    #[serde(default)]
    pub engine: String,
    /// Retry scenarios (empty otherwise, and in files from before retries):
    /// what the second install, right after the failure, did.
    #[serde(default)]
    pub retry_outcome: Option<Outcome>,
    /// The retry's time inside the container.
    #[serde(default)]
    pub retry_ms: Option<f64>,
    /// Visible non-directory paths in which the retry's end state differs
    /// from a clean install of the same packages in a fresh container.
    #[serde(default)]
    pub retry_diff_files: Option<usize>,
    /// Packages whose installed state differs from that clean install's.
    #[serde(default)]
    pub retry_diff_packages: Option<usize>,
    /// Isolation experiments (empty otherwise): the first project's
    /// packages were usable at their versions from inside its environment.
    #[serde(default)]
    pub experiment_ok: Option<bool>,
    /// A second project needing another version worked, and the first
    /// still did beside it (empty without a second project).
    #[serde(default)]
    pub side_by_side: Option<bool>,
    /// Visible non-directory paths changed outside the projects' folders
    /// and the Nix store: what the experiment left on the global system.
    #[serde(default)]
    pub global_residue_files: Option<usize>,
    /// Commands root's `PATH` finds that the experiment added or removed
    /// (its folders and `~/.nix-profile/bin`).
    #[serde(default)]
    pub path_commands: Option<usize>,
    /// The scenario's `[[probe]]`s for this approach right after the
    /// operation all passed (`unknown`: one could not run or timed out;
    /// empty: the scenario has no probe for the approach, or the trial
    /// errored, or the file is from before format 2).
    #[serde(default)]
    pub probes_ok: Option<TriBool>,
    /// Visible directories added, removed or changed (kind, mode, owner)
    /// by the operation: apart from `residue_files` (empty before format 2).
    #[serde(default)]
    pub residue_dirs: Option<usize>,
    /// …and after recovery.
    #[serde(default)]
    pub final_residue_dirs: Option<usize>,
    /// Configure and service rows: the change command's own time, start to
    /// return, ms, inside the container (the tool's run time; `detect_ms`
    /// starts where it ends). Empty in other rows and before format 2.
    #[serde(default)]
    pub change_ms: Option<f64>,
    /// Service rows: the service was still failing at the probe's last
    /// sample, so it never came back (`restore_ms` empty, `downtime_ms` a
    /// lower bound); false when it came back. Empty in other rows and
    /// before format 2.
    #[serde(default)]
    pub downtime_censored: Option<bool>,
    /// The end state against a clean install of the same packages in a
    /// fresh container from the pair's image, for every row compared with
    /// one: a retry's (equal to `retry_diff_files`) and a successful
    /// install's or upgrade's. Visible non-directory paths that differ
    /// (empty: not compared, or a file from before format 3).
    #[serde(default)]
    pub clean_diff_files: Option<usize>,
    /// Packages whose installed state differs from that clean install's.
    #[serde(default)]
    pub clean_diff_packages: Option<usize>,
    /// Configure rows: the recovery the trial ran (`backup`, `etckeeper`,
    /// `previous-vars`, `rollback`, …); a scenario listing several for an
    /// approach has rows of each. Empty in other rows and before format 5.
    #[serde(default)]
    pub recovery: String,
    /// Rows of a service holding data (PostgreSQL): a known row written at
    /// set-up was missing or changed after the recovery. Empty for other
    /// services, when the server could not be asked, and before format 5.
    #[serde(default)]
    pub data_lost: Option<bool>,
    /// Rows of a scenario with a `[service]`: its name (`nginx`, `sshd`,
    /// `postgresql`). Empty in other rows and before format 5 (where every
    /// service row is nginx's).
    #[serde(default)]
    pub service: String,
    /// Rollout rows: the fleet's nodes (`[fleet] nodes`). Empty in other
    /// rows and before format 6.
    #[serde(default)]
    pub nodes: Option<u32>,
    /// Rollout rows: the nodes set up to lack what the change needs
    /// (`[fleet] broken`).
    #[serde(default)]
    pub broken: Option<u32>,
    /// Rollout rows: nodes the change reached (their configuration was the
    /// new one when the rollout tool returned).
    #[serde(default)]
    pub nodes_changed: Option<u32>,
    /// Rollout rows: of those, nodes with a failing probe sample begun
    /// after the rollout's start and before the fleet rollback was done.
    #[serde(default)]
    pub nodes_unhealthy_after_change: Option<u32>,
    /// Rollout rows: the rollout tool's run, start to return, ms (inside
    /// the deployer's container).
    #[serde(default)]
    pub fleet_change_ms: Option<f64>,
    /// Rollout rows: rollout start → the end of the first unhealthy probe
    /// sample of any node, ms (empty: no node went unhealthy).
    #[serde(default)]
    pub fleet_detect_ms: Option<f64>,
    /// Rollout rows: fleet rollback start → every node healthy for good,
    /// ms (empty: no rollback ran, or a node never came back).
    #[serde(default)]
    pub fleet_restore_ms: Option<f64>,
    /// Rollout rows: unhealthy time summed over nodes, from the rollout's
    /// start to the end of the watch, ms.
    #[serde(default)]
    pub node_downtime_ms: Option<f64>,
    /// Rollout rows: nodes unhealthy at the end of the trial.
    #[serde(default)]
    pub nodes_unhealthy_after_recovery: Option<u32>,
    /// Rollout rows: nodes the deployer could not reach over SSH at the end.
    #[serde(default)]
    pub nodes_unreachable_after_recovery: Option<u32>,
    /// Rollout rows: nodes on neither the old nor the new configuration at
    /// the end.
    #[serde(default)]
    pub nodes_mixed: Option<u32>,
    /// Rollout rows: visible files changed against each node's state
    /// before the rollout, summed over nodes (backup copies and kept
    /// generations made at set-up are not counted: they predate it).
    #[serde(default)]
    pub fleet_residue_files: Option<usize>,
}

/// One row of crashpoints.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrashPointRecord {
    /// The scenario's name.
    pub scenario: String,
    pub approach: ApproachKind,
    /// The injected kill, `syscall:NAME#K:KILL`.
    pub fault: FaultLabel,
    /// The syscall's family (`create`, `write`, `rename`, ...; see
    /// `explore::points::FAMILIES`). Empty in files written before families
    /// existed.
    #[serde(default)]
    pub family: String,
    pub syscall: String,
    /// The call number k: each process's k-th call of `syscall` on the
    /// operation's file, every call counted (the dry run found a
    /// state-changing one there).
    pub point: u64,
    /// Rank of the point by first occurrence in the dry run.
    pub index: usize,
    /// The process that reached the point first in the dry run (the ones
    /// the crash actually hit, when it fired).
    pub process: String,
    /// Whether the injected kill fired (a point the crash run never reached
    /// leaves the operation undisturbed).
    pub fired: bool,
    /// Judged with every check (the approach's own and the scenario's
    /// probes): a state whose software no longer works is neither old nor new.
    pub state_after_crash: Option<State>,
    /// The package manager's own consistency checks right after the crash
    /// all passed (as trials.csv's `consistent`: no probe counted).
    pub consistent: TriBool,
    /// Visible non-directory paths changed, packages changed and garbage
    /// paths after the crash.
    pub residue_files: Option<usize>,
    pub residue_packages: Option<usize>,
    pub garbage_paths: Option<usize>,
    /// Only an inconsistent state runs the playbook.
    pub playbook_ran: bool,
    /// The state after recovery is old or new.
    pub recovered: TriBool,
    pub state_after_recovery: Option<State>,
    /// Time in the playbook (0 when it did not run).
    pub recovery_ms: Option<f64>,
    pub final_residue_files: Option<usize>,
    /// The whole point, container start to removal.
    pub point_wall_ms: f64,
    /// Why the point errored; empty for data.
    pub error: String,
    /// The point's class, `process family region` (`explore::classes`):
    /// the explored point stands for the class's other points. Empty in
    /// files written before classes existed (columns added later go last).
    #[serde(default)]
    pub class: String,
    /// How many points the dry run found in that class.
    #[serde(default)]
    pub class_points: Option<usize>,
    /// The engine the point was crashed on (`--engine`'s name: `local`
    /// without it). Empty in files from before explore used several engines.
    #[serde(default)]
    pub engine: String,
    /// The operation the dry run chose: `syscall label #k`, the k-th call
    /// of the syscall on that file (or files: `a -> b`), paths normalised
    /// (`nemesis::call_label`); `syscall #k` for a call naming nothing.
    /// Empty in files from before format 4, where `point` was the
    /// process's call number of the syscall.
    #[serde(default)]
    pub operation: String,
    /// The operation the kill hit, as the injector logged it (same form);
    /// empty when it did not fire.
    #[serde(default)]
    pub hit: String,
    /// Why the hit is not the chosen operation; such a row's states and
    /// verdicts are unknown. Empty when they agree.
    #[serde(default)]
    pub mismatch: String,
}

/// What a column holds, for guarantees (`verify`) and readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Names the row (scenario, approach, fault, rep, seed; a crash point's
    /// family, syscall, process): guarantees select rows by it.
    Identity,
    /// Free text (`error`).
    Text,
    Number,
    /// true / false (a tri-state cell may also say `unknown`).
    Bool,
    /// One of these words.
    Words(&'static [&'static str]),
}

impl ColumnKind {
    /// A guarantee may test it (`column OP value`).
    pub fn testable(self) -> bool {
        !matches!(self, ColumnKind::Identity | ColumnKind::Text)
    }
}

/// One column of a results file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnKind,
}

const fn col(name: &'static str, kind: ColumnKind) -> Column {
    Column { name, kind }
}

/// The outcomes a guarantee may expect: `errored` is never evidence.
const OUTCOME_WORDS: &[&str] = &["succeeded", "failed", "killed"];
const STATE_WORDS: &[&str] = &["old", "new", "inconsistent"];

/// A record of one results file: which file, and its columns in the order
/// the CSV writes them (a unit test holds this to the serialized header).
pub trait Record: Serialize + DeserializeOwned {
    const SOURCE: Source;
    const COLUMNS: &'static [Column];
}

impl Record for TrialRecord {
    const SOURCE: Source = Source::Trials;
    const COLUMNS: &'static [Column] = {
        use ColumnKind::*;
        &[
            col("scenario", Identity),
            col("approach", Identity),
            col("fault", Identity),
            col("rep", Identity),
            col("seed", Identity),
            col("outcome", Words(OUTCOME_WORDS)),
            col("consistent", Bool),
            col("residue_files", Number),
            col("residue_added", Number),
            col("residue_removed", Number),
            col("residue_modified", Number),
            col("residue_packages", Number),
            col("garbage_paths", Number),
            col("attempts_landed", Number),
            col("attempts_refused", Number),
            col("playbook_ran", Bool),
            col("recovery_ms", Number),
            col("recovered", Bool),
            col("final_residue_files", Number),
            col("final_residue_packages", Number),
            col("final_garbage_paths", Number),
            col("operation_ms", Number),
            col("trial_wall_ms", Number),
            col("overhead_ms", Number),
            col("error", Text),
            col("healthy_before", Bool),
            col("healthy_after_change", Bool),
            col("detect_ms", Number),
            col("downtime_ms", Number),
            col("restore_ms", Number),
            col("healthy_after_recovery", Bool),
            col("wanted_edit_lost", Bool),
            col("engine", Text),
            col("retry_outcome", Words(OUTCOME_WORDS)),
            col("retry_ms", Number),
            col("retry_diff_files", Number),
            col("retry_diff_packages", Number),
            col("experiment_ok", Bool),
            col("side_by_side", Bool),
            col("global_residue_files", Number),
            col("path_commands", Number),
            col("probes_ok", Bool),
            col("residue_dirs", Number),
            col("final_residue_dirs", Number),
            col("change_ms", Number),
            col("downtime_censored", Bool),
            col("clean_diff_files", Number),
            col("clean_diff_packages", Number),
            col("recovery", Identity),
            col("data_lost", Bool),
            col("service", Identity),
            col("nodes", Number),
            col("broken", Number),
            col("nodes_changed", Number),
            col("nodes_unhealthy_after_change", Number),
            col("fleet_change_ms", Number),
            col("fleet_detect_ms", Number),
            col("fleet_restore_ms", Number),
            col("node_downtime_ms", Number),
            col("nodes_unhealthy_after_recovery", Number),
            col("nodes_unreachable_after_recovery", Number),
            col("nodes_mixed", Number),
            col("fleet_residue_files", Number),
        ]
    };
}

impl Record for CrashPointRecord {
    const SOURCE: Source = Source::Crashpoints;
    const COLUMNS: &'static [Column] = {
        use ColumnKind::*;
        &[
            col("scenario", Identity),
            col("approach", Identity),
            col("fault", Identity),
            col("family", Identity),
            col("syscall", Identity),
            col("point", Number),
            col("index", Number),
            col("process", Identity),
            col("fired", Bool),
            col("state_after_crash", Words(STATE_WORDS)),
            col("consistent", Bool),
            col("residue_files", Number),
            col("residue_packages", Number),
            col("garbage_paths", Number),
            col("playbook_ran", Bool),
            col("recovered", Bool),
            col("state_after_recovery", Words(STATE_WORDS)),
            col("recovery_ms", Number),
            col("final_residue_files", Number),
            col("point_wall_ms", Number),
            col("error", Text),
            col("class", Identity),
            col("class_points", Number),
            col("engine", Text),
            col("operation", Identity),
            col("hit", Text),
            col("mismatch", Text),
        ]
    };
}

/// The columns of `source`'s file.
pub fn columns(source: Source) -> &'static [Column] {
    match source {
        Source::Trials => TrialRecord::COLUMNS,
        Source::Crashpoints => CrashPointRecord::COLUMNS,
    }
}

/// The column of `source`'s file named `name`. Readers look columns up by
/// these names; a name not in the schema is a bug, caught by the tests.
pub fn column(source: Source, name: &str) -> Option<&'static Column> {
    columns(source).iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::CsvWriter;
    use std::path::{Path, PathBuf};

    fn trial() -> TrialRecord {
        TrialRecord {
            scenario: "s".into(),
            approach: crate::approach::kind("apt"),
            fault: "none".into(),
            rep: 0,
            seed: 1,
            outcome: Outcome::Failed,
            consistent: TriBool::Unknown,
            residue_files: Some(1),
            residue_added: None,
            residue_removed: None,
            residue_modified: None,
            residue_packages: None,
            garbage_paths: None,
            attempts_landed: None,
            attempts_refused: None,
            playbook_ran: true,
            recovery_ms: Some(0.0),
            recovered: TriBool::False,
            final_residue_files: None,
            final_residue_packages: None,
            final_garbage_paths: None,
            operation_ms: None,
            trial_wall_ms: 1.5,
            overhead_ms: 0.5,
            error: String::new(),
            healthy_before: None,
            healthy_after_change: None,
            detect_ms: None,
            downtime_ms: None,
            restore_ms: None,
            healthy_after_recovery: None,
            wanted_edit_lost: None,
            engine: String::new(),
            retry_outcome: None,
            retry_ms: None,
            retry_diff_files: None,
            retry_diff_packages: None,
            experiment_ok: None,
            side_by_side: None,
            global_residue_files: None,
            path_commands: None,
            probes_ok: None,
            residue_dirs: None,
            final_residue_dirs: None,
            change_ms: None,
            downtime_censored: None,
            clean_diff_files: None,
            clean_diff_packages: None,
            recovery: String::new(),
            data_lost: None,
            service: String::new(),
            nodes: None,
            broken: None,
            nodes_changed: None,
            nodes_unhealthy_after_change: None,
            fleet_change_ms: None,
            fleet_detect_ms: None,
            fleet_restore_ms: None,
            node_downtime_ms: None,
            nodes_unhealthy_after_recovery: None,
            nodes_unreachable_after_recovery: None,
            nodes_mixed: None,
            fleet_residue_files: None,
        }
    }

    fn crash_point() -> CrashPointRecord {
        CrashPointRecord {
            scenario: "s".into(),
            approach: crate::approach::kind("nix"),
            fault: "syscall:rename#1:KILL".into(),
            family: "rename".into(),
            syscall: "rename".into(),
            point: 1,
            index: 0,
            process: "nix-env".into(),
            class: "nix-env rename /nix/var/nix".into(),
            class_points: Some(3),
            engine: "local".into(),
            operation: "rename /usr/share/liba/x.dpkg-new -> /usr/share/liba/x #1".into(),
            hit: "rename /usr/share/liba/x.dpkg-new -> /usr/share/liba/x #1".into(),
            mismatch: String::new(),
            fired: true,
            state_after_crash: Some(State::Inconsistent),
            consistent: TriBool::True,
            residue_files: Some(1),
            residue_packages: Some(0),
            garbage_paths: Some(3),
            playbook_ran: true,
            recovered: TriBool::True,
            state_after_recovery: Some(State::Old),
            recovery_ms: Some(2.0),
            final_residue_files: Some(0),
            point_wall_ms: 10.0,
            error: String::new(),
        }
    }

    /// The header the csv crate writes for one serialized record.
    fn written_header<R: Record>(r: &R) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(r).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        text.lines().next().unwrap().to_string()
    }

    fn names<R: Record>() -> String {
        R::COLUMNS
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn column_lists_are_the_written_headers() {
        assert_eq!(names::<TrialRecord>(), written_header(&trial()));
        assert_eq!(names::<CrashPointRecord>(), written_header(&crash_point()));
        assert_eq!(columns(Source::Trials), TrialRecord::COLUMNS);
        assert!(column(Source::Crashpoints, "state_after_crash").is_some());
        assert!(column(Source::Trials, "state_after_crash").is_none());
    }

    /// A value's serialized name, unquoted.
    fn word<T: Serialize>(v: T) -> String {
        serde_json::to_string(&v)
            .unwrap()
            .trim_matches('"')
            .to_string()
    }

    #[test]
    fn word_columns_list_the_enums_serialized_names() {
        let outcomes = [Outcome::Succeeded, Outcome::Failed, Outcome::Killed].map(word);
        assert_eq!(OUTCOME_WORDS, outcomes.as_slice());
        let states = [State::Old, State::New, State::Inconsistent].map(word);
        assert_eq!(STATE_WORDS, states.as_slice());
        for t in [TriBool::True, TriBool::False, TriBool::Unknown] {
            assert_eq!(word(t), t.as_str());
            let back: TriBool = serde_json::from_str(&format!("\"{t}\"")).unwrap();
            assert_eq!(back, t);
        }
        assert_eq!(word(FaultLabel::from("none")), "none");
    }

    /// Every committed reference results file.
    fn reference_files(name: &str) -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/reference");
        let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path().join(name))
            .filter(|p| p.is_file())
            .collect();
        out.sort();
        out
    }

    /// Read into the typed record and written back by the exporter's CSV
    /// writer, byte for byte: the schema round-trips every committed run.
    fn round_trips<R: Record>(name: &str) -> usize {
        assert_eq!(R::SOURCE.file_name(), name);
        assert_eq!(columns(R::SOURCE), R::COLUMNS);
        let files = reference_files(name);
        assert!(!files.is_empty(), "no reference {name}");
        for path in &files {
            let mut original = std::fs::read_to_string(path).unwrap();
            // Files from before the service columns: read with them empty,
            // written back with them appended, the rest byte for byte.
            let header = names::<R>();
            let first = original.lines().next().unwrap_or_default().to_string();
            if header.len() > first.len() && header.starts_with(&format!("{first},")) {
                let added = header[first.len()..].to_string();
                let commas = ",".repeat(added.matches(',').count());
                original = original
                    .lines()
                    .enumerate()
                    .map(|(i, l)| format!("{l}{}\n", if i == 0 { &added } else { &commas }))
                    .collect();
            }
            let mut reader = csv::Reader::from_path(path).unwrap();
            let rows: Vec<R> = reader.deserialize().map(|r| r.unwrap()).collect();
            assert!(!rows.is_empty(), "{}", path.display());
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join(name);
            let mut w = CsvWriter::<R>::create(&out).unwrap();
            for r in &rows {
                w.write(r).unwrap();
            }
            drop(w);
            let written = std::fs::read_to_string(&out).unwrap();
            assert_eq!(
                written.lines().next(),
                Some(names::<R>().as_str()),
                "{}: the header is the column list",
                path.display()
            );
            assert!(
                written == original,
                "{} does not round-trip",
                path.display()
            );
        }
        files.len()
    }

    #[test]
    fn reference_runs_round_trip_byte_identically() {
        assert!(round_trips::<TrialRecord>("trials.csv") >= 2);
        assert!(round_trips::<CrashPointRecord>("crashpoints.csv") >= 2);
    }
}
