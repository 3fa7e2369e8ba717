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
use crate::history::{Attempt, Step};

/// run.json, one type for its writer and its readers.
pub use crate::export::RunMeta;

/// One residue path as trials.jsonl writes it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResiduePathView {
    pub path: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub class: String,
}

/// A residue as trials.jsonl writes it. Read with a view of its own, so the
/// report keeps reading old runs when the snapshot types grow.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResidueView {
    #[serde(default)]
    pub added: usize,
    #[serde(default)]
    pub removed: usize,
    #[serde(default)]
    pub modified: usize,
    #[serde(default)]
    pub garbage: usize,
    #[serde(default)]
    pub packages: Vec<String>,
    #[serde(default)]
    pub paths: Vec<ResiduePathView>,
}

impl ResidueView {
    pub fn visible_paths(&self) -> impl Iterator<Item = &str> {
        self.paths
            .iter()
            .filter(|p| p.class == "visible")
            .map(|p| p.path.as_str())
    }
}

#[derive(Debug, Clone, Deserialize)]
struct HistoryLine {
    scenario: String,
    approach: ApproachKind,
    fault: FaultLabel,
    rep: u32,
    seed: u64,
    #[serde(default)]
    steps: Vec<serde_json::Value>,
    #[serde(default)]
    residue_after_failure: Option<ResidueView>,
    #[serde(default)]
    residue_after_recovery: Option<ResidueView>,
    #[serde(default)]
    service: Option<ServiceView>,
    #[serde(default, alias = "retry")]
    clean: Option<RetryView>,
}

/// What the report reads of a retry's comparison with a clean install.
#[derive(Debug, Clone, Default, Deserialize)]
struct RetryView {
    #[serde(default)]
    difference: ResidueView,
}

/// What the report reads of a configure trial's probe timeline.
#[derive(Debug, Clone, Default, Deserialize)]
struct ServiceView {
    #[serde(default)]
    max_gap_ms: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct JsonlLine {
    history: HistoryLine,
}

/// What the report uses of a trial's history in trials.jsonl.
#[derive(Debug, Clone, Default)]
pub struct HistoryView {
    pub residue_after_failure: Option<ResidueView>,
    pub residue_after_recovery: Option<ResidueView>,
    /// Short names of the checks run right after the operation…
    pub checks_run: Vec<String>,
    /// …and of those that judged the state invalid.
    pub checks_failed: Vec<String>,
    /// Side effects the package's scripts attempted, with the phase of the
    /// step that printed them (`operation`, `recovery`, …).
    pub attempts: Vec<(String, Attempt)>,
    /// The commands of the recovery phase, in order (empty: none ran).
    pub recovery_commands: Vec<String>,
    /// A configure trial's probe: the longest gap between two samples
    /// after the change, the resolution of its times.
    pub probe_max_gap_ms: Option<f64>,
    /// A retry trial's difference from a clean install (visible paths and
    /// packages); None for other trials.
    pub retry_difference: Option<ResidueView>,
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

type Key = (String, ApproachKind, FaultLabel, u32, u64);

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
        let meta_path = dir.join("run.json");
        let meta = if meta_path.is_file() {
            let text = std::fs::read_to_string(&meta_path)
                .map_err(|e| Error::io(format!("reading {}", meta_path.display()), e))?;
            Some(serde_json::from_str::<RunMeta>(&text).map_err(|e| {
                Error::Usage(format!("report: {}:{}: {e}", meta_path.display(), e.line()))
            })?)
        } else {
            None
        };
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
            residue_after_failure: h.residue_after_failure,
            residue_after_recovery: h.residue_after_recovery,
            probe_max_gap_ms: h.service.and_then(|s| s.max_gap_ms),
            retry_difference: h.clean.map(|r| r.difference),
            ..Default::default()
        };
        for step in &h.steps {
            let phase = step
                .get("phase")
                .and_then(|p| p.as_str())
                .unwrap_or_default();
            if let Some(list) = step.get("attempts") {
                let list: Vec<Attempt> = serde_json::from_value(list.clone()).map_err(|e| {
                    Error::Usage(format!(
                        "report: garbled attempts in trials.jsonl: {}:{}: {e}",
                        path.display(),
                        i + 1
                    ))
                })?;
                view.attempts
                    .extend(list.into_iter().map(|a| (phase.to_string(), a)));
            }
            if phase == "recovery" {
                if let Some(c) = step.get("command").and_then(|c| c.as_str()) {
                    view.recovery_commands.push(c.to_string());
                }
            }
            if phase != "check-after-failure" {
                continue;
            }
            let Ok(step) = serde_json::from_value::<Step>(step.clone()) else {
                continue;
            };
            // The checks `consistent` counts: the package manager's own
            // (the health and the probes have their own columns).
            if step.kind_of_check() != Some(crate::history::CheckKind::Own) {
                continue;
            }
            let name = step
                .check
                .clone()
                .unwrap_or_else(|| short_command(&step.command));
            if check_verdict(&step) == Verdict::Invalid {
                view.checks_failed.push(name.clone());
            }
            view.checks_run.push(name);
        }
        out.push(((h.scenario, h.approach, h.fault, h.rep, h.seed), view));
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
