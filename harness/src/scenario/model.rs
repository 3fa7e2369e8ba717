//! The scenario file's data model: what a TOML file may say, as serde types.
//! Unknown fields are rejected; cross-references are checked in `validate`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;
use std::collections::BTreeMap;

use super::package_ref::{version_key, PackageRef};
use super::{ConfigChange, Edit, ServiceSpec};
use crate::vocab::{ApproachKind, Source};

/// One scenario file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub scenario: Header,
    /// Every package the scenario uses, declared once for all ecosystems.
    #[serde(rename = "package", default)]
    pub packages: Vec<PackageSpec>,
    /// Packages installed before the "before" snapshot (part of the set-up).
    #[serde(default)]
    pub setup: Setup,
    /// The operation under test.
    pub operation: Operation,
    /// "Just try again": right after the operation fails, install these
    /// packages (the fixed version, or an alternative) with no clean-up in
    /// between; the end state is compared with a clean install of the same
    /// packages in a fresh container.
    #[serde(default)]
    #[schemars(with = "Option<Retry>")]
    pub retry: Option<Spanned<Retry>>,
    /// An `experiment` scenario's second project, needing other versions.
    #[serde(default)]
    #[schemars(with = "Option<Experiment>")]
    pub experiment: Option<Spanned<Experiment>>,
    /// The real service a `configure` operation changes (nginx).
    #[serde(default)]
    pub service: Option<ServiceSpec>,
    /// A `rollout` operation's nodes.
    #[serde(default)]
    #[schemars(with = "Option<super::fleet::FleetSpec>")]
    pub fleet: Option<Spanned<super::fleet::FleetSpec>>,
    /// Per-approach overrides of the built-in recovery playbooks.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Playbook>")]
    pub recovery: BTreeMap<Spanned<String>, Playbook>,
    /// Faults injected into the operation, identically for every approach.
    /// None: the operation runs undisturbed (fault "none").
    #[serde(rename = "fault", default)]
    pub faults: Vec<FaultSpec>,
    /// Extra checks, run beside the package manager's own after the
    /// operation and after recovery; a non-zero exit after the operation
    /// makes `probes_ok` false (`consistent` is the package manager's own
    /// checks alone), after recovery the trial not `recovered`.
    #[serde(rename = "probe", default)]
    pub probes: Vec<Probe>,
    /// Hypotheses about this scenario's results, judged by `verify`.
    #[serde(rename = "guarantee", default)]
    pub guarantees: Vec<GuaranteeSpec>,
}

/// A hypothesis about the rows of a run (or an explore run), judged by
/// `verify`: `expect` must hold in `in` of the rows of `approaches`.
/// Its fields are checked by the loader's [`GuaranteeCheck`](super::GuaranteeCheck)
/// (`verify` knows the columns).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuaranteeSpec {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Whose rows (default: every approach of the scenario).
    #[serde(default)]
    #[schemars(with = "Vec<ApproachKind>")]
    pub approaches: Vec<Spanned<ApproachKind>>,
    /// Which file: trials (default) or crashpoints.
    #[serde(default)]
    #[schemars(with = "Option<Source>")]
    pub source: Option<Spanned<Source>>,
    /// `column OP value`, e.g. `residue_files == 0`.
    #[schemars(with = "String")]
    pub expect: Spanned<String>,
    /// "all" (default) or a share like "95%".
    #[serde(rename = "in", default)]
    #[schemars(with = "Option<String>")]
    pub share: Option<Spanned<String>>,
    /// Row filters, `column == word` or `!=` (e.g. `outcome == failed`):
    /// only rows every filter admits are evidence.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub when: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    #[serde(deserialize_with = "super::limits::non_blank")]
    pub name: String,
    /// A shell command inside the container; exit 0 means the probe passes.
    #[serde(deserialize_with = "super::limits::non_blank")]
    pub command: String,
    /// Only for these approaches (default: all).
    #[serde(default)]
    #[schemars(with = "Vec<ApproachKind>")]
    pub approaches: Vec<Spanned<ApproachKind>>,
}

/// A fault the nemesis injects into the operation under test. One flat
/// table per fault (`kind` says which fields apply), so every field keeps
/// its position for error messages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    #[schemars(with = "FaultKind")]
    pub kind: Spanned<FaultKind>,
    /// kill: the signal sent (default KILL).
    #[serde(default)]
    pub signal: Option<Signal>,
    /// kill, container-kill: fixed offsets in milliseconds from the
    /// operation's start.
    #[serde(default, deserialize_with = "super::limits::at_ms")]
    pub at_ms: Vec<u64>,
    /// kill: this many seeded random offsets in [0, within_ms).
    #[serde(default, deserialize_with = "super::limits::random")]
    #[schemars(range(min = 0, max = 1000))]
    pub random: u32,
    #[serde(default, deserialize_with = "super::limits::within_ms")]
    #[schemars(range(min = 0, max = 86400000))]
    pub within_ms: u64,
    /// syscall: the syscalls counted (strace names: rename, write, fsync...).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub syscalls: Vec<Spanned<String>>,
    /// syscall: call numbers, 1-based, counted per process and per syscall
    /// as strace counts.
    #[serde(default, deserialize_with = "super::limits::at")]
    pub at: Vec<u64>,
    /// syscall: fail the call with this errno instead of killing.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub errno: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// A signal to the package manager's whole process group at a time offset.
    Kill,
    /// strace's fault injection at the N-th call of a syscall.
    Syscall,
    /// The whole container is killed at a time offset and started again.
    ContainerKill,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub enum Signal {
    #[serde(rename = "KILL")]
    Kill,
    #[serde(rename = "TERM")]
    Term,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// A safe identifier: it names a scratch folder and containers.
    #[serde(deserialize_with = "super::limits::name")]
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$"))]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Approaches to run; every one gets the same packages and faults.
    #[serde(deserialize_with = "super::limits::approaches")]
    #[schemars(with = "Vec<ApproachKind>")]
    pub approaches: Vec<Spanned<ApproachKind>>,
    /// Repetitions per approach unless `run --reps` says otherwise.
    #[serde(default = "default_reps", deserialize_with = "super::limits::reps")]
    #[schemars(range(min = 1, max = 1000))]
    pub reps: u32,
    /// Wall-clock limit for one step inside the container, in seconds.
    #[serde(
        default = "default_step_timeout",
        deserialize_with = "super::limits::step_timeout"
    )]
    #[schemars(range(min = 1, max = 86400))]
    pub step_timeout_s: u64,
}

fn default_reps() -> u32 {
    3
}
fn default_step_timeout() -> u64 {
    300
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageSpec {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    pub version: String,
    /// Packages this one depends on (names declared in this file).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub depends: Vec<Spanned<String>>,
    /// Files the package ships, relative to its install root.
    #[serde(default)]
    pub files: Vec<FileSpec>,
    /// Where and how this package fails, if it does.
    #[serde(default)]
    pub fail: Option<FailSpec>,
    /// Commands the package puts on `PATH` (each prints the package's name
    /// and version): /usr/bin for apt, pip's scripts folder, npm's `bin`,
    /// `$out/bin` for Nix.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub bin: Vec<Spanned<String>>,
}

impl PackageSpec {
    /// The content of each of its commands: the same bytes everywhere.
    pub fn bin_script(&self) -> String {
        format!(
            "#!/bin/sh\necho '{} {}'\n",
            self.name.get_ref(),
            self.version
        )
    }
}

/// A file whose content is generated deterministically from
/// (package, version, path), so every ecosystem ships identical bytes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// With `count`, the path holds `{}`, replaced by 1..=count.
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// Size in bytes of the generated content.
    #[serde(
        default = "default_file_size",
        deserialize_with = "super::limits::size"
    )]
    #[schemars(range(min = 0, max = 1073741824))]
    pub size: u64,
    /// Ship `count` files from this one pattern (a payload of a few hundred
    /// files without a few hundred lines).
    #[serde(default, deserialize_with = "super::limits::count")]
    #[schemars(range(min = 1, max = 10000))]
    pub count: Option<u32>,
    /// The file's content, instead of `size` generated bytes (a site's
    /// page: the health probe looks for the `[service] marker` in it).
    #[serde(default, deserialize_with = "super::limits::text")]
    #[schemars(length(max = 65536))]
    pub text: Option<String>,
}

impl FileSpec {
    /// The concrete relative paths this entry stands for.
    pub fn paths(&self) -> Vec<String> {
        let p = self.path.get_ref();
        match self.count {
            Some(n) => (1..=n)
                .map(|i| p.replacen("{}", &i.to_string(), 1))
                .collect(),
            None => vec![p.clone()],
        }
    }
}

fn default_file_size() -> u64 {
    64
}

/// A package-level failure, mapped onto each ecosystem's natural step
/// (see scenarios/README.md for the mapping).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailSpec {
    /// The step that fails, for every ecosystem unless overridden below.
    pub step: FailStep,
    /// Per-ecosystem overrides, for stories like "the build fails (pip,
    /// Nix); a binary .deb has no build, so its postinst fails".
    #[serde(default)]
    pub apt: Option<FailStep>,
    #[serde(default)]
    pub pip: Option<FailStep>,
    #[serde(default)]
    pub nix: Option<FailStep>,
    #[serde(default)]
    pub npm: Option<FailStep>,
    /// Absolute paths outside the package that the failing script tries to
    /// create or overwrite before it fails. Every ecosystem's script (the
    /// postinst or preinst, setup.py, the Nix builder) attempts exactly
    /// these; whether an attempt lands is what the approach decides.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub writes: Vec<Spanned<String>>,
    /// Existing files the failing script tries to append a line to.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub appends: Vec<Spanned<String>>,
    /// Existing files the failing script tries to delete.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub removes: Vec<Spanned<String>>,
    #[serde(default = "default_exit_code")]
    pub exit_code: u8,
}

fn default_exit_code() -> u8 {
    1
}

/// A side effect a failing script attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOp {
    Write,
    Append,
    Remove,
}

impl AttemptOp {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOp::Write => "write",
            AttemptOp::Append => "append",
            AttemptOp::Remove => "remove",
        }
    }
}

impl FailSpec {
    /// Every attempt in the order the scripts make them: writes, appends,
    /// removals, each in scenario order.
    pub fn attempts(&self) -> Vec<(AttemptOp, &Spanned<String>)> {
        let writes = self.writes.iter().map(|p| (AttemptOp::Write, p));
        let appends = self.appends.iter().map(|p| (AttemptOp::Append, p));
        writes
            .chain(appends)
            .chain(self.removes.iter().map(|p| (AttemptOp::Remove, p)))
            .collect()
    }

    pub fn step_for(&self, ecosystem: Ecosystem) -> FailStep {
        match ecosystem {
            Ecosystem::Apt => self.apt,
            Ecosystem::Pip => self.pip,
            Ecosystem::Nix => self.nix,
            Ecosystem::Npm => self.npm,
        }
        .unwrap_or(self.step)
    }
}

/// The packaging formats a scenario's packages are built in (pip and
/// pip-venv share one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ecosystem {
    Apt,
    Pip,
    Nix,
    Npm,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FailStep {
    /// The package's build (pip: setup.py build; Nix: the builder). A
    /// binary .deb has no build step: apt fails in its preinst instead.
    Build,
    /// The package's configure step (apt: postinst; pip: setup.py install
    /// after copying files; Nix: the end of the builder).
    Configure,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub install: Vec<Spanned<String>>,
    /// After the set-up's install, the repository keeps only each
    /// package's newest version, as a mirror or channel moves on: apt's,
    /// pip's and the Nix expression alike. A recovery that needs an old
    /// version from the repository then cannot get it.
    #[serde(default)]
    pub drop_old_versions: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    #[schemars(with = "OperationKind")]
    pub kind: Spanned<OperationKind>,
    /// What an install or upgrade installs (not for `configure`).
    #[serde(default, deserialize_with = "super::limits::packages")]
    #[schemars(with = "Vec<String>")]
    pub packages: Vec<Spanned<String>>,
    /// What a `configure` operation gets wrong, as one of four built-in
    /// mistakes of the nginx site (a shorthand for `edit`s).
    #[serde(default)]
    #[schemars(with = "Option<ConfigChange>")]
    pub change: Option<Spanned<ConfigChange>>,
    /// What a `configure` operation gets wrong: edits of the service's
    /// configuration files, applied as one change.
    #[serde(default)]
    pub edit: Vec<Edit>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OperationKind {
    /// Install packages the set-up did not.
    Install,
    /// Install another version of packages the set-up installed; the
    /// default recovery goes back to the set-up's versions.
    Upgrade,
    /// Apply a bad configuration (`change`) to the running `[service]`;
    /// the default recovery goes back to the good one.
    Configure,
    /// An isolation experiment: enter a project environment with
    /// `packages`, use them, leave (and, with `[experiment] second`, a
    /// second project beside it); the global residue is the measure.
    Experiment,
    /// Roll a configuration change (`[[operation.edit]]` of the
    /// `[service]`) out to the `[fleet]`'s nodes over SSH, watch their
    /// health, and roll the whole fleet back when a node stays unhealthy.
    Rollout,
}

/// The install that follows a failed operation in a retry scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// What the person installs next: the fixed version (`name=version`
    /// when the file declares several) or an alternative package.
    #[serde(deserialize_with = "super::limits::packages")]
    #[schemars(with = "Vec<String>")]
    pub packages: Vec<Spanned<String>>,
}

/// An isolation experiment's second project: it needs other versions of
/// (some of) the first project's packages, side by side with it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// The second project's packages (`name=version`).
    #[serde(deserialize_with = "super::limits::packages")]
    #[schemars(with = "Vec<String>")]
    pub second: Vec<Spanned<String>>,
}

/// A recovery playbook: shell commands run in order, each timed inside the
/// container; a failing command does not stop the ones after it, as a
/// person working through a checklist would go on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    pub commands: Vec<String>,
}

impl GuaranteeSpec {
    pub fn source(&self) -> Source {
        self.source
            .as_ref()
            .map(|s| *s.get_ref())
            .unwrap_or(Source::Trials)
    }
}

impl PackageSpec {
    /// Every shipped file as (relative path, size), patterns expanded.
    pub fn file_list(&self) -> Vec<(String, u64)> {
        self.files
            .iter()
            .flat_map(|f| {
                let size = f.text.as_ref().map_or(f.size, |t| t.len() as u64);
                f.paths().into_iter().map(move |p| (p, size))
            })
            .collect()
    }

    /// The declared content of the file at `path`, if it has one.
    pub fn file_text(&self, path: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.text.is_some() && f.paths().iter().any(|p| p == path))
            .and_then(|f| f.text.as_deref())
    }
}

impl Scenario {
    /// The package declared under `name`; its highest version when the
    /// file declares several.
    pub fn package(&self, name: &str) -> Option<&PackageSpec> {
        self.packages
            .iter()
            .filter(|p| p.name.get_ref() == name)
            .max_by_key(|p| version_key(&p.version))
    }

    /// The declared package a reference names (exact version, or the
    /// highest when the reference has none).
    pub fn resolve(&self, r: &PackageRef) -> Option<&PackageSpec> {
        match &r.version {
            Some(v) => self
                .packages
                .iter()
                .find(|p| p.name.get_ref() == &r.name && &p.version == v),
            None => self.package(&r.name),
        }
    }

    /// Whether the file declares more than one version of `name`.
    pub fn has_versions(&self, name: &str) -> bool {
        self.packages
            .iter()
            .filter(|p| p.name.get_ref() == name)
            .count()
            > 1
    }

    pub fn refs(list: &[Spanned<String>]) -> Vec<PackageRef> {
        list.iter()
            .map(|r| PackageRef::parse(r.get_ref()))
            .collect()
    }

    /// The set-up's packages.
    pub fn setup_refs(&self) -> Vec<PackageRef> {
        Self::refs(&self.setup.install)
    }

    /// The operation's packages.
    pub fn operation_refs(&self) -> Vec<PackageRef> {
        Self::refs(&self.operation.packages)
    }

    /// The second project's packages (empty without `[experiment]`).
    pub fn second_refs(&self) -> Vec<PackageRef> {
        self.experiment
            .as_ref()
            .map(|e| Self::refs(&e.get_ref().second))
            .unwrap_or_default()
    }

    /// The retry's packages (empty without a `[retry]`).
    pub fn retry_refs(&self) -> Vec<PackageRef> {
        self.retry
            .as_ref()
            .map(|r| Self::refs(&r.get_ref().packages))
            .unwrap_or_default()
    }

    /// The packages `roots` bring in, dependencies first, each once, with
    /// the versions their dependencies name.
    pub fn closure_specs(&self, roots: &[PackageRef]) -> Vec<&PackageSpec> {
        fn visit<'a>(s: &'a Scenario, r: &PackageRef, out: &mut Vec<&'a PackageSpec>) {
            let Some(p) = s.resolve(r) else { return };
            if out.iter().any(|o| std::ptr::eq(*o, p)) {
                return;
            }
            for d in &p.depends {
                visit(s, &PackageRef::parse(d.get_ref()), out);
            }
            out.push(p);
        }
        let mut out = Vec::new();
        for r in roots {
            visit(self, r, &mut out);
        }
        out
    }

    /// Concrete faults the specs expand into (`nemesis::expand` makes one
    /// per offset and call number; none at all is one undisturbed run).
    pub fn fault_count(&self) -> u64 {
        let n: u64 = self
            .faults
            .iter()
            .map(|f| f.at_ms.len() as u64 + u64::from(f.random) + f.at.len() as u64)
            .sum();
        n.max(1)
    }

    /// Trials of this scenario: approaches × faults × repetitions (`reps`
    /// overrides the file's, as `run --reps` does).
    pub fn trial_count(&self, reps: Option<u32>) -> u64 {
        let reps = u64::from(reps.unwrap_or(self.scenario.reps));
        // A configure scenario naming several recoveries for an approach
        // runs each (`plan::variants`).
        let variants: u64 = self
            .scenario
            .approaches
            .iter()
            .map(|a| match (&self.service, self.operation.kind.get_ref()) {
                (Some(spec), OperationKind::Configure | OperationKind::Rollout) => {
                    spec.named_recoveries(a.get_ref().as_str()).len().max(1) as u64
                }
                _ => 1,
            })
            .sum();
        variants
            .saturating_mul(self.fault_count())
            .saturating_mul(reps)
    }

    pub fn approaches(&self) -> Vec<ApproachKind> {
        self.scenario
            .approaches
            .iter()
            .map(|a| *a.get_ref())
            .collect()
    }

    /// Names of the packages `roots` bring in, dependencies first, each once.
    pub fn closure(&self, roots: &[Spanned<String>]) -> Vec<String> {
        distinct_names(self.closure_specs(&Self::refs(roots)))
    }

    /// Every package name the file declares, in order, each once.
    pub fn package_names(&self) -> Vec<String> {
        distinct_names(&self.packages)
    }

    /// Packages the operation may bring in that the set-up did not install.
    pub fn new_packages(&self) -> Vec<String> {
        let before = self.closure(&self.setup.install);
        self.closure(&self.operation.packages)
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect()
    }
}

/// Package names in first-seen order, each once (versions share a name).
fn distinct_names<'a>(packages: impl IntoIterator<Item = &'a PackageSpec>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for p in packages {
        if !names.contains(p.name.get_ref()) {
            names.push(p.name.get_ref().clone());
        }
    }
    names
}
