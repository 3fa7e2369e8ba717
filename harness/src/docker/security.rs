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

    /// Capabilities of Docker's default set that no approach needs, dropped
    /// in every profile: no raw sockets (no network anyway), no device
    /// nodes, no audit writes, no file capabilities set or capability
    /// bounding changed. Kept: what dpkg, pip and the Nix daemon use (CHOWN,
    /// DAC_OVERRIDE, FOWNER, FSETID, SETUID, SETGID for build users and
    /// `_apt`, KILL for the nemesis, SYS_CHROOT for Nix's build sandbox,
    /// NET_BIND_SERVICE for a service on a low port).
    pub fn cap_drop(self) -> Vec<String> {
        ["NET_RAW", "MKNOD", "AUDIT_WRITE", "SETFCAP", "SETPCAP"]
            .map(String::from)
            .to_vec()
    }

    /// Docker `--security-opt` values. `no-new-privileges` in every profile:
    /// no setuid binary or file capability can raise a process's privileges.
    pub fn security_opt(self) -> Vec<String> {
        let mut opts = vec!["no-new-privileges:true".to_string()];
        if self == SecurityProfile::BuildSandbox {
            opts.extend(["seccomp=unconfined".into(), "apparmor=unconfined".into()]);
        }
        opts
    }

    /// `systempaths=unconfined`: the CLI's name for empty masked and
    /// read-only path lists (the API refuses it as a security option).
    pub fn unconfined_system_paths(self) -> bool {
        self == SecurityProfile::BuildSandbox
    }

    /// One line for run.json and the report's header.
    pub fn describe(self) -> String {
        match self {
            SecurityProfile::Default => format!(
                "default: Docker's default capabilities less {}, seccomp and AppArmor profiles, security-opt {}; no swap",
                self.cap_drop().join(","),
                self.security_opt().join(",")
            ),
            SecurityProfile::BuildSandbox => format!(
                "build-sandbox: Docker's defaults less {} + cap-add {} + security-opt {},systempaths=unconfined; no swap",
                self.cap_drop().join(","),
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
