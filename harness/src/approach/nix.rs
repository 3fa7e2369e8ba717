//! nix-env into root's profile, from the scenario's generated derivations.

use super::{Approach, ApproachKind, Check};
use crate::scenario::Scenario;

pub struct Nix;

/// The profile either has no generation yet or must resolve to a valid
/// closure: a dangling or half-written profile fails here.
const PROFILE_CHECK: &str = "if [ -e /nix/var/nix/profiles/default ] || [ -L /nix/var/nix/profiles/default ]; then \
    p=$(readlink -f /root/.nix-profile) && [ -e \"$p\" ] && nix-store -q --requisites \"$p\" >/dev/null; fi";

impl Approach for Nix {
    fn kind(&self) -> ApproachKind {
        ApproachKind::Nix
    }

    fn install(&self, packages: &[String]) -> String {
        let attrs: Vec<String> = packages.iter().map(|p| format!("-A {p}")).collect();
        format!("nix-env -f /fixtures/nix/default.nix -i {}", attrs.join(" "))
    }

    fn default_playbook(&self, _: &Scenario) -> Vec<String> {
        vec!["nix-env --rollback".into()]
    }

    fn checks(&self, _: &Scenario) -> Vec<Check> {
        vec![
            Check { name: "nix-store --verify".into(), command: "nix-store --verify".into(), quiet: false },
            Check { name: "profile resolves".into(), command: PROFILE_CHECK.into(), quiet: false },
        ]
    }

    fn package_view(&self) -> String {
        "nix-env -q --out-path 2>/dev/null | awk '{print \"P\\t\" $1 \"\\t\" $2}'; \
         if [ -e /root/.nix-profile ]; then nix-store -q --requisites /root/.nix-profile | sed 's/^/L\\t/'; fi"
            .into()
    }
}
