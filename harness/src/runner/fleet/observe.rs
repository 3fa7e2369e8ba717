//! What a rollout trial reads from its fleet: each node's configuration,
//! activation log, self-restore record and snapshot, the prober's logs,
//! and what the deployer still reaches (kept connections, fresh SSH).

use futures_util::future::try_join_all;
use std::sync::Arc;
use std::time::Duration;

use super::super::sandbox_target::snapshot_timed;
use super::{argv, inspect, ConfigState, PROBE_DIR};
use crate::approach::fleet::ACTIVATIONS;
use crate::approach::Approach;
use crate::docker::{DockerError, Sandbox};
use crate::history::Timings;
use crate::service::timeline::{self, Sample};
use crate::snapshot::{manifest::Manifest, Snapshot};

/// The nodes whose shared SSH connection from the deployer (ControlPersist)
/// is alive: `ssh -O check` asks the master, opening nothing.
pub(super) async fn kept_connections(
    deployer: &Sandbox,
    timeout: Duration,
) -> Result<Vec<String>, DockerError> {
    use crate::approach::fleet::DIR;
    let check = format!(
        "while read -r n; do ssh -O check \"$n\" 2>/dev/null && echo \"$n\"; done < {DIR}/nodes; true"
    );
    let out = deployer
        .exec(&argv(&["sh", "-c", &check]), None, timeout)
        .await?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect())
}

/// One line of a node's [`ACTIVATIONS`] log.
pub(super) struct Activation {
    pub ns: u64,
    /// `good` (the known-good configuration) or `bad` (the change).
    pub stage: String,
    /// `activated` or `failed` (its health check).
    pub what: String,
}

/// Every node's activation log (empty where there is none), in one exec
/// per node, all at once.
pub(super) async fn activations(
    nodes: &[Sandbox],
    timeout: Duration,
) -> Result<Vec<Vec<Activation>>, DockerError> {
    try_join_all(nodes.iter().map(|n| async move {
        let out = n
            .exec(
                &argv(&["sh", "-c", &format!("cat {ACTIVATIONS} 2>/dev/null; true")]),
                None,
                timeout,
            )
            .await?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut w = l.split_whitespace();
                match (w.next().and_then(|t| t.parse().ok()), w.next(), w.next()) {
                    (Some(ns), Some(stage), Some(what)) => Ok(Activation {
                        ns,
                        stage: stage.into(),
                        what: what.into(),
                    }),
                    _ => Err(DockerError::Other(format!(
                        "{}: a line of {ACTIVATIONS} is not `ns stage what`: {l}",
                        n.name
                    ))),
                }
            })
            .collect()
    }))
    .await
}

/// Every node's snapshot, taken together.
pub(super) async fn snapshots(
    nodes: &[Sandbox],
    a: &dyn Approach,
    base: &Arc<Manifest>,
    timings: &mut Timings,
) -> Result<Vec<Snapshot>, DockerError> {
    let taken = try_join_all(nodes.iter().map(|n| async move {
        let mut t = Timings::default();
        let snap = snapshot_timed(n, a, base, &mut t).await?;
        Ok::<_, DockerError>((snap, t.snapshot_ms))
    }))
    .await?;
    timings.snapshot_ms += taken
        .iter()
        .map(|(_, ms)| ms)
        .fold(0.0, |a: f64, b| a.max(*b));
    Ok(taken.into_iter().map(|(s, _)| s).collect())
}

/// Every node's configuration against the rendered stages.
pub(super) async fn config_states(
    nodes: &[Sandbox],
    paths: &[String],
) -> Result<Vec<ConfigState>, DockerError> {
    let command = inspect::config_state_command(paths);
    try_join_all(nodes.iter().map(|n| {
        let command = command.clone();
        async move {
            let out = n
                .exec(
                    &argv(&["sh", "-c", &command]),
                    None,
                    Duration::from_secs(60),
                )
                .await?;
            Ok(match String::from_utf8_lossy(&out.stdout).trim() {
                "old" => ConfigState::Old,
                "new" => ConfigState::New,
                _ => ConfigState::Other,
            })
        }
    }))
    .await
}

/// Which nodes rolled themselves back, and how (`command` prints the
/// mechanism's name on such a node).
pub(super) async fn self_restores(
    nodes: &[Sandbox],
    command: &str,
    timeout: Duration,
) -> Result<Vec<Option<String>>, DockerError> {
    if command.is_empty() {
        return Ok(vec![None; nodes.len()]);
    }
    try_join_all(nodes.iter().map(|n| async move {
        let out = n.exec(&argv(&["sh", "-c", command]), None, timeout).await?;
        let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok::<_, DockerError>((!said.is_empty()).then_some(said))
    }))
    .await
}

/// Every node's probe log, read whole after the probers stopped.
pub(super) async fn probe_logs(
    prober: &Sandbox,
    nodes: &[Sandbox],
    timeout: Duration,
) -> Result<Vec<Vec<Sample>>, DockerError> {
    let stop =
        format!("for p in {PROBE_DIR}/*.pid; do kill \"$(cat \"$p\")\" 2>/dev/null; done; true");
    prober
        .exec(&argv(&["sh", "-c", &stop]), None, timeout)
        .await?;
    let mut out = Vec::new();
    for n in nodes {
        let log = prober
            .exec(
                &argv(&["cat", &format!("{PROBE_DIR}/{}.log", n.name)]),
                None,
                timeout,
            )
            .await?;
        if log.exit_code != 0 {
            return Err(DockerError::Other(format!("no probe log for {}", n.name)));
        }
        let text = String::from_utf8_lossy(&log.stdout);
        out.push(
            timeline::parse(&text)
                .map_err(|e| DockerError::Other(format!("{}'s probe log: {e}", n.name)))?,
        );
    }
    Ok(out)
}

/// The nodes the deployer cannot reach over a fresh SSH connection.
pub(super) async fn unreachable(
    deployer: &Sandbox,
    timeout: Duration,
) -> Result<Vec<String>, DockerError> {
    let out = deployer
        .exec(
            &argv(&["sh", "-c", &inspect::reachability_command()]),
            None,
            timeout,
        )
        .await?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect())
}
