//! nix-env into root's profile, from the scenario's generated derivations.

use super::{Approach, ApproachKind, Check};
use crate::scenario::{PackageRef, Scenario};

pub struct Nix;

/// The profile either has no generation yet or must resolve to a valid
/// closure: a dangling or half-written profile fails here.
const PROFILE_CHECK: &str = "if [ -e /nix/var/nix/profiles/default ] || [ -L /nix/var/nix/profiles/default ]; then \
    p=$(readlink -f /root/.nix-profile) && [ -e \"$p\" ] && nix-store -q --requisites \"$p\" >/dev/null; fi";

/// Every package the profile lists is a valid store path.
const PROFILE_ENTRIES_CHECK: &str = "nix-env -q --out-path | while read -r _ p; do nix-store --check-validity \"$p\" || exit 1; done";

impl Approach for Nix {
    fn kind(&self) -> ApproachKind {
        ApproachKind::Nix
    }

    fn install(&self, packages: &[PackageRef]) -> String {
        let attrs: Vec<String> = packages
            .iter()
            .map(|p| match &p.version {
                Some(v) => format!("-A {}", crate::payload::nix_attr(&p.name, v)),
                None => format!("-A {}", p.name),
            })
            .collect();
        format!("nix-env -f /fixtures/nix/default.nix -i {}", attrs.join(" "))
    }

    fn default_playbook(&self, _: &Scenario) -> Vec<String> {
        vec!["nix-env --rollback".into()]
    }

    fn checks(&self, _: &Scenario) -> Vec<Check> {
        vec![
            Check { name: "nix-store --verify".into(), command: "nix-store --verify --check-contents".into(), quiet: false },
            Check { name: "profile resolves".into(), command: PROFILE_CHECK.into(), quiet: false },
            Check { name: "profile entries valid".into(), command: PROFILE_ENTRIES_CHECK.into(), quiet: false },
        ]
    }

    fn package_view(&self) -> String {
        // nix-env prints `name-version  out-path`: split the name from the
        // version so an upgrade is one changed package, as with dpkg and pip.
        "nix-env -q --out-path 2>/dev/null | awk '{n=$1; v=\"\"; if (match(n, /-[0-9][^-]*$/)) {v=substr(n, RSTART+1); n=substr(n, 1, RSTART-1)} print \"P\\t\" n \"\\t\" v \" \" $2}'; \
         if [ -e /root/.nix-profile ]; then nix-store -q --requisites /root/.nix-profile | sed 's/^/L\\t/'; fi"
            .into()
    }
}
