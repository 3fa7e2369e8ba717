//! "A fleet rolls back in seconds": the rows of rollout scenarios (a
//! `nodes` count). Per approach, was every node serving, reachable and on
//! a known configuration again within 10 s of the fleet rollback's start?
//! The verdict is `verify::builtin`'s (`Claim::Fleet`); this file words it
//! with the fleet's times by size.

use super::{as_input, not_covered, undecided_clause, Answer, FLEET};
use crate::report::{by_approach, fmt_ms, Trial};
use crate::stats;
use crate::verify::builtin::Claim;
use crate::verify::Verdict;

/// The median of `f` over `rows`, as a time ("?" without data).
fn median_ms(rows: &[&Trial], f: fn(&Trial) -> Option<f64>) -> String {
    let v: Vec<f64> = rows.iter().filter_map(|t| f(t)).collect();
    stats::median(&v).map(fmt_ms).unwrap_or_else(|| "?".into())
}

pub fn fleet(all: &[Trial]) -> Answer {
    let rows: Vec<&Trial> = all
        .iter()
        .filter(|t| t.record.nodes.is_some() && !t.errored())
        .collect();
    if rows.is_empty() {
        return not_covered(
            FLEET,
            "no trial in this run rolls a change out to a fleet (a `rollout` scenario).",
        );
    }
    let records: Vec<_> = all.iter().map(|t| t.record.clone()).collect();
    let input = as_input("trials.csv", &records);
    let (mut holds, mut broken, mut undecided) = (Vec::new(), Vec::new(), Vec::new());
    let mut facts = Vec::new();
    for g in by_approach(rows.iter().copied()) {
        let rolled_back: Vec<&Trial> = g
            .data
            .iter()
            .copied()
            .filter(|t| t.record.playbook_ran)
            .collect();
        let back = rolled_back
            .iter()
            .filter(|t| t.record.recovered.is_true())
            .count();
        let clause = format!(
            "{} rolled the fleet back in {}/{} trials and every node was back in {back} \
             (rollback start → every node serving, median {}; rollout {}; unhealthy time over the \
             nodes {})",
            g.approach,
            rolled_back.len(),
            g.data.len(),
            median_ms(&rolled_back, |t| t.record.fleet_restore_ms),
            median_ms(&g.data, |t| t.record.fleet_change_ms),
            median_ms(&g.data, |t| t.record.node_downtime_ms),
        );
        let (verdict, judgements) = Claim::Fleet.judge(g.approach, &input);
        match verdict {
            Verdict::Holds => holds.push((g.approach.to_string(), clause)),
            Verdict::Violated => broken.push((g.approach.to_string(), clause)),
            Verdict::Unknown => {
                undecided.push(undecided_clause(g.approach.as_str(), &judgements));
                facts.push(format!("Undecided: {clause}."));
            }
        }
        facts.extend(by_size(&g.data, g.approach.as_str()));
    }
    facts.push(
        "The policy is the same for every approach: a node unhealthy for the scenario's \
         `settle_ms` in a row after the rollout began rolls the whole fleet back with the \
         approach's own tool (scenarios/README.md, Fleets). Times are taken on the hosts' \
         shared monotonic clock; node health is the prober's, at its `probe_interval_ms`."
            .into(),
    );
    let Some((status, verdict, sentence)) =
        super::service::assemble("every approach", &holds, &broken, &undecided)
    else {
        return not_covered(
            FLEET,
            &format!("undecided for every approach: {}.", undecided.join("; ")),
        );
    };
    Answer {
        claim: FLEET,
        scope: None,
        status,
        verdict,
        sentence,
        facts,
    }
}

/// One fact per fleet size the approach ran: its nodes, broken nodes and
/// median times, so growth with N is read off.
fn by_size(data: &[&Trial], approach: &str) -> Vec<String> {
    let mut sizes: Vec<(u32, u32)> = data
        .iter()
        .filter_map(|t| Some((t.record.nodes?, t.record.broken?)))
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    if sizes.len() < 2 {
        return Vec::new();
    }
    let parts: Vec<String> = sizes
        .iter()
        .map(|&(n, b)| {
            let of: Vec<&Trial> = data
                .iter()
                .copied()
                .filter(|t| t.record.nodes == Some(n) && t.record.broken == Some(b))
                .collect();
            format!(
                "{n} nodes ({b} broken, {} trials): rollout {}, fleet back {}",
                of.len(),
                median_ms(&of, |t| t.record.fleet_change_ms),
                median_ms(&of, |t| t.record.fleet_restore_ms),
            )
        })
        .collect();
    vec![format!(
        "{approach} by fleet size (medians): {}.",
        parts.join("; ")
    )]
}
