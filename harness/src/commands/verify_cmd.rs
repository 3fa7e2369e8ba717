//! `mistake-cost verify`: run or read the trials, judge the guarantees.

use std::path::PathBuf;
use std::sync::Arc;

use super::{run_inner, Session};
use crate::cli::{RunArgs, VerifyArgs};
use crate::error::{exit, Error, Result};
use crate::{scenario, verify};

pub async fn verify(args: VerifyArgs) -> Result<i32> {
    match verify_inner(args).await {
        // verify's 1 means "a guarantee is violated", which CI may read as
        // data: verify failing itself must not look like a finding.
        Err(e) if e.exit_code() == exit::OTHER => {
            eprintln!("error: {e}");
            Ok(exit::UNKNOWN)
        }
        r => r,
    }
}

/// Without SCENARIO arguments: what `--from`'s run.json says ran, if those
/// files are still there; else the `scenarios` folder.
fn verify_scenario_paths(args: &VerifyArgs) -> Vec<PathBuf> {
    if !args.scenarios.is_empty() {
        return args.scenarios.clone();
    }
    let from_meta = args.from.as_ref().and_then(|dir| {
        let meta = crate::report::RunMeta::read(dir).ok()?;
        let paths: Vec<PathBuf> = meta.scenarios.iter().map(PathBuf::from).collect();
        (!paths.is_empty() && paths.iter().all(|p| p.is_file())).then_some(paths)
    });
    from_meta.unwrap_or_else(|| vec![PathBuf::from("scenarios")])
}

async fn verify_inner(args: VerifyArgs) -> Result<i32> {
    use verify::{Input, Inputs, Source};
    let loaded: Vec<Arc<scenario::LoadedScenario>> =
        verify::load_scenarios(&verify_scenario_paths(&args))?
            .into_iter()
            .map(Arc::new)
            .collect();
    let bare: Vec<String> = loaded
        .iter()
        .filter(|s| s.scenario.guarantees.is_empty())
        .map(|s| s.path.display().to_string())
        .collect();
    if !bare.is_empty() {
        eprintln!("no [[guarantee]] to verify in {}", bare.join(", "));
    }
    let (inputs, run_code) = match &args.from {
        Some(dir) => (Inputs::from_dir(dir)?, exit::OK),
        None => {
            // Crash points need `explore` (dry runs, up to hundreds of
            // crashes): too slow to run implicitly; they stay unknown.
            let crashpoints = Input::Missing("needs `explore`; pass --from an explore run".into());
            let needed: Vec<Arc<scenario::LoadedScenario>> = loaded
                .iter()
                .filter(|s| {
                    s.scenario
                        .guarantees
                        .iter()
                        .any(|g| g.source() == Source::Trials)
                })
                .cloned()
                .collect();
            if needed.is_empty() {
                (
                    Inputs {
                        trials: Input::Missing("no trials run: no guarantee reads trials".into()),
                        crashpoints,
                    },
                    exit::OK,
                )
            } else {
                let run_args = RunArgs {
                    scenarios: needed.iter().map(|s| s.path.clone()).collect(),
                    reps: args.reps,
                    jobs: args.jobs,
                    engine: args.engine.clone(),
                    seed: args.seed,
                    security: args.security,
                    out: args.out.clone(),
                    resume: false,
                };
                super::check_trials(&needed, args.reps)?;
                let engines = crate::docker::engines::resolve(&args.engine, args.jobs)
                    .map_err(Error::Usage)?;
                let session = Session::open_on(
                    engines,
                    &needed,
                    args.out.clone(),
                    args.seed,
                    args.reps,
                    args.security,
                    false,
                )
                .await?;
                let out = session.out.clone();
                let result = session.guard(run_inner(&session, &run_args, &needed)).await;
                let code = session.close(result).await?;
                if code == exit::INTERRUPTED {
                    return Ok(code);
                }
                (
                    Inputs {
                        trials: Input::Table(verify::rows::Table::read(&out.join("trials.csv"))?),
                        crashpoints,
                    },
                    code,
                )
            }
        }
    };
    let scenarios: Vec<&scenario::LoadedScenario> = loaded.iter().map(|s| s.as_ref()).collect();
    let judgements = verify::judge_all(&scenarios, &inputs);
    if args.from.is_none() {
        println!();
    }
    for j in &judgements {
        println!("{}", j.line());
    }
    let count = |v: verify::Verdict| judgements.iter().filter(|j| j.verdict == v).count();
    eprintln!(
        "{} guarantees: {} hold, {} violated, {} unknown",
        judgements.len(),
        count(verify::Verdict::Holds),
        count(verify::Verdict::Violated),
        count(verify::Verdict::Unknown)
    );
    let mut code = verify::exit_code(&judgements);
    if code == exit::OK && run_code == exit::TRIAL_ERRORS {
        eprintln!("a trial errored (it is no guarantee's evidence, but the run is not clean)");
        code = exit::UNKNOWN;
    }
    if let Some(path) = &args.junit {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        verify::junit::write(path, &judgements)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(code)
}
