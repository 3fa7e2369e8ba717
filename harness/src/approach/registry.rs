//! The approaches a run can name, in report order. A built-in is one line
//! in [`BUILTINS`] (its name also in `vocab::BUILTIN_APPROACHES`, same
//! place); anything else (a test's approach) joins at run time
//! through [`register`], after the built-ins.

use std::sync::{OnceLock, RwLock};

use super::{ansible, apt, nix, nix_profile, nix_shell, npm, pip, Approach, ApproachKind};
use crate::vocab::BUILTIN_APPROACHES;

/// The built-ins, in the order docs/approaches.md, run.json and every report list
/// them: this order is each approach's rank.
const BUILTINS: &[fn() -> Box<dyn Approach>] = &[
    || Box::new(apt::Apt),
    || Box::new(ansible::Ansible),
    || Box::new(pip::Pip::global()),
    || Box::new(pip::Pip::venv()),
    || Box::new(pip::Pip::venv_user()),
    || Box::new(npm::NpmGlobal::root()),
    || Box::new(npm::NpmGlobal::user()),
    || Box::new(npm::NpmLocal),
    || Box::new(nix::Nix::multi_user()),
    || Box::new(nix::Nix::single_user()),
    || Box::new(nix_profile::NixProfile),
    || Box::new(nix_shell::NixShell),
];

/// Makes a fresh approach value: approaches are cheap, stateless values,
/// and callers own a `Box` as they always have.
pub type Constructor = fn() -> Box<dyn Approach>;

/// Indexed by rank: entry `i` is the approach of `ApproachKind` rank `i`.
static ENTRIES: RwLock<Vec<Constructor>> = RwLock::new(Vec::new());
static BUILTINS_DONE: OnceLock<()> = OnceLock::new();

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("approach `{0}` is already registered")]
    Taken(&'static str),
}

fn entries_write() -> std::sync::RwLockWriteGuard<'static, Vec<Constructor>> {
    // Pushes are the only writes: a panic elsewhere cannot leave the list
    // half-updated, so a poisoned lock is still sound to use.
    ENTRIES.write().unwrap_or_else(|e| e.into_inner())
}

fn entries_read() -> std::sync::RwLockReadGuard<'static, Vec<Constructor>> {
    ENTRIES.read().unwrap_or_else(|e| e.into_inner())
}

/// Every approach, in rank order: the built-ins (their implementations
/// attached once per process, each to its name in
/// `vocab::BUILTIN_APPROACHES`), then any registered at run time.
pub fn registry() -> Vec<ApproachKind> {
    BUILTINS_DONE.get_or_init(|| {
        let mut entries = entries_write();
        assert_eq!(BUILTINS.len(), BUILTIN_APPROACHES.len(), "one implementation per built-in name");
        for (rank, make) in BUILTINS.iter().enumerate() {
            let name = make().name();
            assert_eq!(
                name, BUILTIN_APPROACHES[rank],
                "registry::BUILTINS and vocab::BUILTIN_APPROACHES list the built-ins in the same order"
            );
            assert_eq!(
                make().config_recoveries(),
                crate::vocab::config_recoveries(name).unwrap_or_default(),
                "vocab::CONFIG_TOOLS lists exactly the built-ins' recoveries ({name})"
            );
            assert_eq!(
                make().experiment("/srv/projects/x", &[]).is_some(),
                crate::vocab::experiment_role(name) != crate::vocab::ExperimentRole::None,
                "vocab::EXPERIMENT_ROLES says which built-ins take part in experiments ({name})"
            );
            entries.push(*make);
        }
    });
    ApproachKind::all()
}

/// Adds an approach after those registered so far, so it takes the next
/// rank. The built-ins always come first.
pub fn register(make: Constructor) -> Result<ApproachKind, RegistryError> {
    registry();
    add(make)
}

fn add(make: Constructor) -> Result<ApproachKind, RegistryError> {
    let name = make().name();
    let mut entries = entries_write();
    if ApproachKind::lookup(name).is_some() {
        return Err(RegistryError::Taken(name));
    }
    // Under the entries' lock, so the name's rank is the entry's index.
    let kind = ApproachKind::intern(name);
    debug_assert_eq!(kind.rank(), entries.len());
    entries.push(make);
    Ok(kind)
}

/// The approach of that kind. Every `ApproachKind` has one (built-in names
/// get theirs here on first use; others only through `register`).
pub fn approach(kind: ApproachKind) -> Box<dyn Approach> {
    registry();
    let make = entries_read()[kind.rank()];
    make()
}

/// The registered approach of that name, if any: for reports, which also
/// read runs made by a harness with other approaches.
pub fn by_name(name: &str) -> Option<Box<dyn Approach>> {
    registry();
    ApproachKind::lookup(name).map(approach)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtins_come_first_in_report_order() {
        let names: Vec<&str> = registry().iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names[..12],
            [
                "apt",
                "ansible",
                "pip",
                "pip-venv",
                "pip-venv-user",
                "npm-global",
                "npm-global-user",
                "npm-local",
                "nix",
                "nix-single-user",
                "nix-profile",
                "nix-shell"
            ]
        );
        // Ord is registration order, not name order.
        let mut sorted = registry();
        sorted.reverse();
        sorted.sort();
        assert_eq!(sorted, registry());
    }

    #[test]
    fn each_builtin_answers_to_its_own_name() {
        for kind in registry() {
            assert_eq!(approach(kind).kind(), kind);
            assert_eq!(kind.as_str().parse::<ApproachKind>(), Ok(kind));
            assert_eq!(
                by_name(kind.as_str()).map(|a| a.name()),
                Some(kind.as_str())
            );
        }
    }

    #[test]
    fn a_name_registers_once() {
        registry();
        assert_eq!(
            register(|| Box::new(apt::Apt)).map(|k| k.as_str()),
            Err(RegistryError::Taken("apt"))
        );
        assert!(by_name("yum").is_none());
        let e = "yum".parse::<ApproachKind>().unwrap_err();
        assert!(
            e.contains(
                "apt, ansible, pip, pip-venv, pip-venv-user, npm-global, npm-global-user, npm-local, nix, nix-single-user, nix-profile, nix-shell"
            ),
            "{e}"
        );
    }

    #[test]
    fn names_serialise_as_they_are_spelled() {
        registry();
        let k: ApproachKind = serde_json::from_str("\"pip-venv\"").unwrap();
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"pip-venv\"");
        let e = serde_json::from_str::<ApproachKind>("\"yum\"").unwrap_err();
        assert!(e.to_string().contains("unknown variant `yum`"), "{e}");
    }
}
