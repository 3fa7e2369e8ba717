//! The rules of a `rollout` scenario beyond `configure`'s (which it shares:
//! the `[service]`, its files, the edits, the recoveries): a `[fleet]` with
//! a node count this machine can hold, a `broken` count no larger, what
//! makes the broken nodes differ, and the probes a prober can run from
//! outside the nodes.

use super::validate::err;
use super::{ParseError, Scenario};

pub(super) fn validate_rollout(s: &Scenario) -> Result<(), ParseError> {
    let Some(fleet) = &s.fleet else {
        return Err(err(
            &s.operation.kind,
            "a `rollout` operation needs a [fleet] table (`nodes`, `broken`)",
        ));
    };
    let f = fleet.get_ref();
    if !(1..=super::MAX_NODES).contains(&f.nodes()) {
        return Err(err(
            &f.nodes,
            format!("nodes: expected 1 to {}", super::MAX_NODES),
        ));
    }
    if f.broken() > f.nodes() {
        return Err(err(
            &f.broken,
            format!(
                "broken: {} nodes broken of {}: at most `nodes`",
                f.broken(),
                f.nodes()
            ),
        ));
    }
    if f.broken() > 0 && f.broken_absent.is_empty() {
        return Err(err(
            &f.broken,
            "broken nodes differ from the others by what they lack: name it in `broken_absent = [\"/path\"]`",
        ));
    }
    for p in &f.broken_absent {
        let path = p.get_ref();
        if !path.starts_with('/')
            || path == "/"
            || path.split('/').any(|c| c == "." || c == "..")
            || path.chars().any(|c| c.is_control())
        {
            return Err(err(
                p,
                format!("broken_absent: `{path}`: expected an absolute path other than `/`, without `.` or `..`"),
            ));
        }
    }
    if *f.settle_ms.get_ref() > 60_000 {
        return Err(err(&f.settle_ms, "settle_ms: expected at most 60000"));
    }
    if !(100..=600_000).contains(f.watch_ms.get_ref()) {
        return Err(err(&f.watch_ms, "watch_ms: expected 100 to 600000"));
    }
    if f.watch_ms.get_ref() < f.settle_ms.get_ref() {
        return Err(err(
            &f.watch_ms,
            "watch_ms: the watch must last at least `settle_ms`, or no node can stay unhealthy long enough to be seen",
        ));
    }
    if !(10..=100).contains(f.probe_interval_ms.get_ref()) {
        return Err(err(
            &f.probe_interval_ms,
            "probe_interval_ms: expected 10 to 100",
        ));
    }
    if f.control_persist_s() > 3600 {
        return Err(err(
            &f.ssh_control_persist_s,
            "ssh_control_persist_s: expected 0 to 3600",
        ));
    }
    // The trial's steps run under step_timeout_s: a watch that outlasts
    // it would be cut off and the trial errored.
    if *f.watch_ms.get_ref() >= s.scenario.step_timeout_s.saturating_mul(1000) {
        return Err(err(
            &f.watch_ms,
            format!(
                "watch_ms: the watch must end within the scenario's step_timeout_s ({} s)",
                s.scenario.step_timeout_s
            ),
        ));
    }
    let service = s.service.as_ref().expect("validate_configure checked it");
    if let Some(w) = service.wanted_edit.first() {
        return Err(err(
            &w.path,
            "[[service.wanted_edit]] is not measured in a rollout (no `wanted_edit_lost` per node)",
        ));
    }
    if let Some(f) = s.faults.first() {
        return Err(err(
            &f.kind,
            "faults in a rollout are not built yet: a fleet's trial runs undisturbed",
        ));
    }
    if !s.probes.is_empty() {
        return Err(err(
            &s.operation.kind,
            "[[probe]] runs in one container; a fleet is judged by its `[[service.probe]]`s on every node",
        ));
    }
    Ok(())
}
