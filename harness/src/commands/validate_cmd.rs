//! `mistake-cost validate`: load and check scenario files, print the plan
//! (approaches, faults, reps, trials) and an estimate of its time from the
//! newest run under `results/`; never touches Docker.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::ValidateArgs;
use crate::error::{exit, Error, Result};
use crate::scenario::{limits, LoadedScenario};
use crate::{plan, verify};

pub fn validate(args: ValidateArgs) -> Result<i32> {
    let loaded: Vec<Arc<LoadedScenario>> = verify::load_scenarios(&args.scenarios)?
        .into_iter()
        .map(Arc::new)
        .collect();
    check_trials(&loaded, args.reps)?;
    let mut total = 0;
    let mut keys = Vec::new();
    for s in &loaded {
        // The real plan, so the count is what `run` would do.
        let planned = plan::plan(std::slice::from_ref(s), args.reps, 1);
        keys.extend(
            planned
                .iter()
                .map(|t| (s.scenario.scenario.name.clone(), t.approach.to_string())),
        );
        let trials = planned.len();
        total += trials;
        let sc = &s.scenario;
        // As planned: an approach run with several recoveries once per recovery.
        let mut approaches: Vec<String> = Vec::new();
        for a in sc.approaches() {
            let mut recoveries: Vec<&str> = Vec::new();
            for r in planned
                .iter()
                .filter(|t| t.approach == a)
                .filter_map(|t| t.recovery)
            {
                if !recoveries.contains(&r) {
                    recoveries.push(r);
                }
            }
            match recoveries.as_slice() {
                [_, _, ..] => approaches.extend(recoveries.iter().map(|r| format!("{a} ({r})"))),
                _ => approaches.push(a.to_string()),
            }
        }
        let faults = match sc.fault_count() {
            _ if sc.faults.is_empty() => "no fault".to_string(),
            1 => "1 fault".to_string(),
            n => format!("{n} faults"),
        };
        println!(
            "{}: {} — approaches {}; {faults}; reps {}; {trials} trials",
            s.path.display(),
            sc.scenario.name,
            approaches.join(", "),
            args.reps.unwrap_or(sc.scenario.reps),
        );
    }
    println!("valid: {} scenario(s), {total} trials in all", loaded.len());
    match last_run_medians(Path::new("results")) {
        Some((run, medians)) => {
            let (ms, matched) = estimate(&keys, &medians, ESTIMATE_JOBS);
            println!(
                "estimated time: ~{:.0} min at --jobs {ESTIMATE_JOBS} (trial medians from {}: {matched} of {total} trials matched by scenario and approach, the rest at that run's overall median)",
                ms / 60_000.0,
                run.display()
            );
        }
        None => println!("estimated time: unknown (no earlier run with trials.csv under results/)"),
    }
    Ok(exit::OK)
}

/// `run`'s default `--jobs`, which the estimate assumes.
const ESTIMATE_JOBS: usize = 2;

/// Median trial wall time per (scenario, approach), and over all rows
/// (key `("", "")`), from the newest `results/*/trials.csv`.
type Medians = HashMap<(String, String), f64>;

fn last_run_medians(results: &Path) -> Option<(PathBuf, Medians)> {
    let newest = std::fs::read_dir(results)
        .ok()?
        .flatten()
        .map(|e| e.path().join("trials.csv"))
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .max()?
        .1;
    let t = verify::rows::Table::read(&newest).ok()?;
    let (s, a, ms, o) = (
        t.column("scenario")?,
        t.column("approach")?,
        t.column("trial_wall_ms")?,
        t.column("outcome")?,
    );
    let mut by: HashMap<(String, String), Vec<f64>> = HashMap::new();
    for row in &t.rows {
        let Ok(v) = t.cell(row, Some(ms)).parse::<f64>() else {
            continue;
        };
        if t.cell(row, Some(o)) == "errored" {
            continue;
        }
        let key = (
            t.cell(row, Some(s)).to_string(),
            t.cell(row, Some(a)).to_string(),
        );
        by.entry(key).or_default().push(v);
        by.entry((String::new(), String::new()))
            .or_default()
            .push(v);
    }
    let medians: Medians = by
        .into_iter()
        .filter_map(|(k, v)| Some((k, crate::stats::median(&v)?)))
        .collect();
    medians
        .contains_key(&(String::new(), String::new()))
        .then(|| (newest.parent().unwrap_or(results).to_path_buf(), medians))
}

/// The plan's time at `jobs` trials at once (ms), and how many trials had a
/// median of their own (the others take the overall one).
fn estimate(keys: &[(String, String)], medians: &Medians, jobs: usize) -> (f64, usize) {
    let overall = medians
        .get(&(String::new(), String::new()))
        .copied()
        .unwrap_or(0.0);
    let mut matched = 0;
    let sum: f64 = keys
        .iter()
        .map(|k| match medians.get(k) {
            Some(m) => {
                matched += 1;
                *m
            }
            None => overall,
        })
        .sum();
    (sum / jobs.max(1) as f64, matched)
}

/// Refuses a plan over [`limits::MAX_TRIALS`] per scenario before it is
/// built: the file's own reps are checked when it loads, `--reps` here.
pub(crate) fn check_trials(loaded: &[Arc<LoadedScenario>], reps: Option<u32>) -> Result<()> {
    for s in loaded {
        let n = s.scenario.trial_count(reps);
        if n > limits::MAX_TRIALS {
            return Err(Error::Usage(format!(
                "--reps {}: scenario `{}` would have {n} trials (approaches × faults × reps); at most {} per scenario",
                reps.unwrap_or(s.scenario.scenario.reps),
                s.scenario.scenario.name,
                limits::MAX_TRIALS
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_uses_each_trials_median_or_the_overall_one() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            last_run_medians(dir.path()).is_none(),
            "no run, no estimate"
        );
        let run = dir.path().join("r1");
        std::fs::create_dir(&run).unwrap();
        std::fs::write(
            run.join("trials.csv"),
            "scenario,approach,outcome,trial_wall_ms\ns,apt,failed,1000\ns,apt,failed,3000\ns,nix,failed,500\ns,nix,errored,99999\n",
        )
        .unwrap();
        let (found, medians) = last_run_medians(dir.path()).unwrap();
        assert_eq!(found, run);
        let key = |s: &str, a: &str| (s.to_string(), a.to_string());
        assert_eq!(medians[&key("s", "apt")], 2000.0);
        assert_eq!(
            medians[&key("s", "nix")],
            500.0,
            "errored rows are not timings"
        );
        let plan = [key("s", "apt"), key("s", "nix"), key("t", "pip")];
        // 2000 + 500 + overall median (1000) over 2 jobs.
        assert_eq!(estimate(&plan, &medians, 2), (1750.0, 2));
    }

    /// `trial_count` (used for the bound) agrees with the plan `run` builds.
    #[test]
    fn trial_count_is_the_plans_length() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        for dir in [root.clone(), root.join("bench")] {
            for s in verify::load_scenarios(&[dir]).unwrap() {
                let s = Arc::new(s);
                for reps in [None, Some(1), Some(7)] {
                    let planned = plan::plan(std::slice::from_ref(&s), reps, 3).len() as u64;
                    assert_eq!(
                        s.scenario.trial_count(reps),
                        planned,
                        "{}",
                        s.path.display()
                    );
                }
            }
        }
    }

    #[test]
    fn too_many_trials_with_reps_is_bad_input() {
        let text = "[scenario]\nname = \"t\"\napproaches = [\"apt\", \"nix\"]\n[[package]]\nname = \"a\"\nversion = \"1.0\"\n[operation]\nkind = \"install\"\npackages = [\"a\"]\n[[fault]]\nkind = \"container-kill\"\nat_ms = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51]\n";
        let s = Arc::new(LoadedScenario {
            path: "t.toml".into(),
            scenario: crate::scenario::parse(text).unwrap(),
        });
        check_trials(std::slice::from_ref(&s), Some(980)).unwrap();
        let e = check_trials(&[s], Some(1000)).unwrap_err();
        assert_eq!(e.exit_code(), exit::BAD_INPUT);
        assert!(e.to_string().contains("102000 trials"), "{e}");
    }
}
