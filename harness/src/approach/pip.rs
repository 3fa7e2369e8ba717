//! pip, either into the system interpreter (the worst case Debian warns
//! about, `--break-system-packages`) or into a venv (the fair baseline),
//! as root or as an unprivileged user in their own home (no sudo).

use super::{upgrade_rollback, Approach, Check, RunAs};
use crate::docker::images::Family;
use crate::docker::SecurityProfile;
use crate::scenario::{Ecosystem, PackageRef, Scenario};

pub struct Pip {
    /// None: the system interpreter.
    venv: Option<String>,
    /// Who runs every pip command (and owns the venv).
    run_as: RunAs,
}

const VENV: &str = "/opt/venv";
/// The wheelhouse, a link the apt image points at /fixtures/pip
/// (containers/apt/Dockerfile): a repository that drops old versions
/// moves it to /fixtures/pip-newest.
const REPO: &str = "/var/lib/mistake-cost/pip";

impl Pip {
    pub fn global() -> Self {
        Pip {
            venv: None,
            run_as: RunAs::Root,
        }
    }
    pub fn venv() -> Self {
        Pip {
            venv: Some(VENV.into()),
            run_as: RunAs::Root,
        }
    }
    /// A venv in the unprivileged user's home, made and used by them.
    pub fn venv_user() -> Self {
        Pip {
            venv: Some(format!("{}/venv", RunAs::User.home())),
            run_as: RunAs::User,
        }
    }

    fn python(&self) -> String {
        match &self.venv {
            Some(v) => format!("{v}/bin/python"),
            None => "python3".into(),
        }
    }

    /// `pip SUBCOMMAND` run as the approach's user, with the flag PEP 668
    /// demands for the system interpreter (it is an option of
    /// install/uninstall, not of pip itself).
    fn pip(&self, subcommand: &str) -> String {
        let extra = if self.venv.is_none() {
            " --break-system-packages"
        } else {
            ""
        };
        format!(
            "{}{} -m pip --disable-pip-version-check {subcommand}{extra}",
            self.run_as.prefix(),
            self.python()
        )
    }

    /// A Python snippet run by the approach's interpreter, as its user,
    /// writing no bytecode (a view or check must leave no trace).
    fn python_c(&self, python: &str, snippet: &str) -> String {
        format!(
            "PYTHONDONTWRITEBYTECODE=1 {}{python} -c '{snippet}'",
            self.run_as.prefix()
        )
    }

    /// The venv made anew: what a careful person does with a disposable one.
    fn new_venv(&self, v: &str) -> Vec<String> {
        let p = self.run_as.prefix();
        vec![format!("{p}rm -rf {v}"), format!("{p}python3 -m venv {v}")]
    }
}

impl Approach for Pip {
    fn name(&self) -> &'static str {
        match (&self.venv, self.run_as) {
            (None, _) => "pip",
            (Some(_), RunAs::Root) => "pip-venv",
            (Some(_), RunAs::User) => "pip-venv-user",
        }
    }

    fn description(&self) -> &'static str {
        match (&self.venv, self.run_as) {
            (None, _) => "pip into the system interpreter (`--break-system-packages`): the worst case",
            (Some(_), RunAs::Root) => "pip into a virtual environment: the fair baseline for pip",
            (Some(_), RunAs::User) => "pip into a virtual environment in an unprivileged user's home, run as that user without sudo: tells \"not root\" from Nix's build users",
        }
    }

    /// The traditional image: pip is what people run next to apt.
    fn family(&self) -> Family {
        Family::Apt
    }

    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Pip
    }

    fn colour(&self) -> (u8, u8, u8) {
        match (&self.venv, self.run_as) {
            (None, _) => (0xff, 0x7f, 0x00),
            (Some(_), RunAs::Root) => (0x98, 0x4e, 0xa3),
            (Some(_), RunAs::User) => (0xca, 0xb2, 0xd6),
        }
    }

    fn path_dirs(&self) -> Vec<String> {
        self.run_as.path_dirs(&[])
    }

    fn prepare(&self) -> Vec<String> {
        let mut steps = self.run_as.create();
        if let Some(v) = &self.venv {
            steps.push(format!("{}python3 -m venv {v}", self.run_as.prefix()));
        }
        steps
    }

    fn install(&self, packages: &[PackageRef]) -> String {
        let args: Vec<String> = packages
            .iter()
            .map(|p| match &p.version {
                Some(v) => format!("{}=={v}", p.name),
                None => p.name.clone(),
            })
            .collect();
        format!(
            "{} --no-index --find-links {REPO} {}",
            self.pip("install"),
            args.join(" ")
        )
    }

    fn default_playbook(&self, s: &Scenario) -> Vec<String> {
        // After an upgrade: back to every set-up package's old version
        // (pip downgrades when pinned); a venv is made anew first.
        if let Some(old) = upgrade_rollback(s) {
            let pins: Vec<PackageRef> = old.iter().map(|p| PackageRef::of(p)).collect();
            let mut cmds = match &self.venv {
                Some(v) => self.new_venv(v),
                None => Vec::new(),
            };
            cmds.push(self.install(&pins));
            return cmds;
        }
        match &self.venv {
            // A venv is disposable: the careful undo is to make it anew.
            Some(v) => self.new_venv(v),
            // Uninstall what pip said it was installing: the operation's
            // packages and their new dependencies.
            None => vec![format!(
                "{} -y {}",
                self.pip("uninstall"),
                s.new_packages().join(" ")
            )],
        }
    }

    /// Uninstall what the recorded set did not have, then install the rest
    /// pinned (pip downgrades when pinned).
    fn restore_packages(&self, remove: &[&str], pins: &[PackageRef]) -> Option<Vec<String>> {
        let mut cmds = Vec::new();
        if !remove.is_empty() {
            cmds.push(format!("{} -y {}", self.pip("uninstall"), remove.join(" ")));
        }
        if !pins.is_empty() {
            cmds.push(self.install(pins));
        }
        Some(cmds)
    }

    fn checks(&self, s: &Scenario) -> Vec<Check> {
        vec![
            Check {
                name: "pip check".into(),
                command: format!(
                    "PYTHONDONTWRITEBYTECODE=1 {}{} -m pip --disable-pip-version-check check",
                    self.run_as.prefix(),
                    self.python()
                ),
                quiet: false,
            },
            Check {
                name: "import + RECORD".into(),
                command: format!(
                    "{} {}",
                    self.python_c(&self.python(), PIP_IMPORT_RECORD),
                    s.package_names().join(" ")
                ),
                quiet: false,
            },
        ]
    }

    fn configuration(&self, _: SecurityProfile) -> String {
        use crate::vocab::{USER, USER_UID};
        match (&self.venv, self.run_as) {
            (None, _) => format!("pip into the system interpreter as root, --break-system-packages, --no-index --find-links {REPO}"),
            (Some(v), RunAs::Root) => format!("pip in a venv at {v} (python3 -m venv), --no-index --find-links {REPO}, as root"),
            (Some(v), RunAs::User) => format!("pip in a venv at {v} (python3 -m venv) owned by {USER} (uid {USER_UID}), every pip command run as {USER} (runuser, no sudo), --no-index --find-links {REPO}"),
        }
    }

    fn newest_only_repository(&self) -> Vec<String> {
        vec![format!("ln -sfn /fixtures/pip-newest {REPO}")]
    }

    /// `<site-packages>/<name>/data`, from pip's own record of where the
    /// distribution lives (an import could pick a standard module's name).
    fn package_dir(&self, package: &str) -> Option<String> {
        Some(format!(
            "l=$({}{} -m pip show {package} 2>/dev/null | sed -n 's/^Location: //p') && [ -n \"$l\" ] && echo \"$l/{package}/data\"",
            self.run_as.prefix(),
            self.python()
        ))
    }

    /// pip: a global install into the system interpreter. pip-venv (and
    /// pip-venv-user, as the user): the project's own venv at `dir/venv`,
    /// as a project is set up with venvs.
    fn experiment(&self, dir: &str, packages: &[PackageRef]) -> Option<super::Project> {
        let python = match self.venv {
            Some(_) => format!("{dir}/venv/bin/python"),
            None => self.python(),
        };
        let wanted: Vec<String> = packages
            .iter()
            .map(|p| {
                format!(
                    "(\"{}\", \"{}\")",
                    p.name,
                    p.version.as_deref().unwrap_or("")
                )
            })
            .collect();
        // Exits with a message naming the first package at another version.
        let check = self.python_c(
            &python,
            &format!(
                "import importlib.metadata as m, sys\nfor n, v in [{}]:\n    got = m.version(n)\n    if got != v: sys.exit(\"%s: wanted %s, found %s\" % (n, v, got))",
                wanted.join(", ")
            ),
        );
        let install = match self.venv {
            Some(_) => {
                let args: Vec<String> = packages
                    .iter()
                    .map(|p| format!("{}=={}", p.name, p.version.as_deref().unwrap_or("")))
                    .collect();
                let p = self.run_as.prefix();
                format!(
                    "{p}mkdir -p {dir} && {p}python3 -m venv {dir}/venv && {p}{python} -m pip --disable-pip-version-check install --no-index --find-links {REPO} {}",
                    args.join(" ")
                )
            }
            None => self.install(packages),
        };
        Some(super::Project {
            enter: format!("{install} && {check}"),
            check,
        })
    }

    /// The distributions the interpreter sees (what `pip list` shows),
    /// read with importlib.metadata: a fifth of pip's start-up time. A
    /// half-written one (a crash mid-install) is listed as broken, by path,
    /// rather than failing the whole view.
    fn package_view(&self) -> String {
        self.python_c(&self.python(), PIP_VIEW)
    }
}

/// pip's view: what `importlib.metadata.distributions()` lists, as
/// `P<TAB>name<TAB>version` lines. Importing importlib.metadata (email, re,
/// zipfile, csv…) costs ~60 ms a call, three times a trial, so the common
/// case is read directly, mirroring Python 3.11's own walk (sys.path in
/// order; per entry, *.dist-info / *.egg-info grouped by normalized name in
/// first-seen order; METADATA, else PKG-INFO, else the egg-info file; the
/// first Name and Version headers). Anything that walk does not cover (a
/// zip or .egg entry, another distribution finder, a header folded over
/// lines, a missing field, an undecodable file) falls back to importlib
/// itself, whole: the output is importlib's in every case.
/// `tests/oracle.rs` compares the two in real containers.
const PIP_VIEW: &str = r#"import os, sys
class Unusual(Exception):
    pass
def norm(name):
    out, sep = [], False
    for c in name:
        if c in "-_.":
            if not sep:
                out.append("_")
            sep = True
        else:
            out.append(c)
            sep = False
    return "".join(out).lower()
def read(path, name):
    try:
        with open(os.path.join(path, name) if name else path, encoding="utf-8") as f:
            return f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return None
def fields(text):
    got, last = {}, None
    for line in text.split("\n"):
        if line == "":
            break
        if line[0] in " \t":
            if last in ("name", "version"):
                raise Unusual
            continue
        if line.startswith("From "):
            raise Unusual
        key, sep, value = line.partition(":")
        if not sep or not key or any(not ("!" <= c <= "~") for c in key):
            raise Unusual
        last = key.lower()
        if last in ("name", "version") and last not in got:
            got[last] = value.lstrip(" \t")
    if "name" not in got or "version" not in got:
        raise Unusual
    return got["name"], got["version"]
def fast():
    finders = [f for f in sys.meta_path if getattr(f, "find_distributions", None) is not None]
    if [getattr(f, "__name__", "") for f in finders] != ["PathFinder"]:
        raise Unusual
    lines = []
    for root in sys.path:
        if not isinstance(root, str) or os.path.basename(root).lower().endswith(".egg"):
            raise Unusual
        try:
            children = os.listdir(root or ".")
        except Exception:
            if os.path.exists(root or "."):
                raise Unusual
            children = []
        infos = {}
        for child in children:
            low = child.lower()
            if low.endswith((".dist-info", ".egg-info")):
                key = norm(low.rpartition(".")[0].partition("-")[0])
                infos.setdefault(key, []).append(os.path.join(root, child))
        for paths in infos.values():
            for p in paths:
                text = read(p, "METADATA") or read(p, "PKG-INFO") or read(p, "")
                if text is None:
                    raise Unusual
                name, version = fields(text)
                lines.append("P\t%s\t%s" % (name.lower(), version))
    return lines
def slow():
    import importlib.metadata as m
    lines = []
    for d in m.distributions():
        try:
            lines.append("P\t%s\t%s" % (d.metadata["Name"].lower(), d.version))
        except Exception:
            lines.append("P\t?%s\tbroken" % getattr(d, "_path", "unknown"))
    return lines
try:
    lines = fast()
except Exception:
    lines = slow()
if len(sys.argv) > 1 and sys.argv[1] == "--both":
    print("same" if lines == slow() else "differ")
else:
    for l in lines:
        print(l)"#;

/// For each named distribution the interpreter has: import it, and compare
/// every file its install record lists with the disk (present; sha256 equal
/// where the record has one). Prints one line per problem and exits 1 if any.
const PIP_IMPORT_RECORD: &str = r#"import base64, hashlib, importlib, importlib.metadata as m, os, sys
bad = []
for name in sys.argv[1:]:
    try:
        d = m.distribution(name)
    except m.PackageNotFoundError:
        continue
    except Exception as e:
        bad.append("metadata %s: %s" % (name, e)); continue
    try:
        importlib.import_module(name)
    except Exception as e:
        bad.append("import %s: %s" % (name, e))
    # Only an install record lists installed paths: RECORD (wheels, with
    # hashes) or installed-files.txt (legacy installs, relative to the
    # egg-info folder; importlib in Python 3.11 ignores it and falls back to
    # SOURCES.txt, the source tree). Without one only the import is checked.
    if d.read_text("RECORD") is not None:
        entries = [(str(f.locate()), f.hash) for f in d.files or []]
    elif d.read_text("installed-files.txt") is not None:
        base = str(d._path)
        entries = [(os.path.normpath(os.path.join(base, l)), None) for l in d.read_text("installed-files.txt").splitlines() if l.strip()]
    else:
        continue
    for p, h in entries:
        if p.endswith(".pyc"):
            continue
        if not os.path.lexists(p):
            bad.append("missing %s (RECORD of %s)" % (p, name)); continue
        if h is not None and h.mode == "sha256" and os.path.isfile(p):
            with open(p, "rb") as fh:
                seen = base64.urlsafe_b64encode(hashlib.sha256(fh.read()).digest()).rstrip(b"=").decode()
            if seen != h.value:
                bad.append("modified %s (RECORD of %s)" % (p, name))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_snippets_survive_single_quotes() {
        // Both run as `python -c '<snippet>'`.
        assert!(!PIP_VIEW.contains('\''));
        assert!(!PIP_IMPORT_RECORD.contains('\''));
    }
}
