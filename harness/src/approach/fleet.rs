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
/// nix-copy-closure, ansible-playbook): the same key, timeouts and
/// connection sharing (ControlPersist 60 s, Ansible's own default): a kept
/// master connection still reaches a node whose sshd stopped accepting new
/// ones.
pub const SSH_CONFIG: &str = "Host *\n\
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
  ControlMaster auto\n\
  ControlPath /root/.ssh/cm-%C\n\
  ControlPersist 60s\n";

/// A rollout method: what the deployer runs, and what each node runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetCommands {
    /// The deployer's set-up, after the service's shared preparation
    /// (the rendered configurations) and the SSH configuration.
    pub deployer_setup: Vec<String>,
    /// Rolls the change out; exits non-zero when a node failed.
    pub rollout: String,
    /// Rolls every node back.
    pub rollback: String,
    /// `change.sh`: a node's part of the rollout (run with `sh -s ARGS`).
    pub node_change: String,
    /// `rollback.sh`: a node's part of the fleet rollback.
    pub node_rollback: String,
}

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
    a.fleet_commands(method, &crate::service::config::plan(s)?)
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
        for kind in crate::vocab::ApproachKind::all() {
            let a = crate::approach::approach(kind);
            let listed = crate::vocab::fleet_methods(a.name()).unwrap_or_default();
            for m in listed {
                let c = a
                    .fleet_commands(m, &plan)
                    .unwrap_or_else(|| panic!("{} {m}", a.name()));
                assert!(
                    !c.rollout.is_empty() && !c.rollback.is_empty(),
                    "{} {m}",
                    a.name()
                );
            }
            assert!(
                a.fleet_commands("no-such-method", &plan).is_none(),
                "{}",
                a.name()
            );
            if listed.is_empty() {
                for m in ["backup", "previous-vars", "rollback"] {
                    assert!(a.fleet_commands(m, &plan).is_none(), "{} {m}", a.name());
                }
            }
        }
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
