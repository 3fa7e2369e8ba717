//! Shared vocabulary: the names every room uses (approaches, results files,
//! reserved payload file names, injectable errnos, the attempt-record
//! separator). It imports nothing from the harness, so any module may use it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The five ways of installing software that a trial compares.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum ApproachKind {
    /// apt/dpkg with a local repository of generated .debs.
    Apt,
    /// pip into the system interpreter (`--break-system-packages`): the worst case.
    Pip,
    /// pip into a virtual environment: the fair baseline for pip.
    PipVenv,
    /// nix-env into root's profile, multi-user as the installer and NixOS
    /// set Nix up: builds by `nix-daemon` as `nixbld` build users, in the
    /// build sandbox when the run's security profile allows it.
    Nix,
    /// nix-env as root with no build users and no sandbox: the labelled
    /// variant many Docker images use.
    NixSingleUser,
}

impl ApproachKind {
    pub const ALL: [ApproachKind; 5] = [
        ApproachKind::Apt,
        ApproachKind::Pip,
        ApproachKind::PipVenv,
        ApproachKind::Nix,
        ApproachKind::NixSingleUser,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApproachKind::Apt => "apt",
            ApproachKind::Pip => "pip",
            ApproachKind::PipVenv => "pip-venv",
            ApproachKind::Nix => "nix",
            ApproachKind::NixSingleUser => "nix-single-user",
        }
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
        ApproachKind::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown approach `{s}`: expected one of apt, pip, pip-venv, nix, nix-single-user"))
    }
}

/// Which results file a guarantee reads. `verify` knows each file's columns.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
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
