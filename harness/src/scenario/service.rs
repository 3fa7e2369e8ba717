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

/// The real services a scenario can watch: Debian's packages, the same
/// binary in every image (`service::kinds` says how each starts, applies a
/// change and where its configuration lives).
#[derive(
    Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceName {
    /// nginx serving a site (port 80 unless `port` says otherwise).
    #[default]
    Nginx,
    /// OpenSSH's server (port 22); root logs in with its own key pair.
    Sshd,
    /// PostgreSQL 15's `main` cluster (port 5432); root has a role and a
    /// database of its own name.
    Postgresql,
}

impl ServiceName {
    /// The port the package's own configuration listens on.
    pub fn default_port(self) -> u16 {
        match self {
            ServiceName::Nginx => 80,
            ServiceName::Sshd => 22,
            ServiceName::Postgresql => 5432,
        }
    }

    /// Folders holding the service's configuration: the files approaches
    /// manage must lie under one of them.
    pub fn config_roots(self) -> &'static [&'static str] {
        match self {
            ServiceName::Nginx => &["/etc/nginx"],
            ServiceName::Sshd => &["/etc/ssh"],
            ServiceName::Postgresql => &["/etc/postgresql"],
        }
    }

    /// Whether `path` lies under the service's configuration.
    pub fn manages(self, path: &str) -> bool {
        self.config_roots()
            .iter()
            .any(|r| path.starts_with(&format!("{r}/")))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Nginx => "nginx",
            ServiceName::Sshd => "sshd",
            ServiceName::Postgresql => "postgresql",
        }
    }
}

/// The service a `configure` scenario changes (or an install or upgrade
/// scenario's site watches), its good configuration and the probes that
/// say it is healthy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Which service (default nginx).
    #[serde(default)]
    #[schemars(with = "Option<ServiceName>")]
    pub name: Option<Spanned<ServiceName>>,
    /// The port the good configuration listens on, inside the container
    /// (default: the service's own, 80, 22 or 5432). `http` and `tcp`
    /// probes connect to it.
    #[serde(default)]
    #[schemars(with = "Option<u16>", range(min = 1, max = 65534))]
    pub port: Option<Spanned<u16>>,
    /// nginx: the text of the page at /srv/site/index.html (default
    /// `mistake-cost site v1`), and, without `[[service.probe]]`, what the
    /// probe expects in the body. Letters, digits, space, `.`, `_`, `-`.
    #[serde(default)]
    #[schemars(with = "Option<String>", regex(pattern = r"^[A-Za-z0-9 ._-]{1,64}$"))]
    pub marker: Option<Spanned<String>>,
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
    /// an approach not named here runs its first (docs/approaches.md:
    /// recoveries). A list (`apt = ["backup", "etckeeper"]`) names the
    /// first; `mistake-cost` runs one recovery per approach and trial.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Recoveries>")]
    pub recovery: BTreeMap<Spanned<String>, Spanned<Recoveries>>,
    /// The good configuration, in place before the mistake: files under
    /// the service's configuration folder are managed by each approach its
    /// own way; others (a site's page) are written as they are, the same
    /// for every approach.
    #[serde(default)]
    pub file: Vec<ServiceFile>,
    /// The service is healthy when every probe passes (default for nginx:
    /// `GET /` answers 200 with the marker in the body).
    #[serde(default)]
    #[schemars(with = "Vec<ServiceProbe>")]
    pub probe: Vec<Spanned<ServiceProbe>>,
    /// A good change made after the set-up (after apt's backup copy),
    /// which a recovery may lose: `wanted_edit_lost` says whether the
    /// files it changed hold its result after the recovery.
    #[serde(default)]
    pub wanted_edit: Vec<Edit>,
}

/// `recovery = "etckeeper"` or `recovery = ["backup", "etckeeper"]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum Recoveries {
    One(String),
    Many(Vec<String>),
}

impl Recoveries {
    pub fn names(&self) -> Vec<&str> {
        match self {
            Recoveries::One(n) => vec![n.as_str()],
            Recoveries::Many(ns) => ns.iter().map(String::as_str).collect(),
        }
    }
}

/// One file of the good configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceFile {
    /// An absolute path.
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// The whole content.
    #[schemars(with = "String")]
    pub text: Spanned<String>,
}

/// One health probe: exactly one of `http`, `tcp` and `command`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceProbe {
    /// `GET http://127.0.0.1:<port><http>`: a path starting with `/`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub http: Option<Spanned<String>>,
    /// The HTTP status an `http` probe wants (default 200).
    #[serde(default)]
    #[schemars(with = "Option<u16>", range(min = 100, max = 599))]
    pub expect_status: Option<Spanned<u16>>,
    /// Text the response body must hold (an `http` probe).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub expect_body: Option<Spanned<String>>,
    /// `true`: a TCP connect to the service's port.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub tcp: Option<Spanned<bool>>,
    /// A shell command run as root in the container; passes on exit 0
    /// (within 2 s).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub command: Option<Spanned<String>>,
    /// Text the command's trimmed standard output must hold.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub expect_stdout: Option<Spanned<String>>,
}

/// One edit of one file: exactly one of `replace`, `text` and `delete`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// An absolute path under the service's configuration folder.
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// Every occurrence of `find` becomes `with`.
    #[serde(default)]
    #[schemars(with = "Option<Replace>")]
    pub replace: Option<Spanned<Replace>>,
    /// The whole new content.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub text: Option<Spanned<String>>,
    /// `true`: the file is removed.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub delete: Option<Spanned<bool>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Replace {
    /// The text to find (not empty); every occurrence is replaced.
    pub find: String,
    /// What replaces it.
    pub with: String,
}

impl ServiceSpec {
    /// The service (nginx unless `name` says otherwise).
    pub fn service(&self) -> ServiceName {
        self.name.as_ref().map(|n| *n.get_ref()).unwrap_or_default()
    }

    /// The port probes connect to: `port`, else the service's own.
    pub fn port(&self) -> u16 {
        self.port
            .as_ref()
            .map(|p| *p.get_ref())
            .unwrap_or_else(|| self.service().default_port())
    }

    /// nginx's page text (and the default probe's expected body).
    pub fn marker(&self) -> &str {
        self.marker
            .as_ref()
            .map_or(DEFAULT_MARKER, |m| m.get_ref().as_str())
    }

    /// The recoveries named for `approach`, in order (empty: none named).
    pub fn named_recoveries(&self, approach: &str) -> Vec<&str> {
        self.recovery
            .iter()
            .find(|(k, _)| k.get_ref() == approach)
            .map(|(_, v)| v.get_ref().names())
            .unwrap_or_default()
    }

    /// The recovery `approach` runs: the first named for it, else its default.
    pub fn recovery_for(&self, approach: &str) -> Option<&'static str> {
        self.recovery_among(approach, crate::vocab::config_recoveries(approach)?)
    }

    /// The first of `offered` named for `approach`, else the first offered.
    pub fn recovery_among(
        &self,
        approach: &str,
        offered: &'static [&'static str],
    ) -> Option<&'static str> {
        match self.named_recoveries(approach).first() {
            Some(v) => offered.iter().find(|r| *r == v).copied(),
            None => offered.first().copied(),
        }
    }
}

/// nginx's page when the scenario names no marker.
pub const DEFAULT_MARKER: &str = "mistake-cost site v1";

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

/// The edit rule, shared by validation (declared files) and
/// `service::config` (whose `render.pl` follows it in the container).
/// What an edit does to its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Every occurrence of `find` becomes `with`.
    Replace { find: String, with: String },
    /// The whole new content.
    Text(String),
    /// The file removed.
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    pub path: String,
    pub action: Action,
}

impl FileEdit {
    /// As the scenario file writes it: `{"path": …, "replace": {"find": …,
    /// "with": …}}`, `{"path": …, "text": …}` or `{"path": …, "delete": true}`.
    pub fn json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({ "path": self.path });
        let (key, value) = match &self.action {
            Action::Replace { find, with } => {
                ("replace", serde_json::json!({"find": find, "with": with}))
            }
            Action::Text(t) => ("text", serde_json::json!(t)),
            Action::Delete => ("delete", serde_json::json!(true)),
        };
        v[key] = value;
        v
    }
}

/// A file's content, or None when it does not exist.
pub type Content = Option<String>;

/// Applies `edit` to `content`; an error names the file when a `find`
/// does not occur or the file does not exist.
pub fn apply(content: Content, edit: &FileEdit) -> Result<Content, String> {
    match &edit.action {
        Action::Delete => Ok(None),
        Action::Text(t) => Ok(Some(t.clone())),
        Action::Replace { find, with } => {
            let Some(c) = content else {
                return Err(format!(
                    "{}: the file does not exist, so nothing to replace",
                    edit.path
                ));
            };
            if !c.contains(find.as_str()) {
                return Err(format!(
                    "{}: `find` text {find:?} does not occur in it",
                    edit.path
                ));
            }
            Ok(Some(c.replace(find.as_str(), with)))
        }
    }
}

/// A scenario's edit as the plan holds it (validation has made sure it
/// has exactly one action).
pub fn file_edit(e: &Edit) -> FileEdit {
    let action = if let Some(r) = &e.replace {
        Action::Replace {
            find: r.get_ref().find.clone(),
            with: r.get_ref().with.clone(),
        }
    } else if let Some(t) = &e.text {
        Action::Text(t.get_ref().clone())
    } else {
        Action::Delete
    };
    FileEdit {
        path: e.path.get_ref().clone(),
        action,
    }
}
