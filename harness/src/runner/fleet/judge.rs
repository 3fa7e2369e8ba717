//! A rollout trial's measures from what was recorded: every node's probe
//! samples, its configuration after the rollout and at the end, whether
//! the deployer still reached it, and its residue. Pure: the samples and
//! the moments share the host's CLOCK_MONOTONIC (every container reads
//! the same kernel clock), read by the caller.

use crate::history::{FleetMeasures, NodeMeasures};
use crate::service::timeline::Sample;

/// Which configuration a node holds: the one before the rollout, the one
/// it rolled out, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigState {
    Old,
    New,
    Other,
}

impl ConfigState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigState::Old => "old",
            ConfigState::New => "new",
            ConfigState::Other => "other",
        }
    }
}

/// One node, as observed.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub broken: bool,
    pub samples: Vec<Sample>,
    pub after_change: ConfigState,
    pub at_end: ConfigState,
    pub reachable_at_end: bool,
    /// A shared connection from the deployer was alive when the fleet
    /// rollback began.
    pub kept_connection: bool,
    /// The mechanism by which it rolled itself back, if it did.
    pub restored_by: Option<String>,
    pub residue_files: usize,
}

/// When things happened (CLOCK_MONOTONIC ns).
#[derive(Debug, Clone, Copy)]
pub struct Moments {
    pub rollout: u64,
    pub rollout_end: u64,
    /// The fleet rollback's start, when the policy called for it.
    pub rollback: Option<u64>,
    /// …and its end (the tool returned).
    pub rollback_end: Option<u64>,
}

fn ms(ns: u64) -> f64 {
    (ns as f64 / 1e6 * 1000.0).round() / 1000.0
}

fn end_of(s: &Sample) -> u64 {
    s.end.unwrap_or(s.ns)
}

/// One node's measures.
fn node(n: &Node, at: Moments) -> NodeMeasures {
    let after: Vec<&Sample> = n.samples.iter().filter(|s| s.ns >= at.rollout).collect();
    let downtime: u64 = after
        .windows(2)
        .filter(|p| !p[0].healthy)
        .map(|p| p[1].ns - p[0].ns)
        .sum();
    // The state the change settled into: the last sample that ended
    // before the rollback began (or the last of all without one).
    let settled = after
        .iter()
        .rev()
        .find(|s| at.rollback.is_none_or(|r| end_of(s) < r));
    // Broken by the change: a failing sample begun before the fleet
    // rollback was done (a node changed last may fail only while the
    // rollback is under way), or at the end without a rollback.
    let broke = after
        .iter()
        .any(|s| !s.healthy && at.rollback_end.is_none_or(|e| s.ns < e));
    let restore_ms = at.rollback.and_then(|r| {
        let from_r: Vec<&&Sample> = after.iter().filter(|s| s.ns >= r).collect();
        // The first sample from which every later one is healthy.
        let good_from = from_r.iter().rposition(|s| !s.healthy).map_or(0, |i| i + 1);
        let first_good = from_r.get(good_from)?;
        let serving_at_start = settled.is_some_and(|s| s.healthy);
        Some(if good_from == 0 && serving_at_start {
            0.0
        } else {
            ms(first_good.ns - r)
        })
    });
    NodeMeasures {
        name: n.name.clone(),
        broken: n.broken,
        after_change: n.after_change.as_str().into(),
        at_end: n.at_end.as_str().into(),
        unhealthy_after_change: broke,
        healthy_at_end: n.samples.last().is_some_and(|s| s.healthy),
        reachable_at_end: n.reachable_at_end,
        kept_connection_at_rollback: n.kept_connection,
        restored_by: n.restored_by.clone(),
        downtime_ms: ms(downtime),
        restore_ms,
        residue_files: n.residue_files,
        samples: after.len(),
    }
}

/// The fleet's measures (the columns `nodes` … `fleet_residue_files`).
pub fn judge(nodes: &[Node], broken: u32, at: Moments) -> FleetMeasures {
    let per_node: Vec<NodeMeasures> = nodes.iter().map(|n| node(n, at)).collect();
    let count = |f: &dyn Fn(&NodeMeasures) -> bool| per_node.iter().filter(|n| f(n)).count() as u32;
    let first_unhealthy = nodes
        .iter()
        .flat_map(|n| n.samples.iter())
        .filter(|s| s.ns >= at.rollout && !s.healthy)
        .map(end_of)
        .min();
    let fleet_restore_ms = match at.rollback {
        Some(_) if per_node.iter().all(|n| n.healthy_at_end) => per_node
            .iter()
            .map(|n| n.restore_ms)
            .collect::<Option<Vec<f64>>>()
            .map(|v| v.into_iter().fold(0.0, f64::max)),
        _ => None,
    };
    FleetMeasures {
        nodes: nodes.len() as u32,
        broken,
        nodes_changed: count(&|n| n.after_change == "new"),
        nodes_unhealthy_after_change: count(&|n| {
            n.after_change == "new" && n.unhealthy_after_change
        }),
        fleet_change_ms: ms(at.rollout_end.saturating_sub(at.rollout)),
        fleet_detect_ms: first_unhealthy.map(|e| ms(e.saturating_sub(at.rollout))),
        fleet_restore_ms,
        node_downtime_ms: ms(per_node.iter().map(|n| (n.downtime_ms * 1e6) as u64).sum()),
        nodes_unhealthy_after_recovery: count(&|n| !n.healthy_at_end),
        nodes_unreachable_after_recovery: count(&|n| !n.reachable_at_end),
        nodes_mixed: count(&|n| n.at_end == "other"),
        fleet_residue_files: per_node.iter().map(|n| n.residue_files).sum(),
        per_node,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// Samples every 100 ms from 0 to `until` ms; healthy outside `down`.
    fn samples(until: u64, down: &[(u64, u64)]) -> Vec<Sample> {
        (0..=until / 100)
            .map(|i| {
                let t = i * 100;
                let healthy = !down.iter().any(|(a, b)| t >= *a && t < *b);
                Sample {
                    ns: t * MS,
                    healthy,
                    end: Some(t * MS + 2 * MS),
                }
            })
            .collect()
    }

    fn node(name: &str, broken: bool, samples: Vec<Sample>) -> Node {
        Node {
            name: name.into(),
            broken,
            samples,
            after_change: ConfigState::New,
            at_end: ConfigState::Old,
            reachable_at_end: true,
            kept_connection: false,
            restored_by: None,
            residue_files: 1,
        }
    }

    #[test]
    fn a_broken_node_rolled_back_counts_its_outage_and_the_fleet_restores_when_it_serves() {
        // Rollout at 1000 ms (returns at 1100); n2 down from 1100 to 2600;
        // the rollback starts at 2400 and n2 serves again at 2600.
        let at = Moments {
            rollout: 1000 * MS,
            rollout_end: 1100 * MS,
            rollback: Some(2400 * MS),
            rollback_end: Some(2500 * MS),
        };
        let nodes = vec![
            node("n1", false, samples(4000, &[])),
            node("n2", true, samples(4000, &[(1100, 2600)])),
        ];
        let m = judge(&nodes, 1, at);
        assert_eq!((m.nodes, m.broken, m.nodes_changed), (2, 1, 2));
        assert_eq!(m.nodes_unhealthy_after_change, 1);
        assert_eq!(m.fleet_change_ms, 100.0);
        assert_eq!(
            m.fleet_detect_ms,
            Some(102.0),
            "the end of the sample at 1100"
        );
        assert_eq!(
            m.fleet_restore_ms,
            Some(200.0),
            "n2's first healthy sample after 2400"
        );
        assert_eq!(
            m.node_downtime_ms, 1500.0,
            "samples 1100..2500 were unhealthy"
        );
        assert_eq!(m.per_node[0].restore_ms, Some(0.0), "n1 served throughout");
        assert_eq!(
            (
                m.nodes_unhealthy_after_recovery,
                m.nodes_unreachable_after_recovery,
                m.nodes_mixed
            ),
            (0, 0, 0)
        );
        assert_eq!(m.fleet_residue_files, 2);
    }

    #[test]
    fn a_node_that_never_comes_back_leaves_the_restore_empty_and_counts_at_the_end() {
        let at = Moments {
            rollout: 1000 * MS,
            rollout_end: 1100 * MS,
            rollback: Some(2400 * MS),
            rollback_end: Some(2500 * MS),
        };
        let mut stuck = node("n1", true, samples(4000, &[(1100, 9999)]));
        stuck.reachable_at_end = false;
        stuck.at_end = ConfigState::Other;
        let m = judge(&[stuck, node("n2", false, samples(4000, &[]))], 1, at);
        assert_eq!(m.fleet_restore_ms, None);
        assert_eq!(
            (
                m.nodes_unhealthy_after_recovery,
                m.nodes_unreachable_after_recovery,
                m.nodes_mixed
            ),
            (1, 1, 1)
        );
    }

    #[test]
    fn a_node_changed_last_that_fails_only_during_the_rollback_counts_as_broken() {
        // The rollback starts at 2000 ms and ends at 2400; n1 fails from
        // 1950 to 2300: no failing sample ended before the rollback began.
        let at = Moments {
            rollout: 1000 * MS,
            rollout_end: 1900 * MS,
            rollback: Some(2000 * MS),
            rollback_end: Some(2400 * MS),
        };
        let late = node("n1", true, samples(4000, &[(1950, 2300)]));
        let m = judge(&[late], 1, at);
        assert_eq!(m.nodes_unhealthy_after_change, 1);
        assert_eq!(m.fleet_restore_ms, Some(300.0));
    }

    #[test]
    fn without_a_rollback_nothing_is_restored_and_unchanged_nodes_are_not_counted_unhealthy() {
        let at = Moments {
            rollout: 1000 * MS,
            rollout_end: 1100 * MS,
            rollback: None,
            rollback_end: None,
        };
        let mut unchanged = node("n1", true, samples(3000, &[(1500, 9999)]));
        unchanged.after_change = ConfigState::Old;
        let m = judge(&[unchanged], 1, at);
        assert_eq!((m.nodes_changed, m.nodes_unhealthy_after_change), (0, 0));
        assert_eq!(m.fleet_restore_ms, None);
        assert_eq!(m.nodes_unhealthy_after_recovery, 1);
    }
}
