//! A rollout trial: N nodes (the approach's image running sshd and the
//! service) on an internal network of the trial's own, a deployer holding
//! the tool and the key the nodes trust, and a prober probing every node
//! from inside the network. The rollout runs, the policy watches, the
//! fleet rolls back when a node stays unhealthy, and `judge.rs` turns what
//! was recorded into the fleet's columns.

mod inspect;
mod judge;
mod observe;

use futures_util::future::try_join_all;
use std::time::Duration;

use super::docker_executor::DockerExecutor;
use super::sandbox_target::run_steps;
use crate::approach::fleet::{FleetCommands, FleetRollback};
use crate::approach::Approach;
use crate::docker::{DockerError, Network, Sandbox, SandboxSpec};
use crate::history::{History, Phase, Step};
use crate::plan::Trial;
use crate::scenario::{FleetSpec, Scenario, ServiceName};
use crate::snapshot::{self, AGENT};
use observe::{
    activations, config_states, kept_connections, probe_logs, self_restores, snapshots, unreachable,
};

pub use judge::{ConfigState, Moments, Node};

/// Where the prober keeps one log per node.
const PROBE_DIR: &str = "/run/mistake-cost/fleet";

/// A fleet's containers, removed when dropped (each `Sandbox` removes
/// itself; the network goes once they are gone).
struct Fleet {
    nodes: Vec<Sandbox>,
    deployer: Sandbox,
    prober: Sandbox,
    // Declared last: dropped after the containers on it.
    _network: Network,
}

/// A failed step of the fleet's own set-up: an error, not data.
fn setup_failed(who: &str, steps: &[Step]) -> Option<DockerError> {
    steps.iter().find(|s| s.exit_code != 0).map(|s| {
        DockerError::Other(format!(
            "fleet set-up on {who}: `{}` exited {}: {}",
            s.command.lines().next().unwrap_or(""),
            s.exit_code,
            s.stderr_tail.trim()
        ))
    })
}

impl DockerExecutor {
    /// Runs a rollout trial into `h` (its steps are the deployer's; the
    /// nodes' measures go to `h.fleet`).
    pub(super) async fn fleet_trial(
        &self,
        trial: &Trial,
        h: &mut History,
    ) -> Result<(), DockerError> {
        let s = &trial.scenario.scenario;
        let spec = s
            .fleet
            .as_ref()
            .map(|f| f.get_ref())
            .ok_or_else(|| DockerError::Other("a rollout scenario without [fleet]".into()))?;
        let a = crate::approach::approach(trial.approach);
        let method = crate::approach::fleet::fleet_of(a.as_ref(), s).ok_or_else(|| {
            DockerError::Other(format!(
                "{} has no rollout method {:?}",
                a.name(),
                trial.recovery
            ))
        })?;
        let timeout = Duration::from_secs(s.scenario.step_timeout_s);
        let base = self.base_manifest(a.family()).await?;

        let t = std::time::Instant::now();
        let fleet = self.start_fleet(trial, a.as_ref(), spec).await?;
        h.timings.container_start_ms = t.elapsed().as_secs_f64() * 1000.0;
        self.set_up_fleet(&fleet, a.as_ref(), s, &method, timeout)
            .await?;

        let before = snapshots(&fleet.nodes, a.as_ref(), &base, &mut h.timings).await?;
        let paths = crate::service::config::plan(s)
            .map(|p| p.paths())
            .unwrap_or_default();
        let rolled = roll_out(&fleet, &method, spec, &paths, timeout, h).await?;
        // Two more periods: the last state is seen by a sample that began
        // after the watch ended.
        tokio::time::sleep(Duration::from_millis(2 * spec.probe_interval_ms.get_ref())).await;
        let samples = probe_logs(&fleet.prober, &fleet.nodes, timeout).await?;
        let unreachable = unreachable(&fleet.deployer, timeout).await?;
        let at_end = config_states(&fleet.nodes, &paths).await?;
        let restored_by = self_restores(&fleet.nodes, &method.node_self_restore, timeout).await?;
        let after = snapshots(&fleet.nodes, a.as_ref(), &base, &mut h.timings).await?;

        let nodes: Vec<Node> = fleet
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| Node {
                name: node_name(i),
                broken: spec.is_broken(i as u32),
                samples: samples[i].clone(),
                after_change: rolled.after_change[i],
                at_end: at_end[i],
                reachable_at_end: !unreachable.contains(&n.name),
                kept_connection: rolled.kept.contains(&n.name),
                restored_by: restored_by[i].clone(),
                residue_files: snapshot::residue(&before[i], &after[i]).visible_files(),
            })
            .collect();
        h.fleet = Some(judge::judge(&nodes, spec.broken(), rolled.moments));
        let t = std::time::Instant::now();
        drop(fleet);
        h.timings.container_remove_ms = t.elapsed().as_secs_f64() * 1000.0;
        Ok(())
    }

    /// The network and every container on it, started together.
    async fn start_fleet(
        &self,
        trial: &Trial,
        a: &dyn Approach,
        spec: &FleetSpec,
    ) -> Result<Fleet, DockerError> {
        let prefix = format!("mc-{}-t{}", self.run_id(), trial.index);
        let network = Network::create_internal(
            self.docker(),
            self.run_id(),
            &format!("{prefix}-net"),
            self.tracker(),
        )
        .await?;
        let container = |suffix: String| {
            let mut spec: SandboxSpec = self.spec(a, &trial.scenario.scenario, &suffix);
            spec.attach = Some(network.name.clone());
            spec
        };
        let index = trial.index;
        let node_specs: Vec<SandboxSpec> = (0..spec.nodes() as usize)
            .map(|i| {
                let mut spec = container(format!("t{index}-{}", node_name(i)));
                spec.keep_caps = vec!["AUDIT_WRITE".into()];
                spec
            })
            .collect();
        let start = |spec: SandboxSpec| async move {
            Sandbox::start(self.docker(), self.run_id(), &spec, self.tracker()).await
        };
        let (nodes, deployer, prober) = tokio::join!(
            try_join_all(node_specs.into_iter().map(start)),
            start(container(format!("t{index}-deployer"))),
            start(container(format!("t{index}-prober"))),
        );
        Ok(Fleet {
            nodes: nodes?,
            deployer: deployer?,
            prober: prober?,
            _network: network,
        })
    }

    /// The deployer's key and scripts, every node's service and sshd, the
    /// probers; returns when every node serves (at most 30 s).
    async fn set_up_fleet(
        &self,
        fleet: &Fleet,
        a: &dyn Approach,
        s: &Scenario,
        method: &FleetCommands,
        timeout: Duration,
    ) -> Result<(), DockerError> {
        put_host_tools(&fleet.deployer, method).await?;
        let deployer_key = set_up_deployer(fleet, a, s, method, timeout).await?;
        let prober_key = set_up_prober_key(fleet, timeout).await?;
        set_up_nodes(fleet, a, s, &[deployer_key, prober_key], timeout).await?;
        if !method.first_deploy.is_empty() {
            let steps = run_steps(
                &fleet.deployer,
                Phase::Setup,
                &method.first_deploy,
                timeout,
                &[],
            )
            .await?;
            if let Some(e) = setup_failed(
                &format!("{} (first deployment)", fleet.deployer.name),
                &steps,
            ) {
                return Err(e);
            }
        }
        start_probers(fleet, s, timeout).await
    }
}

/// The host tools the method needs, copied into the deployer; a missing
/// one is an error that says how to install it.
async fn put_host_tools(deployer: &Sandbox, method: &FleetCommands) -> Result<(), DockerError> {
    for tool in &method.host_tools {
        let dir = tool.dir();
        let mut files = Vec::new();
        for f in tool.files {
            let path = dir.join(f);
            let bytes = std::fs::read(&path).map_err(|e| {
                DockerError::Other(format!(
                    "{} is needed on this host ({}: {e}); install it with: {} (or set {} to its folder)",
                    tool.name,
                    path.display(),
                    tool.install,
                    tool.dir_var
                ))
            })?;
            files.push((f.to_string(), bytes, 0o755));
        }
        deployer.put_files(tool.into, &files).await?;
    }
    Ok(())
}

/// The deployer: the rendered configurations (what Ansible copies and Nix
/// builds from), its key pair, the SSH client configuration, the nodes'
/// names and scripts, the tool's own set-up. Returns the public key.
async fn set_up_deployer(
    fleet: &Fleet,
    a: &dyn Approach,
    s: &Scenario,
    method: &FleetCommands,
    timeout: Duration,
) -> Result<String, DockerError> {
    use crate::approach::fleet::{ssh_config, DIR, KEY};
    use crate::service::quote;
    let d = &fleet.deployer;
    let names: String = fleet
        .nodes
        .iter()
        .map(|n| format!("{}\n", n.name))
        .collect();
    let mut deployer_setup: Vec<String> = a.ready().into_iter().collect();
    deployer_setup.extend(crate::service::prepare(s));
    deployer_setup.extend([
        format!("mkdir -p -m 700 /root/.ssh {DIR} && ssh-keygen -q -t ed25519 -N '' -f {KEY}"),
        format!(
            "printf '%s' {} > /root/.ssh/config",
            quote(&ssh_config(
                s.fleet
                    .as_ref()
                    .map_or(60, |f| f.get_ref().control_persist_s())
            ))
        ),
        format!("printf '%s' {} > {DIR}/nodes", quote(&names)),
        format!(
            "printf '%s\\n' {} > {DIR}/change.sh",
            quote(&method.node_change)
        ),
        format!(
            "printf '%s\\n' {} > {DIR}/rollback.sh",
            quote(&method.node_rollback)
        ),
        format!(
            "printf '%s\\n' {} > {DIR}/confirm.sh",
            quote(&method.node_confirm)
        ),
    ]);
    deployer_setup.extend(method.deployer_setup.iter().cloned());
    let steps = run_steps(d, Phase::Setup, &deployer_setup, timeout, &[]).await?;
    if let Some(e) = setup_failed(&d.name, &steps) {
        return Err(e);
    }
    let key = d
        .exec(&argv(&["cat", &format!("{KEY}.pub")]), None, timeout)
        .await?;
    public_key(&d.name, &key.stdout)
}

/// The prober's own key pair (root's default identity there), which every
/// node trusts: a `command` probe may log in to a node over SSH (its
/// name in `$MC_NODE`), with no connection shared with the deployer's.
async fn set_up_prober_key(fleet: &Fleet, timeout: Duration) -> Result<String, DockerError> {
    let make = "mkdir -p -m 700 /root/.ssh && ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519 && cat /root/.ssh/id_ed25519.pub";
    let out = fleet
        .prober
        .exec(&argv(&["sh", "-c", make]), None, timeout)
        .await?;
    public_key(&fleet.prober.name, &out.stdout)
}

/// A public key printed by `cat KEY.pub`, checked.
fn public_key(who: &str, stdout: &[u8]) -> Result<String, DockerError> {
    let key = String::from_utf8_lossy(stdout).trim().to_string();
    if !key.starts_with("ssh-ed25519 ") {
        return Err(DockerError::Other(format!(
            "{who}'s key: unexpected `{key}`"
        )));
    }
    Ok(key)
}

/// Every node at once: the approach's service set-up, the broken nodes'
/// difference, `keys` trusted (the deployer's, the prober's), sshd and
/// the service started.
async fn set_up_nodes(
    fleet: &Fleet,
    a: &dyn Approach,
    s: &Scenario,
    keys: &[String],
    timeout: Duration,
) -> Result<(), DockerError> {
    use crate::service::quote;
    let spec = s.fleet.as_ref().expect("a rollout has a [fleet]").get_ref();
    let service = s.service.as_ref().expect("a rollout has a [service]");
    let parts = crate::approach::service_setup_parts(a, s);
    let node_setup = |broken: bool| -> Vec<String> {
        let mut c: Vec<String> = a.ready().into_iter().collect();
        c.extend(a.prepare());
        c.extend(parts.files.iter().cloned());
        if broken {
            let paths: Vec<String> = spec
                .broken_absent
                .iter()
                .map(|p| quote(p.get_ref()))
                .collect();
            c.push(format!("rm -rf {}", paths.join(" ")));
        }
        let keys: Vec<String> = keys.iter().map(|k| quote(k)).collect();
        c.push(format!(
                "mkdir -p -m 700 /root/.ssh && printf '%s\\n' {} >> /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys",
                keys.join(" ")
            ));
        if service.service() != ServiceName::Sshd {
            c.push(
                "ssh-keygen -A && mkdir -p -m 755 /run/sshd && /usr/sbin/sshd -E /var/log/sshd.log"
                    .into(),
            );
        }
        c.extend(crate::service::start_unprobed(service));
        c
    };
    try_join_all(fleet.nodes.iter().enumerate().map(|(i, n)| {
        let commands = node_setup(spec.is_broken(i as u32));
        async move {
            let steps = run_steps(n, Phase::Setup, &commands, timeout, &[]).await?;
            match setup_failed(&n.name, &steps) {
                Some(e) => Err(e),
                None => Ok(()),
            }
        }
    }))
    .await?;
    Ok(())
}

/// One prober process per node, then a wait until every node serves.
async fn start_probers(fleet: &Fleet, s: &Scenario, timeout: Duration) -> Result<(), DockerError> {
    let spec = s.fleet.as_ref().expect("a rollout has a [fleet]").get_ref();
    let interval = spec.probe_interval_ms.get_ref().to_string();
    let probers: Vec<String> = std::iter::once(format!("mkdir -p {PROBE_DIR}"))
            .chain(fleet.nodes.iter().map(|n| {
                format!(
                    "perl {AGENT} probe {}/probes {interval} {name} {PROBE_DIR}/{name}.log",
                    crate::service::FIXTURES,
                    name = n.name
                )
            }))
            .chain(std::iter::once(format!(
                "perl {AGENT} fleet-settle {PROBE_DIR} 0 30000 || {{ echo 'nodes not healthy after 30 s:' >&2; perl {AGENT} fleet-settle {PROBE_DIR} 0 1 >&2; exit 1; }}"
            )))
            .collect();
    let steps = run_steps(&fleet.prober, Phase::Setup, &probers, timeout, &[]).await?;
    match setup_failed(&fleet.prober.name, &steps) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The rollout on the deployer, each node's configuration once it
/// returned, then the fleet rollback: the policy's (watch, and when a node
/// stays unhealthy, the approach's rollback) or the tool's own, done by
/// the time it returned. Ends with a wait until every node serves (at
/// most `watch_ms`).
async fn roll_out(
    fleet: &Fleet,
    method: &FleetCommands,
    spec: &FleetSpec,
    paths: &[String],
    timeout: Duration,
    h: &mut History,
) -> Result<Rolled, DockerError> {
    let rollout = deployer_step(fleet, Phase::Operation, &method.rollout, timeout).await?;
    let rollout_start = rollout
        .started_ns
        .ok_or_else(|| DockerError::Other("the agent did not stamp the rollout".into()))?;
    let rollout_end = rollout_start + (rollout.ms * 1e6) as u64;
    h.steps.push(rollout);
    let mut after_change = config_states(&fleet.nodes, paths).await?;
    let watch = spec.watch_ms.get_ref().to_string();
    let mut kept = Vec::new();

    let (rollback, rollback_end) = match &method.rollback {
        FleetRollback::ByTheTool => {
            // What the tool undid before it returned is read from the
            // nodes' own record of their activations.
            let log = activations(&fleet.nodes, timeout).await?;
            for (state, acts) in after_change.iter_mut().zip(&log) {
                if acts
                    .iter()
                    .any(|a| a.ns >= rollout_start && a.stage == "bad" && a.what == "activated")
                {
                    *state = ConfigState::New;
                }
            }
            let began = log
                .iter()
                .flatten()
                .filter(|a| a.ns >= rollout_start && a.what == "failed")
                .map(|a| a.ns)
                .min();
            h.playbook_ran = began.is_some();
            settle(fleet, rollout_end, &watch, timeout).await?;
            (began, began.map(|_| rollout_end))
        }
        FleetRollback::Command(rollback) => {
            // The policy: a node unhealthy `settle_ms` in a row rolls the
            // fleet back.
            let settle_ms = spec.settle_ms.get_ref().to_string();
            let since = rollout_start.to_string();
            let policy = prober_agent(
                fleet,
                &["fleet-watch", PROBE_DIR, &since, &settle_ms, &watch],
                timeout,
            )
            .await?;
            match policy.exit_code {
                0 => {
                    if !method.confirm.is_empty() {
                        let step = deployer_step(fleet, Phase::Operation, &method.confirm, timeout)
                            .await?;
                        h.steps.push(step);
                    }
                    (None, None)
                }
                1 => {
                    kept = kept_connections(&fleet.deployer, timeout).await?;
                    let step = deployer_step(fleet, Phase::Recovery, rollback, timeout).await?;
                    h.playbook_ran = true;
                    let start = step.started_ns;
                    let end = start.map_or(0, |s| s + (step.ms * 1e6) as u64);
                    h.steps.push(step);
                    settle(fleet, end, &watch, timeout).await?;
                    (start, Some(end))
                }
                _ => {
                    return Err(DockerError::Other(format!(
                        "the fleet's watch failed: {}",
                        String::from_utf8_lossy(&policy.stderr).trim()
                    )))
                }
            }
        }
    };
    let moments = Moments {
        rollout: rollout_start,
        rollout_end,
        rollback,
        rollback_end,
    };
    Ok(Rolled {
        moments,
        after_change,
        kept,
    })
}

/// What the rollout phase saw.
struct Rolled {
    moments: Moments,
    /// Each node's configuration once the rollout tool returned (for a
    /// tool that rolls back by itself: `New` where it was activated).
    after_change: Vec<ConfigState>,
    /// The nodes the deployer held a shared connection to when the fleet
    /// rollback began.
    kept: Vec<String>,
}

/// Waits until every node's last sample since `since_ns` is healthy, at
/// most `watch_ms`: whether every node came back is read from the logs
/// afterwards, not from this.
async fn settle(
    fleet: &Fleet,
    since_ns: u64,
    watch_ms: &str,
    timeout: Duration,
) -> Result<(), DockerError> {
    prober_agent(
        fleet,
        &["fleet-settle", PROBE_DIR, &since_ns.to_string(), watch_ms],
        timeout,
    )
    .await
    .map(|_| ())
}

/// One step on the deployer, as the lifecycle runs a step.
async fn deployer_step(
    fleet: &Fleet,
    phase: Phase,
    command: &str,
    timeout: Duration,
) -> Result<Step, DockerError> {
    let mut steps = run_steps(
        &fleet.deployer,
        phase,
        &[command.to_string()],
        timeout,
        &[false],
    )
    .await?;
    steps
        .pop()
        .ok_or_else(|| DockerError::Other("the agent ran no step".into()))
}

/// `perl agent.pl ARGS…` in the prober.
async fn prober_agent(
    fleet: &Fleet,
    args: &[&str],
    timeout: Duration,
) -> Result<crate::docker::ExecOutput, DockerError> {
    let mut cmd = argv(&["perl", AGENT]);
    cmd.extend(argv(args));
    fleet.prober.exec(&cmd, None, timeout).await
}

/// A node's short name in the history (its container is
/// `mc-<run>-t<trial>-<name>`, the name the deployer reaches it by).
fn node_name(i: usize) -> String {
    format!("n{:02}", i + 1)
}

pub(super) fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}
