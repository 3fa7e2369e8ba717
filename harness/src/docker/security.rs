//! The security profile every container of one run shares. The Nix build
//! sandbox needs namespaces a default container may not make; if one
//! approach gets the privileges for it, every approach gets them, so the
//! comparison stays matched (DESIGN.md, "Fairness").

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum SecurityProfile {
    /// Docker's defaults (its seccomp and AppArmor profiles, default
    /// capabilities): Nix's build sandbox cannot start, so the `nix`
    /// approach builds with build users but `sandbox = false`.
    Default,
    /// Docker's defaults plus CAP_SYS_ADMIN and `seccomp=unconfined`,
    /// `apparmor=unconfined`, `systempaths=unconfined`: what Nix's build
    /// sandbox needs in a container (`--privileged` is refused by this
    /// host's runtime and is not needed). The `nix` approach builds with
    /// `sandbox = true`.
    #[default]
    BuildSandbox,
}

impl SecurityProfile {
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityProfile::Default => "default",
            SecurityProfile::BuildSandbox => "build-sandbox",
        }
    }

    /// Whether Nix's build sandbox can run under this profile.
    pub fn allows_build_sandbox(self) -> bool {
        self == SecurityProfile::BuildSandbox
    }

    /// Capabilities added to Docker's default set.
    pub fn cap_add(self) -> Vec<String> {
        match self {
            SecurityProfile::Default => Vec::new(),
            SecurityProfile::BuildSandbox => vec!["SYS_ADMIN".into()],
        }
    }

    /// Docker `--security-opt` values.
    pub fn security_opt(self) -> Vec<String> {
        match self {
            SecurityProfile::Default => Vec::new(),
            SecurityProfile::BuildSandbox => {
                vec!["seccomp=unconfined".into(), "apparmor=unconfined".into()]
            }
        }
    }

    /// `systempaths=unconfined`: the CLI's name for empty masked and
    /// read-only path lists (the API refuses it as a security option).
    pub fn unconfined_system_paths(self) -> bool {
        self == SecurityProfile::BuildSandbox
    }

    /// One line for run.json and the report's header.
    pub fn describe(self) -> String {
        match self {
            SecurityProfile::Default => "default: Docker's default capabilities, seccomp and AppArmor profiles".into(),
            SecurityProfile::BuildSandbox => format!(
                "build-sandbox: Docker's defaults + cap-add {} + security-opt {},systempaths=unconfined",
                self.cap_add().join(","),
                self.security_opt().join(",")
            ),
        }
    }
}

impl fmt::Display for SecurityProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
