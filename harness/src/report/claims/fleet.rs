//! "A fleet rolls back in seconds": the rows of rollout scenarios (a
//! `nodes` count), one answer per scenario. Per approach and method, was
//! every node serving, reachable and on a known configuration again
//! within 10 s of the fleet rollback's start? The verdict is
//! `verify::builtin`'s (`Claim::Fleet`); this file words it with the
//! fleet's times by size and says what brought the broken nodes back.

use super::{as_input, not_covered, undecided_clause, Answer, FLEET};
use crate::approach::ApproachKind;
use crate::report::{approach_rank, fmt_ms, Trial};
use crate::stats;
use crate::verify::builtin::Claim;
use crate::verify::Verdict;

/// The median of `f` over `rows`, as a time ("?" without data).
fn median_ms(rows: &[&Trial], f: fn(&Trial) -> Option<f64>) -> String {
    let v: Vec<f64> = rows.iter().filter_map(|t| f(t)).collect();
    stats::median(&v).map(fmt_ms).unwrap_or_else(|| "?".into())
}

/// The answer over every rollout row: each approach and method judged
/// over all its rollout trials (the summary's one column), then the
/// figures and what brought the broken nodes back, scenario by scenario.
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
    fleet_of(&rows)
}

/// One approach with one method: "apt (dead-man)" when the approach ran
/// several in these rows, else "apt".
struct Variant<'a> {
    approach: ApproachKind,
    label: String,
    trials: Vec<&'a Trial>,
}

fn variants<'a>(rows: &[&'a Trial]) -> Vec<Variant<'a>> {
    let mut approaches: Vec<ApproachKind> = rows.iter().map(|t| t.record.approach).collect();
    approaches.sort_by_key(|a| approach_rank(*a));
    approaches.dedup();
    let mut out = Vec::new();
    for a in approaches {
        let mine: Vec<&Trial> = rows
            .iter()
            .copied()
            .filter(|t| t.record.approach == a)
            .collect();
        let mut methods: Vec<&str> = Vec::new();
        for t in &mine {
            if !methods.contains(&t.record.recovery.as_str()) {
                methods.push(&t.record.recovery);
            }
        }
        // The methods in the order the approach lists them (its default first).
        let listed = crate::vocab::fleet_methods(a.as_str()).unwrap_or_default();
        methods.sort_by_key(|m| listed.iter().position(|l| l == m).unwrap_or(usize::MAX));
        for m in &methods {
            out.push(Variant {
                approach: a,
                label: if methods.len() > 1 {
                    format!("{a} ({m})")
                } else {
                    a.to_string()
                },
                trials: mine
                    .iter()
                    .copied()
                    .filter(|t| t.record.recovery == *m)
                    .collect(),
            });
        }
    }
    out
}

fn fleet_of(rows: &[&Trial]) -> Answer {
    let (mut holds, mut broken, mut undecided) = (Vec::new(), Vec::new(), Vec::new());
    for v in variants(rows) {
        let records: Vec<_> = v.trials.iter().map(|t| t.record.clone()).collect();
        let input = as_input("trials.csv", &records);
        let (verdict, judgements) = Claim::Fleet.judge(v.approach, &input);
        let clause = format!(
            "{} ({} of {} trials with every node back within 10 s)",
            v.label,
            v.trials.len() - not_holding(&judgements),
            v.trials.len()
        );
        match verdict {
            Verdict::Holds => holds.push((v.label.clone(), clause)),
            Verdict::Violated => broken.push((v.label.clone(), clause)),
            Verdict::Unknown => undecided.push(undecided_clause(&v.label, &judgements)),
        }
    }
    let mut scenarios: Vec<&str> = rows.iter().map(|t| t.record.scenario.as_str()).collect();
    scenarios.sort_unstable();
    scenarios.dedup();
    let mut facts = Vec::new();
    for name in &scenarios {
        let mine: Vec<&Trial> = rows
            .iter()
            .copied()
            .filter(|t| t.record.scenario == *name)
            .collect();
        for v in variants(&mine) {
            facts.push(format!("`{name}`: {}", figures(&v)));
            facts.extend(how_they_came_back(&v).map(|f| format!("`{name}`: {f}")));
            facts.extend(by_size(&v.trials, &v.label));
        }
    }
    facts.push(
        "The policy is the same for every approach: a node unhealthy for the scenario's \
         `settle_ms` in a row after the rollout began rolls the whole fleet back with the \
         approach's own tool; deploy-rs rolls back by itself (its check in the activation \
         script, then its revoke) before it returns (scenarios/README.md, Fleets). Judged per \
         row (verify's built-in guarantee): `fleet_restore_ms <= 10000`, no node unhealthy, \
         unreachable or mixed at the end, over the rows where the fleet was rolled back. Times \
         are taken on the hosts' shared monotonic clock; node health is the prober's, at its \
         `probe_interval_ms`."
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

/// Rows that violate or leave unknown a guarantee, each counted once.
fn not_holding(judgements: &[crate::verify::Judgement]) -> usize {
    judgements
        .iter()
        .flat_map(|j| j.violating.iter().chain(j.unknown.iter()))
        .map(|e| e.at.as_str())
        .collect::<std::collections::BTreeSet<&str>>()
        .len()
}

/// A variant's figures in one scenario.
fn figures(v: &Variant) -> String {
    let rolled_back: Vec<&Trial> = v
        .trials
        .iter()
        .copied()
        .filter(|t| t.record.playbook_ran)
        .collect();
    let back = rolled_back
        .iter()
        .filter(|t| t.record.recovered.is_true())
        .count();
    format!(
        "{} rolled the fleet back in {}/{} trials and every node was back in {back} of them \
         (rollback start → every node serving, median {}; rollout {}; unhealthy time over the \
         nodes {}).",
        v.label,
        rolled_back.len(),
        v.trials.len(),
        median_ms(&rolled_back, |t| t.record.fleet_restore_ms),
        median_ms(&v.trials, |t| t.record.fleet_change_ms),
        median_ms(&v.trials, |t| t.record.node_downtime_ms),
    )
}

/// What brought the nodes the change broke back, from each node's record
/// in trials.jsonl: a mechanism on the node itself (a dead-man switch,
/// deploy-rs's auto rollback), a shared SSH connection the deployer still
/// held, or the rollback over a new one; and how many stayed unreachable.
fn how_they_came_back(v: &Variant) -> Option<String> {
    let nodes: Vec<&crate::history::NodeMeasures> = v
        .trials
        .iter()
        .filter_map(|t| t.history.as_ref())
        .flat_map(|h| h.fleet_nodes.iter())
        .filter(|n| n.unhealthy_after_change)
        .collect();
    if nodes.is_empty() {
        return None;
    }
    let count =
        |f: &dyn Fn(&crate::history::NodeMeasures) -> bool| nodes.iter().filter(|n| f(n)).count();
    let unreachable = count(&|n| !n.reachable_at_end);
    let unhealthy = count(&|n| !n.healthy_at_end);
    let mut ways: Vec<String> = Vec::new();
    let mut mechanisms: Vec<&str> = nodes
        .iter()
        .filter_map(|n| n.restored_by.as_deref())
        .collect();
    mechanisms.sort_unstable();
    mechanisms.dedup();
    for m in mechanisms {
        let k = count(&|n| n.restored_by.as_deref() == Some(m) && n.healthy_at_end);
        ways.push(format!("{k} by its {m}"));
    }
    let kept =
        count(&|n| n.restored_by.is_none() && n.healthy_at_end && n.kept_connection_at_rollback);
    if kept > 0 {
        ways.push(format!(
            "{kept} by the rollback over an SSH connection the deployer had kept open"
        ));
    }
    let fresh =
        count(&|n| n.restored_by.is_none() && n.healthy_at_end && !n.kept_connection_at_rollback);
    if fresh > 0 {
        ways.push(format!("{fresh} by the rollback"));
    }
    let back = if ways.is_empty() {
        "none came back".to_string()
    } else {
        format!("back: {}", ways.join(", "))
    };
    Some(format!(
        "{}: {} node(s) broken by the change over {} trials; {back}; {unhealthy} still unhealthy \
         and {unreachable} unreachable over a fresh SSH connection at the end.",
        v.label,
        nodes.len(),
        v.trials.len(),
    ))
}

/// One fact per fleet size the variant ran: its nodes, broken nodes and
/// median times, so growth with N is read off.
fn by_size(data: &[&Trial], label: &str) -> Vec<String> {
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
        "{label} by fleet size (medians): {}.",
        parts.join("; ")
    )]
}
