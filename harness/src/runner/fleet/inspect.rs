//! What the harness asks the fleet after the rollout and at the end: which
//! configuration each node holds, and which nodes the deployer still
//! reaches over a fresh SSH connection.

use crate::approach::fleet::DIR;

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
}
