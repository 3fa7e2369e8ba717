//! apt/dpkg with a flat local repository of the scenario's .debs.

use super::{op_packages, upgrade_rollback, Approach, Check, ConfigCommands};
use crate::docker::images::Family;
use crate::docker::SecurityProfile;
use crate::scenario::{Ecosystem, PackageRef, Scenario};

pub struct Apt;

impl Approach for Apt {
    fn name(&self) -> &'static str {
        "apt"
    }

    fn description(&self) -> &'static str {
        "apt/dpkg with a local repository of generated .debs"
    }

    fn family(&self) -> Family {
        Family::Apt
    }

    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Apt
    }

    fn colour(&self) -> (u8, u8, u8) {
        (0xe4, 0x1a, 0x1c)
    }

    fn prepare(&self) -> Vec<String> {
        vec![
            "echo 'deb [trusted=yes] file:/fixtures/apt ./' > /etc/apt/sources.list.d/mistake-cost.list".into(),
            "apt-get update -qq".into(),
        ]
    }

    /// apt resolves a dependency to its candidate (the highest version)
    /// only: `app=1.0` needing `liba (= 1.0)` fails while liba 2.0 exists,
    /// so every dependency with several versions is pinned on the command
    /// line, as a person would have to.
    fn pins(&self, s: &Scenario, packages: &[PackageRef]) -> Vec<PackageRef> {
        let mut out = packages.to_vec();
        for p in s.closure_specs(packages) {
            if s.has_versions(p.name.get_ref()) && !out.iter().any(|r| &r.name == p.name.get_ref())
            {
                out.push(PackageRef::of(p));
            }
        }
        out
    }

    fn install(&self, packages: &[PackageRef]) -> String {
        let args: Vec<String> = packages.iter().map(|p| p.to_string()).collect();
        format!(
            "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {}",
            args.join(" ")
        )
    }

    /// Finish what dpkg left half-done (apt asks for exactly this after an
    /// interruption), then undo: purge what was asked for and the
    /// dependencies apt marked automatic, or, after an upgrade, downgrade
    /// every set-up package to its old version (the local repository still
    /// has it: the downgrade is possible here, the fair case).
    fn default_playbook(&self, s: &Scenario) -> Vec<String> {
        if let Some(old) = upgrade_rollback(s) {
            let pins: Vec<String> = old.iter().map(|p| PackageRef::of(p).to_string()).collect();
            return vec![
                "DEBIAN_FRONTEND=noninteractive dpkg --configure -a".into(),
                // --reinstall: a package the crash left half-installed is
                // already "at" 1.0 for apt, which then leaves it broken;
                // dpkg --audit says it "must be reinstalled".
                format!("DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends --allow-downgrades --reinstall {}", pins.join(" ")),
            ];
        }
        vec![
            "DEBIAN_FRONTEND=noninteractive dpkg --configure -a".into(),
            format!(
                "DEBIAN_FRONTEND=noninteractive apt-get purge -y {}",
                op_packages(s).join(" ")
            ),
            "DEBIAN_FRONTEND=noninteractive apt-get autoremove --purge -y".into(),
        ]
    }

    /// Finish what dpkg left half-done, purge what the recorded set did
    /// not have, and reinstall the rest at its version (`--reinstall`, as
    /// in the upgrade playbook: a half-installed package already counts as
    /// that version).
    fn restore_packages(&self, remove: &[&str], pins: &[PackageRef]) -> Option<Vec<String>> {
        let mut cmds = vec!["DEBIAN_FRONTEND=noninteractive dpkg --configure -a".to_string()];
        if !remove.is_empty() {
            cmds.push(format!(
                "DEBIAN_FRONTEND=noninteractive apt-get purge -y {}",
                remove.join(" ")
            ));
        }
        if !pins.is_empty() {
            let args: Vec<String> = pins.iter().map(|p| p.to_string()).collect();
            cmds.push(format!(
                "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends --allow-downgrades --reinstall {}",
                args.join(" ")
            ));
        }
        Some(cmds)
    }

    fn checks(&self, s: &Scenario) -> Vec<Check> {
        vec![
            Check {
                name: "dpkg --audit".into(),
                command: "dpkg --audit".into(),
                quiet: true,
            },
            Check {
                name: "apt-get check".into(),
                command: "apt-get check -qq".into(),
                quiet: false,
            },
            Check {
                name: "dpkg -V".into(),
                command: dpkg_verify(&s.package_names()),
                quiet: true,
            },
        ]
    }

    fn configuration(&self, _: SecurityProfile) -> String {
        "apt-get + dpkg as root, a flat local repository (trusted=yes), no other sources".into()
    }

    /// A global install: the project's packages land in /usr/share.
    fn experiment(&self, _dir: &str, packages: &[PackageRef]) -> Option<super::Project> {
        let check = super::versions_check(packages, |n| format!("/usr/share/{n}/VERSION"));
        Some(super::global_project(self, packages, check))
    }

    fn package_view(&self) -> String {
        r"dpkg-query -W -f='P\t${Package}\t${Version} ${db:Status-Abbrev}\n'".into()
    }

    fn newest_only_repository(&self) -> Vec<String> {
        vec![
            "echo 'deb [trusted=yes] file:/fixtures/apt-newest ./' > /etc/apt/sources.list.d/mistake-cost.list".into(),
            "apt-get update -qq".into(),
        ]
    }

    fn package_dir(&self, package: &str) -> Option<String> {
        Some(format!("echo /usr/share/{package}"))
    }

    fn config_recoveries(&self) -> &'static [&'static str] {
        &["backup", "etckeeper", "reinstall"]
    }

    /// Edit in place, the traditional way. `backup`: the operator copied
    /// the working file when the site was set up (the diligent case) and
    /// copies it back. `etckeeper`: /etc is in git (Debian's etckeeper,
    /// installed long before; the best traditional tool, the fair
    /// baseline); the operator committed the wanted edit and checks the
    /// broken file out again. `reinstall`: no copy was kept, and the
    /// package's default is all there is to go back to.
    fn config_commands(&self, recovery: &str) -> Option<ConfigCommands> {
        use crate::service::{APPLY, FIXTURES, SITE_CONF};
        let (file, install, commit, recover) = match recovery {
            "backup" => (
                SITE_CONF,
                format!("cp -p {SITE_CONF} {BACKUP}"),
                None,
                vec![format!("cp {BACKUP} {SITE_CONF}")],
            ),
            "etckeeper" => (
                SITE_CONF,
                // Its postinst runs `etckeeper init` and commits /etc.
                format!("DEBIAN_FRONTEND=noninteractive dpkg -i {ETCKEEPER_DEBS}/*.deb"),
                Some("etckeeper commit 'site: wanted edit' >/dev/null".to_string()),
                vec![format!(
                    "etckeeper vcs checkout -- {}",
                    SITE_CONF.trim_start_matches("/etc/")
                )],
            ),
            // The site lives in Debian's own default-site conffile, edited
            // in place with no copy kept; the way back is the package's
            // version of that file (what `apt-get install --reinstall -o
            // Dpkg::Options::=--force-confmiss nginx-common` runs, from the
            // image's copy of the .deb: the trial has no network).
            "reinstall" => (
                DEFAULT_SITE,
                format!("ln -sfn {DEFAULT_SITE} /etc/nginx/sites-enabled/default"),
                None,
                vec![
                    format!("rm -f {DEFAULT_SITE}"),
                    format!("DEBIAN_FRONTEND=noninteractive dpkg -i --force-confmiss {NGINX_COMMON_DEB}/nginx-common_*.deb"),
                ],
            ),
            _ => return None,
        };
        let edit = |fixture: &str| format!("cp {FIXTURES}/{fixture} {file}");
        Some(ConfigCommands {
            install: vec![edit("good.conf"), install],
            wanted: [Some(format!("{} && {APPLY}", edit("wanted.conf"))), commit]
                .into_iter()
                .flatten()
                .collect(),
            change: format!("{} && {APPLY}", edit("bad.conf")),
            recover: recover.into_iter().chain([APPLY.to_string()]).collect(),
        })
    }
}

/// Debian's default site, a conffile of nginx-common.
const DEFAULT_SITE: &str = "/etc/nginx/sites-available/default";
/// nginx-common's .deb in the apt image (containers/apt/Dockerfile).
const NGINX_COMMON_DEB: &str = "/var/cache/mistake-cost/nginx-common";

/// The operator's backup of the site's configuration.
const BACKUP: &str = "/root/site.conf.bak";
/// etckeeper and git as .debs in the apt image (containers/apt/Dockerfile).
const ETCKEEPER_DEBS: &str = "/var/cache/mistake-cost/etckeeper";

/// `dpkg -V` of the scenario's packages that dpkg knows as (partly)
/// installed: any line it prints is a file that differs from the package's
/// md5sums (missing, or changed content).
fn dpkg_verify(names: &[String]) -> String {
    format!(
        "for p in {}; do s=$(dpkg-query -W -f='${{db:Status-Abbrev}}' \"$p\" 2>/dev/null) || continue; \
         case \"$s\" in ?n*|?c*) ;; *) dpkg -V \"$p\";; esac; done",
        names.join(" ")
    )
}
