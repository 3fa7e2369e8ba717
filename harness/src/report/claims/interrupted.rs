//! The "interrupted at any instant" claim, from the faulted trials and
//! an explore run's crash points; each source's verdict per approach comes
//! from `verify::builtin`, and the approach's verdicts merge across them.

use std::collections::BTreeSet;

use super::{and_list, as_input, not_covered, unchanged, Answer, Status, INTERRUPTED};
use crate::checker::Outcome;
use crate::explore::state::State;
use crate::explore::CrashPointRecord;
use crate::export::ApproachKind;
use crate::report::{by_approach, fmt_ms, Trial};
use crate::stats;
use crate::verify::builtin::Claim;
use crate::verify::Verdict;

/// Per approach: its verdict, and the clause that says so.
type Evidence = Vec<(String, Verdict, String)>;

/// The faulted trials' side: consistency right after the fault. Err: why
/// they say nothing.
fn interrupted_trials(trials: &[Trial]) -> Result<(Evidence, Vec<String>), String> {
    let faulted: Vec<&Trial> = trials
        .iter()
        .filter(|t| t.record.fault != "none" && !t.errored())
        .collect();
    if faulted.is_empty() {
        return Err("every trial ran with fault `none` (no operation was interrupted).".into());
    }
    // Interrupted: the fault stopped the operation (killed, or a killed child made it fail).
    let hit: Vec<&Trial> = faulted
        .iter()
        .copied()
        .filter(|t| matches!(t.record.outcome, Outcome::Killed | Outcome::Failed))
        .collect();
    let completed = faulted.len() - hit.len();
    if hit.is_empty() {
        return Err(format!(
            "all {} trials with an injected fault completed before it could interrupt them.",
            faulted.len()
        ));
    }
    let groups = by_approach(hit.iter().copied());
    let records: Vec<_> = trials.iter().map(|t| t.record.clone()).collect();
    let input = as_input("trials.csv", &records);
    let mut evidence = Vec::new();
    for g in &groups {
        let n = g.data.len();
        let c = g.consistent;
        let unknown = if c.unknown > 0 {
            format!(", {} unknown", c.unknown)
        } else {
            String::new()
        };
        let clause = format!(
            "{} was consistent after {}/{n} interrupted operations{unknown} (unchanged in {}/{n})",
            g.approach,
            c.yes,
            unchanged(g)
        );
        let (verdict, _) = Claim::InterruptedTrials.judge(g.approach, &input);
        evidence.push((g.approach.to_string(), verdict, clause));
    }
    let faults: BTreeSet<&str> = hit.iter().map(|t| t.record.fault.as_str()).collect();
    let facts = vec![
        "Judged by the package managers' own checks right after the fault; \"unchanged\" means no visible residue and no package change. \
         For trials, whether a consistent state is exactly the old or the new one is not judged apart (crash points are)."
            .to_string(),
        format!(
            "Counted: {} interrupted operations (killed, or failed under the fault) at {} distinct fault points; not counted: {completed} that completed despite the fault.",
            hit.len(),
            faults.len()
        ),
    ];
    Ok((evidence, facts))
}

/// The crash points' side: old, new or inconsistent right after each crash
/// whose kill fired. Err: why they say nothing.
fn interrupted_points(points: &[CrashPointRecord]) -> Result<(Evidence, Vec<String>), String> {
    if points.is_empty() {
        return Err("no crash point was explored.".into());
    }
    // A kill that hit another operation than the dry run's is not this
    // point's evidence (its row is unknown).
    let fired: Vec<&CrashPointRecord> = points
        .iter()
        .filter(|p| p.error.is_empty() && p.fired && p.mismatch.is_empty())
        .collect();
    let not_fired = points
        .iter()
        .filter(|p| p.error.is_empty() && !p.fired)
        .count();
    let errored = points.iter().filter(|p| !p.error.is_empty()).count();
    if fired.is_empty() {
        return Err(format!(
            "none of the {} explored crash points fired its kill ({not_fired} never reached, {errored} errored).",
            points.len()
        ));
    }
    let mut by: std::collections::BTreeMap<(usize, ApproachKind), Vec<&CrashPointRecord>> =
        std::collections::BTreeMap::new();
    for p in &fired {
        by.entry(crate::report::approach_rank(p.approach))
            .or_default()
            .push(p);
    }
    let input = as_input("crashpoints.csv", points);
    let mut evidence = Vec::new();
    let mut recovery = Vec::new();
    for ((_, a), ps) in &by {
        let n = ps.len();
        let count = |s: State| ps.iter().filter(|p| p.state_after_crash == Some(s)).count();
        let (old, new, mixed) = (
            count(State::Old),
            count(State::New),
            count(State::Inconsistent),
        );
        let clause = format!(
            "{a} was left old or new after {}/{n} crash points whose kill fired (old {old}, new {new}, inconsistent {mixed})",
            old + new
        );
        let (verdict, _) = Claim::InterruptedPoints.judge(*a, &input);
        evidence.push((a.to_string(), verdict, clause));
        let times: Vec<f64> = ps
            .iter()
            .filter(|p| p.playbook_ran)
            .filter_map(|p| p.recovery_ms)
            .collect();
        if let (Some(s), Some((lo, hi))) = (
            stats::Summary::of(&times),
            stats::bootstrap_median_ci(
                &times,
                stats::BOOTSTRAP_SEED,
                stats::BOOTSTRAP_RESAMPLES,
                0.95,
            ),
        ) {
            let recovered = ps
                .iter()
                .filter(|p| p.playbook_ran && p.recovered.is_true())
                .count();
            recovery.push(format!(
                "{a} recovered {recovered}/{} inconsistent crashes in {} (median; 95% CI {} – {}, {})",
                times.len(),
                fmt_ms(s.median),
                fmt_ms(lo),
                fmt_ms(hi),
                stats::sample_label(s.n).trim_matches(['(', ')'])
            ));
        }
    }
    let mut facts = vec![format!(
        "Crash points (from `mistake-cost explore`): each is a SIGKILL at the k-th call of a syscall, judged exactly: old = visible files and \
         packages identical to before, new = identical to the clean dry run, both with the checks passing; anything else is inconsistent. \
         Counted: {} whose kill fired; not counted: {not_fired} whose kill never fired (undisturbed) and {errored} errored.",
        fired.len()
    )];
    if !recovery.is_empty() {
        facts.push(format!(
            "Recovery after an inconsistent crash: {}.",
            and_list(&recovery)
        ));
    }
    if fired.len() < stats::SMALL_SAMPLE * by.len() {
        facts.push(format!(
            "Small sample: {} fired crash points over {} approaches; a point that was not explored may still leave a mix.",
            fired.len(),
            by.len()
        ));
    }
    Ok((evidence, facts))
}

pub(super) fn interrupted_with_points(trials: &[Trial], points: &[CrashPointRecord]) -> Answer {
    let from_trials = interrupted_trials(trials);
    let from_points = interrupted_points(points);
    let (evidence, facts) = match (from_trials, from_points) {
        (Err(why_trials), Err(why_points)) => {
            let why = if points.is_empty() {
                why_trials
            } else {
                format!("{why_trials} Crash points: {why_points}")
            };
            return not_covered(INTERRUPTED, &why);
        }
        (Ok(t), Err(_)) => t,
        (Err(_), Ok(p)) => p,
        (Ok((mut e, mut f)), Ok((pe, pf))) => {
            e.extend(pe);
            f.extend(pf);
            (e, f)
        }
    };
    // An approach's verdict merges every source's: violated anywhere is
    // violated; it holds only where every source holds.
    let mut per_approach: std::collections::BTreeMap<&str, Verdict> = Default::default();
    for (a, v, _) in &evidence {
        let merged = per_approach.entry(a.as_str()).or_insert(*v);
        *merged = crate::verify::builtin::merge([*merged, *v]);
    }
    let with = |want: Verdict| -> Vec<String> {
        evidence
            .iter()
            .filter(|(a, _, _)| per_approach[a.as_str()] == want)
            .map(|(_, _, c)| c.clone())
            .collect()
    };
    let (holds, broken, undecided) = (
        with(Verdict::Holds),
        with(Verdict::Violated),
        with(Verdict::Unknown),
    );
    let mut facts = facts;
    if !undecided.is_empty() {
        facts.insert(
            0,
            format!(
                "Undecided (a check could not decide, or a row errored): {}.",
                undecided.join("; ")
            ),
        );
    }
    if holds.is_empty() && broken.is_empty() {
        return Answer {
            facts,
            ..not_covered(INTERRUPTED, "undecided for every approach.")
        };
    }
    let (status, verdict, sentence) = if broken.is_empty() && undecided.is_empty() {
        (
            Status::Holds,
            "holds".to_string(),
            format!(
                "The data support the claim for every approach: {}.",
                holds.join("; ")
            ),
        )
    } else if holds.is_empty() && undecided.is_empty() {
        (
            Status::Contradicted,
            "contradicted".to_string(),
            format!(
                "The data contradict the claim for every approach: {}.",
                broken.join("; ")
            ),
        )
    } else if broken.is_empty() {
        (
            Status::Mixed,
            "holds for some approaches, undecided for the rest".to_string(),
            format!(
                "The data support the claim for some approaches: {}.",
                holds.join("; ")
            ),
        )
    } else if holds.is_empty() {
        (
            Status::Mixed,
            "contradicted for some approaches, undecided for the rest".to_string(),
            format!(
                "The data contradict the claim for some approaches: {}.",
                broken.join("; ")
            ),
        )
    } else {
        (
            Status::Mixed,
            "holds for some approaches".to_string(),
            format!("The claim holds for some approaches only: {}; the data contradict it for the others: {}.", holds.join("; "), broken.join("; ")),
        )
    };
    Answer {
        claim: INTERRUPTED,
        scope: None,
        status,
        verdict,
        sentence,
        facts,
    }
}
