//! Manifests (path → type, mode, owner, size, content hash) and their diff.
//! Pure logic: no Docker here, so the diff is unit- and property-tested.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

/// One path's state. Directories compare by kind, mode and owner only: a
/// directory whose children changed is not itself residue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub kind: EntryKind,
    pub mode: u32,
    pub owner: String,
    pub size: u64,
    /// sha256 of the content (files) or of the link target (symlinks).
    pub hash: Option<String>,
}

impl Entry {
    pub fn same_state(&self, other: &Entry) -> bool {
        match (self.kind, other.kind) {
            (EntryKind::Dir, EntryKind::Dir) => {
                self.mode == other.mode && self.owner == other.owner
            }
            _ => self == other,
        }
    }
}

/// A full manifest: every path of a file system (or of a test's fake one).
pub type Manifest = BTreeMap<String, Entry>;

/// The format of a manifest cached on disk (`runner::DockerExecutor`'s
/// `base_manifest`, the serde form of `Manifest`). Bump it when `Entry`'s
/// fields or `parse_records`' reading of the agent's records change: a
/// cached manifest of the old form is then never read (its file name and
/// header carry the version). `cached_form_is_pinned` fails until it is.
pub const CACHE_FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Modified,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

/// Compares the state of each path in `keys` (which must include every path
/// that may differ) as seen by `before` and `after`. Sorted by path.
pub fn diff_keys<'a, B, A>(
    keys: impl IntoIterator<Item = &'a str>,
    before: B,
    after: A,
) -> Vec<Change>
where
    B: Fn(&str) -> Option<&'a Entry>,
    A: Fn(&str) -> Option<&'a Entry>,
{
    let mut keys: Vec<&str> = keys.into_iter().collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter_map(|path| {
            let kind = match (before(path), after(path)) {
                (None, None) => return None,
                (None, Some(_)) => ChangeKind::Added,
                (Some(_), None) => ChangeKind::Removed,
                (Some(b), Some(a)) if b.same_state(a) => return None,
                (Some(_), Some(_)) => ChangeKind::Modified,
            };
            Some(Change {
                path: path.to_string(),
                kind,
            })
        })
        .collect()
}

/// Diff of two full manifests.
pub fn diff(before: &Manifest, after: &Manifest) -> Vec<Change> {
    diff_keys(
        before.keys().chain(after.keys()).map(String::as_str),
        |p| before.get(p),
        |p| after.get(p),
    )
}

/// Applies a diff computed from `before` to `after` onto `base` (used by the
/// property tests: apply(a, diff(a, b), b) == b).
pub fn apply(base: &Manifest, changes: &[Change], after: &Manifest) -> Manifest {
    let mut out = base.clone();
    for c in changes {
        match c.kind {
            ChangeKind::Removed => {
                out.remove(&c.path);
            }
            ChangeKind::Added | ChangeKind::Modified => {
                if let Some(e) = after.get(&c.path) {
                    out.insert(c.path.clone(), e.clone());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn file(hash: &str) -> Entry {
        Entry {
            kind: EntryKind::File,
            mode: 0o644,
            owner: "0:0".into(),
            size: 1,
            hash: Some(hash.into()),
        }
    }
    fn dir(mode: u32) -> Entry {
        Entry {
            kind: EntryKind::Dir,
            mode,
            owner: "0:0".into(),
            size: 0,
            hash: None,
        }
    }

    #[test]
    fn added_removed_modified_are_told_apart() {
        let a: Manifest = [
            ("/a".into(), file("1")),
            ("/b".into(), file("2")),
            ("/d".into(), dir(0o755)),
        ]
        .into();
        let b: Manifest = [
            ("/a".into(), file("1")),
            ("/c".into(), file("3")),
            ("/d".into(), dir(0o700)),
            ("/b".into(), file("9")),
        ]
        .into();
        let d = diff(&a, &b);
        assert_eq!(
            d,
            vec![
                Change {
                    path: "/b".into(),
                    kind: ChangeKind::Modified
                },
                Change {
                    path: "/c".into(),
                    kind: ChangeKind::Added
                },
                Change {
                    path: "/d".into(),
                    kind: ChangeKind::Modified
                },
            ]
        );
    }

    /// If this fails, the cached form of a manifest changed: bump
    /// `CACHE_FORMAT`, then update the expected text.
    #[test]
    fn cached_form_is_pinned() {
        let m: Manifest = [
            ("/a".into(), file("ab")),
            ("/d".into(), dir(0o755)),
            (
                "/l".into(),
                Entry {
                    kind: EntryKind::Symlink,
                    mode: 0o777,
                    owner: "0:0".into(),
                    size: 4,
                    hash: Some("cd".into()),
                },
            ),
            (
                "/o".into(),
                Entry {
                    kind: EntryKind::Other,
                    mode: 0o600,
                    owner: "1:2".into(),
                    size: 0,
                    hash: None,
                },
            ),
        ]
        .into();
        assert_eq!(CACHE_FORMAT, 1);
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"/a":{"kind":"file","mode":420,"owner":"0:0","size":1,"hash":"ab"},"/d":{"kind":"dir","mode":493,"owner":"0:0","size":0,"hash":null},"/l":{"kind":"symlink","mode":511,"owner":"0:0","size":4,"hash":"cd"},"/o":{"kind":"other","mode":384,"owner":"1:2","size":0,"hash":null}}"#
        );
    }

    #[test]
    fn directory_size_is_not_a_change() {
        let mut d2 = dir(0o755);
        d2.size = 4096;
        let a: Manifest = [("/d".into(), dir(0o755))].into();
        let b: Manifest = [("/d".into(), d2)].into();
        assert!(diff(&a, &b).is_empty());
    }

    #[test]
    fn type_change_is_a_modification() {
        let a: Manifest = [("/x".into(), file("1"))].into();
        let b: Manifest = [("/x".into(), dir(0o644))].into();
        assert_eq!(diff(&a, &b)[0].kind, ChangeKind::Modified);
    }

    fn arb_entry() -> impl Strategy<Value = Entry> {
        prop_oneof![
            (0u8..4).prop_map(|h| file(&h.to_string())),
            prop_oneof![Just(0o755u32), Just(0o700u32)].prop_map(dir),
        ]
    }

    fn arb_manifest() -> impl Strategy<Value = Manifest> {
        proptest::collection::btree_map(
            (0u8..24).prop_map(|i| format!("/p{i}")),
            arb_entry(),
            0..20,
        )
    }

    proptest! {
        #[test]
        fn diff_with_itself_is_empty(a in arb_manifest()) {
            prop_assert!(diff(&a, &a).is_empty());
        }

        #[test]
        fn applying_the_diff_gives_the_target(a in arb_manifest(), b in arb_manifest()) {
            let d = diff(&a, &b);
            let applied = apply(&a, &d, &b);
            // Equal up to directory sizes, which the diff deliberately ignores.
            prop_assert!(diff(&applied, &b).is_empty());
        }

        #[test]
        fn counts_add_up(a in arb_manifest(), b in arb_manifest()) {
            let d = diff(&a, &b);
            let added = d.iter().filter(|c| c.kind == ChangeKind::Added).count();
            let removed = d.iter().filter(|c| c.kind == ChangeKind::Removed).count();
            prop_assert_eq!(added, b.keys().filter(|k| !a.contains_key(*k)).count());
            prop_assert_eq!(removed, a.keys().filter(|k| !b.contains_key(*k)).count());
            prop_assert_eq!(a.len() + added - removed, b.len());
            // The reverse diff swaps added and removed and keeps modified.
            let r = diff(&b, &a);
            prop_assert_eq!(r.iter().filter(|c| c.kind == ChangeKind::Added).count(), removed);
            prop_assert_eq!(r.iter().filter(|c| c.kind == ChangeKind::Modified).count(),
                            d.iter().filter(|c| c.kind == ChangeKind::Modified).count());
        }
    }
}
