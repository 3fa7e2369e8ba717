//! The five ways of installing software that a trial compares.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

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
