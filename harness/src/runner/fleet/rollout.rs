//! What the deployer runs, per rollout method, as that tool's users run
//! it. Every SSH-based tool reads the same client configuration
//! ([`SSH_CONFIG`]): the same key, timeouts and connection sharing.
//! Each node's own commands (the change, its undoing) are the approach's
//! configuration commands (`approach::operation_command`, `playbook`),
//! the same a single machine runs in the bad-configuration scenarios.

/// The deployer's working folder: `nodes` (one name a line), the per-node
/// scripts, each node's exit status and output.
pub const DIR: &str = "/root/fleet";

/// The deployer's key pair, which every node trusts.
pub const KEY: &str = "/root/.ssh/fleet";

/// The SSH client configuration every SSH-based tool uses. Connection
/// sharing as Ansible's default (ControlPersist 60 s): a kept master
/// connection still reaches a node whose sshd stopped accepting new ones.
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

/// A rollout method's two deployer commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// Rolls the change out to every node; exits non-zero when a node
    /// failed.
    pub rollout: String,
    /// Rolls every node back.
    pub rollback: String,
}

/// `script` on every node at once over SSH (the careful operator's
/// parallel SSH: one connection per node, all started together), each
/// node's exit status in `rc/<node>` and its output in `out/<node>`; fails
/// when any node did.
fn parallel_ssh(script: &str, what: &str) -> String {
    format!(
        "cd {DIR} && rm -rf rc out && mkdir -p rc out\n\
         while read -r n; do\n\
         \x20 ( ssh \"$n\" sh -s < {script} > \"out/$n\" 2>&1; echo $? > \"rc/$n\" ) &\n\
         done < nodes\n\
         wait\n\
         failed=$(grep -Lx 0 rc/* | wc -l)\n\
         [ \"$failed\" -eq 0 ] || {{ echo \"{what}: $failed node(s) failed:\" >&2; grep -Lx 0 rc/* | sed 's|rc/||' >&2; exit 1; }}\n"
    )
}

/// The deployer's commands for `method` (a `vocab::FLEET_TOOLS` name).
pub fn method(method: &str) -> Option<Method> {
    match method {
        "backup" => Some(Method {
            rollout: parallel_ssh("change.sh", "rollout"),
            rollback: parallel_ssh("rollback.sh", "rollback"),
        }),
        _ => None,
    }
}

/// A node's configuration against the rendered stages: `old` (the good
/// one), `new` (the rolled-out one) or `other`, over `paths`.
pub fn config_state_command(paths: &[String]) -> String {
    use crate::service::{quote, STAGES};
    let checks = |stage: &str| -> String {
        paths
            .iter()
            .map(|p| {
                let (want, at) = (quote(&format!("{STAGES}/{stage}{p}")), quote(p));
                format!("if [ -e {want} ]; then cmp -s {want} {at} || return 1; elif [ -e {at} ]; then return 1; fi")
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    format!(
        "is_good() {{ {}; }}; is_bad() {{ {}; }}; if is_good; then echo old; elif is_bad; then echo new; else echo other; fi",
        checks("good"),
        checks("bad")
    )
}

/// The deployer's reachability check at the end: a fresh connection to
/// every node (not the kept one), the unreachable ones printed.
pub fn reachability_command() -> String {
    format!(
        "cd {DIR} && while read -r n; do ( ssh -o ControlPath=none \"$n\" true </dev/null >/dev/null 2>&1 || echo \"$n\" ) & done < nodes; wait"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_check_compares_every_path_with_both_stages() {
        let c = config_state_command(&["/etc/a".into(), "/etc/b c".into()]);
        assert!(
            c.contains("cmp -s '/var/lib/mistake-cost/config/good/etc/a' '/etc/a'"),
            "{c}"
        );
        assert!(
            c.contains("'/var/lib/mistake-cost/config/bad/etc/b c'"),
            "{c}"
        );
        assert!(c.ends_with("else echo other; fi"), "{c}");
    }

    #[test]
    fn every_fleet_method_has_commands() {
        for (_, methods) in crate::vocab::FLEET_TOOLS {
            for m in methods.iter() {
                assert!(method(m).is_some(), "{m}");
            }
        }
    }
}
