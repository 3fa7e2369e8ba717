//! Approaches: how each package manager installs, how it checks its own
//! consistency, what its package view is, and what a careful person runs to
//! recover. The trial runner only talks to the `Approach` trait.

mod apt;
mod nix;
mod pip;

pub use crate::vocab::ApproachKind;

use crate::docker::images::Family;
use crate::docker::{SandboxSpec, SecurityProfile};
use crate::scenario::{OperationKind, PackageRef, PackageSpec, Scenario};

/// A consistency check: a command and how to read its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub command: String,
    /// True when the check also fails on any output (e.g. `dpkg --audit`
    /// lists problems but may still exit 0).
    pub quiet: bool,
}

pub trait Approach: Send + Sync {
    fn kind(&self) -> ApproachKind;

    fn family(&self) -> Family {
        Family::of(self.kind())
    }

    /// Environment variables of every process in the approach's containers
    /// (`NAME=value`).
    fn env(&self) -> Vec<String> {
        Vec::new()
    }

    /// The container's main process. Services the approach needs (a
    /// daemon) start here, so a container kill and restart restarts them
    /// as a machine's reboot would.
    fn container_command(&self, _profile: SecurityProfile) -> Vec<String> {
        vec!["sleep".into(), "infinity".into()]
    }

    /// A command that waits until those services answer: run before the
    /// set-up and after a container restart.
    fn ready(&self) -> Option<String> {
        None
    }

    /// How this approach is configured under `profile`, in one line, for
    /// run.json and the report (the README's approach table says more).
    fn configuration(&self, profile: SecurityProfile) -> String;

    /// A pid file of the long-lived process that does this approach's work
    /// on the client's behalf (the Nix daemon): syscall faults must trace
    /// it, not only the client command.
    fn worker_pid_file(&self) -> Option<&'static str> {
        None
    }

    /// The one command that returns to the previous generation, for
    /// approaches that keep generations (Nix profiles).
    fn generation_rollback(&self) -> Option<String> {
        None
    }

    /// The approach's garbage collector, if it has one.
    fn gc_command(&self) -> Option<String> {
        None
    }

    /// Commands that make a fresh sandbox ready (point the package manager
    /// at the fixtures, create the venv): part of the set-up.
    fn prepare(&self) -> Vec<String> {
        Vec::new()
    }

    /// The command that installs `packages` from the fixtures (an upgrade
    /// is an install of another version).
    fn install(&self, packages: &[PackageRef]) -> String;

    /// The references an install command must name to get `packages`:
    /// by default the packages themselves.
    fn pins(&self, _s: &Scenario, packages: &[PackageRef]) -> Vec<PackageRef> {
        packages.to_vec()
    }

    /// What a careful person or agent runs after the operation failed.
    fn default_playbook(&self, scenario: &Scenario) -> Vec<String>;

    /// The package manager's own consistency checks.
    fn checks(&self, scenario: &Scenario) -> Vec<Check>;

    /// A command printing `P<TAB>name<TAB>state` per package (and, for Nix,
    /// `L<TAB>store path` per path live from the profile).
    fn package_view(&self) -> String;
}

pub fn approach(kind: ApproachKind) -> Box<dyn Approach> {
    match kind {
        ApproachKind::Apt => Box::new(apt::Apt),
        ApproachKind::Pip => Box::new(pip::Pip::global()),
        ApproachKind::PipVenv => Box::new(pip::Pip::venv()),
        ApproachKind::Nix => Box::new(nix::Nix::multi_user()),
        ApproachKind::NixSingleUser => Box::new(nix::Nix::single_user()),
    }
}

/// A sandbox for one approach: its image, environment and main process,
/// under the run's security profile. Here, not in `docker`, so the engine
/// layer knows nothing of approaches.
pub fn sandbox_spec(
    a: &dyn Approach,
    security: SecurityProfile,
    name: impl Into<String>,
) -> SandboxSpec {
    let mut spec = SandboxSpec::new(a.family().image(), name);
    spec.security = security;
    spec.env = a.env();
    spec.cmd = a.container_command(security);
    spec
}

/// The approach's own checks followed by the scenario's probes for it.
pub fn checks_and_probes(a: &dyn Approach, scenario: &Scenario) -> Vec<Check> {
    let mut checks = a.checks(scenario);
    checks.extend(
        scenario
            .probes
            .iter()
            .filter(|p| {
                p.approaches.is_empty() || p.approaches.iter().any(|k| *k.get_ref() == a.kind())
            })
            .map(|p| Check {
                name: p.name.clone(),
                command: p.command.clone(),
                quiet: false,
            }),
    );
    checks
}

/// The playbook a trial runs: the scenario's override or the default.
pub fn playbook(a: &dyn Approach, scenario: &Scenario) -> Vec<String> {
    scenario
        .recovery
        .iter()
        .find(|(k, _)| k.get_ref() == a.kind().as_str())
        .map(|(_, p)| p.commands.clone())
        .unwrap_or_else(|| a.default_playbook(scenario))
}

fn op_packages(s: &Scenario) -> Vec<String> {
    s.operation_refs().into_iter().map(|r| r.name).collect()
}

/// For an upgrade, the default recovery goes back: every package the
/// set-up installed, at the set-up's version.
fn upgrade_rollback(s: &Scenario) -> Option<Vec<&PackageSpec>> {
    (s.operation.kind == OperationKind::Upgrade).then(|| s.closure_specs(&s.setup_refs()))
}

/// The operation under test as a command. The lifecycle runs whatever this
/// returns under the trial's fault: a new kind of operation (configure,
/// switch, rollback) is a new arm here and, where approaches differ, a new
/// `Approach` method — the lifecycle does not change.
pub fn operation_command(a: &dyn Approach, s: &Scenario) -> String {
    match s.operation.kind {
        // An upgrade is an install of the other version.
        OperationKind::Install | OperationKind::Upgrade => {
            a.install(&a.pins(s, &s.operation_refs()))
        }
    }
}

/// The set-up's install command, if it installs anything.
pub fn setup_command(a: &dyn Approach, s: &Scenario) -> Option<String> {
    let refs = s.setup_refs();
    (!refs.is_empty()).then(|| a.install(&a.pins(s, &refs)))
}
