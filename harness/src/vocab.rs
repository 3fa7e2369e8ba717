//! Shared vocabulary: the names every room uses (approaches, results files,
//! reserved payload file names, injectable errnos, the attempt-record
//! separator). It imports nothing from the harness, so any module may use it.
//! The built-in approaches' names are listed here (so that any room parses
//! them with no set-up); what each approach *is* lives in `approach`, whose
//! registry checks that it has one implementation per name, in this order.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::{LazyLock, RwLock};

/// An approach's name, interned: one of the names in the process-wide
/// table (the built-ins first, then any registered at run time through
/// `approach::register`, e.g. by a test). The table lives here, not in
/// `approach`, so the scenario files parse against it from the bottom
/// layer; what an approach *is* lives in `approach`.
///
/// Ordered by registration rank, so every sorted output keeps the
/// registry's order (apt, ansible, pip, pip-venv, pip-venv-user,
/// npm-global, npm-global-user, npm-local, nix, nix-single-user,
/// nix-profile, nix-shell); serialised as the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApproachKind {
    // Field order matters: the derived `Ord` compares the rank first.
    rank: u16,
    name: &'static str,
}

/// The built-in approaches, in the order docs/approaches.md, run.json and every
/// report list them (a name's index is its rank). Adding one: its file in
/// `approach/`, its line in `approach::registry`, its name here.
pub const BUILTIN_APPROACHES: [&str; 12] = [
    "apt",
    "ansible",
    "pip",
    "pip-venv",
    "pip-venv-user",
    "npm-global",
    "npm-global-user",
    "npm-local",
    "nix",
    "nix-single-user",
    "nix-profile",
    "nix-shell",
];

/// The built-ins that manage a service's configuration (`configure`
/// scenarios) and the recoveries each offers, its default first: exactly
/// those whose `Approach::config_recoveries` is not empty (the registry
/// checks the two agree), listed here so scenario files are checked with
/// no set-up.
pub const CONFIG_TOOLS: [(&str, &[&str]); 3] = [
    ("apt", &["backup", "etckeeper", "reinstall"]),
    ("ansible", &["previous-vars"]),
    ("nix", &["rollback"]),
];

/// The built-ins that roll a configuration out to a fleet (`rollout`
/// scenarios) and how each does it and rolls the fleet back, its default
/// first (`Approach::fleet_commands` says how each works; the registry
/// checks they agree). The names are the fleet rollback's: apt's
/// `backup` (a careful operator over parallel SSH) and `dead-man` (the
/// same with a dead-man switch on every node), Ansible's `previous-vars`,
/// Nix's `rollback` (the profile's previous generation, over parallel
/// SSH) and `deploy-rs` (its magic rollback and revoke).
pub const FLEET_TOOLS: [(&str, &[&str]); 3] = [
    ("apt", &["backup", "dead-man"]),
    ("ansible", &["previous-vars"]),
    ("nix", &["rollback", "deploy-rs"]),
];

/// Where an isolation experiment stands: what a built-in does in an
/// `experiment` scenario (the registry checks each built-in's
/// `Approach::experiment` agrees).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExperimentRole {
    /// Installs globally, as its users do: the baseline an environment is
    /// compared with.
    Global,
    /// Enters a project environment of its own (a venv, a project folder,
    /// a Nix shell).
    Environment,
    /// Takes part in no experiment (manages configurations only).
    None,
}

/// The built-ins' roles in experiment scenarios; a name not listed is
/// `Global`. Environment-only approaches (`nix-shell`, `npm-local`) run
/// nothing else: the scenario loader refuses them in other kinds.
pub const EXPERIMENT_ROLES: [(&str, ExperimentRole); 5] = [
    ("ansible", ExperimentRole::None),
    ("pip-venv", ExperimentRole::Environment),
    ("pip-venv-user", ExperimentRole::Environment),
    ("npm-local", ExperimentRole::Environment),
    ("nix-shell", ExperimentRole::Environment),
];

/// Where an experiment's projects live: a global residue is a change
/// outside these folders (and outside /nix/store).
/// The largest seed the harness writes (2^53 - 1): plan seeds (`--seed`),
/// trial seeds and sample seeds all lie in 0..2^53, so every results reader
/// loads them exactly (R and JavaScript read numbers as doubles, exact only
/// to 2^53; pandas and DuckDB as signed 64-bit integers).
pub const MAX_SEED: u64 = (1 << 53) - 1;

/// A `--seed` argument: a whole number in 0..=[`MAX_SEED`].
pub fn parse_seed(s: &str) -> Result<u64, String> {
    let v: u64 = s
        .trim()
        .parse()
        .map_err(|e| format!("`{s}` is not a whole number from 0 to {MAX_SEED}: {e}"))?;
    if v > MAX_SEED {
        return Err(format!(
            "{v} is above {MAX_SEED} (2^53 - 1): seeds are kept below 2^53 so that R, \
             pandas and DuckDB read them exactly; pick a smaller seed"
        ));
    }
    Ok(v)
}

pub const PROJECTS_DIR: &str = "/srv/projects";

/// Whether a changed path is global for an isolation experiment: outside
/// the projects' folders and the Nix store (a store path the profile uses
/// changes the profile too, and that change is outside the store).
pub fn is_global_path(path: &str) -> bool {
    let under = |dir: &str| path == dir || path.starts_with(&format!("{dir}/"));
    !under(PROJECTS_DIR) && !under("/nix/store")
}

/// The unprivileged user of the `*-user` approaches (a venv and an npm
/// prefix in a home folder, run without sudo): the traditional baseline
/// beside multi-user Nix's build users, so "not root" and "Nix" can be
/// told apart. Created by those approaches' set-up; uid 1000 is the
/// first a Debian installer gives a person.
pub const USER: &str = "alice";
pub const USER_UID: u32 = 1000;
pub const USER_HOME: &str = "/home/alice";

/// Approaches that exist only as a project environment.
pub const ENVIRONMENT_ONLY: [&str; 2] = ["npm-local", "nix-shell"];

pub fn experiment_role(approach: &str) -> ExperimentRole {
    EXPERIMENT_ROLES
        .iter()
        .find(|(name, _)| *name == approach)
        .map_or(ExperimentRole::Global, |(_, r)| *r)
}

/// The recoveries a configuration tool offers (None: not one).
pub fn config_recoveries(approach: &str) -> Option<&'static [&'static str]> {
    CONFIG_TOOLS
        .iter()
        .find(|(name, _)| *name == approach)
        .map(|(_, r)| *r)
}

/// The rollout methods a fleet tool offers (None: not one).
pub fn fleet_methods(approach: &str) -> Option<&'static [&'static str]> {
    FLEET_TOOLS
        .iter()
        .find(|(name, _)| *name == approach)
        .map(|(_, r)| *r)
}

/// Known names, in registration order (a name's index is its rank): the
/// built-ins from the start, then any registered at run time. Names are
/// only ever appended, so a rank never changes once handed out.
static NAMES: LazyLock<RwLock<Vec<&'static str>>> =
    LazyLock::new(|| RwLock::new(BUILTIN_APPROACHES.to_vec()));

fn names_read() -> std::sync::RwLockReadGuard<'static, Vec<&'static str>> {
    // A panic while holding the lock cannot leave the vector half-updated
    // (push is the only write), so a poisoned lock is still sound to read.
    NAMES.read().unwrap_or_else(|e| e.into_inner())
}

impl ApproachKind {
    /// Adds `name` to the table (or finds it there): the registry's half of
    /// registration. Crate-private because the registry keeps its entries
    /// by rank: a name interned without an approach would shift every
    /// later one off its entry. Elsewhere use [`ApproachKind::lookup`].
    pub(crate) fn intern(name: &'static str) -> ApproachKind {
        if let Some(k) = ApproachKind::lookup(name) {
            return k;
        }
        let mut names = NAMES.write().unwrap_or_else(|e| e.into_inner());
        // Another thread may have added it between the read and the write.
        let rank = match names.iter().position(|n| *n == name) {
            Some(i) => i,
            None => {
                names.push(name);
                names.len() - 1
            }
        };
        ApproachKind {
            rank: u16::try_from(rank).expect("fewer than 65536 approaches"),
            name: names[rank],
        }
    }

    /// The registered approach of that name.
    pub fn lookup(name: &str) -> Option<ApproachKind> {
        let names = names_read();
        let rank = names.iter().position(|n| *n == name)?;
        Some(ApproachKind {
            rank: rank as u16,
            name: names[rank],
        })
    }

    /// Every registered approach, in registration order (what `ALL` was).
    pub fn all() -> Vec<ApproachKind> {
        names_read()
            .iter()
            .enumerate()
            .map(|(rank, name)| ApproachKind {
                rank: rank as u16,
                name,
            })
            .collect()
    }

    /// The registered names for messages: `apt, pip, pip-venv, ...`.
    pub fn names() -> String {
        names_read().join(", ")
    }

    /// The place in the registry (and so in every report).
    pub fn rank(self) -> usize {
        usize::from(self.rank)
    }

    pub fn as_str(self) -> &'static str {
        self.name
    }
}

/// In the scenario format's JSON Schema: one of the built-in names.
impl schemars::JsonSchema for ApproachKind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ApproachKind".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "enum": BUILTIN_APPROACHES,
            "description": "An approach (package manager as its users run it)."
        })
    }
}

impl fmt::Display for ApproachKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApproachKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApproachKind::lookup(s).ok_or_else(|| {
            format!(
                "unknown approach `{s}`: expected one of {}",
                ApproachKind::names()
            )
        })
    }
}

impl Serialize for ApproachKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

impl<'de> Deserialize<'de> for ApproachKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The name is looked up inside the visitor, so a format that
        // locates errors (toml) points at the name, not its container.
        d.deserialize_str(NameVisitor)
    }
}

struct NameVisitor;

impl serde::de::Visitor<'_> for NameVisitor {
    type Value = ApproachKind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an approach name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<ApproachKind, E> {
        ApproachKind::lookup(name).ok_or_else(|| {
            // A copy: `names()` below takes the lock again.
            let names = names_read().clone();
            let expected = if names.is_empty() {
                ApproachKind::names()
            } else {
                let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                quoted.join(", ")
            };
            // Worded as serde words an unknown enum variant, which this was.
            E::custom(format!(
                "unknown variant `{name}`, expected one of {expected}"
            ))
        })
    }
}

/// Which results file a guarantee reads. `verify` knows each file's columns.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `run`'s trials.csv.
    Trials,
    /// `explore`'s crashpoints.csv.
    Crashpoints,
}

impl Source {
    pub fn file_name(self) -> &'static str {
        match self {
            Source::Trials => "trials.csv",
            Source::Crashpoints => "crashpoints.csv",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Trials => "trials",
            Source::Crashpoints => "crashpoints",
        }
    }
}

/// Files every ecosystem's package tree carries besides the scenario's own,
/// so a scenario may not ship files by these names.
pub const RESERVED_FILES: [&str; 2] = ["VERSION", "deps"];

/// Errnos a `syscall` fault may inject.
pub const ERRNOS: [&str; 6] = ["ENOSPC", "EIO", "EACCES", "EPERM", "EROFS", "EDQUOT"];

/// The field separator of attempt records (scenario paths may not hold it).
pub const ATTEMPT_SEP: &str = "|#|";
