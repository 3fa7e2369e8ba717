//! `run --resume`: finishing a killed or interrupted run in its own results
//! folder. The plan is rebuilt from run.json (same scenarios, seed and
//! repetitions, so the same trials); a trial is done when its plan key
//! (scenario, approach, fault, rep) has a row in trials.csv. Errored rows
//! are no data (a lost engine errors every trial in flight): resuming
//! removes them, and their histories, and runs those trials again.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::cli::RunArgs;
use crate::error::{Error, Result};
use crate::export::RunMeta;
use crate::plan::Trial;
use crate::verify::rows::Table;

/// A trial's identity across runs of the same plan: scenario, approach,
/// recovery (empty but for configure trials), fault, rep.
pub type PlanKey = (String, String, String, String, u32);

pub fn key_of(t: &Trial) -> PlanKey {
    (
        t.scenario.scenario.scenario.name.clone(),
        t.approach.as_str().to_string(),
        t.recovery.unwrap_or_default().to_string(),
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
    let format = crate::export::run_meta::FORMAT_VERSION;
    if meta.format() != format {
        // Its columns mean other things (and its seeds were drawn another
        // way): appended rows would mix two definitions in one file.
        return Err(Error::Usage(format!(
            "--resume: the run in {} was written in results format {}; this harness writes format {format}              (`consistent`, `residue_files`, `detect_ms` and the seeds changed meaning): start a new run",
            out.display(),
            meta.format()
        )));
    }
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

/// Brings trials.csv's header up to this harness's columns before rows are
/// appended: a file from an older harness lacks the columns added since
/// (they go last, e.g. `engine`), so each old row gets them empty (file
/// rewritten atomically). Any other difference is an error: appending
/// would misalign every new row.
pub fn upgrade_header(out: &Path) -> Result<()> {
    let csv_path = out.join("trials.csv");
    if !csv_path.exists() {
        return Ok(());
    }
    let t = Table::read(&csv_path)?;
    let wanted: Vec<&str> = crate::export::columns(crate::export::Source::Trials)
        .iter()
        .map(|c| c.name)
        .collect();
    if t.headers
        .iter()
        .map(String::as_str)
        .eq(wanted.iter().copied())
    {
        return Ok(());
    }
    let is_prefix =
        t.headers.len() < wanted.len() && t.headers.iter().zip(&wanted).all(|(h, w)| h == w);
    if !is_prefix {
        return Err(Error::Usage(format!(
            "--resume: {} has other columns than this harness writes ({} against {}); resume into a new --out",
            csv_path.display(),
            t.headers.join(","),
            wanted.join(",")
        )));
    }
    let added = wanted.len() - t.headers.len();
    let mut w = csv::Writer::from_writer(Vec::new());
    let io =
        |e: csv::Error| Error::Usage(format!("--resume: rewriting {}: {e}", csv_path.display()));
    w.write_record(&wanted).map_err(io)?;
    for row in &t.rows {
        let cells = row
            .cells
            .iter()
            .map(String::as_str)
            .chain(std::iter::repeat_n("", added));
        w.write_record(cells).map_err(io)?;
    }
    let bytes = w.into_inner().map_err(|e| io(e.into_error().into()))?;
    crate::export::write_atomic(&csv_path, &String::from_utf8_lossy(&bytes))?;
    eprintln!(
        "resuming: {} was written before the column(s) {}; its rows have them empty",
        csv_path.display(),
        wanted[t.headers.len()..].join(", ")
    );
    Ok(())
}

/// Removes errored rows from trials.csv and their lines from trials.jsonl
/// (each file rewritten whole, atomically); returns how many rows went.
pub fn drop_errored(out: &Path) -> Result<usize> {
    let csv_path = out.join("trials.csv");
    if !csv_path.exists() {
        return Ok(0);
    }
    let t = Table::read(&csv_path)?;
    let Some(outcome) = t.column("outcome") else {
        return Ok(0);
    };
    let errored = |row: &crate::verify::rows::Row| t.cell(row, Some(outcome)) == "errored";
    let dropped = t.rows.iter().filter(|r| errored(r)).count();
    if dropped == 0 {
        return Ok(0);
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let io =
        |e: csv::Error| Error::Usage(format!("--resume: rewriting {}: {e}", csv_path.display()));
    w.write_record(&t.headers).map_err(io)?;
    for row in t.rows.iter().filter(|r| !errored(r)) {
        w.write_record(&row.cells).map_err(io)?;
    }
    let bytes = w.into_inner().map_err(|e| io(e.into_error().into()))?;
    crate::export::write_atomic(&csv_path, &String::from_utf8_lossy(&bytes))?;

    let jsonl_path = out.join("trials.jsonl");
    if jsonl_path.exists() {
        let (bytes, _) = crate::export::read_complete(&jsonl_path)
            .map_err(|e| Error::io(format!("reading {}", jsonl_path.display()), e))?;
        let kept: String = String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .map(|v| v["record"]["outcome"] != "errored")
                    .unwrap_or(true)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        crate::export::write_atomic(&jsonl_path, &kept)?;
    }
    Ok(dropped)
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
                // Absent in files from before recoveries were rows' own.
                t.cell(row, t.column("recovery")).to_string(),
                t.cell(row, Some(f)).to_string(),
                rep,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_header_gains_the_new_columns_and_a_foreign_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<&str> = crate::export::columns(crate::export::Source::Trials)
            .iter()
            .map(|c| c.name)
            .collect();
        let old_header = names[..names.len() - 1].join(",");
        let row = vec!["x"; names.len() - 1].join(",");
        let path = dir.path().join("trials.csv");
        std::fs::write(&path, format!("{old_header}\n{row}\n")).unwrap();
        upgrade_header(dir.path()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n{row},\n", names.join(",")));
        upgrade_header(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "idempotent");
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        let e = upgrade_header(dir.path()).unwrap_err().to_string();
        assert!(e.contains("other columns"), "{e}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a,b\n1,2\n",
            "left alone"
        );
    }

    #[test]
    fn errored_rows_and_their_histories_are_dropped_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("trials.csv"),
            "scenario,approach,fault,rep,outcome\ns,apt,none,0,failed\ns,nix,none,0,errored\ns,pip,none,1,succeeded\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("trials.jsonl"),
            "{\"record\":{\"outcome\":\"failed\"}}\n{\"record\":{\"outcome\":\"errored\"}}\n{\"record\":{\"outcome\":\"succeeded\"}}\n",
        )
        .unwrap();
        assert_eq!(drop_errored(dir.path()).unwrap(), 1);
        let keys = finished_trials(&dir.path().join("trials.csv")).unwrap();
        let expected: HashSet<PlanKey> = [
            ("s".into(), "apt".into(), String::new(), "none".into(), 0),
            ("s".into(), "pip".into(), String::new(), "none".into(), 1),
        ]
        .into();
        assert_eq!(keys, expected);
        let jsonl = std::fs::read_to_string(dir.path().join("trials.jsonl")).unwrap();
        assert_eq!(jsonl.lines().count(), 2);
        assert!(!jsonl.contains("errored"));
        assert_eq!(drop_errored(dir.path()).unwrap(), 0, "nothing left to drop");
    }
}
