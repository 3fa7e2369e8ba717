//! npm global installs (`npm install -g`) with Debian's npm in the apt
//! image, from the scenario's `npm pack` tarballs (payload/npm.rs): what
//! people run for a command-line tool written in JavaScript. No registry:
//! every dependency is a `file:` tarball, and npm is told not to reach
//! for the network (audit, funding, update checks, `--offline`). As root
//! into /usr/local, or as an unprivileged user into a prefix in their home,
//! the way npm's documentation says to avoid sudo.

use super::{upgrade_rollback, Approach, Check, RunAs};
use crate::docker::images::Family;
use crate::docker::SecurityProfile;
use crate::payload::npm::{file_name, REPOSITORY};
use crate::scenario::{Ecosystem, PackageRef, Scenario};

pub struct NpmGlobal {
    /// Root (prefix /usr/local) or the user (prefix [`USER_PREFIX`]).
    run_as: RunAs,
}

/// Debian's npm installs global packages under the `/usr/local` prefix.
const GLOBAL_MODULES: &str = "/usr/local/lib/node_modules";

/// The user's global prefix, as npm's documentation sets it up to avoid
/// sudo ("Resolving EACCES permissions errors"): `npm config set prefix
/// ~/.npm-global`, and `~/.npm-global/bin` on `PATH` (in `~/.profile`).
const USER_PREFIX: &str = ".npm-global";

/// `npm` with what a registry-less machine needs (the same for every
/// command, so the cache and log folders are npm's defaults).
const NPM: &str = "npm --offline --no-audit --no-fund --no-update-notifier";

/// The global packages as `P<TAB>name<TAB>version` lines, from each
/// top-level folder's package.json (what `npm ls -g --depth=0` lists); a
/// folder without a readable package.json is listed as broken, by path.
const NPM_VIEW: &str = r#"const fs = require("fs"), path = require("path");
const root = process.argv[1];
let names = [];
try { names = fs.readdirSync(root); } catch (e) { process.exit(0); }
const dirs = [];
for (const n of names.sort()) {
  if (n.startsWith("@")) {
    for (const m of fs.readdirSync(path.join(root, n)).sort()) dirs.push(path.join(root, n, m));
  } else if (!n.startsWith(".")) {
    dirs.push(path.join(root, n));
  }
}
for (const d of dirs) {
  try {
    const p = JSON.parse(fs.readFileSync(path.join(d, "package.json"), "utf8"));
    console.log("P\t" + p.name + "\t" + p.version);
  } catch (e) {
    console.log("P\t?" + d + "\tbroken");
  }
}"#;

/// Every global package's dependencies, recursively, found where node
/// resolves them (its own `node_modules`, then its parents' up to the
/// global root) at the version its `file:` spec names. `npm ls -g --all`
/// cannot say this here: without a registry's metadata npm 9 calls every
/// `file:` tarball dependency "invalid", on a clean install too (checked
/// in the image). Prints one line per problem and exits 1 if any.
const NPM_DEPS_CHECK: &str = r#"const fs = require("fs"), path = require("path");
const root = process.argv[1];
const bad = [], seen = new Set();
function semver(v) {
  const parts = v.split(".");
  while (parts.length < 3) parts.push("0");
  const rest = parts.slice(3);
  return parts.slice(0, 3).join(".") + (rest.length ? "+" + rest.join(".") : "");
}
function read(dir) {
  try { return JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")); }
  catch (e) { bad.push("unreadable " + dir + "/package.json"); return null; }
}
function check(dir) {
  if (seen.has(dir)) return;
  seen.add(dir);
  const p = read(dir);
  if (!p) return;
  for (const [name, spec] of Object.entries(p.dependencies || {})) {
    let found = null;
    for (let cur = dir; ; cur = path.dirname(cur)) {
      const c = path.join(cur, "node_modules", name);
      if (fs.existsSync(c)) { found = c; break; }
      if (cur === root || cur === path.dirname(cur)) break;
    }
    if (!found) { bad.push("missing " + name + " (needed by " + p.name + ")"); continue; }
    const want = /-([0-9.]+)[.]tgz$/.exec(spec);
    const got = read(found);
    if (got && want && got.version !== semver(want[1]))
      bad.push(name + " " + got.version + " where " + p.name + " needs " + semver(want[1]));
    check(found);
  }
}
let names = [];
try { names = fs.readdirSync(root); } catch (e) { process.exit(0); }
for (const n of names.sort()) if (!n.startsWith(".")) check(path.join(root, n));
for (const b of bad) console.log(b);
process.exit(bad.length ? 1 : 0);"#;

impl NpmGlobal {
    pub fn root() -> Self {
        NpmGlobal {
            run_as: RunAs::Root,
        }
    }
    /// `npm install -g` as the unprivileged user, into a prefix in their home.
    pub fn user() -> Self {
        NpmGlobal {
            run_as: RunAs::User,
        }
    }

    /// The global prefix's folder (npm's own default for root).
    fn prefix(&self) -> Option<String> {
        match self.run_as {
            RunAs::Root => None,
            RunAs::User => Some(format!("{}/{USER_PREFIX}", self.run_as.home())),
        }
    }

    /// Where the global packages go.
    fn modules(&self) -> String {
        self.prefix().map_or_else(
            || GLOBAL_MODULES.into(),
            |p| format!("{p}/lib/node_modules"),
        )
    }

    /// `npm ARGS`, run as the approach's user.
    fn npm(&self, args: &str) -> String {
        format!("{}{NPM} {args}", self.run_as.prefix())
    }
}

impl Approach for NpmGlobal {
    fn name(&self) -> &'static str {
        match self.run_as {
            RunAs::Root => "npm-global",
            RunAs::User => "npm-global-user",
        }
    }

    fn description(&self) -> &'static str {
        match self.run_as {
            RunAs::Root => "npm install -g (Debian's npm) into /usr/local from local tarballs: a global install like pip's",
            RunAs::User => "npm install -g (Debian's npm) as an unprivileged user into a prefix in their home (~/.npm-global, no sudo): tells \"not root\" from Nix's build users",
        }
    }

    /// The traditional image: Debian's npm is installed there beside pip.
    fn family(&self) -> Family {
        Family::Apt
    }

    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Npm
    }

    fn colour(&self) -> (u8, u8, u8) {
        match self.run_as {
            RunAs::Root => (0xa6, 0x56, 0x28),
            RunAs::User => (0xd9, 0xa4, 0x6c),
        }
    }

    fn configuration(&self, _: SecurityProfile) -> String {
        use crate::vocab::{USER, USER_UID};
        match self.prefix() {
            None => format!("Debian's npm 9, npm install -g as root into /usr/local, from tarballs under {REPOSITORY} (file: dependencies), --offline --no-audit --no-fund"),
            Some(p) => format!("Debian's npm 9, npm install -g as {USER} (uid {USER_UID}, runuser, no sudo) into the prefix {p} (npm config set prefix; {p}/bin on PATH), from tarballs under {REPOSITORY} (file: dependencies), --offline --no-audit --no-fund"),
        }
    }

    /// The user's `PATH` has the prefix's `bin` (npm's documented set-up).
    fn path_dirs(&self) -> Vec<String> {
        match self.prefix() {
            None => self.run_as.path_dirs(&[]),
            Some(p) => self.run_as.path_dirs(&[&format!("{p}/bin")]),
        }
    }

    /// As the user, the steps of npm's documentation ("Resolving EACCES
    /// permissions errors"): the prefix's folder made, set in npm's
    /// configuration (`~/.npmrc`), its `bin` on the login `PATH`
    /// (`~/.profile`). Nothing for root.
    fn prepare(&self) -> Vec<String> {
        let mut steps = self.run_as.create();
        if let Some(p) = self.prefix() {
            let profile = format!("{}/.profile", self.run_as.home());
            steps.push(format!("{}mkdir {p}", self.run_as.prefix()));
            steps.push(self.npm(&format!("config set prefix {p}")));
            steps.push(format!(
                "{}sh -c 'echo \"export PATH={p}/bin:\\$PATH\" >> {profile}'",
                self.run_as.prefix()
            ));
        }
        steps
    }

    /// Every reference pinned to a declared version: a tarball is named by
    /// its version (a name alone is the highest, as for Nix and apt).
    fn pins(&self, s: &Scenario, packages: &[PackageRef]) -> Vec<PackageRef> {
        packages
            .iter()
            .map(|r| s.resolve(r).map_or_else(|| r.clone(), PackageRef::of))
            .collect()
    }

    fn install(&self, packages: &[PackageRef]) -> String {
        let tarballs: Vec<String> = packages
            .iter()
            .map(|p| {
                format!(
                    "{REPOSITORY}/{}",
                    file_name(&p.name, p.version.as_deref().unwrap_or(""))
                )
            })
            .collect();
        self.npm(&format!("install -g {}", tarballs.join(" ")))
    }

    /// Uninstall the operation's packages (their dependencies are nested
    /// inside them and go with them); after an upgrade, install the old
    /// versions again.
    fn default_playbook(&self, s: &Scenario) -> Vec<String> {
        if let Some(old) = upgrade_rollback(s) {
            let pins: Vec<PackageRef> = old.iter().map(|p| PackageRef::of(p)).collect();
            return vec![self.install(&pins)];
        }
        let names: Vec<String> = s.operation_refs().into_iter().map(|r| r.name).collect();
        vec![self.npm(&format!("uninstall -g {}", names.join(" ")))]
    }

    fn restore_packages(&self, remove: &[&str], pins: &[PackageRef]) -> Option<Vec<String>> {
        let mut cmds = Vec::new();
        if !remove.is_empty() {
            cmds.push(self.npm(&format!("uninstall -g {}", remove.join(" "))));
        }
        if !pins.is_empty() {
            cmds.push(self.install(pins));
        }
        Some(cmds)
    }

    /// npm's own view of the global packages (`npm ls -g` exits non-zero
    /// on a problem it sees there), and every dependency present at its
    /// version (see [`NPM_DEPS_CHECK`]).
    fn checks(&self, _: &Scenario) -> Vec<Check> {
        vec![
            Check {
                name: "npm ls -g".into(),
                // A user's prefix has no lib/ before its first global
                // install, and `npm ls -g` then fails with ENOENT: nothing
                // is installed there, which is consistent, not broken.
                command: match self.prefix() {
                    None => self.npm("ls -g"),
                    Some(p) => format!("test ! -d {p}/lib || {}", self.npm("ls -g")),
                },
                quiet: false,
            },
            Check {
                name: "dependencies present".into(),
                command: format!(
                    "{}node -e '{NPM_DEPS_CHECK}' {}",
                    self.run_as.prefix(),
                    self.modules()
                ),
                quiet: false,
            },
        ]
    }

    /// A global install into the prefix's node_modules (/usr/local's, or
    /// the user's).
    fn experiment(&self, _dir: &str, packages: &[PackageRef]) -> Option<super::Project> {
        let modules = self.modules();
        let check = super::versions_check(packages, |n| format!("{modules}/{n}/VERSION"));
        Some(super::global_project(self, packages, check))
    }

    fn package_view(&self) -> String {
        format!(
            "{}node -e '{NPM_VIEW}' {}",
            self.run_as.prefix(),
            self.modules()
        )
    }

    fn newest_only_repository(&self) -> Vec<String> {
        vec![format!("ln -sfn /fixtures/npm-newest {REPOSITORY}")]
    }

    fn package_dir(&self, package: &str) -> Option<String> {
        let modules = self.modules();
        Some(format!(
            "[ -d {modules}/{package}/data ] && echo {modules}/{package}/data"
        ))
    }
}

/// npm in a project folder (`npm install` without `-g`): the packages go
/// to the project's own `node_modules`, and `package.json` and
/// `package-lock.json` are written there. An environment only: it runs in
/// `experiment` scenarios (the loader refuses it elsewhere); its package
/// view and checks are the global npm's, which a project must not touch.
pub struct NpmLocal;

impl Approach for NpmLocal {
    fn name(&self) -> &'static str {
        "npm-local"
    }

    fn description(&self) -> &'static str {
        "npm install in a project folder (Debian's npm): the project's own node_modules, the isolated way to use npm"
    }

    fn family(&self) -> Family {
        Family::Apt
    }

    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Npm
    }

    fn colour(&self) -> (u8, u8, u8) {
        (0xf7, 0x81, 0xbf)
    }

    fn configuration(&self, _: SecurityProfile) -> String {
        format!("Debian's npm 9, npm install (no -g) as root in the project's folder, from tarballs under {REPOSITORY}, --offline --no-audit --no-fund")
    }

    fn pins(&self, s: &Scenario, packages: &[PackageRef]) -> Vec<PackageRef> {
        NpmGlobal::root().pins(s, packages)
    }

    /// Never run: the loader admits npm-local to experiments only.
    fn install(&self, _packages: &[PackageRef]) -> String {
        "echo 'npm-local installs into a project: experiment scenarios only' >&2; exit 2".into()
    }

    fn default_playbook(&self, _s: &Scenario) -> Vec<String> {
        Vec::new()
    }

    fn checks(&self, s: &Scenario) -> Vec<Check> {
        NpmGlobal::root().checks(s)
    }

    fn package_view(&self) -> String {
        NpmGlobal::root().package_view()
    }

    fn experiment(&self, dir: &str, packages: &[PackageRef]) -> Option<super::Project> {
        let tarballs: Vec<String> = packages
            .iter()
            .map(|p| {
                format!(
                    "{REPOSITORY}/{}",
                    file_name(&p.name, p.version.as_deref().unwrap_or(""))
                )
            })
            .collect();
        let check = super::versions_check(packages, |n| format!("{dir}/node_modules/{n}/VERSION"));
        Some(super::Project {
            enter: format!(
                "mkdir -p {dir} && cd {dir} && {NPM} install {} && {check}",
                tarballs.join(" ")
            ),
            check,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_survives_single_quotes() {
        assert!(!NPM_VIEW.contains('\''));
        assert!(!NPM_DEPS_CHECK.contains('\''));
    }

    #[test]
    fn installs_name_the_pinned_tarballs() {
        let s = crate::scenario::parse(
            "[scenario]\nname = \"t\"\napproaches = [\"apt\"]\n[[package]]\nname = \"a\"\nversion = \"1.0\"\n[[package]]\nname = \"a\"\nversion = \"2.0\"\n[operation]\nkind = \"install\"\npackages = [\"a=2.0\"]\n",
        )
        .unwrap();
        let n = NpmGlobal::root();
        let refs = n.pins(&s, &[PackageRef::parse("a=1.0")]);
        assert_eq!(
            n.install(&refs),
            format!("{NPM} install -g /var/lib/mistake-cost/npm/a-1.0.tgz")
        );
        assert_eq!(n.default_playbook(&s), [format!("{NPM} uninstall -g a")]);
    }
}
