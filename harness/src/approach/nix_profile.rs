//! `nix profile` (the `nix-command` CLI) into root's profile, from the
//! scenario's generated derivations, on the multi-user set-up of the `nix`
//! approach (same image, daemon, build users and sandbox setting).
//!
//! The installable is `-f /var/lib/mistake-cost/nix/default.nix ATTR`: the
//! very expression and derivations `nix-env -f` installs, so both
//! approaches build identical store paths. Checked on the image's Nix
//! (Debian 12's nix-bin, 2.8.0), with no network:
//! - `-f FILE ATTR` works (the file is read impurely, as `nix-env -f` does);
//! - `--expr` needs `--impure` (pure evaluation forbids reading the
//!   absolute path of the expression);
//! - a local `path:` flake with no inputs does not evaluate: the generated
//!   derivations use `builtins.currentSystem`, which pure (flake)
//!   evaluation lacks, and the link `/var/lib/mistake-cost/nix` is refused
//!   as escaping the flake's source. A flake would need a generator of its
//!   own; that would no longer be the same payload as `nix`'s.
//!
//! `nix profile` is the same mechanism as `nix-env` with other bookkeeping
//! (`manifest.json`), and one difference the upgrade scenarios meet:
//! `nix profile install` of another version of an installed package does
//! not replace it, it collides (`packages … have the same priority`), and
//! `nix profile upgrade` only re-evaluates flake-installed elements. So an
//! install first removes the profile's elements of the same names (`nix
//! profile remove`, a generation of its own), then installs: two
//! generations, not one, and a kill between them leaves the package
//! removed. That is what a user of this CLI does; the numbers show its
//! cost.

use super::nix::{Nix, EXPRESSIONS, PROFILE_CHECK};
use super::{Approach, Check};
use crate::docker::images::Family;
use crate::docker::SecurityProfile;
use crate::scenario::{Ecosystem, OperationKind, PackageRef, Scenario};

pub struct NixProfile;

/// The new CLI with the experimental features it needs, given on the
/// command line (the image's nix.conf is the `nix` approach's, unchanged).
const NIX: &str = "nix --extra-experimental-features 'nix-command flakes'";

/// The profile `nix profile` uses: root's `~/.nix-profile` links to it
/// (the image's first `nix-env -q` made the link), the same as `nix-env`'s.
const PROFILE: &str = "/nix/var/nix/profiles/default";

/// `nix profile list` prints `INDEX FLAKE-ATTR ORIGINAL-REF STORE-PATHS…`
/// (`- -` for a `-f` install). This awk reads each store path's
/// `name-version` after the hash.
const SPLIT_NAME: &str = "b=p; sub(/^.*\\//, \"\", b); sub(/^[^-]*-/, \"\", b); \
     n=b; v=\"\"; if (match(n, /-[0-9][^-]*$/)) {v=substr(n, RSTART+1); n=substr(n, 1, RSTART-1)}";

fn multi_user() -> Nix {
    Nix::multi_user()
}

impl Approach for NixProfile {
    fn name(&self) -> &'static str {
        "nix-profile"
    }

    fn description(&self) -> &'static str {
        "nix profile install -f default.nix ATTR / nix profile rollback (nix-command), multi-user as `nix`; another version of an installed package: nix profile remove, then install"
    }

    fn family(&self) -> Family {
        Family::Nix
    }

    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Nix
    }

    fn colour(&self) -> (u8, u8, u8) {
        (0x1b, 0x9e, 0x77)
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

    fn configuration(&self, profile: SecurityProfile) -> String {
        format!(
            "{}; `{NIX} profile install -f {EXPRESSIONS}/default.nix ATTR` into {PROFILE} (a path: flake cannot evaluate the generated expression purely; --expr needs --impure)",
            multi_user().configuration(profile)
        )
    }

    fn worker_pid_file(&self) -> Option<&'static str> {
        multi_user().worker_pid_file()
    }

    fn generation_rollback(&self) -> Option<String> {
        Some(format!("{NIX} profile rollback"))
    }

    fn gc_command(&self) -> Option<String> {
        Some(format!("{NIX} store gc"))
    }

    /// Elements of the profile with the same names are removed first
    /// (their indices, in one `nix profile remove`), because `nix profile
    /// install` of another version collides instead of replacing.
    fn install(&self, packages: &[PackageRef]) -> String {
        let attrs: Vec<String> = packages
            .iter()
            .map(|p| match &p.version {
                Some(v) => crate::payload::nix_attr(&p.name, v),
                None => p.name.clone(),
            })
            .collect();
        let mut names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        format!(
            "old=$({NIX} profile list 2>/dev/null | awk -v names=' {names} ' '{{for (i=4; i<=NF; i++) {{p=$i; {SPLIT_NAME} if (index(names, \" \" n \" \")) {{print $1; break}}}}}}') && \
             if [ -n \"$old\" ]; then {NIX} profile remove $old || exit $?; fi && \
             {NIX} profile install -f {EXPRESSIONS}/default.nix {attrs}",
            names = names.join(" "),
            attrs = attrs.join(" "),
        )
    }

    /// After an install: `nix profile rollback`, as `nix`'s `nix-env
    /// --rollback` (after a failed build no generation was made, so it goes
    /// one further back, or fails when there is none). After an upgrade,
    /// which may have made two generations (remove, install): back to the
    /// newest generation whose manifest holds every set-up package at its
    /// set-up version, as a person reading `nix profile history` picks it.
    fn default_playbook(&self, s: &Scenario) -> Vec<String> {
        if *s.operation.kind.get_ref() != OperationKind::Upgrade {
            return vec![format!("{NIX} profile rollback")];
        }
        let wanted: Vec<String> = s
            .setup_refs()
            .iter()
            .filter_map(|r| s.resolve(r))
            .map(|p| {
                format!(
                    "grep -q -- '-{}-{}\"' \"$l/manifest.json\"",
                    p.name.get_ref(),
                    p.version
                )
            })
            .collect();
        let test = if wanted.is_empty() {
            "true".to_string()
        } else {
            wanted.join(" && ")
        };
        vec![format!(
            "g=$(for l in {PROFILE}-*-link; do [ -e \"$l/manifest.json\" ] || continue; \
             if {test}; then n=${{l#{PROFILE}-}}; echo \"${{n%-link}}\"; fi; done | sort -n | tail -n 1); \
             if [ -z \"$g\" ]; then echo 'no generation holds the set-up versions' >&2; exit 1; fi; \
             {NIX} profile rollback --to \"$g\""
        )]
    }

    fn checks(&self, _: &Scenario) -> Vec<Check> {
        vec![
            Check {
                name: "nix-store --verify".into(),
                command: "nix-store --verify --check-contents".into(),
                quiet: false,
            },
            Check {
                name: "profile resolves".into(),
                command: PROFILE_CHECK.into(),
                quiet: false,
            },
            Check {
                name: "profile entries valid".into(),
                command: format!(
                    "{NIX} profile list | while read -r _ _ _ paths; do for p in $paths; do nix-store --check-validity \"$p\" || exit 1; done; done"
                ),
                quiet: false,
            },
        ]
    }

    /// `nix profile list`'s store paths, split into name and version as
    /// `nix`'s view splits `nix-env -q`'s names, so the two compare; the
    /// live paths as `nix`'s.
    /// A global install into root's profile (nix profile install).
    fn experiment(&self, _dir: &str, packages: &[PackageRef]) -> Option<super::Project> {
        let check = super::versions_check(packages, |n| {
            format!("/root/.nix-profile/share/{n}/VERSION")
        });
        Some(super::global_project(self, packages, check))
    }

    fn package_view(&self) -> String {
        format!(
            "{NIX} profile list 2>/dev/null | awk '{{for (i=4; i<=NF; i++) {{p=$i; {SPLIT_NAME} print \"P\\t\" n \"\\t\" v \" \" p}}}}'; \
             for p in /root/.nix-profile /nix/var/nix/profiles/system; do \
               if [ -e $p ]; then nix-store -q --requisites $p | sed 's/^/L\\t/'; fi; done"
        )
    }

    fn newest_only_repository(&self) -> Vec<String> {
        multi_user().newest_only_repository()
    }

    fn package_dir(&self, package: &str) -> Option<String> {
        multi_user().package_dir(package)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_replaces_same_named_elements_then_installs_the_attributes() {
        let cmd = NixProfile.install(&[PackageRef::parse("app=2.0"), PackageRef::parse("liba")]);
        assert!(cmd.contains("names=' app liba '"), "{cmd}");
        assert!(
            cmd.ends_with("profile install -f /var/lib/mistake-cost/nix/default.nix app_2_0 liba"),
            "{cmd}"
        );
        assert!(cmd.contains("profile remove $old"), "{cmd}");
    }

    #[test]
    fn the_view_and_install_split_names_as_nix_does() {
        // The awk program applied to a line of `nix profile list`.
        let prog = format!("{{for (i=4; i<=NF; i++) {{p=$i; {SPLIT_NAME} print n \"|\" v}}}}");
        let out = std::process::Command::new("awk")
            .arg(prog)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(
                    b"0 - - /nix/store/ajbbhdzpcbbdrny5dis4jf44gpa39gda-fastmath-1.0\n1 - - /nix/store/abc-lib-b-2.0.1\n",
                )?;
                c.wait_with_output()
            });
        let Ok(out) = out else { return }; // no awk on this machine
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "fastmath|1.0\nlib-b|2.0.1\n"
        );
    }
}
