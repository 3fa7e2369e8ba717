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

    /// Edit in place, the traditional way: each file written over by hand
    /// (`service::put_stage`). `backup`: the operator copied the managed
    /// files when the service was set up (the diligent case) and copies
    /// them back (removing a file the backup did not have). `etckeeper`:
    /// /etc is in git (Debian's etckeeper, installed long before; the best
    /// traditional tool, the fair baseline); the operator committed the
    /// wanted edit and checks the files out again (removing one git does
    /// not know). `reinstall`: no copy was kept, and the package's default
    /// is all there is to go back to: the built-in nginx mistakes only,
    /// whose site then lives in Debian's default-site conffile.
    fn config_commands(
        &self,
        recovery: &str,
        plan: &crate::service::ConfigPlan,
    ) -> Option<ConfigCommands> {
        use crate::service::{put_stage, quote, APPLY, SITE_CONF, STAGES};
        let paths = plan.paths();
        let put = |stage: &str| put_stage(&paths, stage);
        let applied = |stage: &str| format!("{} && {APPLY}", put(stage));
        let wanted = |extra: Option<String>| -> Vec<String> {
            let edit = (!plan.wanted.is_empty()).then(|| applied("wanted"));
            edit.into_iter().chain(extra).collect()
        };
        let for_each = |f: &dyn Fn(&str) -> String| -> String {
            paths.iter().map(|p| f(p)).collect::<Vec<_>>().join(" && ")
        };
        match recovery {
            "backup" => Some(ConfigCommands {
                install: vec![
                    put("good"),
                    for_each(&|p| {
                        let (from, to) = (quote(p), quote(&format!("{BACKUP}{p}")));
                        format!("if [ -e {from} ]; then mkdir -p \"$(dirname {to})\" && cp -p {from} {to}; fi")
                    }),
                ],
                wanted: wanted(None),
                change: applied("bad"),
                recover: vec![
                    for_each(&|p| {
                        let (from, to) = (quote(&format!("{BACKUP}{p}")), quote(p));
                        format!("if [ -e {from} ]; then cp {from} {to}; else rm -f {to}; fi")
                    }),
                    APPLY.to_string(),
                ],
            }),
            "etckeeper" => Some(ConfigCommands {
                // Its postinst runs `etckeeper init` and commits /etc.
                install: vec![
                    put("good"),
                    format!("DEBIAN_FRONTEND=noninteractive dpkg -i {ETCKEEPER_DEBS}/*.deb"),
                ],
                wanted: wanted(Some(
                    "etckeeper commit 'the wanted edit' >/dev/null || true".to_string(),
                )),
                change: applied("bad"),
                recover: vec![
                    for_each(&|p| {
                        let rel = quote(p.trim_start_matches("/etc/"));
                        format!(
                            "if git -C /etc cat-file -e HEAD:{rel} 2>/dev/null; then etckeeper vcs checkout HEAD -- {rel}; else rm -f {}; fi",
                            quote(p)
                        )
                    }),
                    APPLY.to_string(),
                ],
            }),
            // The site lives in Debian's own default-site conffile, edited
            // in place with no copy kept; the way back is the package's
            // version of that file (what `apt-get install --reinstall -o
            // Dpkg::Options::=--force-confmiss nginx-common` runs, from the
            // image's copy of the .deb: the trial has no network).
            "reinstall" if paths == [SITE_CONF] => {
                let stage = |s: &str| format!("cp {STAGES}/{s}{SITE_CONF} {DEFAULT_SITE}");
                Some(ConfigCommands {
                    install: vec![
                        stage("good"),
                        format!("ln -sfn {DEFAULT_SITE} /etc/nginx/sites-enabled/default"),
                    ],
                    wanted: (!plan.wanted.is_empty())
                        .then(|| format!("{} && {APPLY}", stage("wanted")))
                        .into_iter()
                        .collect(),
                    change: format!("{} && {APPLY}", stage("bad")),
                    recover: vec![
                        format!("rm -f {DEFAULT_SITE}"),
                        format!("DEBIAN_FRONTEND=noninteractive dpkg -i --force-confmiss {NGINX_COMMON_DEB}/nginx-common_*.deb"),
                        APPLY.to_string(),
                    ],
                })
            }
            _ => None,
        }
    }

    /// A careful operator with parallel SSH: on every node at once, the
    /// backup's edit in place and the reload (the backup copy was taken at
    /// set-up); the fleet rollback copies the backups back and reloads.
    /// `dead-man`: the same, with a switch armed on each node before the
    /// edit: unless the operator cancels it (after the watch found the
    /// fleet healthy, or in the fleet rollback) the node restores its
    /// backups by itself after deploy-rs's confirm timeout, so a node the
    /// operator can no longer reach still comes back.
    fn fleet_commands(
        &self,
        method: &str,
        plan: &crate::service::ConfigPlan,
        _fleet: &crate::scenario::FleetSpec,
    ) -> Option<super::fleet::FleetCommands> {
        use super::fleet::{parallel_ssh, FleetCommands, FleetRollback, CONFIRM_TIMEOUT_S};
        use crate::service::quote;
        let config = self.config_commands("backup", plan)?;
        let restore = config.recover.join(" && ");
        let (node_change, node_rollback, node_confirm) = match method {
            "backup" => (config.change, restore, String::new()),
            "dead-man" => {
                let cancel =
                    format!("kill \"$(cat {DEAD_MAN}.pid)\" 2>/dev/null; rm -f {DEAD_MAN}.pid");
                let timer = format!(
                    "sleep {CONFIRM_TIMEOUT_S}; rm -f {DEAD_MAN}.pid; {restore}; echo \"fired $?\""
                );
                (
                    format!(
                        "{cancel}; setsid sh -c {} < /dev/null > {DEAD_MAN}.log 2>&1 & echo $! > {DEAD_MAN}.pid; {}",
                        quote(&timer),
                        config.change
                    ),
                    format!("{cancel}; {restore}"),
                    cancel,
                )
            }
            _ => return None,
        };
        let confirm = if node_confirm.is_empty() {
            String::new()
        } else {
            parallel_ssh("confirm.sh", "", "", "confirm")
        };
        Some(FleetCommands {
            host_tools: Vec::new(),
            deployer_setup: Vec::new(),
            first_deploy: Vec::new(),
            rollout: parallel_ssh("change.sh", "", "", "rollout"),
            rollback: FleetRollback::Command(parallel_ssh("rollback.sh", "", "", "rollback")),
            confirm,
            node_change,
            node_rollback,
            node_self_restore: if method == "dead-man" {
                format!(
                    "grep -q '^fired' {DEAD_MAN}.log 2>/dev/null && echo 'dead-man switch'; true"
                )
            } else {
                String::new()
            },
            node_confirm,
        })
    }
}

/// The dead-man switch's files on a node (`.pid` while armed, `.log`).
const DEAD_MAN: &str = "/run/mistake-cost-dead-man";

/// Debian's default site, a conffile of nginx-common.
const DEFAULT_SITE: &str = "/etc/nginx/sites-available/default";
/// nginx-common's .deb in the apt image (containers/apt/Dockerfile).
const NGINX_COMMON_DEB: &str = "/var/cache/mistake-cost/nginx-common";

/// The operator's backup copies of the managed files, under their own paths.
const BACKUP: &str = "/root/config-backup";
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
