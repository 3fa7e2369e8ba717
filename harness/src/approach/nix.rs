//! nix-env into root's profile, from the scenario's generated derivations,
//! in two configurations on the same image (containers/nix/Dockerfile):
//! multi-user (`nix`: daemon, build users, sandbox when the run's security
//! profile allows) and single-user (`nix-single-user`: root builds as root).

use super::{Approach, Check, ConfigCommands};
use crate::docker::images::Family;
use crate::docker::SecurityProfile;
use crate::scenario::{Ecosystem, PackageRef, Scenario};

pub struct Nix {
    multi_user: bool,
}

impl Nix {
    pub fn multi_user() -> Self {
        Nix { multi_user: true }
    }
    pub fn single_user() -> Self {
        Nix { multi_user: false }
    }
}

/// Where the container's command leaves the daemon's pid and log: the
/// harness's scratch folder, which snapshots never include.
pub const DAEMON_PID_FILE: &str = "/run/mistake-cost/nix-daemon.pid";
const DAEMON_LOG: &str = "/run/mistake-cost/nix-daemon.log";
const DAEMON_SOCKET: &str = "/nix/var/nix/daemon-socket/socket";

/// What the sandbox needs to see besides the store: the builders are
/// `/bin/sh` scripts using coreutils from the image.
const SANDBOX_PATHS: &str = "/bin /usr /lib /lib64";

/// The profile either has no generation yet or must resolve to a valid
/// closure: a dangling or half-written profile fails here.
pub(super) const PROFILE_CHECK: &str = "if [ -e /nix/var/nix/profiles/default ] || [ -L /nix/var/nix/profiles/default ]; then \
    p=$(readlink -f /root/.nix-profile) && [ -e \"$p\" ] && nix-store -q --requisites \"$p\" >/dev/null; fi";

/// Every package the profile lists is a valid store path.
const PROFILE_ENTRIES_CHECK: &str = "nix-env -q --out-path | while read -r _ p; do nix-store --check-validity \"$p\" || exit 1; done";

impl Approach for Nix {
    fn name(&self) -> &'static str {
        if self.multi_user {
            "nix"
        } else {
            "nix-single-user"
        }
    }

    fn description(&self) -> &'static str {
        if self.multi_user {
            // As the installer and NixOS set Nix up.
            "nix-env into root's profile, multi-user: builds by nix-daemon as nixbld build users, sandboxed when the security profile allows"
        } else {
            "nix-env as root with no build users and no sandbox: the labelled variant many Docker images use"
        }
    }

    fn family(&self) -> Family {
        Family::Nix
    }

    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Nix
    }

    /// nix-single-user's is the green the figures gave it before approaches
    /// declared colours, so old and new figures match.
    fn colour(&self) -> (u8, u8, u8) {
        if self.multi_user {
            (0x37, 0x7e, 0xb8)
        } else {
            (0x4d, 0xaf, 0x4a)
        }
    }

    fn env(&self) -> Vec<String> {
        if self.multi_user {
            vec!["NIX_REMOTE=daemon".into()]
        } else {
            vec!["NIX_CONF_DIR=/etc/nix/single-user".into()]
        }
    }

    /// The daemon runs as the container's service; its sandbox setting is
    /// given on its command line, so the one image serves both profiles.
    fn container_command(&self, profile: SecurityProfile) -> Vec<String> {
        if !self.multi_user {
            return vec!["sleep".into(), "infinity".into()];
        }
        let sandbox = if profile.allows_build_sandbox() {
            format!("--option sandbox true --option extra-sandbox-paths '{SANDBOX_PATHS}'")
        } else {
            "--option sandbox false".into()
        };
        // The folder exists before the pid is written: `mkdir && daemon &`
        // would put the mkdir in the background, racing the pid file.
        let script = format!(
            "mkdir -p /run/mistake-cost && rm -f {DAEMON_SOCKET} && \
             {{ env -u NIX_REMOTE nix-daemon {sandbox} >>{DAEMON_LOG} 2>&1 & echo $! > {DAEMON_PID_FILE}; }} && exec sleep infinity"
        );
        vec!["sh".into(), "-c".into(), script]
    }

    /// The daemon's pid is recorded (the nemesis attaches to it), its socket
    /// exists and it answers a store query (10 s at most).
    fn ready(&self) -> Option<String> {
        self.multi_user.then(|| {
            format!(
                "i=0; until [ -s {DAEMON_PID_FILE} ] && [ -S {DAEMON_SOCKET} ] && nix-store --gc --print-roots >/dev/null 2>&1; do \
                 i=$((i+1)); [ $i -gt 500 ] && {{ echo 'nix-daemon did not answer within 10 s' >&2; cat {DAEMON_LOG} >&2; exit 1; }}; sleep 0.02; done"
            )
        })
    }

    fn configuration(&self, profile: SecurityProfile) -> String {
        if self.multi_user {
            format!(
                "multi-user: nix-daemon, build-users-group = nixbld (nixbld1-8), sandbox = {}, clients NIX_REMOTE=daemon",
                if profile.allows_build_sandbox() { format!("true (extra-sandbox-paths = {SANDBOX_PATHS})") } else { "false (the security profile does not allow it)".into() }
            )
        } else {
            "single-user: root builds as root, build-users-group = (empty), sandbox = false".into()
        }
    }

    fn generation_rollback(&self) -> Option<String> {
        Some("nix-env --rollback".into())
    }

    fn gc_command(&self) -> Option<String> {
        Some("nix-store --gc".into())
    }

    fn worker_pid_file(&self) -> Option<&'static str> {
        self.multi_user.then_some(DAEMON_PID_FILE)
    }

    fn install(&self, packages: &[PackageRef]) -> String {
        let attrs: Vec<String> = packages
            .iter()
            .map(|p| match &p.version {
                Some(v) => format!("-A {}", crate::payload::nix_attr(&p.name, v)),
                None => format!("-A {}", p.name),
            })
            .collect();
        format!(
            "nix-env -f {EXPRESSIONS}/default.nix -i {}",
            attrs.join(" ")
        )
    }

    fn default_playbook(&self, _: &Scenario) -> Vec<String> {
        vec!["nix-env --rollback".into()]
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
                command: PROFILE_ENTRIES_CHECK.into(),
                quiet: false,
            },
        ]
    }

    /// A global install into root's profile (nix-env -i).
    fn experiment(&self, _dir: &str, packages: &[PackageRef]) -> Option<super::Project> {
        let check = super::versions_check(packages, |n| {
            format!("/root/.nix-profile/share/{n}/VERSION")
        });
        Some(super::global_project(self, packages, check))
    }

    fn package_view(&self) -> String {
        // nix-env prints `name-version  out-path`: split the name from the
        // version so an upgrade is one changed package, as with dpkg and pip.
        "nix-env -q --out-path 2>/dev/null | awk '{n=$1; v=\"\"; if (match(n, /-[0-9][^-]*$/)) {v=substr(n, RSTART+1); n=substr(n, 1, RSTART-1)} print \"P\\t\" n \"\\t\" v \" \" $2}'; \
         for p in /root/.nix-profile /nix/var/nix/profiles/system; do \
           if [ -e $p ]; then nix-store -q --requisites $p | sed 's/^/L\\t/'; fi; done"
            .into()
    }

    /// The mechanics of `nixos-rebuild switch` for one file, simulated:
    /// build a system generation, make it the system profile's next
    /// generation, activate it (here: `/etc/nginx/conf.d/site.conf` links
    /// into the current generation, as NixOS's /etc links into
    /// /etc/static) and apply. Recovery is `nixos-rebuild switch
    /// --rollback`: the profile's previous generation, activated.
    fn newest_only_repository(&self) -> Vec<String> {
        vec![format!("ln -sfn /fixtures/nix-newest {EXPRESSIONS}")]
    }

    /// Through root's profile, so an upgrade or a rollback changes it: the
    /// profile's own path, which ~/.nix-profile links to, because nginx's
    /// workers (www-data) cannot enter /root.
    fn package_dir(&self, package: &str) -> Option<String> {
        Some(format!(
            "echo /nix/var/nix/profiles/default/share/{package}"
        ))
    }

    fn config_recoveries(&self) -> &'static [&'static str] {
        // Only the multi-user set-up (NixOS's).
        if self.multi_user {
            &["rollback"]
        } else {
            &[]
        }
    }

    /// NixOS's way, simulated: each configuration is a generation of the
    /// system profile holding its files, switched to and activated (each
    /// managed file a link into the profile, one the generation lacks
    /// removed, as activation does for /etc); the way back is the
    /// profile's previous generation, activated again.
    fn config_commands(
        &self,
        recovery: &str,
        plan: &crate::service::ConfigPlan,
    ) -> Option<ConfigCommands> {
        use crate::service::{APPLY, FIXTURES};
        if !self.config_recoveries().contains(&recovery) {
            return None;
        }
        let switch = |stage: &str| {
            format!("p=$(nix-build --no-out-link {FIXTURES}/{stage}.nix) && nix-env -p {SYSTEM_PROFILE} --set \"$p\"")
        };
        let activate = activation(plan);
        let applied = |stage: &str| format!("{} && {activate} && {APPLY}", switch(stage));
        Some(ConfigCommands {
            install: vec![format!("{} && {activate}", switch("good"))],
            wanted: (!plan.wanted.is_empty())
                .then(|| applied("wanted"))
                .into_iter()
                .collect(),
            change: applied("bad"),
            recover: vec![
                format!("nix-env -p {SYSTEM_PROFILE} --rollback"),
                activate.clone(),
                APPLY.into(),
            ],
        })
    }

    fn fleet_commands(
        &self,
        method: &str,
        plan: &crate::service::ConfigPlan,
        fleet: &crate::scenario::FleetSpec,
    ) -> Option<super::fleet::FleetCommands> {
        self.fleet(method, plan, fleet)
    }
}

impl Nix {
    /// The fleet's way (`fleet_commands`): the new generation built once
    /// on the deployer, its closure copied to every node in parallel
    /// (`nix-copy-closure`, as `nixos-rebuild --target-host` does), each
    /// node's system profile switched to it and activated; the fleet
    /// rollback is `nix-env --rollback` and the activation on every node.
    /// `deploy-rs`: deploy-rs's `deploy` (`nix_deploy_rs.rs`).
    fn fleet(
        &self,
        method: &str,
        plan: &crate::service::ConfigPlan,
        fleet: &crate::scenario::FleetSpec,
    ) -> Option<super::fleet::FleetCommands> {
        use super::fleet::{parallel_ssh, FleetCommands, FleetRollback};
        use crate::service::{APPLY, FIXTURES};
        if method == "deploy-rs" && self.multi_user {
            return Some(super::nix_deploy_rs::commands(fleet, &activation(plan)));
        }
        let config = self
            .config_commands(method, plan)
            .filter(|_| method == "rollback")?;
        let copy_and_switch = parallel_ssh(
            "change.sh",
            "nix-copy-closure --to \"$n\" \"$p\"",
            "\"$p\"",
            "rollout",
        );
        Some(FleetCommands {
            host_tools: Vec::new(),
            deployer_setup: Vec::new(),
            first_deploy: Vec::new(),
            rollout: format!(
                "p=$(nix-build --no-out-link {FIXTURES}/bad.nix) || exit 1\n{copy_and_switch}"
            ),
            rollback: FleetRollback::Command(parallel_ssh("rollback.sh", "", "", "rollback")),
            confirm: String::new(),
            node_change: format!(
                "nix-env -p {SYSTEM_PROFILE} --set \"$1\" && {} && {APPLY}",
                activation(plan)
            ),
            node_rollback: config.recover.join("\n"),
            node_confirm: String::new(),
            node_self_restore: String::new(),
        })
    }
}

/// Activation, as NixOS's for /etc: each managed file a link into the
/// system profile, one the generation lacks removed.
fn activation(plan: &crate::service::ConfigPlan) -> String {
    use crate::service::quote;
    plan.paths()
        .iter()
        .map(|p| {
            let (from, to) = (quote(&format!("{SYSTEM_PROFILE}{p}")), quote(p));
            format!("if [ -e {from} ]; then mkdir -p \"$(dirname {to})\" && ln -sfn {from} {to}; else rm -f {to}; fi")
        })
        .collect::<Vec<_>>()
        .join(" && ")
}

/// The scenario's expression, through a link the nix image points at
/// /fixtures/nix (containers/nix/Dockerfile), as a channel: a repository
/// that drops old versions moves it to /fixtures/nix-newest.
pub(super) const EXPRESSIONS: &str = "/var/lib/mistake-cost/nix";

/// The system profile of `configure` scenarios: one generation per switch.
const SYSTEM_PROFILE: &str = "/nix/var/nix/profiles/system";
