//! apt/dpkg with a flat local repository of the scenario's .debs.

use super::{op_packages, Approach, ApproachKind, Check};
use crate::scenario::Scenario;

pub struct Apt;

impl Approach for Apt {
    fn kind(&self) -> ApproachKind {
        ApproachKind::Apt
    }

    fn prepare(&self) -> Vec<String> {
        vec![
            "echo 'deb [trusted=yes] file:/fixtures/apt ./' > /etc/apt/sources.list.d/mistake-cost.list".into(),
            "apt-get update -qq".into(),
        ]
    }

    fn install(&self, packages: &[String]) -> String {
        format!("DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {}", packages.join(" "))
    }

    /// Finish what dpkg left half-done (apt asks for exactly this after an
    /// interruption), purge what was asked for, then the dependencies apt
    /// marked automatic.
    fn default_playbook(&self, s: &Scenario) -> Vec<String> {
        vec![
            "DEBIAN_FRONTEND=noninteractive dpkg --configure -a".into(),
            format!("DEBIAN_FRONTEND=noninteractive apt-get purge -y {}", op_packages(s).join(" ")),
            "DEBIAN_FRONTEND=noninteractive apt-get autoremove --purge -y".into(),
        ]
    }

    fn checks(&self, _: &Scenario) -> Vec<Check> {
        vec![
            Check { name: "dpkg --audit".into(), command: "dpkg --audit".into(), quiet: true },
            Check { name: "apt-get check".into(), command: "apt-get check -qq".into(), quiet: false },
        ]
    }

    fn package_view(&self) -> String {
        r"dpkg-query -W -f='P\t${Package}\t${Version} ${db:Status-Abbrev}\n'".into()
    }
}
