//! How an approach rolls a configuration out to a fleet and rolls the
//! fleet back, as its users do (`Approach::fleet_commands`), and what
//! every SSH-based tool shares: the deployer's folder, its key, one SSH
//! client configuration, and the parallel-SSH loop.

/// The deployer's working folder: `nodes` (one name a line), the per-node
/// scripts (`change.sh`, `rollback.sh`), each node's exit status
/// (`rc/<node>`) and output (`out/<node>`).
pub const DIR: &str = "/root/fleet";

/// The deployer's key pair, which every node trusts.
pub const KEY: &str = "/root/.ssh/fleet";

/// The SSH client configuration every SSH-based tool reads (ssh,
/// nix-copy-closure, deploy-rs, and ansible-playbook, whose own
/// connection sharing is set to match: [`ansible_ssh_args`]): the same
/// key and timeouts, and idle connections kept `persist_s` seconds for
/// reuse (`[fleet] ssh_control_persist_s`, default 60 like Ansible's): a
/// kept connection still reaches a node whose sshd stopped accepting new
/// ones.
pub fn ssh_config(persist_s: u32) -> String {
    let sharing = if persist_s == 0 {
        "ControlMaster no\n  ControlPath none\n".to_string()
    } else {
        format!(
            "ControlMaster auto\n  ControlPath /root/.ssh/cm-%C\n  ControlPersist {persist_s}s\n"
        )
    };
    format!(
        "Host *\n\
  User root\n\
  IdentityFile /root/.ssh/fleet\n\
  IdentitiesOnly yes\n\
  BatchMode yes\n\
  StrictHostKeyChecking no\n\
  UserKnownHostsFile /dev/null\n\
  LogLevel ERROR\n\
  ConnectTimeout 5\n\
  ServerAliveInterval 5\n\
  ServerAliveCountMax 2\n\
  {sharing}"
    )
}

/// Ansible's `ssh_args` for the same sharing as [`ssh_config`] (its
/// default, `-C -o ControlMaster=auto -o ControlPersist=60s`, would
/// override the file), and its sockets where `ssh -O check` finds them.
pub fn ansible_ssh_env(persist_s: u32) -> String {
    if persist_s == 0 {
        "ANSIBLE_SSH_ARGS='-C -o ControlMaster=no -o ControlPath=none'".into()
    } else {
        format!("ANSIBLE_SSH_ARGS='-C -o ControlMaster=auto -o ControlPersist={persist_s}s' ANSIBLE_SSH_CONTROL_PATH='/root/.ssh/cm-%%C'")
    }
}

/// How long a node waits for the deployer's confirmation before it rolls
/// itself back: deploy-rs's default confirm timeout, used by the apt
/// operator's dead-man switch too, so the two mechanisms wait alike.
pub const CONFIRM_TIMEOUT_S: u32 = 30;

/// Where a node records each activation of a deploy-rs profile and each
/// failed health check (`<monotonic ns> <stage> activated|failed`): how
/// the trial learns which nodes the change reached and when the tool
/// began to roll back, since `deploy` returns only after its own revoke.
pub const ACTIVATIONS: &str = "/run/mistake-cost/activations";

/// A rollout method: what the deployer runs, and what each node runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetCommands {
    /// Host tools the deployer gets before its set-up.
    pub host_tools: Vec<HostTool>,
    /// The deployer's set-up, after the service's shared preparation
    /// (the rendered configurations) and the SSH configuration.
    pub deployer_setup: Vec<String>,
    /// On the deployer once every node is set up and serving: the fleet's
    /// first deployment, when the tool must have deployed the known-good
    /// configuration itself (deploy-rs's profiles).
    pub first_deploy: Vec<String>,
    /// Rolls the change out; exits non-zero when a node failed.
    pub rollout: String,
    /// Who rolls the fleet back when a node stays unhealthy.
    pub rollback: FleetRollback,
    /// On the deployer when the watch found the fleet healthy: the
    /// operator's confirmation (empty: nothing to confirm).
    pub confirm: String,
    /// `change.sh`: a node's part of the rollout (run with `sh -s ARGS`).
    pub node_change: String,
    /// `rollback.sh`: a node's part of the fleet rollback.
    pub node_rollback: String,
    /// `confirm.sh`: a node's part of the confirmation.
    pub node_confirm: String,
    /// Run on each node at the end: prints the mechanism's name when the
    /// node rolled itself back (a dead-man switch that fired, deploy-rs's
    /// auto rollback), nothing otherwise. Empty: no such mechanism.
    pub node_self_restore: String,
}

/// The fleet rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetRollback {
    /// The deployer runs this when the policy calls for it.
    Command(String),
    /// The rollout tool rolls back by itself, before it returns (deploy-rs
    /// revokes the nodes it activated): the policy has nothing to add, and
    /// the moment the tool began is read from [`ACTIVATIONS`].
    ByTheTool,
}

/// A program the deployer needs that no image holds: built on the host
/// (scripts/setup-host.sh) and copied into the deployer for the trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTool {
    /// The tool's name in messages.
    pub name: &'static str,
    /// The environment variable naming the host folder, and its default.
    pub dir_var: &'static str,
    pub default_dir: &'static str,
    /// The files of that folder, and where the deployer gets them.
    pub files: &'static [&'static str],
    pub into: &'static str,
    /// How the host installs it (for the error when it is missing).
    pub install: &'static str,
}

impl HostTool {
    /// The host folder holding the files.
    pub fn dir(&self) -> std::path::PathBuf {
        std::env::var_os(self.dir_var)
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| self.default_dir.into())
    }
}

/// deploy-rs's `deploy` and `activate`, as `cargo install` builds them
/// (the same glibc as the images: both are Debian 12).
pub const DEPLOY_RS: HostTool = HostTool {
    name: "deploy-rs 1.0.0",
    dir_var: "MISTAKE_COST_DEPLOY_RS",
    default_dir: "/opt/deploy-rs/bin",
    files: &["deploy", "activate"],
    into: "/usr/local/bin",
    install: "cargo install deploy-rs --version 1.0.0 --root /opt/deploy-rs (scripts/setup-host.sh does it)",
};

/// `script` (a file in [`DIR`]) on every node at once over SSH, after
/// `before_each` (run on the deployer for the node `$n`, e.g. a copy
/// there), with `args` for the script: the careful operator's parallel
/// SSH, one connection per node, all started together. Fails when any
/// node did, naming them.
pub fn parallel_ssh(script: &str, before_each: &str, args: &str, what: &str) -> String {
    let before = if before_each.is_empty() {
        String::new()
    } else {
        format!("{before_each} && ")
    };
    format!(
        "cd {DIR} && rm -rf rc out && mkdir -p rc out\n\
         while read -r n; do\n\
         \x20 ( {before}ssh \"$n\" sh -s {args} < {script} > \"out/$n\" 2>&1; echo $? > \"rc/$n\" ) &\n\
         done < nodes\n\
         wait\n\
         failed=$(grep -Lx 0 rc/* | wc -l)\n\
         [ \"$failed\" -eq 0 ] || {{ echo \"{what}: $failed node(s) failed:\" >&2; grep -Lx 0 rc/* | sed 's|rc/||' >&2; exit 1; }}\n"
    )
}

/// The approach's fleet commands for the method the scenario names for it
/// (or its default).
pub fn fleet_of(a: &dyn super::Approach, s: &crate::scenario::Scenario) -> Option<FleetCommands> {
    let offered = crate::vocab::fleet_methods(a.name())?;
    let method = s
        .service
        .as_ref()
        .and_then(|spec| spec.recovery_among(a.name(), offered))?;
    let fleet = s.fleet.as_ref()?.get_ref();
    a.fleet_commands(method, &crate::service::config::plan(s)?, fleet)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = r#"
[scenario]
name = "f"
approaches = ["apt", "ansible", "nix"]
[service]
[[service.file]]
path = "/etc/nginx/sites-enabled/site"
text = "server { listen 80; root /srv/site; }\n"
[operation]
kind = "rollout"
[[operation.edit]]
path = "/etc/nginx/sites-enabled/site"
replace = { find = "80;", with = "81;" }
[fleet]
nodes = 2
"#;

    #[test]
    fn every_listed_fleet_method_has_commands_and_no_other_approach_rolls_out() {
        let s = crate::scenario::parse(SCENARIO).expect("valid");
        let plan = crate::service::config::plan(&s).expect("a configuration plan");
        let fleet = s.fleet.as_ref().expect("a [fleet]").get_ref();
        for kind in crate::vocab::ApproachKind::all() {
            let a = crate::approach::approach(kind);
            let listed = crate::vocab::fleet_methods(a.name()).unwrap_or_default();
            for m in listed {
                let c = a
                    .fleet_commands(m, &plan, fleet)
                    .unwrap_or_else(|| panic!("{} {m}", a.name()));
                assert!(!c.rollout.is_empty(), "{} {m}", a.name());
                if let FleetRollback::Command(r) = &c.rollback {
                    assert!(!r.is_empty(), "{} {m}", a.name());
                }
            }
            assert!(
                a.fleet_commands("no-such-method", &plan, fleet).is_none(),
                "{}",
                a.name()
            );
            if listed.is_empty() {
                for m in [
                    "backup",
                    "dead-man",
                    "previous-vars",
                    "rollback",
                    "deploy-rs",
                ] {
                    assert!(
                        a.fleet_commands(m, &plan, fleet).is_none(),
                        "{} {m}",
                        a.name()
                    );
                }
            }
        }
    }

    #[test]
    fn connection_sharing_is_the_scenarios_for_every_tool() {
        let kept = ssh_config(60);
        assert!(kept.starts_with("Host *\nUser root\n"), "{kept}");
        assert!(kept.contains("ControlMaster auto\n"), "{kept}");
        assert!(kept.contains("ControlPersist 60s\n"), "{kept}");
        assert!(ansible_ssh_env(60).contains("ControlPersist=60s"));
        assert!(ansible_ssh_env(60).contains("cm-%%C"));
        let fresh = ssh_config(0);
        assert!(fresh.contains("ControlMaster no\n"), "{fresh}");
        assert!(fresh.contains("ControlPath none\n"), "{fresh}");
        assert!(!fresh.contains("ControlPersist"), "{fresh}");
        assert!(ansible_ssh_env(0).contains("ControlMaster=no"));
        assert!(!ansible_ssh_env(0).contains("ControlPersist"));
    }

    #[test]
    fn parallel_ssh_starts_every_node_together_and_names_the_ones_that_failed() {
        let c = parallel_ssh("change.sh", "copy \"$n\"", "\"$p\"", "rollout");
        assert!(
            c.contains("( copy \"$n\" && ssh \"$n\" sh -s \"$p\" < change.sh"),
            "{c}"
        );
        assert!(c.contains(") &\ndone < nodes\nwait\n"), "{c}");
        assert!(c.contains("rollout: $failed node(s) failed"), "{c}");
    }
}
