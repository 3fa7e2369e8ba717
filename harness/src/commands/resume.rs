//! `run --resume`: finishing a killed or interrupted run in its own results
//! folder. The plan is rebuilt from run.json (same scenarios, seed and
//! repetitions, so the same trials); a trial is done when its plan key
//! (scenario, approach, fault, rep) has a row in trials.csv.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::cli::RunArgs;
use crate::error::{Error, Result};
use crate::export::RunMeta;
use crate::plan::Trial;
use crate::verify::rows::Table;

/// A trial's identity across runs of the same plan.
pub type PlanKey = (String, String, String, u32);

pub fn key_of(t: &Trial) -> PlanKey {
    (
        t.scenario.scenario.scenario.name.clone(),
        t.approach.as_str().to_string(),
        t.fault.to_string(),
        t.rep,
    )
}

/// Replaces the plan's inputs by those run.json recorded. Arguments that
/// contradict them are refused: resuming must not change the plan.
pub fn take_plan_from_run_json(args: &mut RunArgs) -> Result<()> {
    let out = args
        .out
        .clone()
        .ok_or_else(|| Error::Usage("--resume needs --out".into()))?;
    if !out.join("run.json").is_file() {
        return Err(Error::Usage(format!(
            "--resume: {} holds no run.json, so there is no run to resume",
            out.display()
        )));
    }
    let meta = RunMeta::read(&out)?;
    let recorded: Vec<PathBuf> = meta.scenarios.iter().map(PathBuf::from).collect();
    let default_scenarios = args.scenarios == [PathBuf::from("scenarios")];
    if recorded.is_empty() {
        return Err(Error::Usage(format!(
            "--resume: {}/run.json names no scenario files",
            out.display()
        )));
    }
    if !default_scenarios && args.scenarios != recorded {
        return Err(Error::Usage(format!(
            "--resume: the run in {} ran {}; give no scenario arguments (or those)",
            out.display(),
            meta.scenarios.join(" ")
        )));
    }
    if args.reps.is_some() && args.reps != meta.reps {
        return Err(Error::Usage(format!(
            "--resume: the run in {} was planned with --reps {}; resuming keeps its plan",
            out.display(),
            meta.reps
                .map_or("(the scenarios' own)".into(), |r| r.to_string())
        )));
    }
    let seed = meta
        .seed
        .ok_or_else(|| Error::Usage(format!("--resume: {}/run.json has no seed", out.display())))?;
    args.scenarios = recorded;
    args.reps = meta.reps;
    args.seed = seed;
    eprintln!(
        "resuming run {} in {}: seed {seed}, {}",
        meta.run_id.as_deref().unwrap_or("?"),
        out.display(),
        meta.scenarios.join(" ")
    );
    Ok(())
}

/// The plan keys of the rows already in `csv` (none when it is missing).
pub fn finished_trials(csv: &Path) -> Result<HashSet<PlanKey>> {
    if !csv.exists() {
        return Ok(HashSet::new());
    }
    let t = Table::read(csv)?;
    let col = |name: &str| {
        t.column(name).ok_or_else(|| {
            Error::Usage(format!(
                "--resume: {} has no `{name}` column",
                csv.display()
            ))
        })
    };
    let (s, a, f, r) = (
        col("scenario")?,
        col("approach")?,
        col("fault")?,
        col("rep")?,
    );
    t.rows
        .iter()
        .map(|row| {
            let rep = t.cell(row, Some(r)).parse().map_err(|_| {
                Error::Usage(format!(
                    "--resume: {}:{}: bad rep `{}`",
                    csv.display(),
                    row.line,
                    t.cell(row, Some(r))
                ))
            })?;
            Ok((
                t.cell(row, Some(s)).to_string(),
                t.cell(row, Some(a)).to_string(),
                t.cell(row, Some(f)).to_string(),
                rep,
            ))
        })
        .collect()
}
