//! `compare BASE_RUN NEW_RUN`: two runs side by side per scenario ×
//! approach × metric, with the seeded bootstrap CIs of the medians, so a
//! change in the harness or in a tool shows up as "moved" (or plainly not).

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

use crate::error::{exit, Result};
use crate::export::write_atomic;
use crate::export::{ApproachKind, TriBool};
use crate::report::{approach_rank, fmt_count, fmt_ms, Run, Tally, Trial};
use crate::stats::{self, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED};

/// `mistake-cost compare BASE NEW [--out FILE]`: Markdown on stdout (and in FILE).
pub fn command(base: &Path, new: &Path, out: Option<&Path>) -> Result<i32> {
    let (b, n) = (Run::load(base)?, Run::load(new)?);
    let text = render(&b, &n);
    print!("{text}");
    if let Some(path) = out {
        write_atomic(path, &text)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(exit::OK)
}

/// A median metric: its trials.csv column (the schema's name; a test holds
/// it to the schema) and how its values print.
struct Metric {
    name: &'static str,
    get: fn(&Trial) -> Option<f64>,
    ms: bool,
}

const MEDIANS: [Metric; 6] = [
    Metric {
        name: "residue_files",
        get: |t| t.record.residue_files.map(|v| v as f64),
        ms: false,
    },
    Metric {
        name: "residue_packages",
        get: |t| t.record.residue_packages.map(|v| v as f64),
        ms: false,
    },
    Metric {
        name: "garbage_paths",
        get: |t| t.record.garbage_paths.map(|v| v as f64),
        ms: false,
    },
    Metric {
        name: "recovery_ms",
        get: |t| t.record.recovery_ms,
        ms: true,
    },
    Metric {
        name: "operation_ms",
        get: |t| t.record.operation_ms,
        ms: true,
    },
    Metric {
        name: "trial_wall_ms",
        get: |t| Some(t.record.trial_wall_ms),
        ms: true,
    },
];

/// A three-valued column (true / false / unknown) read as a share.
type ShareColumn = (&'static str, fn(&Trial) -> TriBool);

const SHARES: [ShareColumn; 2] = [
    ("consistent", |t| t.record.consistent),
    ("recovered", |t| t.record.recovered),
];

/// A median with its CI, from the trials that did not error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MedianCi {
    pub n: usize,
    pub median: f64,
    pub ci: (f64, f64),
}

impl MedianCi {
    pub fn of(values: &[f64]) -> Option<MedianCi> {
        let median = stats::median(values)?;
        let ci = stats::bootstrap_median_ci(values, BOOTSTRAP_SEED, BOOTSTRAP_RESAMPLES, 0.95)?;
        Some(MedianCi {
            n: values.iter().filter(|v| v.is_finite()).count(),
            median,
            ci,
        })
    }

    /// The 95% CIs do not overlap.
    pub fn moved(&self, other: &MedianCi) -> bool {
        self.ci.1 < other.ci.0 || other.ci.1 < self.ci.0
    }
}

/// Same share (yes / total), whatever the counts.
fn same_share(a: &Tally, b: &Tally) -> bool {
    a.yes * b.total() == b.yes * a.total() && a.unknown * b.total() == b.unknown * a.total()
}

fn counts(t: &Tally) -> String {
    let unknown = if t.unknown > 0 {
        format!(" +{} unknown", t.unknown)
    } else {
        String::new()
    };
    format!("{}/{}{unknown}", t.yes, t.total())
}

pub fn render(base: &Run, new: &Run) -> String {
    let mut md = String::new();
    let id = |r: &Run| {
        r.meta
            .as_ref()
            .and_then(|m| m.run_id.clone())
            .map(|i| format!(" (run {i})"))
            .unwrap_or_default()
    };
    let _ = writeln!(md, "# mistake-cost compare\n");
    let _ = writeln!(
        md,
        "- base: `{}`{}, {} trials",
        base.dir.display(),
        id(base),
        base.trials.len()
    );
    let _ = writeln!(
        md,
        "- new: `{}`{}, {} trials",
        new.dir.display(),
        id(new),
        new.trials.len()
    );
    // Runs of two results formats define some columns differently.
    let format = |r: &Run| r.meta.as_ref().map_or(1, |m| m.format());
    if format(base) != format(new) {
        let _ = writeln!(
            md,
            "\n**Warning:** the runs are in results formats {} and {}: `consistent`, `residue_files` (and the other \
             `*_files` columns) and `detect_ms` mean different things in them, so a move there may be the definition's, not \
             the tools'.",
            format(base),
            format(new)
        );
    }
    let _ = writeln!(
        md,
        "\nMedians over the trials that did not error, with a percentile bootstrap 95% CI ({BOOTSTRAP_RESAMPLES} resamples, \
         ChaCha8 seed {BOOTSTRAP_SEED}); a median has **moved** when the two CIs do not overlap. A share has moved when the \
         proportion changed. Samples under {} trials are marked small: with them even a real change may not show, and a \
         one-trial CI is a point.\n",
        stats::SMALL_SAMPLE
    );
    let keys: BTreeSet<(String, (usize, ApproachKind))> = base
        .trials
        .iter()
        .chain(&new.trials)
        .map(|t| (t.record.scenario.clone(), approach_rank(t.record.approach)))
        .collect();
    let mut verdicts = Vec::new();
    for (scenario, (_, approach)) in &keys {
        let pick = |r: &'_ Run| -> Vec<Trial> {
            r.trials
                .iter()
                .filter(|t| &t.record.scenario == scenario && t.record.approach == *approach)
                .cloned()
                .collect()
        };
        let (b, n) = (pick(base), pick(new));
        let _ = writeln!(md, "## `{scenario}` × `{approach}`\n");
        if b.is_empty() || n.is_empty() {
            let which = if b.is_empty() { "new" } else { "base" };
            let line = format!("only in the {which} run: nothing to compare");
            let _ = writeln!(md, "Verdict: {line}.\n");
            verdicts.push(format!("`{scenario}` × `{approach}`: {line}"));
            continue;
        }
        let data =
            |ts: &[Trial]| -> Vec<Trial> { ts.iter().filter(|t| !t.errored()).cloned().collect() };
        let (bd, nd) = (data(&b), data(&n));
        let errored = |all: &[Trial], d: &[Trial]| all.len() - d.len();
        let _ = writeln!(
            md,
            "Trials: {} → {} (errored, excluded: {} → {}).\n",
            b.len(),
            n.len(),
            errored(&b, &bd),
            errored(&n, &nd)
        );
        let _ = writeln!(
            md,
            "| metric | base | new | change | moved |\n| --- | --- | --- | --- | --- |"
        );
        let mut moved = Vec::new();
        for (name, get) in SHARES {
            let (tb, tn) = (Tally::of(bd.iter().map(get)), Tally::of(nd.iter().map(get)));
            let (change, mv) = if tb.total() == 0 || tn.total() == 0 {
                ("—".to_string(), "n/a".to_string())
            } else if same_share(&tb, &tn) {
                let note = if counts(&tb) != counts(&tn) {
                    format!("same share ({} → {})", counts(&tb), counts(&tn))
                } else {
                    "none".into()
                };
                (note, "no".into())
            } else {
                let pp =
                    100.0 * (tn.yes as f64 / tn.total() as f64 - tb.yes as f64 / tb.total() as f64);
                moved.push(format!("{name} {} → {}", counts(&tb), counts(&tn)));
                (
                    format!("{pp:+.0} pp ({} → {})", counts(&tb), counts(&tn)),
                    "**yes**".into(),
                )
            };
            let _ = writeln!(
                md,
                "| {name} share | {} | {} | {change} | {mv} |",
                tb.percent(),
                tn.percent()
            );
        }
        for m in &MEDIANS {
            let values = |ts: &[Trial]| -> Vec<f64> { ts.iter().filter_map(m.get).collect() };
            let fmt = |v: f64| if m.ms { fmt_ms(v) } else { fmt_count(v) };
            let show = |c: &Option<MedianCi>| match c {
                Some(c) => format!(
                    "{} [{} – {}] {}",
                    fmt(c.median),
                    fmt(c.ci.0),
                    fmt(c.ci.1),
                    stats::sample_label(c.n)
                ),
                None => "—".into(),
            };
            let (cb, cn) = (MedianCi::of(&values(&bd)), MedianCi::of(&values(&nd)));
            let (change, mv) = match (&cb, &cn) {
                (Some(x), Some(y)) => {
                    let d = y.median - x.median;
                    let rel = if x.median != 0.0 {
                        format!(" ({:+.0}%)", 100.0 * d / x.median)
                    } else {
                        String::new()
                    };
                    let sign = if d >= 0.0 { "+" } else { "−" };
                    let change = if d == 0.0 {
                        "none".to_string()
                    } else {
                        format!("{sign}{}{rel}", fmt(d.abs()))
                    };
                    if x.moved(y) {
                        moved.push(format!(
                            "{} median {} → {}",
                            m.name,
                            fmt(x.median),
                            fmt(y.median)
                        ));
                        (change, "**yes**: CIs do not overlap".to_string())
                    } else {
                        (change, "no".to_string())
                    }
                }
                _ => ("—".into(), "n/a".into()),
            };
            let _ = writeln!(
                md,
                "| {} median | {} | {} | {change} | {mv} |",
                m.name,
                show(&cb),
                show(&cn)
            );
        }
        let small = bd.len().min(nd.len()) < stats::SMALL_SAMPLE;
        let line = if moved.is_empty() {
            "no change".to_string()
        } else {
            format!("moved: {}", moved.join("; "))
        };
        let label = if small {
            format!(" {}", stats::sample_label(bd.len().min(nd.len())))
        } else {
            String::new()
        };
        let _ = writeln!(md, "\nVerdict: {line}{label}.\n");
        verdicts.push(format!("`{scenario}` × `{approach}`: {line}{label}"));
    }
    let _ = writeln!(md, "## Verdicts\n");
    for v in verdicts {
        let _ = writeln!(md, "- {v}");
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-failed-install")
    }

    /// The fixture's trials.csv with `edit(approach, cells)` applied to each row.
    fn modified(edit: impl Fn(&[&str], &mut Vec<String>)) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(fixture().join("trials.csv")).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let mut out = vec![header.join(",")];
        for l in lines {
            let mut cells: Vec<String> = l.split(',').map(str::to_owned).collect();
            edit(&header, &mut cells);
            out.push(cells.join(","));
        }
        std::fs::write(dir.path().join("trials.csv"), out.join("\n") + "\n").unwrap();
        dir
    }

    #[test]
    fn metrics_are_trials_columns() {
        use crate::export::{column, ColumnKind, Source};
        for m in &MEDIANS {
            let c = column(Source::Trials, m.name).unwrap_or_else(|| panic!("{}", m.name));
            assert_eq!(c.kind, ColumnKind::Number, "{}", m.name);
        }
        for (name, _) in SHARES {
            let c = column(Source::Trials, name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(c.kind, ColumnKind::Bool, "{name}");
        }
    }

    #[test]
    fn a_run_against_itself_has_no_change() {
        let run = Run::load(&fixture()).unwrap();
        let md = render(&run, &run);
        for a in ["apt", "pip", "pip-venv", "nix"] {
            assert!(
                md.contains(&format!(
                    "- `failed-install` × `{a}`: no change (n=5, small sample)"
                )),
                "{a}:\n{md}"
            );
        }
        assert!(!md.contains("**yes**"));
        assert!(md.contains("| recovery_ms median |"), "{md}");
    }

    #[test]
    fn a_slower_apt_that_recovers_has_moved() {
        let new = modified(|h, cells| {
            let at = |n: &str| h.iter().position(|c| *c == n).unwrap();
            if cells[at("approach")] == "apt" {
                let ms: f64 = cells[at("recovery_ms")].parse().unwrap();
                cells[at("recovery_ms")] = format!("{}", ms * 3.0);
                if cells[at("rep")] != "4" && cells[at("rep")] != "3" {
                    cells[at("recovered")] = "true".into();
                }
            }
        });
        let (b, n) = (
            Run::load(&fixture()).unwrap(),
            Run::load(new.path()).unwrap(),
        );
        let md = render(&b, &n);
        let verdict = md
            .lines()
            .find(|l| l.starts_with("- `failed-install` × `apt`"))
            .unwrap();
        assert!(
            verdict.contains("moved: recovered 0/5 → 3/5; recovery_ms median"),
            "{verdict}"
        );
        assert!(verdict.contains("small sample"), "{verdict}");
        assert!(md.contains("+60 pp (0/5 → 3/5)"), "{md}");
        assert!(md.contains("- `failed-install` × `nix`: no change"), "{md}");
    }

    #[test]
    fn missing_approaches_and_bad_folders() {
        let new = modified(|h, cells| {
            let at = h.iter().position(|c| *c == "approach").unwrap();
            if cells[at] == "nix" {
                cells[at] = "pip".into();
            }
        });
        let md = render(
            &Run::load(&fixture()).unwrap(),
            &Run::load(new.path()).unwrap(),
        );
        assert!(md.contains("`nix`: only in the base run"), "{md}");
        assert!(md.contains("same share (5/5 → 10/10)"), "{md}");
        let e = command(Path::new("/nonexistent/run"), &fixture(), None).unwrap_err();
        assert_eq!(e.exit_code(), exit::BAD_INPUT);
    }

    #[test]
    fn writes_the_file_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("cmp.md");
        assert_eq!(
            command(&fixture(), &fixture(), Some(&out)).unwrap(),
            exit::OK
        );
        assert!(std::fs::read_to_string(out)
            .unwrap()
            .starts_with("# mistake-cost compare"));
    }
}
