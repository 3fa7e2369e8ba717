//! Ansible (Debian's ansible-core) managing the site's configuration: a
//! template applied with `ansible-playbook` on the local connection, the
//! way a host configured by Ansible is. Its packages are apt's: every
//! package operation (install, checks, package view, the default playbook)
//! is `apt`'s, delegated, in an image of its own (`Family::Ansible`: the
//! base plus ansible-core).

use super::apt::Apt;
use super::{Approach, Check, ConfigCommands};
use crate::docker::images::Family;
use crate::docker::SecurityProfile;
use crate::scenario::{Ecosystem, PackageRef, Scenario};

pub struct Ansible;

/// `ansible-playbook` on this host with one variables file: no inventory
/// file, no SSH, no network, no galaxy (the playbook uses builtins only).
fn playbook(vars: &str) -> String {
    use crate::service::FIXTURES;
    format!("ansible-playbook -c local -i localhost, {FIXTURES}/site.yml -e @{FIXTURES}/{vars}")
}

impl Approach for Ansible {
    fn name(&self) -> &'static str {
        "ansible"
    }

    fn description(&self) -> &'static str {
        "Ansible (ansible-core) applying a template on the local connection; packages through apt/dpkg, as `apt`"
    }

    fn family(&self) -> Family {
        Family::Ansible
    }

    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Apt
    }

    fn colour(&self) -> (u8, u8, u8) {
        (0xa6, 0x56, 0x28)
    }

    /// The interpreter named, as an Ansible user's `ansible.cfg` or
    /// inventory does (else every run prints a discovery warning).
    fn env(&self) -> Vec<String> {
        vec!["ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3".into()]
    }

    fn configuration(&self, _: SecurityProfile) -> String {
        "ansible-playbook (Debian's ansible-core) -c local -i localhost, as root: one template task + an apply handler, \
         a variables file per configuration; packages as `apt` (apt-get + dpkg, local repository)"
            .into()
    }

    fn prepare(&self) -> Vec<String> {
        Apt.prepare()
    }

    fn pins(&self, s: &Scenario, packages: &[PackageRef]) -> Vec<PackageRef> {
        Apt.pins(s, packages)
    }

    fn install(&self, packages: &[PackageRef]) -> String {
        Apt.install(packages)
    }

    fn default_playbook(&self, s: &Scenario) -> Vec<String> {
        Apt.default_playbook(s)
    }

    fn restore_packages(&self, remove: &[&str], pins: &[PackageRef]) -> Option<Vec<String>> {
        Apt.restore_packages(remove, pins)
    }

    fn checks(&self, s: &Scenario) -> Vec<Check> {
        Apt.checks(s)
    }

    fn package_view(&self) -> String {
        Apt.package_view()
    }

    fn newest_only_repository(&self) -> Vec<String> {
        Apt.newest_only_repository()
    }

    fn package_dir(&self, package: &str) -> Option<String> {
        Apt.package_dir(package)
    }

    fn config_recoveries(&self) -> &'static [&'static str] {
        &["previous-vars"]
    }

    /// The playbook with the good variables (set-up: nginx is not running
    /// yet, so its apply handler is skipped), then with the wanted edit's
    /// variables, with the bad ones (the mistake), and with the wanted
    /// edit's again (recovery: the previous variables, which an Ansible
    /// user has in version control, applied; the template changes the
    /// file back and the handler applies it).
    fn config_commands(&self, recovery: &str) -> Option<ConfigCommands> {
        (recovery == "previous-vars").then(|| ConfigCommands {
            install: vec![format!("{} -e site_apply=false", playbook("good.yml"))],
            wanted: vec![playbook("wanted.yml")],
            change: playbook("bad.yml"),
            recover: vec![playbook("wanted.yml")],
        })
    }
}
