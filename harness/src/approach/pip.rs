//! pip, either into the system interpreter (the worst case Debian warns
//! about, `--break-system-packages`) or into a venv (the fair baseline).

use super::{Approach, ApproachKind, Check};
use crate::scenario::Scenario;

pub struct Pip {
    /// None: the system interpreter.
    venv: Option<&'static str>,
}

const VENV: &str = "/opt/venv";

impl Pip {
    pub fn global() -> Self {
        Pip { venv: None }
    }
    pub fn venv() -> Self {
        Pip { venv: Some(VENV) }
    }

    fn python(&self) -> String {
        match self.venv {
            Some(v) => format!("{v}/bin/python"),
            None => "python3".into(),
        }
    }

    /// `pip SUBCOMMAND`, with the flag PEP 668 demands for the system
    /// interpreter (it is an option of install/uninstall, not of pip itself).
    fn pip(&self, subcommand: &str) -> String {
        let extra = if self.venv.is_none() { " --break-system-packages" } else { "" };
        format!("{} -m pip --disable-pip-version-check {subcommand}{extra}", self.python())
    }
}

impl Approach for Pip {
    fn kind(&self) -> ApproachKind {
        if self.venv.is_some() {
            ApproachKind::PipVenv
        } else {
            ApproachKind::Pip
        }
    }

    fn prepare(&self) -> Vec<String> {
        match self.venv {
            Some(v) => vec![format!("python3 -m venv {v}")],
            None => Vec::new(),
        }
    }

    fn install(&self, packages: &[String]) -> String {
        format!("{} --no-index --find-links /fixtures/pip {}", self.pip("install"), packages.join(" "))
    }

    fn default_playbook(&self, s: &Scenario) -> Vec<String> {
        match self.venv {
            // A venv is disposable: the careful undo is to make it anew.
            Some(v) => vec![format!("rm -rf {v}"), format!("python3 -m venv {v}")],
            // Uninstall what pip said it was installing: the operation's
            // packages and their new dependencies.
            None => vec![format!("{} -y {}", self.pip("uninstall"), s.new_packages().join(" "))],
        }
    }

    fn checks(&self, _: &Scenario) -> Vec<Check> {
        vec![Check {
            name: "pip check".into(),
            command: format!("PYTHONDONTWRITEBYTECODE=1 {} -m pip --disable-pip-version-check check", self.python()),
            quiet: false,
        }]
    }

    /// The distributions the interpreter sees (what `pip list` shows),
    /// read with importlib.metadata: a fifth of pip's start-up time. A
    /// half-written one (a crash mid-install) is listed as broken, by path,
    /// rather than failing the whole view.
    fn package_view(&self) -> String {
        format!("PYTHONDONTWRITEBYTECODE=1 {} -c '{}'", self.python(), PIP_VIEW)
    }
}

const PIP_VIEW: &str = r#"import importlib.metadata as m
for d in m.distributions():
    try:
        print("P\t%s\t%s" % (d.metadata["Name"].lower(), d.version))
    except Exception:
        print("P\t?%s\tbroken" % getattr(d, "_path", "unknown"))"#;
