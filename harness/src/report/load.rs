//! Loading a run folder for the report: run.json, trials.csv, trials.jsonl
//! (read through views of their own, so old runs keep loading when the
//! harness's types grow) and an explore run's crash points.

use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::crashpoints;
use crate::checker::{check_verdict, Outcome, TrialRecord, Verdict};
use crate::error::{Error, Result};
use crate::export::{ApproachKind, FaultLabel};
use crate::history::{Attempt, CheckKind, History, Phase};
use crate::snapshot::Residue;

/// run.json, one type for its writer and its readers.
pub use crate::export::RunMeta;

/// A trials.jsonl line: its `history` read as the writer's own type (every
/// field added since format 1 has a default, so old runs load too; a test
/// loads every committed trials.jsonl).
#[derive(Debug, Deserialize)]
struct JsonlLine {
    history: History,
}

/// What the report uses of a trial's history in trials.jsonl, worked out
/// once from the typed [`History`].
#[derive(Debug, Clone, Default)]
pub struct HistoryView {
    pub residue_after_failure: Option<Residue>,
    pub residue_after_recovery: Option<Residue>,
    /// Short names of the checks run right after the operation…
    pub checks_run: Vec<String>,
    /// …and of those that judged the state invalid.
    pub checks_failed: Vec<String>,
    /// Side effects the package's scripts attempted, with the phase of the
    /// step that printed them (the operation, the recovery, …).
    pub attempts: Vec<(Phase, Attempt)>,
    /// The commands of the recovery phase, in order (empty: none ran).
    pub recovery_commands: Vec<String>,
    /// A configure trial's probe: the longest gap between two samples
    /// after the change, the resolution of its times.
    pub probe_max_gap_ms: Option<f64>,
    /// The difference from a clean install (a retry's, or a successful
    /// install's); None for other trials.
    pub retry_difference: Option<Residue>,
    /// A rollout trial's nodes, each as measured.
    pub fleet_nodes: Vec<crate::history::NodeMeasures>,
}

impl HistoryView {
    /// The visible paths and packages (`package NAME`) in which a retry's
    /// end state differs from a clean install's.
    pub fn retry_difference(&self) -> Vec<String> {
        let Some(d) = &self.retry_difference else {
            return Vec::new();
        };
        d.visible_paths()
            .map(str::to_string)
            .chain(d.packages.iter().map(|p| format!("package {p}")))
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Trial {
    pub record: TrialRecord,
    pub history: Option<HistoryView>,
}

impl Trial {
    /// Visible added / removed / modified paths and garbage paths right after
    /// the operation: from trials.jsonl when present, else trials.csv.
    pub fn residue_kinds(&self) -> Option<[f64; 4]> {
        if let Some(r) = self
            .history
            .as_ref()
            .and_then(|h| h.residue_after_failure.as_ref())
        {
            return Some([
                r.added as f64,
                r.removed as f64,
                r.modified as f64,
                r.garbage as f64,
            ]);
        }
        let r = &self.record;
        Some([
            r.residue_added? as f64,
            r.residue_removed? as f64,
            r.residue_modified? as f64,
            r.garbage_paths? as f64,
        ])
    }

    pub fn errored(&self) -> bool {
        self.record.outcome == Outcome::Errored
    }
}

/// How trials.jsonl was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonlState {
    Missing,
    Loaded { lines: usize, matched: usize },
}

#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    pub meta: Option<RunMeta>,
    /// Empty when the folder has no trials.csv (an explore run).
    pub trials: Vec<Trial>,
    pub trials_csv: bool,
    pub jsonl: JsonlState,
    /// An explore run's crash points, when the folder has crashpoints.csv.
    pub crash: Option<crashpoints::CrashData>,
}

/// Who a trial is: scenario, approach, fault, rep, seed and recovery (an
/// approach run with several recoveries has trials of each at one seed).
type Key = (String, ApproachKind, FaultLabel, u32, u64, String);

impl Run {
    pub fn load(dir: &Path) -> Result<Run> {
        if !dir.exists() {
            return Err(Error::Usage(format!(
                "report: run folder {} does not exist",
                dir.display()
            )));
        }
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "report: {} is not a folder (expected a run folder with trials.csv)",
                dir.display()
            )));
        }
        let csv_path = dir.join("trials.csv");
        let crash_path = dir.join("crashpoints.csv");
        let trials_csv = csv_path.is_file();
        if !trials_csv && !crash_path.is_file() {
            return Err(Error::Usage(format!(
                "report: {} not found, nor crashpoints.csv (is {} a run folder or an explore folder?)",
                csv_path.display(),
                dir.display()
            )));
        }
        let crash = if crash_path.is_file() {
            Some(crashpoints::CrashData::load(dir)?)
        } else {
            None
        };
        let records: Vec<TrialRecord> = if trials_csv {
            read_rows(&csv_path)?
        } else {
            Vec::new()
        };
        let crash_rows = crash.as_ref().map_or(0, |c| c.records.len());
        if records.is_empty() && crash_rows == 0 {
            let what = if trials_csv {
                format!("{} has no trials", csv_path.display())
            } else {
                format!("{} has no crash points", crash_path.display())
            };
            return Err(Error::Usage(format!(
                "report: {what} (only a header or nothing)"
            )));
        }
        let meta = RunMeta::read_if_present(dir).map_err(|e| match e {
            Error::Usage(m) => Error::Usage(format!("report: {m}")),
            e => e,
        })?;
        let jsonl_path = dir.join("trials.jsonl");
        let (mut histories, jsonl) = if jsonl_path.is_file() {
            let h = read_jsonl(&jsonl_path)?;
            let lines = h.len();
            (
                h.into_iter().collect::<HashMap<Key, HistoryView>>(),
                Some(lines),
            )
        } else {
            (HashMap::new(), None)
        };
        let mut matched = 0;
        let trials = records
            .into_iter()
            .map(|record| {
                let key = (
                    record.scenario.clone(),
                    record.approach,
                    record.fault.clone(),
                    record.rep,
                    record.seed,
                    record.recovery.clone(),
                );
                let history = histories.remove(&key);
                matched += usize::from(history.is_some());
                Trial { record, history }
            })
            .collect();
        let jsonl = match jsonl {
            Some(lines) => JsonlState::Loaded { lines, matched },
            None => JsonlState::Missing,
        };
        Ok(Run {
            dir: dir.to_path_buf(),
            meta,
            trials,
            trials_csv,
            jsonl,
            crash,
        })
    }
}

/// Every row of a CSV file the harness wrote (trials.csv, crashpoints.csv).
pub(crate) fn read_rows<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let (bytes, cut) = crate::export::read_complete(path)
        .map_err(|e| Error::Usage(format!("report: reading {}: {e}", path.display())))?;
    if let Some(w) = cut {
        eprintln!("warning: {w}");
    }
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let headers = reader
        .headers()
        .map_err(|e| csv_error(path, &[], None, e))?
        .iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let header_record = csv::StringRecord::from(headers.clone());
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| csv_error(path, &headers, None, e))?;
        out.push(
            row.deserialize::<T>(Some(&header_record))
                .map_err(|e| csv_error(path, &headers, Some(&row), e))?,
        );
    }
    Ok(out)
}

/// `trials.csv:LINE: column `x`: what was wrong` (or crashpoints.csv). serde's own errors (an
/// unknown outcome) carry no column: it is found by the quoted value.
fn csv_error(
    path: &Path,
    headers: &[String],
    row: Option<&csv::StringRecord>,
    e: csv::Error,
) -> Error {
    let at = |line: Option<u64>| match line {
        Some(l) => format!("{}:{l}", path.display()),
        None => path.display().to_string(),
    };
    let msg = match e.kind() {
        csv::ErrorKind::Deserialize { pos, err } => {
            let text = err.kind().to_string();
            let quoted = text.split('`').nth(1);
            let index = err
                .field()
                .map(|i| i as usize)
                .or_else(|| row?.iter().position(|v| Some(v) == quoted));
            let column = index
                .and_then(|i| headers.get(i))
                .map(|h| format!("column `{h}`: "))
                .unwrap_or_default();
            let line = pos
                .as_ref()
                .or(row.and_then(|r| r.position()))
                .map(|p| p.line());
            format!("{}: {column}{text}", at(line))
        }
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => {
            format!(
                "{}: {len} fields where the header has {expected_len}",
                at(pos.as_ref().map(|p| p.line()))
            )
        }
        csv::ErrorKind::Utf8 { pos, err } => {
            format!("{}: {err}", at(pos.as_ref().map(|p| p.line())))
        }
        _ => format!("{}: {e}", at(e.position().map(|p| p.line()))),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Error::Usage(format!("report: garbled {name}: {msg}"))
}

fn read_jsonl(path: &Path) -> Result<Vec<(Key, HistoryView)>> {
    let (bytes, cut) = crate::export::read_complete(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    if let Some(w) = cut {
        eprintln!("warning: {w}");
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: JsonlLine = serde_json::from_str(line).map_err(|e| {
            Error::Usage(format!(
                "report: garbled trials.jsonl: {}:{}: {e}",
                path.display(),
                i + 1
            ))
        })?;
        let h = parsed.history;
        let mut view = HistoryView {
            probe_max_gap_ms: h.service.as_ref().map(|s| s.max_gap_ms),
            retry_difference: h.clean.as_ref().map(|c| c.difference.clone()),
            fleet_nodes: h
                .fleet
                .as_ref()
                .map(|f| f.per_node.clone())
                .unwrap_or_default(),
            ..Default::default()
        };
        for step in &h.steps {
            view.attempts
                .extend(step.attempts.iter().map(|a| (step.phase, a.clone())));
            if step.phase == Phase::Recovery {
                view.recovery_commands.push(step.command.clone());
            }
            // The checks `consistent` counts: the package manager's own
            // (the health and the probes have their own columns).
            if step.phase != Phase::CheckAfterFailure
                || step.kind_of_check() != Some(CheckKind::Own)
            {
                continue;
            }
            let name = step
                .check
                .clone()
                .unwrap_or_else(|| short_command(&step.command));
            if check_verdict(step) == Verdict::Invalid {
                view.checks_failed.push(name.clone());
            }
            view.checks_run.push(name);
        }
        view.residue_after_failure = h.residue_after_failure;
        view.residue_after_recovery = h.residue_after_recovery;
        let key = (
            h.scenario,
            h.approach,
            FaultLabel(h.fault),
            h.rep,
            h.seed,
            h.recovery.unwrap_or_default(),
        );
        out.push((key, view));
    }
    Ok(out)
}

/// A check's command as a reader knows it: `dpkg --audit`, `apt-get check`,
/// `pip check`, `nix-store --verify`; shell snippets are cut short.
pub fn short_command(cmd: &str) -> String {
    let words: Vec<&str> = cmd
        .split_whitespace()
        .skip_while(|w| w.contains('=') && !w.starts_with('-'))
        .collect();
    if words.is_empty() {
        return cmd.trim().to_string();
    }
    if words[0] == "if" || cmd.contains("$(") || cmd.contains(';') {
        // A shell snippet: name it by its last plain command.
        let plain = cmd
            .split([';', '&', '|'])
            .map(|seg| {
                seg.trim()
                    .trim_start_matches("then ")
                    .trim_start_matches("else ")
                    .trim()
            })
            .rev()
            .find(|seg| {
                let first = seg.split_whitespace().next().unwrap_or("");
                !seg.is_empty()
                    && !seg.contains("$(")
                    && !matches!(
                        first,
                        "if" | "[" | "test" | "fi" | "then" | "else" | "true" | "false"
                    )
            });
        return match plain {
            Some(seg) if seg != cmd.trim() => short_command(seg),
            _ => {
                let mut s: String = cmd.trim().chars().take(40).collect();
                if cmd.trim().chars().count() > 40 {
                    s.push('…');
                }
                s
            }
        };
    }
    if let Some(i) = words.iter().position(|w| *w == "-m") {
        if let (Some(module), Some(last)) = (words.get(i + 1), words.last()) {
            return format!("{module} {last}");
        }
    }
    let program = words[0].rsplit('/').next().unwrap_or(words[0]);
    match words[1..]
        .iter()
        .find(|w| !matches!(**w, "-q" | "-qq" | "-y") && !w.starts_with(['>', '<', '"', '$']))
    {
        Some(arg) => format!("{program} {arg}"),
        None => program.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report reads trials.jsonl as `History`: every committed one,
    /// old formats included, must load, with a view for every line.
    #[test]
    fn every_committed_trials_jsonl_loads_as_history() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for dir in ["../results/reference", "tests/fixtures"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = e.unwrap().path().join("trials.jsonl");
                if !p.is_file() {
                    continue;
                }
                let views = read_jsonl(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                let lines = std::fs::read_to_string(&p)
                    .unwrap()
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .count();
                assert_eq!(views.len(), lines, "{}", p.display());
                seen += 1;
            }
        }
        assert!(seen > 0, "no trials.jsonl found");
    }
}
