//! Property-based guarantees (issue 4): the operations a random sequence is
//! made of, what each runs per approach, and the three invariants judged
//! over the snapshot taken after every operation. Pure: `tests/properties.rs`
//! generates the sequences and drives real containers with it.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::approach::Approach;
use crate::nemesis;
use crate::scenario::{PackageRef, Scenario};
use crate::snapshot::{classify::Class, residue, Snapshot};

/// The fixed scenario every sequence runs against: tinya and tinyapp at two
/// versions (tinyapp pins tinya to its own version), and tinybad, whose
/// build fails after its dependency tinydep is in place and after writing
/// a file — the residue the atomicity claim is about.
pub const SCENARIO: &str = r#"
[scenario]
name = "properties"
description = "random operation sequences for the property tests"
approaches = ["apt", "pip", "pip-venv", "nix"]
reps = 1
step_timeout_s = 300

[[package]]
name = "tinya"
version = "1.0"
files = [{ path = "share/tinya/f{}.dat", count = 8, size = 2048 }]

[[package]]
name = "tinya"
version = "2.0"
files = [{ path = "share/tinya/f{}.dat", count = 7, size = 2048 }, { path = "share/tinya/new.dat", size = 16 }]

[[package]]
name = "tinyapp"
version = "1.0"
depends = ["tinya=1.0"]
files = [{ path = "share/tinyapp/app.bin", size = 65536 }]

[[package]]
name = "tinyapp"
version = "2.0"
depends = ["tinya=2.0"]
files = [{ path = "share/tinyapp/app.bin", size = 65536 }]

[[package]]
name = "tinydep"
version = "1.0"
files = [{ path = "share/tinydep/dep.dat", size = 4096 }]

[[package]]
name = "tinybad"
version = "1.0"
depends = ["tinydep"]
files = [{ path = "share/tinybad/bad.dat", size = 4096 }]

[package.fail]
step = "build"
writes = ["/etc/tinybad.conf"]
exit_code = 1

[operation]
kind = "install"
packages = ["tinyapp=2.0"]
"#;

/// The names the scenario declares: the packages a rollback may have to
/// remove or pin.
const NAMES: [&str; 4] = ["tinya", "tinyapp", "tinydep", "tinybad"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Version {
    #[serde(rename = "1.0")]
    V1,
    #[serde(rename = "2.0")]
    V2,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "1.0",
            Version::V2 => "2.0",
        }
    }
}

/// One operation of a sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Op {
    /// tinyapp (and tinya) at `version`: a first install, an upgrade or a
    /// downgrade, depending on what is installed.
    Install { version: Version },
    /// tinybad: its build fails (after tinydep, for apt and pip).
    FailingInstall,
    /// `Install` under strace, each process killed at its `k`-th rename.
    Crash { version: Version, k: u64 },
    /// Back to the previous generation (`nix-env --rollback`); apt and pip
    /// have none, so a person pins the previous state's versions.
    Rollback,
    /// `nix-store --gc` / `apt-get autoremove --purge` / nothing for pip.
    Gc,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Install { version } => write!(f, "install {}", version.as_str()),
            Op::FailingInstall => f.write_str("failing-install"),
            Op::Crash { version, k } => {
                write!(f, "crash(install {} @rename#{k})", version.as_str())
            }
            Op::Rollback => f.write_str("rollback"),
            Op::Gc => f.write_str("gc"),
        }
    }
}

/// Renders a sequence as `install 1.0; rollback; ...` for logs and data.
pub fn show(ops: &[Op]) -> String {
    ops.iter().map(Op::to_string).collect::<Vec<_>>().join("; ")
}

fn install(a: &dyn Approach, s: &Scenario, reference: &str) -> String {
    a.install(&a.pins(s, &[PackageRef::parse(reference)]))
}

/// The command `op` runs with approach `a`, given what the model knows
/// (a rollback's target state for apt and pip).
pub fn command(a: &dyn Approach, s: &Scenario, op: &Op, model: &Model) -> String {
    match op {
        Op::Install { version } => install(a, s, &format!("tinyapp={}", version.as_str())),
        Op::FailingInstall => install(a, s, "tinybad"),
        Op::Crash { version, k } => nemesis::strace_wrap_for(
            a.worker_pid_file(),
            &install(a, s, &format!("tinyapp={}", version.as_str())),
            &["rename".to_string()],
            *k,
            None,
        ),
        Op::Rollback => rollback(a, model),
        // pip has no garbage collector; the closest thing would be an
        // uninstall, which is not what a GC means.
        Op::Gc => a.gc_command().unwrap_or_else(|| "true".into()),
    }
}

/// Scenario packages in a package view, with their version (the first
/// word of the state: dpkg's `1.0 ii `, pip's `1.0`).
fn scenario_versions(packages: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    packages
        .iter()
        .filter(|(n, _)| NAMES.contains(&n.as_str()))
        .map(|(n, s)| {
            (
                n.clone(),
                s.split_whitespace().next().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// An approach with generations rolls back with its one command. The others
/// get what a careful person runs (`Approach::restore_packages`): remove the
/// scenario packages the target state did not have, then install every
/// package it had, pinned to its version. With no older state there is
/// nothing to do, which is where `nix-env --rollback` fails without
/// changing anything. An approach with neither capability gets `false`: the
/// rollback fails visibly rather than passing as a no-op.
fn rollback(a: &dyn Approach, model: &Model) -> String {
    if let Some(rollback) = a.generation_rollback() {
        return rollback;
    }
    let Some(target) = model
        .rollback_target()
        .and_then(|t| model.generations.get(&t))
    else {
        return "true".into();
    };
    let want = scenario_versions(&target.packages);
    let have = scenario_versions(&model.last.packages);
    let remove: Vec<&str> = have
        .keys()
        .filter(|n| !want.contains_key(*n))
        .map(String::as_str)
        .collect();
    let pins: Vec<PackageRef> = want
        .iter()
        .map(|(n, v)| PackageRef::parse(&format!("{n}={v}")))
        .collect();
    match a.restore_packages(&remove, &pins) {
        None => "false".into(),
        Some(cmds) if cmds.is_empty() => "true".into(),
        Some(cmds) => cmds.join("; "),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invariant {
    /// After an operation the state is the generation before it (exactly
    /// its visible manifest) or another one: a new one whose checks pass,
    /// or a known one whose recorded manifest it equals exactly.
    OldOrNew,
    /// A rollback lands on the generation it names, with exactly the visible
    /// manifest recorded when that generation was first seen.
    RollbackExact,
    /// A failed operation (a failing install, a rollback with nothing to
    /// go back to, a crash before the switch) changes no visible path and
    /// no package.
    FailedUnchanged,
}

impl Invariant {
    pub const ALL: [Invariant; 3] = [
        Invariant::OldOrNew,
        Invariant::RollbackExact,
        Invariant::FailedUnchanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Invariant::OldOrNew => "old-or-new",
            Invariant::RollbackExact => "rollback-exact",
            Invariant::FailedUnchanged => "failed-unchanged",
        }
    }
}

/// What was observed about one operation besides the snapshot after it.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub exit_code: i64,
    /// A crash's kill really fired (the strace log says so).
    pub fault_fired: bool,
    /// Names (and output) of the approach's consistency checks that failed.
    pub failed_checks: Vec<String>,
    /// Nix: the generation the profile link selects (0: none yet). None for
    /// approaches without generations.
    pub profile_generation: Option<u32>,
}

/// The verdict on one operation: exactly one invariant applies to it.
#[derive(Debug, Clone, Serialize)]
pub struct Judgement {
    pub invariant: Invariant,
    pub held: bool,
    pub generation_before: u32,
    pub generation_after: u32,
    /// Why it did not hold (or what a held check saw): differing visible
    /// paths, packages, failed checks.
    pub evidence: Vec<String>,
}

impl Judgement {
    /// The violation this test found on Nix and the issue notes record
    /// (see tests/properties.rs): nix-env killed before its profile switch
    /// keeps the old generation selected and the checks passing, but
    /// leaves a stray link of the switch protocol in /nix/var/nix/profiles
    /// (`default-N-link.tmp-*` or `.N_default`). Known, so that a *new*
    /// kind of violation still fails the test; the known one is still
    /// reported, counted and written to the judgements file.
    pub fn is_known_stray_profile_link(&self) -> bool {
        fn stray(path: &str) -> bool {
            let Some(name) = path.strip_prefix("/nix/var/nix/profiles/") else {
                return false;
            };
            let dot_n = name
                .strip_prefix('.')
                .and_then(|r| r.split_once('_'))
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            !name.contains('/') && (dot_n || name.contains("-link.tmp-"))
        }
        !self.held
            && self.invariant == Invariant::FailedUnchanged
            && self.generation_before == self.generation_after
            && !self.evidence.is_empty()
            && self
                .evidence
                .iter()
                .all(|e| e.strip_prefix("visible path differs: ").is_some_and(stray))
    }
}

/// What the checker knows: every generation's manifest as first seen, the
/// current one, and the last snapshot. Nix numbers generations itself;
/// apt and pip have none, so the model numbers their package views the way
/// Nix numbers profiles (see [`Model::generation_of`]). Generation 0 is the
/// state before the first change, which no rollback can return to (Nix has
/// no generation 0).
#[derive(Debug, Clone)]
pub struct Model {
    pub generations: BTreeMap<u32, Snapshot>,
    pub current: u32,
    pub last: Snapshot,
}

impl Model {
    pub fn new(initial: Snapshot) -> Model {
        Model {
            generations: BTreeMap::from([(0, initial.clone())]),
            current: 0,
            last: initial,
        }
    }

    /// Where a rollback goes: the generation below the current one
    /// (generations are never deleted here, so that is `current - 1`).
    pub fn rollback_target(&self) -> Option<u32> {
        (self.current >= 2).then(|| self.current - 1)
    }

    fn newest(&self) -> u32 {
        self.generations.keys().copied().max().unwrap_or(0)
    }

    /// The generation of a state: the profile's for Nix. Without profiles:
    /// an unchanged package view is the current generation; the view of the
    /// rollback target (after a rollback) or of the newest generation is
    /// that one (Nix too reuses the newest generation when a new one would
    /// be identical); anything else is a new generation.
    pub fn generation_of(&self, op: &Op, outcome: &Outcome, after: &Snapshot) -> u32 {
        if let Some(g) = outcome.profile_generation {
            return g;
        }
        if after.packages == self.last.packages {
            return self.current;
        }
        let target = matches!(op, Op::Rollback)
            .then(|| self.rollback_target())
            .flatten();
        for g in target.into_iter().chain([self.newest()]) {
            if self
                .generations
                .get(&g)
                .is_some_and(|s| s.packages == after.packages)
            {
                return g;
            }
        }
        self.newest() + 1
    }

    /// Judges one operation and moves the model on to the state after it.
    pub fn judge(&mut self, op: &Op, outcome: &Outcome, after: Snapshot) -> Judgement {
        let before = self.current;
        let after_gen = self.generation_of(op, outcome, &after);
        let target = matches!(op, Op::Rollback)
            .then(|| self.rollback_target())
            .flatten();
        let failed = match op {
            Op::FailingInstall => true,
            Op::Rollback => target.is_none(),
            // Before the switch: Nix's profile still selects the old
            // generation; without profiles, the package view is unchanged.
            Op::Crash { .. } => outcome.fault_fired && after_gen == before,
            Op::Install { .. } | Op::Gc => false,
        };
        let mut evidence: Vec<String> = outcome
            .failed_checks
            .iter()
            .map(|c| format!("check failed: {c}"))
            .collect();
        let (invariant, mut held) = if failed {
            evidence.extend(differences(&self.last, &after));
            if after_gen != before {
                evidence.push(format!("generation changed {before} -> {after_gen}"));
            }
            (Invariant::FailedUnchanged, after_gen == before)
        } else if let Some(t) = target {
            // A crash between a new generation's link and the switch leaves
            // a complete generation that was never selected, so nothing was
            // recorded for it: then the rollback must land on it with
            // passing checks.
            if let Some(recorded) = self.generations.get(&t) {
                evidence.extend(differences(recorded, &after));
            }
            if after_gen != t {
                evidence.push(format!(
                    "rollback from {before} went to generation {after_gen}, not {t}"
                ));
            }
            (Invariant::RollbackExact, after_gen == t)
        } else if after_gen == before {
            evidence.extend(differences(&self.last, &after));
            (Invariant::OldOrNew, true)
        } else if let Some(recorded) = self.generations.get(&after_gen) {
            evidence.extend(differences(recorded, &after));
            (Invariant::OldOrNew, true)
        } else if after_gen > self.newest() {
            (Invariant::OldOrNew, true)
        } else {
            evidence.push(format!(
                "generation {after_gen} appeared below the newest known ({})",
                self.newest()
            ));
            (Invariant::OldOrNew, false)
        };
        // Any difference or failed check breaks the invariant; the checks
        // are part of "the old or the new state": a mix fails them.
        held = held && evidence.is_empty();
        self.generations
            .entry(after_gen)
            .or_insert_with(|| after.clone());
        self.current = after_gen;
        self.last = after;
        Judgement {
            invariant,
            held,
            generation_before: before,
            generation_after: after_gen,
            evidence,
        }
    }
}

/// How two states differ in what a user sees: visible paths (compared both
/// ways, so a live path of either side counts) and packages. Empty: the
/// same visible manifest. Garbage (logs, locks, unreachable store paths,
/// unselected generation links) is allowed to differ.
pub fn differences(a: &Snapshot, b: &Snapshot) -> Vec<String> {
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for r in [residue(a, b), residue(b, a)] {
        paths.extend(
            r.paths
                .into_iter()
                .filter(|p| p.class == Class::Visible)
                .map(|p| p.path),
        );
    }
    const SHOWN: usize = 12;
    let mut out: Vec<String> = paths
        .iter()
        .take(SHOWN)
        .map(|p| format!("visible path differs: {p}"))
        .collect();
    if paths.len() > SHOWN {
        out.push(format!(
            "... and {} more visible paths",
            paths.len() - SHOWN
        ));
    }
    let names: BTreeSet<&String> = a.packages.keys().chain(b.packages.keys()).collect();
    for n in names {
        let (x, y) = (a.packages.get(n), b.packages.get(n));
        if x != y {
            out.push(format!(
                "package {n}: {} -> {}",
                x.map_or("absent", String::as_str),
                y.map_or("absent", String::as_str)
            ));
        }
    }
    out
}

#[cfg(test)]
mod known_findings {
    use super::*;

    fn j(evidence: &[&str], before: u32, after: u32) -> Judgement {
        Judgement {
            invariant: Invariant::FailedUnchanged,
            held: false,
            generation_before: before,
            generation_after: after,
            evidence: evidence.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn only_stray_switch_links_are_the_known_finding() {
        assert!(j(
            &["visible path differs: /nix/var/nix/profiles/.0_default"],
            1,
            1
        )
        .is_known_stray_profile_link());
        assert!(j(
            &["visible path differs: /nix/var/nix/profiles/default-2-link.tmp-68-707247013"],
            1,
            1
        )
        .is_known_stray_profile_link());
        assert!(!j(
            &["visible path differs: /nix/var/nix/profiles/default"],
            1,
            1
        )
        .is_known_stray_profile_link());
        assert!(!j(
            &[
                "visible path differs: /nix/var/nix/profiles/.0_default",
                "check failed: nix-store --verify"
            ],
            1,
            1
        )
        .is_known_stray_profile_link());
        assert!(!j(
            &["visible path differs: /nix/var/nix/profiles/.0_default"],
            1,
            2
        )
        .is_known_stray_profile_link());
        assert!(!j(&[], 1, 1).is_known_stray_profile_link());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::manifest::{Entry, EntryKind, Manifest};
    use proptest::prelude::*;
    use std::sync::Arc;

    fn file(h: u8) -> Entry {
        Entry {
            kind: EntryKind::File,
            mode: 0o644,
            owner: "0:0".into(),
            size: 1,
            hash: Some(h.to_string()),
        }
    }

    fn snap(overlay: &[(String, u8)], packages: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            base: Arc::new(Manifest::from([("/etc/base".to_string(), file(0))])),
            overlay: overlay
                .iter()
                .map(|(p, h)| (p.clone(), Some(file(*h))))
                .collect(),
            packages: packages
                .iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect(),
            live: BTreeSet::new(),
            commands: BTreeSet::new(),
        }
    }

    fn nix(g: u32) -> Outcome {
        Outcome {
            profile_generation: Some(g),
            ..Outcome::default()
        }
    }

    /// Paths a user would see, and paths that are garbage by the rules.
    fn visible_path() -> impl Strategy<Value = String> {
        "[a-c]{1,2}".prop_map(|s| format!("/usr/share/{s}"))
    }
    fn garbage_path() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-c]{1,2}".prop_map(|s| format!("/var/log/{s}")),
            "[a-c]{1,2}".prop_map(|s| format!("/nix/store/{s}-dead"))
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn garbage_never_makes_states_differ(v in proptest::collection::vec((visible_path(), 0u8..3), 0..4),
                                            g1 in proptest::collection::vec((garbage_path(), 0u8..3), 0..4),
                                            g2 in proptest::collection::vec((garbage_path(), 0u8..3), 0..4)) {
            let a = snap(&[v.clone(), g1].concat(), &[]);
            let b = snap(&[v, g2].concat(), &[]);
            prop_assert!(differences(&a, &b).is_empty(), "{:?}", differences(&a, &b));
        }

        #[test]
        fn a_visible_change_is_seen_both_ways(v in proptest::collection::vec((visible_path(), 0u8..3), 0..4), extra in visible_path()) {
            let a = snap(&v, &[]);
            let mut changed = v.clone();
            changed.retain(|(p, _)| p != &extra);
            changed.push((extra, 9));
            let b = snap(&changed, &[]);
            prop_assert!(!differences(&a, &b).is_empty());
            prop_assert!(!differences(&b, &a).is_empty());
        }

        /// A failed operation holds exactly when nothing visible changed.
        #[test]
        fn failed_unchanged_is_exact(before in proptest::collection::vec((visible_path(), 0u8..3), 0..4), touch in proptest::option::of(visible_path())) {
            let mut m = Model::new(snap(&before, &[]));
            let mut after = before.clone();
            if let Some(p) = &touch {
                after.push((format!("{p}-new"), 1));
            }
            let j = m.judge(&Op::FailingInstall, &Outcome { exit_code: 1, ..Outcome::default() }, snap(&after, &[]));
            prop_assert_eq!(j.invariant, Invariant::FailedUnchanged);
            prop_assert_eq!(j.held, touch.is_none());
        }
    }

    #[test]
    fn nix_rollback_must_restore_the_recorded_generation() {
        let mut m = Model::new(snap(&[], &[]));
        let g1 = snap(
            &[("/nix/var/nix/profiles/default".into(), 1)],
            &[("tinyapp", "1.0 /nix/store/x")],
        );
        let g2 = snap(
            &[("/nix/var/nix/profiles/default".into(), 2)],
            &[("tinyapp", "2.0 /nix/store/y")],
        );
        assert!(
            m.judge(
                &Op::Install {
                    version: Version::V1
                },
                &nix(1),
                g1.clone()
            )
            .held
        );
        assert!(
            m.judge(
                &Op::Install {
                    version: Version::V2
                },
                &nix(2),
                g2
            )
            .held
        );
        assert_eq!(m.rollback_target(), Some(1));
        let j = m.judge(&Op::Rollback, &nix(1), g1.clone());
        assert_eq!((j.invariant, j.held), (Invariant::RollbackExact, true));
        // Back at 1: no older generation, so a rollback fails and must
        // change nothing.
        let j = m.judge(
            &Op::Rollback,
            &Outcome {
                exit_code: 1,
                ..nix(1)
            },
            g1.clone(),
        );
        assert_eq!((j.invariant, j.held), (Invariant::FailedUnchanged, true));
        // A rollback that lands on the right number with other content fails.
        let mut m2 = m.clone();
        m2.current = 2;
        let mut wrong = g1.clone();
        wrong.overlay.insert("/etc/extra".into(), Some(file(5)));
        let j = m2.judge(&Op::Rollback, &nix(1), wrong);
        assert!(
            !j.held && j.evidence.iter().any(|e| e.contains("/etc/extra")),
            "{j:?}"
        );
    }

    #[test]
    fn without_profiles_package_views_number_the_generations() {
        let mut m = Model::new(snap(&[], &[]));
        let v1 = snap(
            &[("/usr/share/tinyapp/app.bin".into(), 1)],
            &[("tinyapp", "1.0 ii ")],
        );
        let v2 = snap(
            &[("/usr/share/tinyapp/app.bin".into(), 2)],
            &[("tinyapp", "2.0 ii ")],
        );
        let none = Outcome::default();
        assert_eq!(
            m.judge(
                &Op::Install {
                    version: Version::V1
                },
                &none,
                v1.clone()
            )
            .generation_after,
            1
        );
        assert_eq!(
            m.judge(
                &Op::Install {
                    version: Version::V2
                },
                &none,
                v2.clone()
            )
            .generation_after,
            2
        );
        // The rollback's commands come from the target's view.
        let cmd = rollback(
            crate::approach::approach(crate::approach::kind("apt")).as_ref(),
            &m,
        );
        assert!(cmd.contains("--reinstall tinyapp=1.0"), "{cmd}");
        let j = m.judge(&Op::Rollback, &none, v1.clone());
        assert_eq!(
            (j.invariant, j.held, j.generation_after),
            (Invariant::RollbackExact, true, 1)
        );
        // A failing install that leaves a dependency is a new generation
        // and breaks the invariant.
        let mut left = v1.clone();
        left.packages.insert("tinydep".into(), "1.0 ii ".into());
        let j = m.judge(
            &Op::FailingInstall,
            &Outcome {
                exit_code: 100,
                ..none
            },
            left,
        );
        assert_eq!((j.invariant, j.held), (Invariant::FailedUnchanged, false));
        assert!(
            j.evidence.iter().any(|e| e.starts_with("package tinydep")),
            "{j:?}"
        );
    }

    #[test]
    fn a_rollback_may_land_on_a_generation_a_crash_made_but_never_selected() {
        let mut m = Model::new(snap(&[], &[]));
        let g1 = snap(
            &[("/nix/var/nix/profiles/default".into(), 1)],
            &[("tinyapp", "1.0 /nix/store/x")],
        );
        let g3 = snap(
            &[("/nix/var/nix/profiles/default".into(), 3)],
            &[("tinyapp", "1.0 /nix/store/z")],
        );
        let g2 = snap(
            &[("/nix/var/nix/profiles/default".into(), 2)],
            &[("tinyapp", "2.0 /nix/store/y")],
        );
        assert!(
            m.judge(
                &Op::Install {
                    version: Version::V1
                },
                &nix(1),
                g1
            )
            .held
        );
        assert!(
            m.judge(
                &Op::Install {
                    version: Version::V1
                },
                &nix(3),
                g3
            )
            .held
        );
        let j = m.judge(&Op::Rollback, &nix(2), g2);
        assert_eq!(
            (j.invariant, j.held, j.generation_after),
            (Invariant::RollbackExact, true, 2)
        );
    }

    #[test]
    fn a_crash_after_the_switch_is_judged_as_a_new_generation() {
        let mut m = Model::new(snap(&[], &[]));
        let g1 = snap(
            &[("/nix/var/nix/profiles/default".into(), 1)],
            &[("tinyapp", "1.0 /nix/store/x")],
        );
        let fired = Outcome {
            exit_code: 137,
            fault_fired: true,
            ..nix(1)
        };
        let j = m.judge(
            &Op::Crash {
                version: Version::V1,
                k: 2,
            },
            &fired,
            g1,
        );
        assert_eq!((j.invariant, j.held), (Invariant::OldOrNew, true));
        let j = m.judge(
            &Op::Crash {
                version: Version::V2,
                k: 1,
            },
            &Outcome {
                failed_checks: vec!["nix-store --verify".into()],
                ..fired
            },
            m.last.clone(),
        );
        assert_eq!((j.invariant, j.held), (Invariant::FailedUnchanged, false));
    }
}
