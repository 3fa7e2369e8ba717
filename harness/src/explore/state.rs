//! Classifying the state after a crash against two references: the state
//! before the operation (`old`) and a clean successful run's result (`new`).
//! Anything else, or a failing check, is `inconsistent`. The checks here
//! are all of them: the approach's own and the scenario's probes (a state
//! whose software no longer works is neither), while crashpoints.csv's
//! `consistent` column, as trials.csv's, reports the approach's own alone.

use crate::checker::Verdict;
use crate::snapshot::{residue, Snapshot};

/// Old, new or inconsistent (a results column, so it lives in the schema).
pub use crate::export::State;

/// Visible files and packages equal to a reference, and the checks valid.
/// An `unknown` check cannot confirm a state, so it is not old or new.
pub fn classify(
    state: &Snapshot,
    old: &Snapshot,
    new: Option<&Snapshot>,
    checks: Verdict,
) -> State {
    if checks != Verdict::Valid {
        return State::Inconsistent;
    }
    let same = |reference: &Snapshot| {
        let r = residue(reference, state);
        r.visible_changes() == 0 && r.packages.is_empty()
    };
    if same(old) {
        State::Old
    } else if new.is_some_and(same) {
        State::New
    } else {
        State::Inconsistent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::manifest::{Entry, EntryKind, Manifest};
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    fn file(h: &str) -> Option<Entry> {
        Some(Entry {
            kind: EntryKind::File,
            mode: 0o644,
            owner: "0:0".into(),
            size: 1,
            hash: Some(h.into()),
        })
    }

    fn snap(
        base: &Arc<Manifest>,
        files: &[(&str, Option<Entry>)],
        pkgs: &[(&str, &str)],
    ) -> Snapshot {
        Snapshot {
            base: base.clone(),
            overlay: files
                .iter()
                .map(|(p, e)| (p.to_string(), e.clone()))
                .collect(),
            packages: pkgs
                .iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect::<BTreeMap<_, _>>(),
            live: BTreeSet::new(),
            commands: BTreeSet::new(),
        }
    }

    #[test]
    fn old_new_and_everything_between() {
        let base = Arc::new(Manifest::new());
        let old = snap(&base, &[], &[]);
        let new = snap(
            &base,
            &[("/usr/share/a/x", file("1")), ("/usr/share/a/y", file("2"))],
            &[("a", "1.0 ii")],
        );
        let half = snap(&base, &[("/usr/share/a/x", file("1"))], &[("a", "1.0 iU")]);
        let garbage_only = snap(&base, &[("/var/log/dpkg.log", file("9"))], &[]);
        assert_eq!(classify(&old, &old, Some(&new), Verdict::Valid), State::Old);
        assert_eq!(
            classify(&garbage_only, &old, Some(&new), Verdict::Valid),
            State::Old,
            "garbage is not state"
        );
        assert_eq!(classify(&new, &old, Some(&new), Verdict::Valid), State::New);
        assert_eq!(
            classify(&half, &old, Some(&new), Verdict::Valid),
            State::Inconsistent
        );
        assert_eq!(
            classify(&new, &old, None, Verdict::Valid),
            State::Inconsistent,
            "no clean run, no `new`"
        );
        assert_eq!(
            classify(&old, &old, Some(&new), Verdict::Invalid),
            State::Inconsistent
        );
        assert_eq!(
            classify(&old, &old, Some(&new), Verdict::Unknown),
            State::Inconsistent
        );
        // Same files but a package in another state is not the new state.
        let files_only = snap(
            &base,
            &[("/usr/share/a/x", file("1")), ("/usr/share/a/y", file("2"))],
            &[("a", "1.0 iF")],
        );
        assert_eq!(
            classify(&files_only, &old, Some(&new), Verdict::Valid),
            State::Inconsistent
        );
    }
}
