//! Approaches: how each package manager installs, how it checks its own
//! consistency, what its package view is, and what a careful person runs to
//! recover. Everything the harness knows about one approach is here, behind
//! the `Approach` trait: no caller matches on an approach's identity.
//!
//! Adding an approach: write one file here implementing [`Approach`] (its
//! name, description, image family, payload ecosystem, plot colour,
//! commands, checks, package view, and the optional capabilities it has),
//! declare it as a module below, add one line to `registry::BUILTINS` and
//! its name, at the same place, to `vocab::BUILTIN_APPROACHES` (so every
//! room parses the name with no set-up; the registry checks the two lists
//! agree); that place is its place in every report. A test approach needs
//! none of that: `approach::register(|| Box::new(MyApproach))` adds it at
//! run time, after the built-ins (see `tests/approach_plugin.rs`).
//!
//! Not part of that one file: a new payload format (as npm's tarballs were:
//! a new `scenario::Ecosystem`, a generator in `payload/` and its per-format
//! `[package.fail]` field) and a new image (a `docker::images::Family` and
//! its recipe in `containers/`). An approach only names which of those it
//! uses; several approaches share them (pip and pip-venv: one format, one
//! image).

mod ansible;
mod apt;
pub mod fleet;
mod nix;
mod nix_deploy_rs;
mod nix_profile;
mod nix_shell;
mod npm;
mod pip;
mod registry;

pub use crate::vocab::ApproachKind;
pub use registry::{approach, by_name, register, registry, Constructor, RegistryError};

use crate::docker::images::Family;
use crate::docker::{SandboxSpec, SecurityProfile};
pub use crate::history::CheckKind;
use crate::scenario::{Ecosystem, OperationKind, PackageRef, PackageSpec, Scenario};

/// The approach of a name known when the code was written (tests, examples):
/// panics on a name no one registered.
pub fn kind(name: &str) -> ApproachKind {
    registry();
    name.parse().unwrap_or_else(|e| panic!("{e}"))
}

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
    /// The name scenario files, the command line and every results file
    /// use (kebab-case); unique in the registry.
    fn name(&self) -> &'static str;

    /// One line for `--help`-like listings and the report: what this
    /// approach is, apart from how it is configured.
    fn description(&self) -> &'static str;

    /// The image its containers run (several approaches may share one).
    fn family(&self) -> Family;

    /// The fixture format it installs from (several approaches may share one).
    fn ecosystem(&self) -> Ecosystem;

    /// Its colour in the report's figures (RGB).
    fn colour(&self) -> (u8, u8, u8);

    /// Its registered identity. Only registered approaches are ever asked
    /// (the registry makes them), so the name is always found.
    fn kind(&self) -> ApproachKind {
        ApproachKind::lookup(self.name())
            .unwrap_or_else(|| panic!("approach `{}` is not registered", self.name()))
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

    /// The folders of the `PATH` its user's shell searches, where the
    /// `path_commands` column finds commands: a root login shell's (and
    /// `~/.nix-profile/bin`) unless the approach runs as another user.
    fn path_dirs(&self) -> Vec<String> {
        RunAs::Root.path_dirs(&[])
    }

    /// A command that waits until those services answer: run before the
    /// set-up and after a container restart.
    fn ready(&self) -> Option<String> {
        None
    }

    /// How this approach is configured under `profile`, in one line, for
    /// run.json and the report (docs/approaches.md's approach table says more).
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

    /// For approaches without generations: the commands that take the
    /// package set back to a recorded one, given the scenario packages to
    /// remove and those to install at their recorded versions (both may be
    /// empty: then only the repair steps, if any). None when the approach
    /// cannot do this; the property tests' rollback then fails visibly.
    fn restore_packages(&self, _remove: &[&str], _pins: &[PackageRef]) -> Option<Vec<String>> {
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

    /// Commands that point this approach at the repository that holds only
    /// each package's newest version (`payload`'s `*-newest` folders): run
    /// after the set-up of a `drop_old_versions` scenario. By default a
    /// failing step: such a trial errors, saying why.
    fn newest_only_repository(&self) -> Vec<String> {
        vec![format!(
            "echo 'approach {} has no newest-only repository' >&2; exit 2",
            self.name()
        )]
    }

    /// A shell command printing the folder where `package`'s scenario
    /// files are once installed (a site package's pages, which nginx
    /// serves in install and upgrade scenarios with a `[service]`). None:
    /// this approach cannot say (such a scenario's set-up then fails).
    fn package_dir(&self, _package: &str) -> Option<String> {
        None
    }

    /// An isolation experiment's project in folder `dir` needing
    /// `packages` (pinned): set up the approach's way (a global install,
    /// or an environment of the project's own) and used from inside it.
    /// None: this approach takes part in no experiment (its role in
    /// `vocab::EXPERIMENT_ROLES` is `None`; the registry checks this).
    fn experiment(&self, _dir: &str, _packages: &[PackageRef]) -> Option<Project> {
        None
    }

    /// The recoveries from a bad configuration this approach offers, by
    /// name, its default first; empty when it manages no configuration
    /// (the registry checks this against `vocab::CONFIG_TOOLS`).
    fn config_recoveries(&self) -> &'static [&'static str] {
        &[]
    }

    /// How this approach manages the service's configuration (`plan`'s
    /// files) in `configure` scenarios, set up for `recovery` (one of
    /// `config_recoveries`). None: not this way (validation says why).
    fn config_commands(
        &self,
        _recovery: &str,
        _plan: &crate::service::ConfigPlan,
    ) -> Option<ConfigCommands> {
        None
    }

    /// How this approach rolls `plan`'s change out to a fleet with
    /// `method` (one of its `vocab::FLEET_TOOLS` names) and rolls the
    /// fleet back. None: not this way.
    fn fleet_commands(
        &self,
        _method: &str,
        _plan: &crate::service::ConfigPlan,
        _fleet: &crate::scenario::FleetSpec,
    ) -> Option<fleet::FleetCommands> {
        None
    }
}

/// How an approach manages a service's configuration, as its users do.
/// The set-up has rendered the good, wanted and bad configurations
/// (`service::STAGES`); the fixtures hold the apply script
/// (`service::APPLY`: reload or restart, the same for every approach);
/// each command here ends by running it where the approach's users would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigCommands {
    /// Set-up: the good configuration in place, before the service starts.
    pub install: Vec<String>,
    /// Set-up, the service running: the wanted edit made and applied the
    /// approach's way, after any backup was taken — the change a recovery
    /// may lose. Empty when the scenario has none (the approach's own
    /// bookkeeping, an etckeeper commit, may still run).
    pub wanted: Vec<String>,
    /// The operation: the bad configuration in place and applied.
    pub change: String,
    /// The default recovery: back to the good configuration, applied.
    pub recover: Vec<String>,
}

/// Who runs an approach's commands: root (as the harness's exec does), or
/// the unprivileged [`vocab::USER`](crate::vocab::USER) in their home, as
/// a person runs pip in their venv or npm with a prefix of their own,
/// without sudo. The same package scripts run either way; the privilege
/// decides whether their absolute writes land.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAs {
    Root,
    User,
}

impl RunAs {
    /// The prefix that runs a simple command (`[NAME=value ...] program
    /// args`, no shell operators) as this user. runuser keeps the
    /// environment (a `NAME=value` before it reaches the program) and sets
    /// HOME, USER and LOGNAME to the user's.
    pub fn prefix(self) -> String {
        match self {
            RunAs::Root => String::new(),
            RunAs::User => format!("runuser -u {} -- ", crate::vocab::USER),
        }
    }

    /// The user's home folder (where `~` points for their commands).
    pub fn home(self) -> &'static str {
        match self {
            RunAs::Root => "/root",
            RunAs::User => crate::vocab::USER_HOME,
        }
    }

    /// Set-up: the user exists, with a home folder, and owns the
    /// experiments' projects folder (a person's projects are theirs).
    /// Nothing for root.
    pub fn create(self) -> Vec<String> {
        use crate::vocab::{USER, USER_HOME, USER_UID};
        match self {
            RunAs::Root => Vec::new(),
            RunAs::User => vec![
                format!("id -u {USER} >/dev/null 2>&1 || useradd --create-home --home-dir {USER_HOME} --uid {USER_UID} --shell /bin/bash {USER}"),
                format!("install -d -o {USER} -g {USER} {PROJECTS_DIR}"),
            ],
        }
    }

    /// The folders of the user's `PATH` as Debian sets it for a login
    /// shell: `~/bin` and `~/.local/bin` (the default `~/.profile` adds
    /// them when they exist), `extra` (what the approach's set-up put on
    /// it), then /etc/profile's folders for a user who is not root. Root's:
    /// `extra`, then `snapshot::ROOT_PATH`. Order does not matter to the
    /// count of commands found.
    pub fn path_dirs(self, extra: &[&str]) -> Vec<String> {
        let home = crate::vocab::USER_HOME;
        let (own, system): (Vec<String>, &[&str]) = match self {
            RunAs::Root => (Vec::new(), &crate::snapshot::ROOT_PATH),
            RunAs::User => (
                vec![format!("{home}/bin"), format!("{home}/.local/bin")],
                &[
                    "/usr/local/bin",
                    "/usr/bin",
                    "/bin",
                    "/usr/local/games",
                    "/usr/games",
                ],
            ),
        };
        own.into_iter()
            .chain(extra.iter().map(|d| d.to_string()))
            .chain(system.iter().map(|d| d.to_string()))
            .collect()
    }
}

/// One project of an isolation experiment, as shell commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// Set the project up (install its packages, globally or into its
    /// environment), then use them from inside: exit 0 when every package
    /// is there at its version.
    pub enter: String,
    /// Enter again and use the packages, installing nothing: run after the
    /// second project, to see whether the first still works beside it.
    pub check: String,
}

pub use crate::vocab::PROJECTS_DIR;

/// A POSIX sh test that, for every package, the file `path(name)` holds
/// exactly its version; otherwise it says what it found and exits 1. No
/// single quotes, so it can be nested in `'…'` (nix-shell's `--run`).
pub fn versions_check(packages: &[PackageRef], path: impl Fn(&str) -> String) -> String {
    let tests: Vec<String> = packages
        .iter()
        .map(|p| {
            let (file, want) = (path(&p.name), p.version.clone().unwrap_or_default());
            format!(
                "v=$(cat \"{file}\" 2>/dev/null); [ \"$v\" = \"{want}\" ] || {{ echo \"{name}: wanted {want}, found ${{v:-nothing}} at {file}\" >&2; exit 1; }}",
                name = p.name
            )
        })
        .collect();
    format!("( {} )", tests.join("; "))
}

/// A global approach's project: its ordinary install, then `check`.
fn global_project(a: &dyn Approach, packages: &[PackageRef], check: String) -> Project {
    Project {
        enter: format!("{} && {check}", a.install(packages)),
        check,
    }
}

/// The experiment's first project (`[operation] packages`) and second
/// (`[experiment] second`), for `a`: folders under [`PROJECTS_DIR`].
pub fn experiment_projects(a: &dyn Approach, s: &Scenario) -> (Option<Project>, Option<Project>) {
    let first = a.experiment(
        &format!("{PROJECTS_DIR}/first"),
        &a.pins(s, &s.operation_refs()),
    );
    let second = s.experiment.as_ref().and_then(|_| {
        a.experiment(
            &format!("{PROJECTS_DIR}/second"),
            &a.pins(s, &s.second_refs()),
        )
    });
    (first, second)
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

/// A check as a trial runs it: the check and whose it is, so the checker
/// judges each kind into its own columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialCheck {
    pub kind: CheckKind,
    pub check: Check,
}

/// The approach's own checks followed by (with a `[service]`) the health
/// check and the scenario's probes for it, each with its kind.
pub fn checks_and_probes(a: &dyn Approach, scenario: &Scenario) -> Vec<TrialCheck> {
    let of = |kind| move |check| TrialCheck { kind, check };
    let mut checks: Vec<TrialCheck> = a
        .checks(scenario)
        .into_iter()
        .map(of(CheckKind::Own))
        .collect();
    checks.extend(
        scenario
            .service
            .as_ref()
            .map(|spec| Check {
                name: crate::service::HEALTH_CHECK.into(),
                command: crate::service::health_command(spec),
                quiet: false,
            })
            .map(of(CheckKind::Health)),
    );
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
            })
            .map(of(CheckKind::Probe)),
    );
    checks
}

/// The harness's inspection of the service after the recovery, beside the
/// checks: whether the wanted edit is still in the files it changed, and
/// whether a data-holding service still has the rows written at set-up.
pub fn service_state_checks(s: &Scenario) -> Vec<TrialCheck> {
    let Some(spec) = &s.service else {
        return Vec::new();
    };
    let wanted = crate::service::config::plan(s)
        .and_then(|plan| crate::service::wanted_check(&plan))
        .map(|command| Check {
            name: crate::service::WANTED_CHECK.into(),
            command,
            quiet: false,
        });
    let data = crate::service::kinds::data_check(spec.service()).map(|command| Check {
        name: crate::service::DATA_CHECK.into(),
        command,
        quiet: false,
    });
    wanted
        .into_iter()
        .chain(data)
        .map(|check| TrialCheck {
            kind: CheckKind::Service,
            check,
        })
        .collect()
}

/// The playbook a trial runs: the scenario's override or the default.
pub fn playbook(a: &dyn Approach, scenario: &Scenario) -> Vec<String> {
    scenario
        .recovery
        .iter()
        .find(|(k, _)| k.get_ref() == a.kind().as_str())
        .map(|(_, p)| p.commands.clone())
        .unwrap_or_else(|| match scenario.operation.kind.get_ref() {
            // A rollout's: what each node runs in the fleet rollback.
            OperationKind::Configure | OperationKind::Rollout => config_of(a, scenario)
                .map(|c| c.recover)
                .unwrap_or_default(),
            // An experiment has no playbook: its measure is what is left.
            OperationKind::Experiment => Vec::new(),
            OperationKind::Install | OperationKind::Upgrade => a.default_playbook(scenario),
        })
}

/// The service's part of the set-up in a `configure` scenario: the page,
/// the approach's good configuration, nginx and the probe started.
pub fn service_setup(a: &dyn Approach, s: &Scenario) -> Vec<String> {
    let parts = service_setup_parts(a, s);
    parts.files.into_iter().chain(parts.live).collect()
}

/// A set-up cut where processes begin. An image committed after `files`
/// is the same state (`runner::setup_image`); `live` starts what an image
/// cannot hold (nginx, the probe) and what must follow it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetupParts {
    pub files: Vec<String>,
    pub live: Vec<String>,
}

/// [`service_setup`] cut where the service starts: before it, files only
/// (the site, the approach's install of its configuration and tools);
/// from it on, processes.
pub fn service_setup_parts(a: &dyn Approach, s: &Scenario) -> SetupParts {
    let Some(spec) = &s.service else {
        return SetupParts::default();
    };
    if let Some(site) = &spec.site {
        // An install or upgrade changes what nginx serves: the site's root
        // is the package's installed folder, whichever approach put it there.
        let dir = a.package_dir(site.get_ref()).unwrap_or_else(|| {
            format!(
                "echo 'approach {} cannot locate a package' >&2; exit 2",
                a.name()
            )
        });
        return SetupParts {
            files: crate::service::prepare_package_site(spec, &dir),
            live: crate::service::start(spec),
        };
    }
    let config = config_of(a, s);
    let mut files = crate::service::prepare(s);
    files.extend(config.iter().flat_map(|c| c.install.iter().cloned()));
    let mut live = crate::service::start(spec);
    let wanted: Vec<String> = config.into_iter().flat_map(|c| c.wanted).collect();
    if !wanted.is_empty() {
        live.extend(wanted);
        // The set-up ends when the service is healthy on the wanted edit:
        // a reload's new workers take a moment, and the change must not
        // race them.
        live.push(crate::service::wait_until_healthy());
    }
    SetupParts { files, live }
}

/// The approach's configuration commands for the recovery the scenario
/// names for it (or its default).
pub fn config_of(a: &dyn Approach, s: &Scenario) -> Option<ConfigCommands> {
    let recovery = s
        .service
        .as_ref()
        .and_then(|spec| spec.recovery_for(a.name()))
        .or_else(|| a.config_recoveries().first().copied())?;
    a.config_commands(recovery, &crate::service::config::plan(s)?)
}

fn op_packages(s: &Scenario) -> Vec<String> {
    s.operation_refs().into_iter().map(|r| r.name).collect()
}

/// For an upgrade, the default recovery goes back: every package the
/// set-up installed, at the set-up's version.
fn upgrade_rollback(s: &Scenario) -> Option<Vec<&PackageSpec>> {
    (*s.operation.kind.get_ref() == OperationKind::Upgrade)
        .then(|| s.closure_specs(&s.setup_refs()))
}

/// The operation under test as a command. The lifecycle runs whatever this
/// returns under the trial's fault: a new kind of operation (configure,
/// switch, rollback) is a new arm here and, where approaches differ, a new
/// `Approach` method — the lifecycle does not change.
pub fn operation_command(a: &dyn Approach, s: &Scenario) -> String {
    match s.operation.kind.get_ref() {
        // An upgrade is an install of the other version.
        OperationKind::Install | OperationKind::Upgrade => {
            a.install(&a.pins(s, &s.operation_refs()))
        }
        OperationKind::Experiment => experiment_projects(a, s).0.map_or_else(
            || {
                format!(
                    "echo 'approach {} takes part in no experiment' >&2; exit 2",
                    a.name()
                )
            },
            |p| p.enter,
        ),
        // Loading refused configure scenarios naming an approach without
        // config commands; a plugged-in one that lies fails visibly here.
        // A rollout's: what each node runs (the fleet's tool carries it).
        OperationKind::Configure | OperationKind::Rollout => config_of(a, s).map_or_else(
            || {
                format!(
                    "echo 'approach {} manages no configuration' >&2; exit 2",
                    a.name()
                )
            },
            |c| c.change,
        ),
    }
}

/// The end of the set-up of a scenario whose repository drops old
/// versions: the approach moved to the newest-only repository.
pub fn repository_moves_on(a: &dyn Approach, s: &Scenario) -> Vec<String> {
    if s.setup.drop_old_versions {
        a.newest_only_repository()
    } else {
        Vec::new()
    }
}

/// A retry scenario's second install, right after the failed operation
/// (and alone, in a fresh container, as the clean install it is compared
/// with): the same command the approach would use for these packages.
pub fn retry_command(a: &dyn Approach, s: &Scenario) -> Option<String> {
    let refs = s.retry_refs();
    (!refs.is_empty()).then(|| a.install(&a.pins(s, &refs)))
}

/// The set-up's install command, if it installs anything.
pub fn setup_command(a: &dyn Approach, s: &Scenario) -> Option<String> {
    let refs = s.setup_refs();
    (!refs.is_empty()).then(|| a.install(&a.pins(s, &refs)))
}
