//! Ansible (Debian's ansible-core) managing the service's configuration:
//! a playbook copying the files of the configuration its variables name,
//! applied with `ansible-playbook` on the local connection, the way a host
//! configured by Ansible is. Its packages are apt's: every
//! package operation (install, checks, package view, the default playbook)
//! is `apt`'s, delegated, in an image of its own (`Family::Ansible`: the
//! base plus ansible-core).

use super::apt::Apt;
use super::{Approach, Check, ConfigCommands};
use crate::docker::images::Family;
use crate::docker::SecurityProfile;
use crate::scenario::{Ecosystem, PackageRef, Scenario};

pub struct Ansible;

/// `ansible-playbook` on this host for one configuration: no inventory
/// file, no SSH, no network, no galaxy (the playbook uses builtins only).
fn playbook(stage: &str) -> String {
    use crate::service::FIXTURES;
    format!("ansible-playbook -c local -i localhost, {FIXTURES}/config.yml -e stage={stage}")
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

    /// The playbook with the good configuration (set-up: the service is
    /// not running yet, so its apply handler is skipped), then with the
    /// wanted edit's, with the bad one (the mistake), and with the wanted
    /// edit's again (recovery: the previous variables, which an Ansible
    /// user has in version control, applied; the files change back and
    /// the handler applies them).
    fn config_commands(
        &self,
        recovery: &str,
        plan: &crate::service::ConfigPlan,
    ) -> Option<ConfigCommands> {
        let previous = if plan.wanted.is_empty() {
            "good"
        } else {
            "wanted"
        };
        (recovery == "previous-vars").then(|| ConfigCommands {
            install: vec![format!("{} -e apply=false", playbook("good"))],
            wanted: (!plan.wanted.is_empty())
                .then(|| playbook("wanted"))
                .into_iter()
                .collect(),
            change: playbook("bad"),
            recover: vec![playbook(previous)],
        })
    }

    /// One playbook over the inventory of the nodes, at Ansible's
    /// defaults: 5 forks (every node at once with `[fleet]
    /// equal_parallelism`), the linear strategy, no `serial` (one batch)
    /// and no `max_fail_percentage` (a failing host does not stop the
    /// others), SSH through the shared client configuration and connection
    /// sharing (`fleet::ansible_ssh_env`).
    /// The fleet rollback is the same playbook with the previous variables.
    fn fleet_commands(
        &self,
        method: &str,
        _plan: &crate::service::ConfigPlan,
        fleet: &crate::scenario::FleetSpec,
    ) -> Option<super::fleet::FleetCommands> {
        use super::fleet::{ansible_ssh_env, FleetCommands, FleetRollback, DIR};
        let mut ssh = ansible_ssh_env(fleet.control_persist_s());
        if *fleet.equal_parallelism.get_ref() {
            ssh.push_str(&format!(" ANSIBLE_FORKS={}", fleet.nodes()));
        }
        use crate::service::FIXTURES;
        let run = |stage: &str| {
            format!(
                "cd {DIR} && ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_NOCOLOR=1 {ssh} ansible-playbook -i hosts {FIXTURES}/fleet.yml -e stage={stage}"
            )
        };
        (method == "previous-vars").then(|| FleetCommands {
            host_tools: Vec::new(),
            deployer_setup: vec![format!(
                "{{ echo '[fleet]'; cat {DIR}/nodes; }} > {DIR}/hosts"
            )],
            first_deploy: Vec::new(),
            rollout: run("bad"),
            rollback: FleetRollback::Command(run("good")),
            confirm: String::new(),
            node_change: String::new(),
            node_rollback: String::new(),
            node_confirm: String::new(),
            node_self_restore: String::new(),
        })
    }
}
