//! The `report` command: load a run folder (trials.csv and/or an explore
//! run's crashpoints.csv, with trials.jsonl, points.json and run.json when
//! present), aggregate per scenario × approach, answer the claims, and write
//! report.md / report.html (each via a temp file + rename).

pub mod aggregate;
pub mod attempts;
pub mod claims;
pub mod crashpoints;
pub mod environment;
pub mod html;
pub mod load;
pub mod markdown;
pub mod plots;
pub mod service;
pub mod summary;

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::{Error, Result};
use crate::export::write_atomic;
use crate::stats::{self, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED};

// The report's rooms: load → aggregate → the document (here) → render
// (markdown, html). Their items are re-exported so the renderers and the
// claims name them as `super::Trial`, `super::ApproachStats`.
pub use aggregate::*;
pub use load::*;

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
    doc.extend(service::blocks(&run.trials));

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
                match &m.harness_commit {
                    Some(c) => about.push(format!("harness {v} ({c})")),
                    None => about.push(format!("harness {v}")),
                }
            }
            about.push(format!("results format {}", m.format()));
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
    head.extend(groups.iter().map(|g| g.approach.to_string()));
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
    row("consistent right after the operation (own checks)", &|g| {
        g.consistent.percent()
    });
    if groups.iter().any(|g| g.probes_ok.total() > 0) {
        row("scenario probes passed right after the operation", &|g| {
            g.probes_ok.percent()
        });
    }
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
                g.approach.to_string(),
                g.data.iter().filter_map(|t| t.record.recovery_ms).collect(),
            )
        })
        .collect();
    let residue: Vec<(String, Vec<[f64; 4]>)> = groups
        .iter()
        .map(|g| (g.approach.to_string(), g.residue_kinds()))
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
