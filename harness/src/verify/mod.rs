//! Guarantees: hypotheses a scenario file states about its own results
//! (`[[guarantee]]`), judged over a run's rows as holds / violated / unknown
//! for CI (`verify`: exit codes, JUnit XML). Rows in, verdicts out: no Docker.
//! Also the scenario loader every command uses (`load`): it compiles guarantees.

pub mod builtin;
pub mod expect;
pub mod judge;
pub mod junit;
mod load;
pub mod rows;

use std::fmt;
use std::path::Path;

pub use expect::{CellEvidence, Expect, Filter, Source};
pub use judge::{verdict, Counts, Share, Verdict};
pub use load::{check_guarantee, load_scenario, load_scenarios};
use rows::Table;

use crate::error::{exit, Error, Result};
use crate::export::Outcome;
use crate::scenario::{GuaranteeSpec, LoadedScenario, ParseError};
use crate::vocab::ApproachKind;

/// A `[[guarantee]]` table, checked and ready to judge rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Guarantee {
    pub name: String,
    pub approaches: Vec<ApproachKind>,
    pub source: Source,
    pub expect: Expect,
    pub share: Share,
    /// Only rows every filter admits are evidence (`when`).
    pub when: Vec<Filter>,
}

/// Checks a `[[guarantee]]` table against its scenario; an error carries
/// the span of the field at fault.
pub fn compile(
    spec: &GuaranteeSpec,
    scenario_approaches: &[ApproachKind],
) -> Result<Guarantee, ParseError> {
    let name = spec.name.get_ref().trim();
    if name.is_empty() {
        return Err(ParseError::new(
            Some(spec.name.span()),
            "guarantee name must not be empty",
        ));
    }
    let source = spec.source();
    let expect = Expect::parse(spec.expect.get_ref(), source)
        .map_err(|m| ParseError::new(Some(spec.expect.span()), m))?;
    let share = match &spec.share {
        Some(s) => Share::parse(s.get_ref()).map_err(|m| ParseError::new(Some(s.span()), m))?,
        None => Share::All,
    };
    let mut when = Vec::new();
    for w in &spec.when {
        when.push(
            Filter::parse(w.get_ref(), source).map_err(|m| ParseError::new(Some(w.span()), m))?,
        );
    }
    let mut approaches = Vec::new();
    for a in &spec.approaches {
        if !scenario_approaches.contains(a.get_ref()) {
            return Err(ParseError::new(
                Some(a.span()),
                format!(
                    "guarantee `{name}` is about approach `{}`, which this scenario does not run",
                    a.get_ref()
                ),
            ));
        }
        if approaches.contains(a.get_ref()) {
            return Err(ParseError::new(
                Some(a.span()),
                format!("approach `{}` is listed twice", a.get_ref()),
            ));
        }
        approaches.push(*a.get_ref());
    }
    if approaches.is_empty() {
        approaches = scenario_approaches.to_vec();
    }
    Ok(Guarantee {
        name: name.to_string(),
        approaches,
        source,
        expect,
        share,
        when,
    })
}

/// One row's part in a verdict, as evidence a reader can find again.
#[derive(Debug, Clone, PartialEq)]
pub struct RowEvidence {
    pub approach: String,
    /// `rep 3` (trials) or `point rename#5` (crash points).
    pub which: String,
    pub fault: String,
    /// The column judged.
    pub column: &'static str,
    /// The cell as written (`false`, `34`, `` for empty).
    pub value: String,
    /// `file:line` of the row.
    pub at: String,
    /// Why a row is unknown evidence.
    pub why: Option<String>,
}

impl fmt::Display for RowEvidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} (fault {}): ",
            self.approach, self.which, self.fault
        )?;
        match &self.why {
            Some(why) => write!(f, "{why}")?,
            None => write!(
                f,
                "{} = {}",
                self.column,
                if self.value.is_empty() {
                    "(empty)"
                } else {
                    &self.value
                }
            )?,
        }
        write!(f, " [{}]", self.at)
    }
}

/// A guarantee's verdict with its evidence (over a results file; not
/// `properties::Judgement`, one operation's invariant in a property test).
#[derive(Debug, Clone)]
pub struct Judgement {
    pub scenario: String,
    pub guarantee: Guarantee,
    pub verdict: Verdict,
    pub counts: Counts,
    pub violating: Vec<RowEvidence>,
    pub unknown: Vec<RowEvidence>,
    /// Why evidence is missing: no file, no column, an approach without rows.
    pub notes: Vec<String>,
}

/// A results file for one source, or why there is none.
#[derive(Debug, Clone)]
pub enum Input {
    Table(Table),
    Missing(String),
}

/// What a run folder offers the guarantees.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub trials: Input,
    pub crashpoints: Input,
}

impl Inputs {
    /// A `run` folder (trials.csv), an `explore` folder (crashpoints.csv),
    /// or both; a folder with neither is bad input.
    pub fn from_dir(dir: &Path) -> Result<Inputs> {
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "verify: --from {}: not a folder (expected a run or explore folder)",
                dir.display()
            )));
        }
        let read = |source: Source, made_by: &str| -> Result<Input> {
            let p = dir.join(source.file_name());
            if p.is_file() {
                Ok(Input::Table(Table::read(&p)?))
            } else {
                Ok(Input::Missing(format!(
                    "{} has no {} (`{made_by}` writes it)",
                    dir.display(),
                    source.file_name()
                )))
            }
        };
        let inputs = Inputs {
            trials: read(Source::Trials, "run")?,
            crashpoints: read(Source::Crashpoints, "explore")?,
        };
        if matches!(
            (&inputs.trials, &inputs.crashpoints),
            (Input::Missing(_), Input::Missing(_))
        ) {
            return Err(Error::Usage(format!(
                "verify: --from {}: neither trials.csv nor crashpoints.csv found (is it a run folder?)",
                dir.display()
            )));
        }
        Ok(inputs)
    }

    fn of(&self, source: Source) -> &Input {
        match source {
            Source::Trials => &self.trials,
            Source::Crashpoints => &self.crashpoints,
        }
    }
}

/// Every guarantee of every scenario, in file order.
pub fn judge_all(scenarios: &[&LoadedScenario], inputs: &Inputs) -> Vec<Judgement> {
    let mut out = Vec::new();
    for s in scenarios {
        let approaches = s.scenario.approaches();
        for spec in &s.scenario.guarantees {
            // Validated when the file was loaded.
            let g = compile(spec, &approaches).expect("guarantees are validated at load time");
            out.push(judge_one(
                &s.scenario.scenario.name,
                g,
                inputs.of(spec.source()),
            ));
        }
    }
    out
}

pub fn judge_one(scenario: &str, g: Guarantee, input: &Input) -> Judgement {
    judge_rows(Some(scenario), g, input)
}

/// `judge_one` over the rows of one scenario, or of every scenario in the
/// file (`None`: the report's built-in claims, which span a run).
pub fn judge_rows(scenario: Option<&str>, g: Guarantee, input: &Input) -> Judgement {
    let mut j = Judgement {
        scenario: scenario.unwrap_or("*").to_string(),
        verdict: Verdict::Unknown,
        counts: Counts::default(),
        violating: Vec::new(),
        unknown: Vec::new(),
        notes: Vec::new(),
        guarantee: g,
    };
    let table = match input {
        Input::Table(t) => t,
        Input::Missing(why) => {
            j.notes.push(why.clone());
            return j;
        }
    };
    let g = &j.guarantee;
    let file = table
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let col = |name: &str| {
        // Names come from the results schema; the tests catch a stray one.
        debug_assert!(
            [Source::Trials, Source::Crashpoints]
                .into_iter()
                .any(|s| crate::export::column(s, name).is_some()),
            "`{name}` is no results column"
        );
        table.column(name)
    };
    let missing: Vec<&str> = ["scenario", "approach", g.expect.column]
        .into_iter()
        .chain(g.when.iter().map(|w| w.column))
        .filter(|c| col(c).is_none())
        .collect();
    if !missing.is_empty() {
        j.notes.push(format!(
            "{} has no column {}",
            table.path.display(),
            missing.join(", ")
        ));
        return j;
    }
    let (c_scenario, c_approach, c_value) =
        (col("scenario"), col("approach"), col(g.expect.column));
    let (c_outcome, c_error, c_fault, c_rep, c_syscall, c_point) = (
        col("outcome"),
        col("error"),
        col("fault"),
        col("rep"),
        col("syscall"),
        col("point"),
    );
    let c_when: Vec<(Option<usize>, &Filter)> = g.when.iter().map(|w| (col(w.column), w)).collect();
    let (c_class, c_class_points) = (col("class"), col("class_points"));
    // (approach, class) → the class's points found, for rows judged.
    let mut classes: std::collections::BTreeMap<(String, String), String> = Default::default();
    let mut seen = Vec::new();
    for row in &table.rows {
        if scenario.is_some_and(|s| table.cell(row, c_scenario) != s) {
            continue;
        }
        let approach = table.cell(row, c_approach);
        if !g.approaches.iter().any(|a| a.as_str() == approach) {
            continue;
        }
        if !seen.contains(&approach) {
            seen.push(approach);
        }
        if !c_when.iter().all(|(c, w)| w.admits(table.cell(row, *c))) {
            continue;
        }
        let which = match g.source {
            Source::Trials => format!("rep {}", table.cell(row, c_rep)),
            Source::Crashpoints => format!(
                "point {}#{}",
                table.cell(row, c_syscall),
                table.cell(row, c_point)
            ),
        };
        let class_points = table.cell(row, c_class_points);
        if !class_points.is_empty() {
            classes.insert(
                (approach.to_string(), table.cell(row, c_class).to_string()),
                class_points.to_string(),
            );
        }
        let value = table.cell(row, c_value);
        let error = table.cell(row, c_error);
        let mut ev = RowEvidence {
            approach: approach.to_string(),
            which,
            fault: table.cell(row, c_fault).to_string(),
            column: g.expect.column,
            value: value.to_string(),
            at: format!("{file}:{}", row.line),
            why: None,
        };
        let errored = table.cell(row, c_outcome) == Outcome::Errored.as_str();
        let evidence = if errored || !error.is_empty() {
            CellEvidence::Unknown(format!(
                "errored: {}",
                if error.is_empty() {
                    "(no message)"
                } else {
                    error
                }
            ))
        } else {
            match g.expect.judge(value) {
                CellEvidence::Unknown(why) => {
                    CellEvidence::Unknown(format!("{} {why}", g.expect.column))
                }
                e => e,
            }
        };
        match evidence {
            CellEvidence::Holds => j.counts.holding += 1,
            CellEvidence::Violates => {
                j.counts.violating += 1;
                j.violating.push(ev);
            }
            CellEvidence::Unknown(why) => {
                j.counts.unknown += 1;
                ev.why = Some(why);
                j.unknown.push(ev);
            }
        }
    }
    j.verdict = verdict(g.share, j.counts);
    if !classes.is_empty() {
        let stand_for: usize = classes
            .values()
            .filter_map(|n| n.parse::<usize>().ok())
            .sum();
        j.notes.push(format!(
            "the {} crash points judged are a per-class sample: they stand for the {stand_for} points of their {} classes, which were not each crashed",
            j.counts.total(),
            classes.len()
        ));
    }
    if j.counts.total() == 0 && !seen.is_empty() && !g.when.is_empty() {
        let when: Vec<String> = g.when.iter().map(|w| format!("`{w}`")).collect();
        j.notes
            .push(format!("no row passes {}", when.join(" and ")));
    }
    let absent: Vec<&str> = g
        .approaches
        .iter()
        .map(|a| a.as_str())
        .filter(|a| !seen.contains(a))
        .collect();
    if !absent.is_empty() {
        j.notes.push(format!(
            "no {} rows for scenario `{}`, approach {}",
            file,
            scenario.unwrap_or("*"),
            absent.join(", ")
        ));
        // A guarantee about apt and nix is not shown by nix's rows alone.
        if j.verdict == Verdict::Holds {
            j.verdict = Verdict::Unknown;
        }
    }
    j
}

impl Judgement {
    /// "5/5 rows hold" plus what did not.
    pub fn evidence_summary(&self, max_rows: usize) -> String {
        let c = self.counts;
        let mut parts = vec![format!("{}/{} rows hold", c.holding, c.total())];
        let list = |rows: &[RowEvidence]| {
            let mut s: Vec<String> = rows.iter().take(max_rows).map(|r| r.to_string()).collect();
            if rows.len() > max_rows {
                s.push(format!("and {} more", rows.len() - max_rows));
            }
            s.join("; ")
        };
        if c.violating > 0 {
            parts.push(format!(
                "{} violate: {}",
                c.violating,
                list(&self.violating)
            ));
        }
        if c.unknown > 0 {
            parts.push(format!("{} unknown: {}", c.unknown, list(&self.unknown)));
        }
        parts.extend(self.notes.iter().cloned());
        parts.join("; ")
    }

    /// `expect` in `share` of `source` rows, for approaches.
    pub fn claim(&self) -> String {
        let g = &self.guarantee;
        let share = match g.share {
            Share::All => "in all".to_string(),
            s => format!("in ≥ {s} of"),
        };
        let approaches: Vec<&str> = g.approaches.iter().map(|a| a.as_str()).collect();
        let rows = match g.source {
            Source::Trials => "trials",
            Source::Crashpoints => "crash points",
        };
        format!("{} {share} {} {rows}", g.expect, approaches.join("/"))
    }

    /// One terminal line: verdict, scenario, name, claim, evidence.
    pub fn line(&self) -> String {
        format!(
            "{:<9} {}: {} — {}: {}",
            self.verdict.as_str().to_uppercase(),
            self.scenario,
            self.guarantee.name,
            self.claim(),
            self.evidence_summary(3)
        )
    }
}

/// 1 when a guarantee is violated; else 2 when one is unknown; else 0.
pub fn exit_code(judgements: &[Judgement]) -> i32 {
    match judgements.iter().map(|j| j.verdict).max() {
        Some(Verdict::Violated) => exit::VIOLATED,
        Some(Verdict::Unknown) => exit::UNKNOWN,
        _ => exit::OK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    const SCENARIO: &str = r#"
[scenario]
name = "failed-install"
approaches = ["apt", "pip", "pip-venv", "nix"]
[[package]]
name = "fastmath"
version = "1.0"
[operation]
kind = "install"
packages = ["fastmath"]
"#;

    fn fixture_inputs() -> Inputs {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-failed-install");
        Inputs::from_dir(&dir).unwrap()
    }

    fn judge_text(guarantees: &str, inputs: &Inputs) -> Vec<Judgement> {
        let s = LoadedScenario {
            path: "x.toml".into(),
            scenario: parse(&format!("{SCENARIO}{guarantees}")).unwrap(),
        };
        judge_all(&[&s], inputs)
    }

    #[test]
    fn fixture_run_holds_and_violates_what_it_should() {
        let inputs = fixture_inputs();
        assert!(matches!(inputs.crashpoints, Input::Missing(_)));
        let js = judge_text(
            r#"
[[guarantee]]
name = "nix no residue"
approaches = ["nix"]
expect = "residue_files == 0"
[[guarantee]]
name = "apt recovers"
approaches = ["apt"]
expect = "recovered == true"
in = "95%"
[[guarantee]]
name = "everyone consistent"
expect = "consistent == true"
[[guarantee]]
name = "crash points"
source = "crashpoints"
expect = "state_after_crash != inconsistent"
"#,
            &inputs,
        );
        assert_eq!(
            js.iter().map(|j| j.verdict).collect::<Vec<_>>(),
            [
                Verdict::Holds,
                Verdict::Violated,
                Verdict::Violated,
                Verdict::Unknown
            ]
        );
        assert_eq!(
            js[0].counts,
            Counts {
                holding: 5,
                violating: 0,
                unknown: 0
            }
        );
        assert_eq!(js[1].violating.len(), 5);
        let first = &js[1].violating[0];
        assert_eq!(
            (
                first.approach.as_str(),
                first.which.as_str(),
                first.fault.as_str(),
                first.value.as_str()
            ),
            ("apt", "rep 0", "none", "false")
        );
        assert_eq!(first.at, "trials.csv:3");
        assert!(
            js[2].violating.iter().all(|r| r.approach == "apt"),
            "only apt's dpkg --audit complains"
        );
        assert!(
            js[3].notes[0].contains("no crashpoints.csv"),
            "{:?}",
            js[3].notes
        );
        assert_eq!(exit_code(&js), exit::VIOLATED);
        assert_eq!(exit_code(&js[..1]), exit::OK);
        assert_eq!(exit_code(&js[3..]), exit::UNKNOWN);
        assert!(js[1].line().starts_with("VIOLATED  failed-install: apt recovers — recovered == true in ≥ 95% of apt trials: 0/5 rows hold; 5 violate: apt rep 0 (fault none): recovered = false [trials.csv:3]"), "{}", js[1].line());
    }

    #[test]
    fn errored_and_empty_rows_are_unknown_and_missing_approaches_too() {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/run-failed-install/trials.csv");
        let text = std::fs::read_to_string(src).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let headers: Vec<&str> = lines[0].split(',').collect();
        let at = |name: &str| headers.iter().position(|h| *h == name).unwrap();
        let (outcome, residue, error) = (at("outcome"), at("residue_files"), at("error"));
        // Line 2 (nix rep 0) errored; the pip rows go away.
        let mut cells: Vec<String> = lines[1].split(',').map(str::to_owned).collect();
        assert_eq!(cells[1], "nix");
        cells[outcome] = "errored".into();
        cells[residue] = String::new();
        cells[error] = "docker went away".into();
        lines[1] = cells.join(",");
        lines.retain(|l| !l.contains(",pip,"));
        std::fs::write(dir.path().join("trials.csv"), lines.join("\n") + "\n").unwrap();
        let inputs = Inputs::from_dir(dir.path()).unwrap();
        let js = judge_text(
            r#"
[[guarantee]]
name = "nix no residue"
approaches = ["nix"]
expect = "residue_files == 0"
[[guarantee]]
name = "pip and nix"
approaches = ["pip", "nix"]
expect = "residue_packages <= 3"
in = "50%"
"#,
            &inputs,
        );
        assert_eq!(js[0].verdict, Verdict::Unknown);
        assert_eq!(
            js[0].counts,
            Counts {
                holding: 4,
                violating: 0,
                unknown: 1
            }
        );
        assert!(
            js[0].unknown[0]
                .why
                .as_deref()
                .unwrap()
                .contains("docker went away"),
            "{:?}",
            js[0].unknown
        );
        assert_eq!(
            js[1].verdict,
            Verdict::Unknown,
            "holds for nix, but pip has no rows"
        );
        assert!(
            js[1].notes.iter().any(|n| n.contains("approach pip")),
            "{:?}",
            js[1].notes
        );
    }

    /// A bad-config scenario's own guarantees over the real run's rows
    /// (`verify --from`): a restore-time bound for nix, restricted to the
    /// rows where the service was healthy before the change, or to those
    /// that measured the service at all (`""`: the empty cell).
    #[test]
    fn a_scenario_bounds_the_restore_time_of_its_configure_rows() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-bad-config");
        let inputs = Inputs::from_dir(&dir).unwrap();
        let s = LoadedScenario {
            path: "bad-config-wrong-root.toml".into(),
            scenario: parse(
                r#"
[scenario]
name = "bad-config-wrong-root"
approaches = ["apt", "nix"]
[service]
port = 8080
marker = "mistake-cost site v1"
[operation]
kind = "configure"
change = "wrong-root"
[[guarantee]]
name = "nix rolls a bad configuration back within a second"
approaches = ["nix"]
expect = "restore_ms <= 1000"
when = ["healthy_before == true"]
[[guarantee]]
name = "the service comes back"
expect = "healthy_after_recovery == true"
when = ['downtime_ms != ""', "outcome != errored"]
[[guarantee]]
name = "no downtime at all"
expect = "downtime_ms == 0"
when = ['downtime_ms != ""']
"#,
            )
            .unwrap(),
        };
        let js = judge_all(&[&s], &inputs);
        assert_eq!(
            js.iter().map(|j| j.verdict).collect::<Vec<_>>(),
            [Verdict::Holds, Verdict::Holds, Verdict::Violated]
        );
        assert_eq!(js[0].counts.holding, 3, "nix's 3 wrong-root rows only");
        assert_eq!(js[1].counts.holding, 6);
        assert_eq!(
            js[2].violating.len(),
            6,
            "a wrong root is a 404 for everyone"
        );
        assert!(
            js[0].line().starts_with(
                "HOLDS     bad-config-wrong-root: nix rolls a bad configuration back within a second — restore_ms <= 1000 in all nix trials: 3/3 rows hold"
            ),
            "{}",
            js[0].line()
        );
    }

    #[test]
    fn a_folder_without_results_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Inputs::from_dir(dir.path()).unwrap_err().exit_code(),
            exit::BAD_INPUT
        );
        assert_eq!(
            Inputs::from_dir(&dir.path().join("nope"))
                .unwrap_err()
                .exit_code(),
            exit::BAD_INPUT
        );
    }
}
