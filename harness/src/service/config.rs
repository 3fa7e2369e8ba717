//! A `configure` scenario's configurations as files: the good one (the
//! declared `[[service.file]]`s), the wanted one (the good one with the
//! wanted edit) and the bad one (the wanted one with the mistake's
//! `[[operation.edit]]`s). The four built-in nginx mistakes expand to edits
//! here. Edits of files the scenario does not declare (a package's own
//! pg_hba.conf) can only be applied to what is on disk, so every stage is
//! rendered inside the container by `render.pl`, with these semantics;
//! [`apply`] is the same rule in Rust, for validation and tests.

pub use crate::scenario::{apply, file_edit, Action, Content, FileEdit};
use crate::scenario::{ConfigChange, Scenario, ServiceName, ServiceSpec};

/// Where nginx's built-in mistakes' site lives (Debian's nginx.conf
/// includes `conf.d/*.conf`).
pub const SITE_CONF: &str = "/etc/nginx/conf.d/site.conf";
/// The site's root folder and its page.
pub const SITE_ROOT: &str = "/srv/site";
/// The header the built-in mistakes' wanted edit adds.
pub const WANTED_HEADER: &str = "X-Mistake-Cost-Wanted";

/// A configure scenario's files and edits, the built-in mistakes expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigPlan {
    pub service: ServiceName,
    /// Declared files under the service's configuration: each approach
    /// manages them (path, good content).
    pub managed: Vec<(String, String)>,
    /// Declared files elsewhere (a site's page): written as they are by
    /// the set-up every approach shares.
    pub content: Vec<(String, String)>,
    /// The wanted edit (empty: none).
    pub wanted: Vec<FileEdit>,
    /// The mistake.
    pub change: Vec<FileEdit>,
}

impl ConfigPlan {
    /// Every file an approach manages: the declared ones, then those only
    /// edits name, each once, in order of first mention.
    pub fn paths(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let all = self
            .managed
            .iter()
            .map(|(p, _)| p)
            .chain(self.wanted.iter().map(|e| &e.path))
            .chain(self.change.iter().map(|e| &e.path));
        for p in all {
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
        out
    }

    /// The files the wanted edit changes.
    pub fn wanted_paths(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in &self.wanted {
            if !out.contains(&e.path) {
                out.push(e.path.clone());
            }
        }
        out
    }

    /// `render.pl`'s input.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(&serde_json::json!({
            "paths": self.paths(),
            "files": self.managed.iter().map(|(p, t)| serde_json::json!({"path": p, "text": t})).collect::<Vec<_>>(),
            "wanted": self.wanted.iter().map(FileEdit::json).collect::<Vec<_>>(),
            "change": self.change.iter().map(FileEdit::json).collect::<Vec<_>>(),
        }))
        .expect("plain data serialises")
    }
}

/// The configure plan of `s`: None without a `[service]` or for a site
/// watched by an install or upgrade.
pub fn plan(s: &Scenario) -> Option<ConfigPlan> {
    let spec = s.service.as_ref()?;
    if spec.site.is_some() {
        return None;
    }
    let service = spec.service();
    if let Some(change) = &s.operation.change {
        return Some(builtin(spec, *change.get_ref()));
    }
    let (managed, content): (Vec<_>, Vec<_>) = spec
        .file
        .iter()
        .map(|f| (f.path.get_ref().clone(), f.text.get_ref().clone()))
        .partition(|(p, _)| service.manages(p));
    let edits = |es: &[crate::scenario::Edit]| es.iter().map(file_edit).collect();
    Some(ConfigPlan {
        service,
        managed,
        content,
        wanted: edits(&spec.wanted_edit),
        change: edits(&s.operation.edit),
    })
}

/// The good site of the built-in mistakes.
pub fn site_conf(port: u16) -> String {
    format!(
        "# The mistake-cost site.\nserver {{\n    listen {port};\n    root {SITE_ROOT};\n    location / {{\n        index index.html;\n    }}\n}}\n"
    )
}

/// A built-in mistake as the site, the wanted edit (the header line after
/// `root`) and the mistake's one edit.
fn builtin(spec: &ServiceSpec, change: ConfigChange) -> ConfigPlan {
    let port = spec.port();
    let replace = |find: String, with: String| FileEdit {
        path: SITE_CONF.into(),
        action: Action::Replace { find, with },
    };
    let root = format!("    root {SITE_ROOT};\n");
    let listen = format!("listen {port};");
    let mistake = match change {
        // The `;` after listen is missing: nginx reads `listen PORT root ...`.
        ConfigChange::SyntaxError => replace(listen, format!("listen {port}")),
        ConfigChange::WrongRoot => replace(
            format!("root {SITE_ROOT};"),
            format!("root {SITE_ROOT}-missing;"),
        ),
        ConfigChange::WrongPort => replace(listen, format!("listen {};", port + 1)),
        ConfigChange::MissingInclude => replace(
            "    location / {\n".into(),
            "    include /etc/nginx/snippets/site-extra.conf;\n    location / {\n".into(),
        ),
    };
    ConfigPlan {
        service: ServiceName::Nginx,
        managed: vec![(SITE_CONF.into(), site_conf(port))],
        content: Vec::new(),
        wanted: vec![replace(
            root.clone(),
            format!("{root}    add_header {WANTED_HEADER} \"kept\";\n"),
        )],
        change: vec![mistake],
    }
}

/// Each stage's content of the declared files (good, wanted, bad), by
/// the same rules `render.pl` follows; files only edits name are unknown
/// here and skipped. Err: an edit that cannot apply (its message names
/// the file).
pub fn declared_stages(plan: &ConfigPlan) -> Result<[Vec<(String, Content)>; 3], String> {
    let good: Vec<(String, Content)> = plan
        .managed
        .iter()
        .map(|(p, t)| (p.clone(), Some(t.clone())))
        .collect();
    let step = |from: &[(String, Content)],
                edits: &[FileEdit]|
     -> Result<Vec<(String, Content)>, String> {
        let mut files = from.to_vec();
        for e in edits {
            let Some(slot) = files.iter_mut().find(|(p, _)| *p == e.path) else {
                // Not declared: its content is the system's, known at run time.
                continue;
            };
            slot.1 = apply(slot.1.take(), e)?;
        }
        Ok(files)
    };
    let wanted = step(&good, &plan.wanted)?;
    let bad = step(&wanted, &plan.change)?;
    Ok([good, wanted, bad])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Scenario {
        crate::scenario::parse(text).unwrap()
    }

    #[test]
    fn every_builtin_mistake_is_one_edit_of_the_site() {
        for change in [
            "syntax-error",
            "wrong-root",
            "wrong-port",
            "missing-include",
        ] {
            let s = parse(&format!(
                "[scenario]\nname = \"t\"\napproaches = [\"apt\"]\n[service]\nport = 8080\nmarker = \"m\"\n\
                 [operation]\nkind = \"configure\"\nchange = \"{change}\"\n"
            ));
            let p = plan(&s).unwrap();
            assert_eq!(p.paths(), vec![SITE_CONF.to_string()]);
            let [good, wanted, bad] = declared_stages(&p).unwrap();
            let (good, wanted, bad) = (
                good[0].1.clone().unwrap(),
                wanted[0].1.clone().unwrap(),
                bad[0].1.clone().unwrap(),
            );
            assert!(good.contains("listen 8080;") && good.contains("root /srv/site;"));
            assert!(wanted.contains(WANTED_HEADER) && !good.contains(WANTED_HEADER));
            assert!(
                bad.contains(WANTED_HEADER),
                "{change}: the mistake follows the wanted edit"
            );
            let differing = bad
                .lines()
                .filter(|l| !wanted.lines().any(|w| w == *l))
                .count();
            assert_eq!(differing, 1, "{change}: {bad}");
        }
    }

    #[test]
    fn edits_chain_and_a_missing_find_names_the_file() {
        let e = |action| FileEdit {
            path: "/etc/x".into(),
            action,
        };
        let r = |f: &str, w: &str| Action::Replace {
            find: f.into(),
            with: w.into(),
        };
        let c = apply(Some("a b a".into()), &e(r("a", "c"))).unwrap();
        assert_eq!(c.as_deref(), Some("c b c"), "every occurrence");
        assert_eq!(apply(c.clone(), &e(Action::Delete)).unwrap(), None);
        assert_eq!(
            apply(None, &e(Action::Text("new".into())))
                .unwrap()
                .as_deref(),
            Some("new")
        );
        let missing = apply(c, &e(r("zz", "y"))).unwrap_err();
        assert!(
            missing.contains("/etc/x") && missing.contains("zz"),
            "{missing}"
        );
        assert!(apply(None, &e(r("a", "b")))
            .unwrap_err()
            .contains("does not exist"));
    }

    #[test]
    fn files_outside_the_configuration_are_content_and_edits_add_paths() {
        let s = parse(
            r##"
[scenario]
name = "t"
approaches = ["apt"]
[service]
name = "sshd"
[[service.file]]
path = "/etc/ssh/sshd_config.d/site.conf"
text = "PermitRootLogin prohibit-password\n"
[[service.file]]
path = "/srv/readme"
text = "hello\n"
[operation]
kind = "configure"
[[operation.edit]]
path = "/etc/ssh/sshd_config"
replace = { find = "#PermitRootLogin", with = "PermitRootLogin no\n#" }
"##,
        );
        let p = plan(&s).unwrap();
        assert_eq!(p.service, ServiceName::Sshd);
        assert_eq!(p.content, vec![("/srv/readme".into(), "hello\n".into())]);
        assert_eq!(
            p.paths(),
            vec!["/etc/ssh/sshd_config.d/site.conf", "/etc/ssh/sshd_config"]
        );
        assert!(p.wanted_paths().is_empty());
        let json: serde_json::Value = serde_json::from_str(&p.json()).unwrap();
        assert_eq!(json["change"][0]["replace"]["find"], "#PermitRootLogin");
    }
}
