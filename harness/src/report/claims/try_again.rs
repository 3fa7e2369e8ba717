//! "Just try again": the rows of retry scenarios (a `retry_outcome`). Per
//! approach, did the second install succeed, and did it end where a clean
//! install of the same packages does? The verdict is `verify::builtin`'s
//! (`Claim::TryAgain`); this file words it with counts and 95% intervals.

use super::{and_list, as_input, not_covered, undecided_clause, Answer, TRY_AGAIN};
use crate::checker::Outcome;
use crate::export::TriBool;
use crate::report::{by_approach, fmt_count, Trial};
use crate::stats;
use crate::verify::builtin::Claim;
use crate::verify::Verdict;

/// "4/5 (95% CI 38–99%)".
fn share(k: usize, n: usize) -> String {
    match stats::wilson_95(k, n) {
        Some((lo, hi)) => format!("{k}/{n} (95% CI {:.0}–{:.0}%)", lo * 100.0, hi * 100.0),
        None => format!("{k}/{n}"),
    }
}

pub fn try_again(all: &[Trial]) -> Answer {
    let rows: Vec<&Trial> = all
        .iter()
        .filter(|t| t.record.retry_outcome.is_some() && !t.errored())
        .collect();
    if rows.is_empty() {
        return not_covered(
            TRY_AGAIN,
            "no trial in this run installs again after a failure (a scenario with [retry]).",
        );
    }
    let records: Vec<_> = all.iter().map(|t| t.record.clone()).collect();
    let input = as_input("trials.csv", &records);
    let (mut holds, mut broken, mut undecided) = (Vec::new(), Vec::new(), Vec::new());
    let mut facts = Vec::new();
    for g in by_approach(rows.iter().copied()) {
        let n = g.data.len();
        let ok = g
            .data
            .iter()
            .filter(|t| t.record.retry_outcome == Some(Outcome::Succeeded))
            .count();
        let same = g
            .data
            .iter()
            .filter(|t| t.record.recovered == TriBool::True)
            .count();
        let median = |f: fn(&Trial) -> Option<usize>| {
            let v: Vec<f64> = g
                .data
                .iter()
                .filter_map(|t| f(t))
                .map(|x| x as f64)
                .collect();
            stats::median(&v)
                .map(fmt_count)
                .unwrap_or_else(|| "?".into())
        };
        let clause = format!(
            "{}'s retry succeeded in {} and ended where a clean install does in {} \
             (difference from the clean install, median: {} visible files, {} packages)",
            g.approach,
            share(ok, n),
            share(same, n),
            median(|t| t.record.retry_diff_files),
            median(|t| t.record.retry_diff_packages),
        );
        let (verdict, judgements) = Claim::TryAgain.judge(g.approach, &input);
        match verdict {
            Verdict::Holds => holds.push((g.approach.to_string(), clause)),
            Verdict::Violated => broken.push((g.approach.to_string(), clause)),
            Verdict::Unknown => {
                undecided.push(undecided_clause(g.approach.as_str(), &judgements));
                facts.push(format!("Undecided: {clause}."));
            }
        }
        let scenarios = per_scenario(&g.data);
        if scenarios.len() > 1 {
            facts.push(format!(
                "{} by scenario (retry succeeded / ended where a clean install does): {}.",
                g.approach,
                scenarios.join("; ")
            ));
        }
        let left = leftovers(&g.data);
        if !left.is_empty() {
            facts.push(format!(
                "{}: paths that differ from a clean install after the retry, most frequent first: {}.",
                g.approach,
                and_list(&left)
            ));
        }
    }
    facts.push(
        "A retry is the scenario's `[retry]` install run right after the failed operation, with no \
         playbook in between; the clean install is the same command in a fresh container from the \
         same image. `recovered` is true when both end states have the same visible files and \
         package view and the checks pass (scenarios/README.md, Retry)."
            .into(),
    );
    let Some((status, verdict, sentence)) =
        super::service::assemble("every approach", &holds, &broken, &undecided)
    else {
        return not_covered(
            TRY_AGAIN,
            &format!("undecided for every approach: {}.", undecided.join("; ")),
        );
    };
    Answer {
        claim: TRY_AGAIN,
        scope: None,
        status,
        verdict,
        sentence,
        facts,
    }
}

/// The difference's paths over an approach's retries, with counts, the
/// three most frequent ("`/etc/fastmath.conf` in 3/3"); from trials.jsonl.
fn leftovers(data: &[&Trial]) -> Vec<String> {
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for t in data {
        let Some(h) = &t.history else { continue };
        for p in h.retry_difference() {
            *counts.entry(p).or_default() += 1;
        }
    }
    let mut v: Vec<(String, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let n = data.len();
    let mut out: Vec<String> = v
        .iter()
        .take(3)
        .map(|(p, k)| format!("`{p}` in {k}/{n}"))
        .collect();
    if v.len() > 3 {
        out.push(format!("{} more", v.len() - 3));
    }
    out
}

/// "retry-alternative 0/3, 0/3" per scenario, in first-seen order.
fn per_scenario(data: &[&Trial]) -> Vec<String> {
    let mut order: Vec<&str> = Vec::new();
    let mut counts: std::collections::HashMap<&str, (usize, usize, usize)> =
        std::collections::HashMap::new();
    for t in data {
        let s = t.record.scenario.as_str();
        if !order.contains(&s) {
            order.push(s);
        }
        let c = counts.entry(s).or_default();
        c.0 += usize::from(t.record.retry_outcome == Some(Outcome::Succeeded));
        c.1 += usize::from(t.record.recovered == TriBool::True);
        c.2 += 1;
    }
    order
        .into_iter()
        .map(|s| {
            let (ok, same, n) = counts[s];
            format!("{s} {ok}/{n}, {same}/{n}")
        })
        .collect()
}
