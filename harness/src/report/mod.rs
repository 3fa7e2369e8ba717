//! The `report` command: load a run folder (trials.csv and/or an explore
//! run's crashpoints.csv, with trials.jsonl, points.json and run.json when
//! present), aggregate per scenario × approach, answer the claims, and write
//! report.md / report.html (each via a temp file + rename).

pub mod attempts;
pub mod claims;
pub mod crashpoints;
pub mod environment;
pub mod html;
pub mod markdown;
pub mod plots;
pub mod stats;

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::checker::{check_verdict, Outcome, TrialRecord, Verdict};
use crate::error::{Error, Result};
use crate::export::write_atomic;
use crate::history::{Attempt, Step};
use stats::{Summary, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED};

/// The formats `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "md" | "markdown" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            other => Err(Error::Usage(format!(
                "report: unknown format '{other}' (expected md, html or both: --format md,html)"
            ))),
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Format::Markdown => "report.md",
            Format::Html => "report.html",
        }
    }
}

/// `mistake-cost report RUN_DIR [--format md,html]`.
pub fn command(run_dir: &Path, formats: &[String]) -> Result<i32> {
    let mut wanted: Vec<Format> = Vec::new();
    for f in formats {
        let f = Format::parse(f)?;
        if !wanted.contains(&f) {
            wanted.push(f);
        }
    }
    if wanted.is_empty() {
        return Err(Error::Usage(
            "report: no format given (expected md, html or both)".into(),
        ));
    }
    let run = Run::load(run_dir)?;
    let doc = document(&run);
    for f in wanted {
        let text = match f {
            Format::Markdown => markdown::render(&doc),
            Format::Html => html::render(&doc),
        };
        let path = run_dir.join(f.file_name());
        write_atomic(&path, &text)?;
        println!("wrote {}", path.display());
    }
    Ok(crate::error::exit::OK)
}

// ---------------------------------------------------------------- loading

/// run.json, as far as the report shows it (every field optional).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunMeta {
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub reps: Option<u64>,
    #[serde(default)]
    pub jobs: Option<u64>,
    #[serde(default)]
    pub scenarios: Vec<String>,
    #[serde(default)]
    pub started: Option<String>,
    #[serde(default)]
    pub harness_version: Option<String>,
    /// Absent in runs made before the profile was recorded.
    #[serde(default)]
    pub security_profile: Option<String>,
    #[serde(default)]
    pub security_profile_detail: Option<String>,
    /// Approach → how it was configured in this run.
    #[serde(default)]
    pub approaches: BTreeMap<String, String>,
    #[serde(default)]
    pub environment: Option<crate::docker::environment::Environment>,
}

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
    approach: String,
    fault: String,
    rep: u32,
    seed: u64,
    #[serde(default)]
    steps: Vec<serde_json::Value>,
    #[serde(default)]
    residue_after_failure: Option<ResidueView>,
    #[serde(default)]
    residue_after_recovery: Option<ResidueView>,
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

type Key = (String, String, String, u32, u64);

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
                    record.approach.clone(),
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
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| Error::Usage(format!("report: reading {}: {e}", path.display())))?;
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
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
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
            if phase != "check-after-failure" {
                continue;
            }
            let Ok(step) = serde_json::from_value::<Step>(step.clone()) else {
                continue;
            };
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

// ---------------------------------------------------------------- aggregates

/// true / false / unknown counts of a three-valued column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub yes: usize,
    pub no: usize,
    pub unknown: usize,
}

impl Tally {
    pub fn of<'a>(values: impl IntoIterator<Item = &'a str>) -> Tally {
        let mut t = Tally::default();
        for v in values {
            match v {
                "true" => t.yes += 1,
                "false" => t.no += 1,
                _ => t.unknown += 1,
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
    pub approach: String,
    pub all: Vec<&'a Trial>,
    /// Non-errored trials: the data.
    pub data: Vec<&'a Trial>,
    /// succeeded, failed, killed, errored.
    pub outcomes: [usize; 4],
    pub consistent: Tally,
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
    pub fn of(approach: &str, trials: Vec<&'a Trial>) -> ApproachStats<'a> {
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
            approach: approach.to_string(),
            outcomes,
            consistent: Tally::of(data.iter().map(|t| t.record.consistent.as_str())),
            recovered: Tally::of(data.iter().map(|t| t.record.recovered.as_str())),
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

/// Known approaches in [`ApproachKind::ALL`]'s order (the README's), others
/// (from an older or newer harness) after them by name.
pub fn approach_order(name: &str) -> (usize, String) {
    let rank = crate::approach::ApproachKind::ALL
        .iter()
        .position(|a| a.as_str() == name)
        .unwrap_or(usize::MAX);
    (rank, name.to_string())
}

/// Trials grouped by approach, in [`approach_order`].
pub fn by_approach<'a>(trials: impl IntoIterator<Item = &'a Trial>) -> Vec<ApproachStats<'a>> {
    let mut groups: BTreeMap<(usize, String), Vec<&Trial>> = BTreeMap::new();
    for t in trials {
        groups
            .entry(approach_order(&t.record.approach))
            .or_default()
            .push(t);
    }
    groups
        .into_iter()
        .map(|((_, name), ts)| ApproachStats::of(&name, ts))
        .collect()
}

// ---------------------------------------------------------------- formatting

/// A count or a median of counts: "34", "34.5".
pub fn fmt_count(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

/// Milliseconds as "0 ms", "586 ms", "6.48 s".
pub fn fmt_ms(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else {
        format!("{v:.0} ms")
    }
}

/// This approach's value against the best (lowest) one, without inf/NaN.
pub fn fmt_ratio(v: f64, best: f64, unit: &dyn Fn(f64) -> String) -> String {
    if (v - best).abs() < 1e-9 {
        if best == 0.0 {
            "0 (best)".into()
        } else {
            "1× (best)".into()
        }
    } else if best == 0.0 {
        format!("n/a: best is 0 (+{})", unit(v))
    } else {
        format!("{:.1}×", v / best)
    }
}

/// The approaches with the lowest value ("nix", or "apt, nix" on a tie).
pub fn best_of<'a>(
    values: impl IntoIterator<Item = (&'a str, f64)>,
) -> Option<(Vec<&'a str>, f64)> {
    let values: Vec<(&str, f64)> = values.into_iter().collect();
    let best = values.iter().map(|(_, v)| *v).min_by(f64::total_cmp)?;
    Some((
        values
            .iter()
            .filter(|(_, v)| (*v - best).abs() < 1e-9)
            .map(|(a, _)| *a)
            .collect(),
        best,
    ))
}

// ---------------------------------------------------------------- the document

/// The report as blocks; `markdown` and `html` render the same blocks.
/// Text may hold `code spans` in backticks.
#[derive(Debug, Clone)]
pub enum Block {
    Title(String),
    Heading(String),
    Subheading(String),
    Para(String),
    List(Vec<String>),
    /// First column: row labels.
    Table {
        head: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Claim(claims::Answer),
    Figures(Vec<plots::Figure>),
}

pub fn document(run: &Run) -> Vec<Block> {
    let mut doc = Vec::new();
    let meta = run.meta.clone().unwrap_or_default();
    let id = meta.run_id.clone().unwrap_or_else(|| {
        run.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    doc.push(Block::Title(format!("mistake-cost report: run {id}")));
    doc.push(Block::Para(run_summary(run)));
    doc.extend(environment::blocks(run.meta.as_ref()));
    doc.push(Block::Para(format!(
        "How to read it: values are medians unless said otherwise; p95 and quartiles interpolate between ranks; \
         the 95% CI of a median is a percentile bootstrap ({BOOTSTRAP_RESAMPLES} resamples, ChaCha8 seed {BOOTSTRAP_SEED}), \
         and a CI from fewer than {} trials is marked small sample. Errored trials and crash points (harness or Docker problems) \
         are excluded from every metric. Visible residue is what a user would see changed; garbage (unreferenced Nix store paths, logs, caches, \
         byte-code, dpkg backups) is collectible and counted apart.",
        stats::SMALL_SAMPLE
    )));

    doc.push(Block::Heading("Claims".into()));
    let no_points = Vec::new();
    let points = run.crash.as_ref().map_or(&no_points, |c| &c.records);
    for a in claims::answer_all(&run.trials, points) {
        doc.push(Block::Claim(a));
    }

    let mut scenarios: Vec<&str> = Vec::new();
    for t in &run.trials {
        if !scenarios.contains(&t.record.scenario.as_str()) {
            scenarios.push(&t.record.scenario);
        }
    }
    let crash_scenarios = run
        .crash
        .as_ref()
        .map(|c| c.scenarios())
        .unwrap_or_default();
    for s in &crash_scenarios {
        if !scenarios.contains(s) {
            scenarios.push(s);
        }
    }
    for scenario in scenarios {
        let trials: Vec<&Trial> = run
            .trials
            .iter()
            .filter(|t| t.record.scenario == scenario)
            .collect();
        let explored = crash_scenarios.contains(&scenario);
        if !trials.is_empty() {
            scenario_blocks(&mut doc, scenario, &trials, run.jsonl, explored);
        }
        if let (true, Some(crash)) = (explored, &run.crash) {
            crashpoints::scenario_blocks(&mut doc, scenario, crash, trials.is_empty());
        }
    }
    doc
}

fn run_summary(run: &Run) -> String {
    let mut parts = Vec::new();
    match &run.meta {
        Some(m) => {
            let mut about = Vec::new();
            if let Some(s) = &m.status {
                about.push(format!("status {s}"));
            }
            if let Some(s) = &m.started {
                about.push(format!("started {s}"));
            }
            if let Some(s) = m.seed {
                about.push(format!("plan seed {s}"));
            }
            if let Some(r) = m.reps {
                about.push(format!("{r} repetitions"));
            }
            if let Some(j) = m.jobs {
                about.push(format!("{j} jobs"));
            }
            if let Some(v) = &m.harness_version {
                about.push(format!("harness {v}"));
            }
            if !m.scenarios.is_empty() {
                about.push(format!(
                    "scenario files {}",
                    m.scenarios
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            parts.push(format!("From run.json: {}.", about.join(", ")));
        }
        None => parts.push("run.json not found: run metadata unknown.".into()),
    }
    if run.trials_csv {
        let errored = run.trials.iter().filter(|t| t.errored()).count();
        parts.push(format!(
            "{} trials in trials.csv ({} errored, excluded from the metrics).",
            run.trials.len(),
            errored
        ));
    }
    if let Some(c) = &run.crash {
        let errored = c.records.iter().filter(|r| !r.error.is_empty()).count();
        let fired = c
            .records
            .iter()
            .filter(|r| r.error.is_empty() && r.fired)
            .count();
        parts.push(format!(
            "{} crash points in crashpoints.csv ({fired} whose kill fired, {errored} errored and excluded); {}; {}.",
            c.records.len(),
            if c.points_json { "points.json gives the points each dry run found" } else { "points.json not found: points found unknown" },
            match c.jsonl_lines {
                Some(n) => format!("crashpoints.jsonl: {n} histories (checks' commands and output)"),
                None => "crashpoints.jsonl not found".into(),
            }
        ));
    }
    if !run.trials_csv {
        return parts.join(" ");
    }
    parts.push(match run.jsonl {
        JsonlState::Loaded { lines, matched } if matched == run.trials.len() => format!("trials.jsonl: {lines} histories, one for every row."),
        JsonlState::Loaded { lines, matched } => format!(
            "trials.jsonl: {lines} histories, {matched} of {} rows matched; the others use trials.csv's counts only.",
            run.trials.len()
        ),
        JsonlState::Missing => "trials.jsonl not found: residue kinds come from trials.csv; failed checks and leftover paths are unknown.".into(),
    });
    parts.join(" ")
}

/// `explored`: the run also has this scenario's crash points, which draw
/// the strip; without them the trials get the strip's note instead.
fn scenario_blocks(
    doc: &mut Vec<Block>,
    scenario: &str,
    trials: &[&Trial],
    jsonl: JsonlState,
    explored: bool,
) {
    let groups = by_approach(trials.iter().copied());
    doc.push(Block::Heading(format!("Scenario `{scenario}`")));
    let faults: BTreeSet<&str> = trials.iter().map(|t| t.record.fault.as_str()).collect();
    let mut shown: Vec<String> = faults.iter().take(6).map(|f| format!("`{f}`")).collect();
    if faults.len() > 6 {
        shown.push(format!("and {} more", faults.len() - 6));
    }
    doc.push(Block::Para(format!(
        "{} trials: {}; {} {}{}.",
        trials.len(),
        groups
            .iter()
            .map(|g| format!("{} {}", g.all.len(), g.approach))
            .collect::<Vec<_>>()
            .join(", "),
        if faults.len() == 1 { "fault" } else { "faults" },
        shown.join(", "),
        if faults.len() > 1 {
            " (the table adds up every fault of the scenario)"
        } else {
            ""
        }
    )));

    let best_recovery = best_of(
        groups
            .iter()
            .filter_map(|g| Some((g.approach.as_str(), g.recovery_ms?.median))),
    );
    let best_residue = best_of(
        groups
            .iter()
            .filter_map(|g| Some((g.approach.as_str(), g.residue_files?.median))),
    );
    let names = |b: &Option<(Vec<&str>, f64)>| {
        b.as_ref()
            .map(|(a, _)| a.join(", "))
            .unwrap_or_else(|| "none".into())
    };

    let mut head = vec!["metric".to_string()];
    head.extend(groups.iter().map(|g| g.approach.clone()));
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |label: &str, f: &dyn Fn(&ApproachStats) -> String| {
        let mut r = vec![label.to_string()];
        r.extend(groups.iter().map(f));
        rows.push(r);
    };
    let dash = || "—".to_string();
    row("trials", &|g| g.all.len().to_string());
    row("succeeded / failed / killed / errored", &|g| {
        g.outcomes
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" / ")
    });
    row("consistent right after the operation", &|g| {
        g.consistent.percent()
    });
    row("residue files, median / max", &|g| {
        g.residue_files
            .map(|s| format!("{} / {}", fmt_count(s.median), fmt_count(s.max)))
            .unwrap_or_else(dash)
    });
    row("residue packages, median / max", &|g| {
        g.residue_packages
            .map(|s| format!("{} / {}", fmt_count(s.median), fmt_count(s.max)))
            .unwrap_or_else(dash)
    });
    row("garbage paths, median", &|g| {
        g.garbage.map(|s| fmt_count(s.median)).unwrap_or_else(dash)
    });
    row("playbook ran", &|g| {
        format!("{}/{}", g.playbook_ran, g.data.len())
    });
    row("recovered", &|g| g.recovered.percent());
    row(
        "recovery time, median [95% CI]",
        &|g| match (g.recovery_ms, g.recovery_ci) {
            (Some(s), Some((lo, hi))) => format!(
                "{} [{} – {}] {}",
                fmt_ms(s.median),
                fmt_ms(lo),
                fmt_ms(hi),
                stats::sample_label(s.n)
            ),
            _ => dash(),
        },
    );
    row("recovery time, p95", &|g| {
        g.recovery_ms.map(|s| fmt_ms(s.p95)).unwrap_or_else(dash)
    });
    row("recovery time, min – max", &|g| {
        g.recovery_ms
            .map(|s| format!("{} – {}", fmt_ms(s.min), fmt_ms(s.max)))
            .unwrap_or_else(dash)
    });
    row(
        &format!("recovery time vs best ({})", names(&best_recovery)),
        &|g| match (&best_recovery, g.recovery_ms) {
            (Some((_, best)), Some(s)) => fmt_ratio(s.median, *best, &fmt_ms),
            _ => dash(),
        },
    );
    row(
        &format!("residue files vs best ({})", names(&best_residue)),
        &|g| match (&best_residue, g.residue_files) {
            (Some((_, best)), Some(s)) => {
                fmt_ratio(s.median, *best, &|v| format!("{} files", fmt_count(v)))
            }
            _ => dash(),
        },
    );
    row(
        "left after the playbook: files / garbage, median",
        &|g| match (g.final_files, g.final_garbage) {
            (Some(f), Some(gb)) => format!("{} / {}", fmt_count(f.median), fmt_count(gb.median)),
            _ => dash(),
        },
    );
    row("operation time, median", &|g| {
        g.operation_ms
            .map(|s| fmt_ms(s.median))
            .unwrap_or_else(dash)
    });
    doc.push(Block::Table { head, rows });

    let mut notes = Vec::new();
    if let Some((who, v)) = &best_recovery {
        notes.push(format!("Fastest recovery (median): {} at {}; a playbook that did not run (nothing to recover) counts as 0 ms.", who.join(", "), fmt_ms(*v)));
    }
    if let Some((who, v)) = &best_residue {
        notes.push(format!(
            "Least visible residue (median): {} with {} files.",
            who.join(", "),
            fmt_count(*v)
        ));
    }
    let succeeded: usize = groups.iter().map(|g| g.outcomes[0]).sum();
    if succeeded > 0 {
        notes.push(format!(
            "{succeeded} operations succeeded (e.g. a fault that came too late): their residue is the installed package, an intended change, \
             and is added up with the others above."
        ));
    }
    let errored: Vec<String> = groups
        .iter()
        .flat_map(|g| {
            g.all
                .iter()
                .filter(|t| t.errored())
                .map(|t| format!("{} rep {}: {}", g.approach, t.record.rep, t.record.error))
        })
        .collect();
    if errored.is_empty() {
        notes.push("No trial errored: every row above is data.".into());
    } else {
        notes.push(format!(
            "{} errored trials are excluded from every metric above ({}).",
            errored.len(),
            errored.join("; ")
        ));
    }
    doc.push(Block::List(notes));
    doc.extend(attempts::blocks(&groups));

    let recovery: Vec<(String, Vec<f64>)> = groups
        .iter()
        .map(|g| {
            (
                g.approach.clone(),
                g.data.iter().filter_map(|t| t.record.recovery_ms).collect(),
            )
        })
        .collect();
    let residue: Vec<(String, Vec<[f64; 4]>)> = groups
        .iter()
        .map(|g| (g.approach.clone(), g.residue_kinds()))
        .collect();
    let source = match jsonl {
        JsonlState::Missing => "trials.csv (residue_added / _removed / _modified, garbage_paths)",
        JsonlState::Loaded { .. } => "trials.jsonl (residue_after_failure)",
    };
    let mut figures = vec![
        plots::recovery_time(&recovery),
        plots::residue_by_kind(&residue, source),
    ];
    if !explored {
        figures.push(plots::crash_point_strip_note(trials));
    }
    doc.push(Block::Figures(figures));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_get_short_names() {
        assert_eq!(short_command("dpkg --audit"), "dpkg --audit");
        assert_eq!(short_command("apt-get check -qq"), "apt-get check");
        assert_eq!(
            short_command(
                "PYTHONDONTWRITEBYTECODE=1 python3 -m pip --disable-pip-version-check check"
            ),
            "pip check"
        );
        assert_eq!(short_command("nix-store --verify"), "nix-store --verify");
        let profile = "if [ -e /nix/var/nix/profiles/default ] || [ -L /nix/var/nix/profiles/default ]; then \
                       p=$(readlink -f /root/.nix-profile) && [ -e \"$p\" ] && nix-store -q --requisites \"$p\" >/dev/null; fi";
        assert_eq!(short_command(profile), "nix-store --requisites");
    }

    #[test]
    fn ratios_and_bests_never_print_inf_or_nan() {
        assert_eq!(fmt_ratio(0.0, 0.0, &fmt_ms), "0 (best)");
        assert_eq!(fmt_ratio(586.0, 0.0, &fmt_ms), "n/a: best is 0 (+586 ms)");
        assert_eq!(fmt_ratio(300.0, 100.0, &fmt_ms), "3.0×");
        assert_eq!(fmt_ratio(100.0, 100.0, &fmt_ms), "1× (best)");
        assert_eq!(
            best_of([("apt", 3.0), ("nix", 0.0), ("pip", 0.0)]),
            Some((vec!["nix", "pip"], 0.0))
        );
        assert_eq!(best_of(std::iter::empty()), None);
        assert_eq!(fmt_count(34.0), "34");
        assert_eq!(fmt_count(34.5), "34.5");
        assert_eq!(fmt_ms(6477.3), "6.48 s");
    }

    #[test]
    fn bad_formats_and_folders_are_usage_errors() {
        assert!(
            matches!(Format::parse("pdf"), Err(Error::Usage(m)) if m.contains("unknown format 'pdf'"))
        );
        assert_eq!(Format::parse(" MD ").unwrap(), Format::Markdown);
        let missing = Run::load(Path::new("/nonexistent/run")).unwrap_err();
        assert_eq!(missing.exit_code(), crate::error::exit::BAD_INPUT);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("trials.csv"), "scenario,approach\nx\n").unwrap();
        let garbled = Run::load(dir.path()).unwrap_err().to_string();
        assert!(garbled.contains("trials.csv:2:"), "{garbled}");
    }

    #[test]
    fn a_folder_with_trials_and_crash_points_reports_both() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            fixtures.join("run-failed-install/trials.csv"),
            dir.path().join("trials.csv"),
        )
        .unwrap();
        std::fs::copy(
            fixtures.join("explore-kill-during-install/crashpoints.csv"),
            dir.path().join("crashpoints.csv"),
        )
        .unwrap();
        let run = Run::load(dir.path()).unwrap();
        assert_eq!(
            (run.trials.len(), run.crash.as_ref().unwrap().records.len()),
            (20, 8)
        );
        let md = markdown::render(&document(&run));
        assert!(
            md.contains("## Scenario `failed-install`")
                && md.contains("## Scenario `kill-during-install`"),
            "{md}"
        );
        assert!(
            md.contains("20 trials in trials.csv")
                && md.contains("8 crash points in crashpoints.csv"),
            "{md}"
        );
        assert!(
            md.contains("points.json not found: points found unknown"),
            "{md}"
        );
        assert!(
            md.contains(
                "| crash points found (dry run) | — (no points.json) | — (no points.json) |"
            ),
            "{md}"
        );
        // Atomicity from the trials, interruption from the crash points.
        assert!(
            md.contains("**Holds only for nix.**") && md.contains("**Contradicted.**"),
            "{md}"
        );
        assert_eq!(
            md.matches("**Figure: Crash-point outcome strip**: not drawn")
                .count(),
            1,
            "the trials' note, once"
        );
        assert_eq!(
            md.matches("**Figure: Crash-point outcome strip** (an SVG plot")
                .count(),
            1,
            "the explore strip, once"
        );

        std::fs::remove_file(dir.path().join("trials.csv")).unwrap();
        std::fs::write(dir.path().join("crashpoints.csv"), "").unwrap();
        let empty = Run::load(dir.path()).unwrap_err().to_string();
        assert!(empty.contains("has no crash points"), "{empty}");
        std::fs::write(
            dir.path().join("crashpoints.csv"),
            "scenario,approach\nx,nix\n",
        )
        .unwrap();
        let garbled = Run::load(dir.path()).unwrap_err().to_string();
        assert!(
            garbled.contains("garbled crashpoints.csv") && garbled.contains("crashpoints.csv:2"),
            "{garbled}"
        );
    }
}
