//! `nix-shell`: a project shell with the project's packages, entered, used
//! and left, on the multi-user set-up of the `nix` approach. The image has
//! no nixpkgs (no `mkShell`, no stdenv), so the shell's derivation is a
//! plain `derivation` whose attributes are the project's packages from the
//! scenario's expression: nix-shell builds them (into the store, rooted by
//! nothing) and exports each as a variable, and the use runs with
//! `--run`. nix-shell's own bash is the image's (it says so once: no
//! nixpkgs to take `bashInteractive` from). An environment only: it runs in
//! `experiment` scenarios (the loader refuses it elsewhere); its package
//! view and checks are the `nix` approach's, of the global profile it must
//! not touch.

use super::nix::{Nix, EXPRESSIONS};
use super::{Approach, Check, Project};
use crate::docker::images::Family;
use crate::docker::SecurityProfile;
use crate::scenario::{Ecosystem, PackageRef, Scenario};

pub struct NixShell;

fn multi_user() -> Nix {
    Nix::multi_user()
}

impl NixShell {
    /// `nix-shell -E EXPR --run USE`: EXPR binds `mc_<i>` to each package
    /// (`import default.nix` is the same attribute set `nix-env -f` reads),
    /// and USE reads each one's VERSION through its variable.
    fn shell(packages: &[PackageRef]) -> String {
        let attrs: Vec<String> = packages
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let attr = match &p.version {
                    Some(v) => crate::payload::nix_attr(&p.name, v),
                    None => p.name.clone(),
                };
                format!("mc_{i} = p.\"{attr}\";")
            })
            .collect();
        let expr = format!(
            "let p = import {EXPRESSIONS}/default.nix; in derivation {{ name = \"project-shell\"; system = builtins.currentSystem; builder = \"/bin/sh\"; {} }}",
            attrs.join(" ")
        );
        let index = |name: &str| packages.iter().position(|p| p.name == name).unwrap_or(0);
        let check =
            super::versions_check(packages, |n| format!("$mc_{}/share/{n}/VERSION", index(n)));
        format!("nix-shell -E '{expr}' --run '{check}'")
    }
}

impl Approach for NixShell {
    fn name(&self) -> &'static str {
        "nix-shell"
    }

    fn description(&self) -> &'static str {
        "nix-shell with the project's packages (multi-user, as `nix`): the Nix project shell"
    }

    fn family(&self) -> Family {
        Family::Nix
    }

    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Nix
    }

    fn colour(&self) -> (u8, u8, u8) {
        (0x66, 0xc2, 0xa5)
    }

    fn env(&self) -> Vec<String> {
        multi_user().env()
    }

    fn container_command(&self, profile: SecurityProfile) -> Vec<String> {
        multi_user().container_command(profile)
    }

    fn ready(&self) -> Option<String> {
        multi_user().ready()
    }

    fn worker_pid_file(&self) -> Option<&'static str> {
        multi_user().worker_pid_file()
    }

    fn configuration(&self, profile: SecurityProfile) -> String {
        format!(
            "{}; nix-shell -E 'derivation {{ …the project's packages from {EXPRESSIONS}/default.nix… }}' --run USE (no nixpkgs in the image: a plain derivation, bash from the image)",
            multi_user().configuration(profile)
        )
    }

    /// Never run: the loader admits nix-shell to experiments only.
    fn install(&self, _packages: &[PackageRef]) -> String {
        "echo 'nix-shell enters a project shell: experiment scenarios only' >&2; exit 2".into()
    }

    fn default_playbook(&self, _s: &Scenario) -> Vec<String> {
        Vec::new()
    }

    fn checks(&self, s: &Scenario) -> Vec<Check> {
        multi_user().checks(s)
    }

    fn package_view(&self) -> String {
        multi_user().package_view()
    }

    fn gc_command(&self) -> Option<String> {
        multi_user().gc_command()
    }

    /// The shell, entered twice the same way: building (the first time)
    /// and using; entering again finds the store paths already there.
    fn experiment(&self, _dir: &str, packages: &[PackageRef]) -> Option<Project> {
        let shell = Self::shell(packages);
        Some(Project {
            enter: shell.clone(),
            check: shell,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_binds_each_package_and_reads_its_version() {
        let cmd = NixShell::shell(&[PackageRef::parse("liba=2.0"), PackageRef::parse("app=1.0")]);
        assert!(cmd.contains("mc_0 = p.\"liba_2_0\";"), "{cmd}");
        assert!(cmd.contains("mc_1 = p.\"app_1_0\";"), "{cmd}");
        assert!(cmd.contains("$mc_1/share/app/VERSION"), "{cmd}");
        // Two single-quoted arguments: neither part may hold a quote.
        assert_eq!(cmd.matches('\'').count(), 4, "{cmd}");
    }
}
