//! `mistake-cost validate`: load and check scenario files, print the plan
//! (approaches, faults, reps, trials); never touches Docker.

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
    for s in &loaded {
        // The real plan, so the count is what `run` would do.
        let trials = plan::plan(std::slice::from_ref(s), args.reps, 1).len();
        total += trials;
        let sc = &s.scenario;
        let approaches: Vec<String> = sc.approaches().iter().map(|a| a.to_string()).collect();
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
    Ok(exit::OK)
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
    use std::path::PathBuf;

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
