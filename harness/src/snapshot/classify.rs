//! Which changed paths are residue a user would see, which are collectible
//! garbage (caches, logs, unreferenced Nix store paths), and which are the
//! harness's own. The rules are the same for every approach except where a
//! package manager's layout differs; they are listed in scenarios/README.md.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Visible,
    Garbage,
    Ignored,
}

/// Paths never snapshotted: kernel file systems, Docker's own bind mounts,
/// the harness's scratch and fixtures, a database's data directory.
pub fn excluded(path: &str) -> bool {
    const EXCLUDED: [&str; 10] = [
        // PostgreSQL's data directory: the service's state (its rows, WAL,
        // statistics), which every write and restart changes; what became
        // of the data is `data_lost`'s, not residue.
        "/var/lib/postgresql",
        "/proc",
        "/sys",
        "/dev",
        "/run/mistake-cost",
        "/fixtures",
        "/sbin/docker-init",
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
    ];
    EXCLUDED.iter().any(|e| under(path, e))
}

fn under(path: &str, prefix: &str) -> bool {
    path == prefix || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

/// Regenerable or unreferenced by anything installed, for every approach.
const GARBAGE_PREFIXES: [&str; 18] = [
    // etckeeper's git history of /etc: history, like a profile's other
    // generations, not state (a checkout rewrites git's index).
    "/etc/.git",
    // Runtime state (a tmpfs on a real machine, gone at boot): a daemon's
    // pid file changes whenever it restarts.
    "/run",
    "/var/log",
    "/var/cache",
    "/var/backups",
    "/var/lib/apt/lists",
    "/root/.cache",
    // npm's cache, logs and update-check stamp: regenerable, like pip's
    // ~/.cache/pip.
    "/root/.npm",
    // The same two of the `*-user` approaches' user (`vocab::USER_HOME`).
    "/home/alice/.cache",
    "/home/alice/.npm",
    "/tmp",
    "/var/tmp",
    // Nix bookkeeping: the store database and locks follow the store's
    // contents; logs of builds; temporary GC roots of finished processes.
    "/nix/var/nix/db",
    "/nix/var/nix/temproots",
    "/nix/var/nix/gcroots/auto",
    "/nix/var/log",
    // The socket `nix-store --gc` listens on while it runs (left behind
    // afterwards): coordination like gc.lock, no state.
    "/nix/var/nix/gc-socket",
    // Multi-user Nix: the lock files of the build users a build took
    // (one per uid), coordination like gc.lock.
    "/nix/var/nix/userpool",
];

/// The profile a Nix generation link belongs to:
/// `/nix/var/nix/profiles/default-2-link` → `/nix/var/nix/profiles/default`.
/// Generations other than the one the profile selects are history (a
/// rollback's target, collectible with `nix-collect-garbage -d`), so they
/// count as garbage while that profile link exists; without it a generation
/// link is a stray half-done switch and stays visible.
pub fn generation_profile(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/nix/var/nix/profiles/")?;
    if rest.contains('/') {
        return None;
    }
    let stem = path.strip_suffix("-link")?;
    let (profile, n) = stem.rsplit_once('-')?;
    (!n.is_empty()
        && n.chars().all(|c| c.is_ascii_digit())
        && profile.len() > "/nix/var/nix/profiles/".len())
    .then_some(profile)
}

/// `live` holds the store paths reachable from the profile (empty when the
/// profile has none): store paths outside it are garbage until `nix-store --gc`.
pub fn classify(path: &str, live: &BTreeSet<String>) -> Class {
    if excluded(path) {
        return Class::Ignored;
    }
    if GARBAGE_PREFIXES.iter().any(|p| under(path, p)) {
        return Class::Garbage;
    }
    // dpkg's backup copies of its own database (status-old, available-old...).
    if path.starts_with("/var/lib/dpkg/") && path.ends_with("-old") {
        return Class::Garbage;
    }
    if path.ends_with(".pyc") || path.contains("/__pycache__/") || path.ends_with("/__pycache__") {
        return Class::Garbage;
    }
    // Lock files hold no state: Nix's own and the profile's.
    if path == "/nix/var/nix/gc.lock"
        || path == "/nix/var/nix/big-lock"
        || (path.starts_with("/nix/var/nix/profiles/") && path.ends_with(".lock"))
    {
        return Class::Garbage;
    }
    if let Some(rest) = path.strip_prefix("/nix/store/") {
        let top = rest.split('/').next().unwrap_or(rest);
        let top = top.strip_suffix(".lock").unwrap_or(top);
        return if live.contains(&format!("/nix/store/{top}")) {
            Class::Visible
        } else {
            Class::Garbage
        };
    }
    Class::Visible
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_caches_are_garbage_like_roots() {
        let none = BTreeSet::new();
        for dir in [".cache/pip/http/x", ".npm/_cacache/index"] {
            let home = crate::vocab::USER_HOME;
            assert_eq!(classify(&format!("{home}/{dir}"), &none), Class::Garbage);
            assert_eq!(classify(&format!("/root/{dir}"), &none), Class::Garbage);
        }
        // The user's own files are not.
        assert_eq!(
            classify("/home/alice/venv/bin/python", &none),
            Class::Visible
        );
    }

    #[test]
    fn generation_links_name_their_profile() {
        assert_eq!(
            generation_profile("/nix/var/nix/profiles/default-2-link"),
            Some("/nix/var/nix/profiles/default")
        );
        assert_eq!(
            generation_profile("/nix/var/nix/profiles/per-user-12-link"),
            Some("/nix/var/nix/profiles/per-user")
        );
        assert_eq!(generation_profile("/nix/var/nix/profiles/default"), None);
        assert_eq!(
            generation_profile("/nix/var/nix/profiles/default-1-link.tmp-5-6"),
            None
        );
        assert_eq!(generation_profile("/nix/var/nix/profiles/-1-link"), None);
        assert_eq!(
            generation_profile("/nix/var/nix/profiles/x/default-1-link"),
            None
        );
    }

    #[test]
    fn nix_store_paths_are_garbage_unless_live() {
        let live: BTreeSet<String> = ["/nix/store/abc-depa-1.0".to_string()].into();
        assert_eq!(
            classify("/nix/store/abc-depa-1.0/share/x", &live),
            Class::Visible
        );
        assert_eq!(
            classify("/nix/store/def-fastmath-1.0/etc/fastmath.conf", &live),
            Class::Garbage
        );
        assert_eq!(
            classify("/nix/store/def-fastmath-1.0.lock", &live),
            Class::Garbage
        );
        assert_eq!(classify("/nix/var/nix/db/db.sqlite", &live), Class::Garbage);
        assert_eq!(
            classify("/nix/var/nix/profiles/default-1-link", &live),
            Class::Visible
        );
        assert_eq!(
            classify("/nix/var/nix/profiles/default.lock", &live),
            Class::Garbage
        );
        assert_eq!(
            classify("/nix/var/nix/gc-socket/socket", &live),
            Class::Garbage
        );
        assert_eq!(
            classify(
                "/nix/var/nix/profiles/default-1-link.tmp-34-2092193784",
                &live
            ),
            Class::Visible,
            "a stray link is not a lock"
        );
    }

    #[test]
    fn shared_rules() {
        let none = BTreeSet::new();
        assert_eq!(classify("/etc/fastmath.conf", &none), Class::Visible);
        assert_eq!(classify("/var/lib/dpkg/status", &none), Class::Visible);
        assert_eq!(classify("/var/lib/dpkg/status-old", &none), Class::Garbage);
        assert_eq!(classify("/var/log/dpkg.log", &none), Class::Garbage);
        assert_eq!(
            classify(
                "/usr/lib/python3/dist-packages/depa/__pycache__/x.cpython-311.pyc",
                &none
            ),
            Class::Garbage
        );
        assert_eq!(classify("/proc/1/status", &none), Class::Ignored);
        assert_eq!(
            classify("/tmpfoo", &none),
            Class::Visible,
            "prefix match is by path component"
        );
    }
}
