//! "Project shells do not touch the global system": the rows of experiment
//! scenarios (an `experiment_ok`). Per approach, what the projects left
//! outside their folders and the Nix store, and whether two projects
//! needing different versions worked side by side. The verdict is
//! `verify::builtin`'s (`Claim::Isolation`); this file words it.

use super::{and_list, as_input, not_covered, undecided_clause, Answer, ISOLATION};
use crate::report::{by_approach, fmt_count, Trial};
use crate::stats;
use crate::verify::builtin::Claim;
use crate::verify::Verdict;
use crate::vocab::{experiment_role, ExperimentRole};

/// "2/2 (95% CI 34–100%)".
fn share(k: usize, n: usize) -> String {
    match stats::wilson_95(k, n) {
        Some((lo, hi)) => format!("{k}/{n} (95% CI {:.0}–{:.0}%)", lo * 100.0, hi * 100.0),
        None => format!("{k}/{n}"),
    }
}

pub fn isolation(all: &[Trial]) -> Answer {
    let rows: Vec<&Trial> = all
        .iter()
        .filter(|t| t.record.experiment_ok.is_some() && !t.errored())
        .collect();
    if rows.is_empty() {
        return not_covered(
            ISOLATION,
            "no trial in this run is an isolation experiment (a scenario with `kind = \"experiment\"`).",
        );
    }
    let records: Vec<_> = all.iter().map(|t| t.record.clone()).collect();
    let input = as_input("trials.csv", &records);
    let (mut holds, mut broken, mut undecided) = (Vec::new(), Vec::new(), Vec::new());
    let mut side = Vec::new();
    for g in by_approach(rows.iter().copied()) {
        let n = g.data.len();
        let global: Vec<f64> = g
            .data
            .iter()
            .filter_map(|t| t.record.global_residue_files)
            .map(|x| x as f64)
            .collect();
        let clean = global.iter().filter(|x| **x == 0.0).count();
        let role = match experiment_role(g.approach.as_str()) {
            ExperimentRole::Environment => "a project environment",
            _ => "a global install",
        };
        let clause =
            format!(
            "{} ({role}) left nothing outside the projects in {} (global paths changed, median {})",
            g.approach,
            share(clean, n),
            stats::median(&global).map(fmt_count).unwrap_or_else(|| "?".into())
        );
        let pairs: Vec<bool> = g
            .data
            .iter()
            .filter_map(|t| t.record.side_by_side)
            .collect();
        if !pairs.is_empty() {
            let ok = pairs.iter().filter(|b| **b).count();
            side.push(format!("{} {}", g.approach, share(ok, pairs.len())));
        }
        let (verdict, judgements) = Claim::Isolation.judge(g.approach, &input);
        match verdict {
            Verdict::Holds => holds.push((g.approach.to_string(), clause)),
            Verdict::Violated => broken.push((g.approach.to_string(), clause)),
            Verdict::Unknown => undecided.push(undecided_clause(g.approach.as_str(), &judgements)),
        }
    }
    let mut facts = Vec::new();
    if !side.is_empty() {
        facts.push(format!(
            "Two projects needing different versions of one package worked side by side (the second, and the first used again after it): {}.",
            and_list(&side)
        ));
    }
    facts.push(
        "An experiment sets a project up the approach's way (global approaches install into the system, as their users do without environments), uses its packages at their versions from inside, and leaves; global paths are visible changes outside /srv/projects and /nix/store (a profile switch is one). Environments are expected to hold; the global approaches are the baseline they are compared with (scenarios/README.md, Isolation)."
            .into(),
    );
    let Some((status, verdict, sentence)) =
        super::service::assemble("every approach", &holds, &broken, &undecided)
    else {
        return not_covered(
            ISOLATION,
            &format!("undecided for every approach: {}.", undecided.join("; ")),
        );
    };
    Answer {
        claim: ISOLATION,
        scope: None,
        status,
        verdict,
        sentence,
        facts,
    }
}
