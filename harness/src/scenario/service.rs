//! The `[service]` table and the `configure` operation's vocabulary: the
//! real service a bad-configuration or bad-upgrade scenario watches, and the
//! bad configurations as intents every approach renders the same way.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;
use std::collections::BTreeMap;

/// A bad configuration, as an intent: each approach renders the same
/// broken site configuration and applies it its own way.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigChange {
    /// A missing `;`: `nginx -t` rejects it.
    SyntaxError,
    /// `root` names a folder that does not exist: passes `nginx -t`, every
    /// request gets a 404.
    WrongRoot,
    /// `listen` on the port after the right one: passes `nginx -t`, the
    /// site's port refuses connections.
    WrongPort,
    /// An `include` of a file that does not exist: `nginx -t` rejects it.
    MissingInclude,
}

impl ConfigChange {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigChange::SyntaxError => "syntax-error",
            ConfigChange::WrongRoot => "wrong-root",
            ConfigChange::WrongPort => "wrong-port",
            ConfigChange::MissingInclude => "missing-include",
        }
    }
}

/// The service of a bad-configuration scenario: Debian's nginx (the same
/// binary in every image) serving a one-page site inside the container,
/// watched by the agent's health probe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// The port the good configuration listens on, inside the container.
    #[schemars(with = "u16", range(min = 1, max = 65534))]
    pub port: Spanned<u16>,
    /// Text the site's page holds: a probe is healthy when the status is
    /// 200 and the body holds it. Letters, digits, space, `.`, `_`, `-`.
    #[schemars(with = "String", regex(pattern = r"^[A-Za-z0-9 ._-]{1,64}$"))]
    pub marker: Spanned<String>,
    /// How a configuration takes effect, the same for every approach.
    #[serde(default)]
    pub apply: Apply,
    /// How long a health check waits before it reads the probe (after the
    /// change and after the recovery), in ms.
    #[serde(default = "default_settle_ms")]
    #[schemars(with = "u64", range(min = 0, max = 60000))]
    pub settle_ms: Spanned<u64>,
    /// The probe's period, in ms.
    #[serde(default = "default_probe_interval_ms")]
    #[schemars(with = "u64", range(min = 5, max = 50))]
    pub probe_interval_ms: Spanned<u64>,
    /// For an install or upgrade: the declared package whose installed
    /// files are the site (its `index.html` at the top). Each approach's
    /// install folder of it is linked at the site's root, so the operation
    /// under test changes what nginx serves.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub site: Option<Spanned<String>>,
    /// The recovery each approach runs, by name (`apt = "etckeeper"`);
    /// an approach not named here runs its first (docs/approaches.md: recoveries).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub recovery: BTreeMap<Spanned<String>, Spanned<String>>,
}

impl ServiceSpec {
    /// The recovery `approach` runs: the one named for it, else its default.
    pub fn recovery_for(&self, approach: &str) -> Option<&'static str> {
        let offered = crate::vocab::config_recoveries(approach)?;
        match self.recovery.iter().find(|(k, _)| k.get_ref() == approach) {
            Some((_, v)) => offered.iter().find(|r| **r == v.get_ref()).copied(),
            None => offered.first().copied(),
        }
    }
}

fn default_settle_ms() -> Spanned<u64> {
    Spanned::new(0..0, 1000)
}
fn default_probe_interval_ms() -> Spanned<u64> {
    Spanned::new(0..0, 20)
}

/// How a configuration change reaches the running service.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Apply {
    /// `nginx -t` then a reload signal (what `systemctl reload nginx`
    /// runs): a rejected configuration leaves the old workers serving.
    #[default]
    Reload,
    /// Stop, then `nginx -t`, then start (what `systemctl restart nginx`
    /// runs): a rejected configuration leaves nothing serving.
    Restart,
}
