//! The `[fleet]` table of a `rollout` scenario: how many nodes the change
//! goes to, how many of them it breaks and what makes those different, and
//! the watch that decides a fleet rollback (scenarios/README.md, "Fleets").

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;

/// The most nodes a fleet may have: each is a container running sshd and
/// the service, probed every `probe_interval_ms` (50 fit this machine).
pub const MAX_NODES: u32 = 50;

/// N nodes on one internal network, the same change rolled out to all.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetSpec {
    /// How many nodes (1 to 50, default 10).
    #[serde(default = "default_nodes")]
    #[schemars(with = "u32", range(min = 1, max = 50))]
    pub nodes: Spanned<u32>,
    /// How many of them the change breaks (default 0): the last `broken`
    /// nodes lack the `broken_absent` paths, so the same change is good on
    /// the others and bad on these, as in a fleet that drifted.
    #[serde(default = "default_broken")]
    #[schemars(with = "u32")]
    pub broken: Spanned<u32>,
    /// Absolute paths removed on the broken nodes at set-up (after the
    /// service's files are written): what the new configuration needs and
    /// those nodes do not have.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub broken_absent: Vec<Spanned<String>>,
    /// The rollback policy: a node unhealthy this long in a row after the
    /// rollout began (ms) rolls the whole fleet back (default 1000).
    #[serde(default = "default_settle_ms")]
    #[schemars(with = "u64", range(min = 0, max = 60000))]
    pub settle_ms: Spanned<u64>,
    /// How long after the rollout tool returned the monitor watches for
    /// that (ms, default 5000); the same wait ends the trial's watch after
    /// the fleet rollback.
    #[serde(default = "default_watch_ms")]
    #[schemars(with = "u64", range(min = 100, max = 600000))]
    pub watch_ms: Spanned<u64>,
    /// The prober's period per node, in ms (10 to 100, default 100).
    #[serde(default = "default_probe_interval_ms")]
    #[schemars(with = "u64", range(min = 10, max = 100))]
    pub probe_interval_ms: Spanned<u64>,
    /// How long the deployer keeps an idle SSH connection to a node open
    /// for reuse (OpenSSH's ControlPersist, in seconds, 0 to 3600; default
    /// 60, Ansible's own): the same for every SSH-based tool. 0: every
    /// command opens a fresh connection.
    #[serde(default = "default_control_persist_s")]
    #[schemars(with = "u32", range(min = 0, max = 3600))]
    pub ssh_control_persist_s: Spanned<u32>,
    /// false (default): each tool at its own default parallelism (Ansible's
    /// 5 forks). true: every tool works on every node at once (Ansible's
    /// forks = `nodes`); deploy-rs has no such option and stays one node
    /// at a time; apt's operator and Nix already go to every node at once.
    #[serde(default = "default_equal_parallelism")]
    #[schemars(with = "bool")]
    pub equal_parallelism: Spanned<bool>,
}

impl FleetSpec {
    pub fn nodes(&self) -> u32 {
        *self.nodes.get_ref()
    }
    pub fn broken(&self) -> u32 {
        *self.broken.get_ref()
    }
    /// Whether node `i` (from 0) is one the change breaks: the last ones.
    pub fn control_persist_s(&self) -> u32 {
        *self.ssh_control_persist_s.get_ref()
    }
    pub fn is_broken(&self, i: u32) -> bool {
        i >= self.nodes().saturating_sub(self.broken())
    }
}

fn default_nodes() -> Spanned<u32> {
    Spanned::new(0..0, 10)
}
fn default_broken() -> Spanned<u32> {
    Spanned::new(0..0, 0)
}
fn default_settle_ms() -> Spanned<u64> {
    Spanned::new(0..0, 1000)
}
fn default_watch_ms() -> Spanned<u64> {
    Spanned::new(0..0, 5000)
}
fn default_equal_parallelism() -> Spanned<bool> {
    Spanned::new(0..0, false)
}
fn default_control_persist_s() -> Spanned<u32> {
    Spanned::new(0..0, 60)
}
fn default_probe_interval_ms() -> Spanned<u64> {
    Spanned::new(0..0, 100)
}
