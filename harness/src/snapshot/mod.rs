//! Snapshots of a container: the image's full manifest (scanned once per
//! image) overlaid with the paths the engine reports as changed, hashed in
//! the container by the agent, plus the package managers' own view.
//! Residue is the classified difference of two snapshots.

pub mod classify;
pub mod manifest;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::docker::{DockerError, ExecLimits, Sandbox};
use classify::{classify, excluded, Class};
use manifest::{diff_keys, Change, ChangeKind, Entry, EntryKind, Manifest};

pub use crate::docker::AGENT;

/// A container's state at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub base: Arc<Manifest>,
    /// Changed paths: their state now (None: absent).
    pub overlay: BTreeMap<String, Option<Entry>>,
    /// Package manager's view: package → state (version and status).
    pub packages: BTreeMap<String, String>,
    /// Store paths reachable from the Nix profile (empty elsewhere).
    pub live: BTreeSet<String>,
    /// Commands the approach's `PATH` finds ([`path_commands`]).
    pub commands: BTreeSet<String>,
}

/// The folders of a root login shell's `PATH` on Debian (/etc/profile),
/// plus `~/.nix-profile/bin`, which Nix users put on it: where the
/// approaches run as root find their commands.
pub const ROOT_PATH: [&str; 7] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
    "/root/.nix-profile/bin",
];

/// Lists, as `X<TAB>name` lines, the executables in `dirs` (an approach's
/// `PATH`: `Approach::path_dirs`). Appended to every approach's package
/// view, so it costs no exec of its own.
pub fn path_commands(dirs: &[String]) -> String {
    format!(
        r#"for d in {}; do [ -d "$d" ] || continue; for f in "$d"/*; do [ -f "$f" ] && [ -x "$f" ] && printf 'X\t%s\n' "${{f##*/}}"; done; done; true"#,
        dirs.join(" ")
    )
}

impl Snapshot {
    pub fn get(&self, path: &str) -> Option<&Entry> {
        match self.overlay.get(path) {
            Some(state) => state.as_ref(),
            None => self.base.get(path),
        }
    }
}

/// A classified change, as written to trials.jsonl.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResiduePath {
    pub path: String,
    pub kind: ChangeKind,
    pub class: Class,
    /// A directory (counted in `Residue::dirs`, not in the file counts).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dir: bool,
}

/// What changed between two snapshots. `added`, `removed` and `modified`
/// count visible paths that are not directories (files, symlinks, others);
/// visible directories are counted apart in `dirs` (histories from before
/// format 2 counted them in the three).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Residue {
    pub added: usize,
    pub removed: usize,
    pub modified: usize,
    /// Visible directories added, removed or changed (kind, mode, owner).
    #[serde(default)]
    pub dirs: usize,
    pub garbage: usize,
    /// Packages whose state differs (added, removed or changed).
    pub packages: Vec<String>,
    pub paths: Vec<ResiduePath>,
    /// Commands on `PATH` that appeared (`+name`) or went (`-name`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
}

impl Residue {
    /// Visible paths changed that are not directories.
    pub fn visible_files(&self) -> usize {
        self.added + self.removed + self.modified
    }

    /// Every visible path changed, directories too: what "nothing visible
    /// changed" means when a state is compared with another.
    pub fn visible_changes(&self) -> usize {
        self.visible_files() + self.dirs
    }

    /// The visible paths changed, directories too.
    pub fn visible_paths(&self) -> impl Iterator<Item = &str> {
        self.paths
            .iter()
            .filter(|p| p.class == Class::Visible)
            .map(|p| p.path.as_str())
    }
}

/// Residue between two snapshots of the same image. Store paths are judged
/// live or garbage by the later snapshot's profile.
pub fn residue(before: &Snapshot, after: &Snapshot) -> Residue {
    let keys = before
        .overlay
        .keys()
        .chain(after.overlay.keys())
        .map(String::as_str);
    let changes: Vec<Change> = diff_keys(keys, |p| before.get(p), |p| after.get(p));
    let mut r = Residue::default();
    for c in changes {
        let class = match classify(&c.path, &after.live) {
            Class::Visible
                if classify::generation_profile(&c.path)
                    .is_some_and(|p| after.get(p).is_some()) =>
            {
                Class::Garbage
            }
            class => class,
        };
        // A directory after the change (a removed one: before it).
        let dir = after
            .get(&c.path)
            .or_else(|| before.get(&c.path))
            .is_some_and(|e| e.kind == EntryKind::Dir);
        match (class, c.kind) {
            (Class::Ignored, _) => continue,
            (Class::Garbage, _) => r.garbage += 1,
            (Class::Visible, _) if dir => r.dirs += 1,
            (Class::Visible, ChangeKind::Added) => r.added += 1,
            (Class::Visible, ChangeKind::Removed) => r.removed += 1,
            (Class::Visible, ChangeKind::Modified) => r.modified += 1,
        }
        r.paths.push(ResiduePath {
            path: c.path,
            kind: c.kind,
            class,
            dir,
        });
    }
    let names: BTreeSet<&String> = before
        .packages
        .keys()
        .chain(after.packages.keys())
        .collect();
    r.packages = names
        .into_iter()
        .filter(|n| before.packages.get(*n) != after.packages.get(*n))
        .cloned()
        .collect();
    r.commands = after
        .commands
        .difference(&before.commands)
        .map(|c| format!("+{c}"))
        .chain(
            before
                .commands
                .difference(&after.commands)
                .map(|c| format!("-{c}")),
        )
        .collect();
    r
}

/// Parses the agent's NUL-terminated records (see containers/agent/agent.pl).
/// Base manifests are cached in parsed form: a change to what this makes of
/// a record must bump `manifest::CACHE_FORMAT`.
pub fn parse_records(data: &[u8]) -> Result<Vec<(String, Option<Entry>)>, String> {
    let mut out = Vec::new();
    for rec in data.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let text = String::from_utf8_lossy(rec);
        let f: Vec<&str> = text.splitn(6, '\t').collect();
        if f.len() != 6 {
            return Err(format!("malformed agent record: {text:?}"));
        }
        let path = f[5].to_string();
        let kind = match f[0] {
            "-" => {
                out.push((path, None));
                continue;
            }
            "f" => EntryKind::File,
            "d" => EntryKind::Dir,
            "l" => EntryKind::Symlink,
            _ => EntryKind::Other,
        };
        let mode = u32::from_str_radix(f[1], 8).map_err(|_| format!("bad mode in {text:?}"))?;
        let size = f[3].parse().map_err(|_| format!("bad size in {text:?}"))?;
        let hash = (f[4] != "-").then(|| f[4].to_string());
        out.push((
            path,
            Some(Entry {
                kind,
                mode,
                owner: f[2].to_string(),
                size,
                hash,
            }),
        ));
    }
    Ok(out)
}

/// Scans the whole file system of a sandbox (once per image).
pub async fn scan_base(sandbox: &Sandbox) -> Result<Manifest, DockerError> {
    let cmd = vec!["perl".into(), AGENT.into(), "scan".into(), "/".into()];
    let out = sandbox.exec(&cmd, None, Duration::from_secs(600)).await?;
    if out.exit_code != 0 {
        return Err(DockerError::Other(format!(
            "agent scan failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let records = parse_records(&out.stdout).map_err(DockerError::Other)?;
    Ok(records
        .into_iter()
        .filter_map(|(p, e)| e.map(|e| (p, e)))
        .collect())
}

/// Takes a snapshot: the engine's change list, hashed by the agent in one
/// exec; deleted directories expand to the base paths beneath them.
pub async fn capture(
    sandbox: &Sandbox,
    base: &Arc<Manifest>,
    view: PackageView,
) -> Result<(Snapshot, CaptureTimings), DockerError> {
    let t = std::time::Instant::now();
    let changed = sandbox.changes().await?;
    let changes_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = std::time::Instant::now();
    let paths: Vec<String> = changed.paths.into_iter().filter(|p| !excluded(p)).collect();
    let deleted_dirs: Vec<String> = changed
        .replaced_dirs
        .into_iter()
        .filter(|p| !excluded(p))
        .collect();
    let mut overlay = BTreeMap::new();
    if !paths.is_empty() {
        let mut stdin = Vec::new();
        for p in &paths {
            stdin.extend_from_slice(p.as_bytes());
            stdin.push(0);
        }
        let cmd = vec!["perl".into(), AGENT.into(), "stat".into()];
        let out = sandbox
            .exec(&cmd, Some(stdin), Duration::from_secs(600))
            .await?;
        if out.exit_code != 0 {
            return Err(DockerError::Other(format!(
                "agent stat failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        overlay.extend(parse_records(&out.stdout).map_err(DockerError::Other)?);
    }
    // The image's paths below a deleted or replaced directory are gone
    // unless the container made them anew (then they are in the overlay).
    for d in deleted_dirs {
        let prefix = format!("{d}/");
        for (p, _) in base
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
        {
            overlay.entry(p.clone()).or_insert(None);
        }
    }
    let timings = CaptureTimings {
        changes_ms,
        hash_ms: t.elapsed().as_secs_f64() * 1000.0,
    };
    Ok((
        Snapshot {
            base: base.clone(),
            overlay,
            packages: view.packages,
            live: view.live,
            commands: view.commands,
        },
        timings,
    ))
}

/// Where a capture's time went.
#[derive(Debug, Clone, Copy, Default)]
pub struct CaptureTimings {
    pub changes_ms: f64,
    pub hash_ms: f64,
}

/// Runs an approach's package view (`Approach::package_view`) with a direct
/// exec and parses its whole standard output: never through the agent's
/// output tail, which keeps only the last 4096 bytes and so drops the first
/// packages of a long listing. Output beyond `limits` fails the read
/// ("package view printed more than N bytes"), and a failing view is an
/// error: a trial never measures a partial view.
pub async fn read_view(
    sandbox: &Sandbox,
    command: &str,
    timeout: Duration,
    limits: ExecLimits,
) -> Result<PackageView, DockerError> {
    let cmd = vec!["sh".to_string(), "-c".to_string(), command.to_string()];
    let out = sandbox.exec_limited(&cmd, None, timeout, limits).await.map_err(|e| match e {
        DockerError::OutputTooLarge { limit, container, .. } => {
            DockerError::Other(format!("package view printed more than {limit} bytes in {container}; a cut view is not measured"))
        }
        e => e,
    })?;
    if out.exit_code != 0 {
        return Err(DockerError::Other(format!(
            "package view failed (exit {}): {}",
            out.exit_code,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(PackageView::parse(&String::from_utf8_lossy(&out.stdout)))
}

/// The package manager's own view, parsed from an approach's view command:
/// lines `P<TAB>name<TAB>state` and `L<TAB>/nix/store/...`.
#[derive(Debug, Clone, Default)]
pub struct PackageView {
    pub packages: BTreeMap<String, String>,
    pub live: BTreeSet<String>,
    /// `X<TAB>name` lines: commands on PATH ([`path_commands`]).
    pub commands: BTreeSet<String>,
}

impl PackageView {
    pub fn parse(text: &str) -> PackageView {
        let mut v = PackageView::default();
        for line in text.lines() {
            let mut f = line.splitn(3, '\t');
            match (f.next(), f.next(), f.next()) {
                (Some("P"), Some(name), state) => {
                    v.packages
                        .insert(name.to_string(), state.unwrap_or("").to_string());
                }
                (Some("L"), Some(path), _) => {
                    v.live.insert(path.to_string());
                }
                (Some("X"), Some(name), _) => {
                    v.commands.insert(name.to_string());
                }
                _ => {}
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(h: &str) -> Entry {
        Entry {
            kind: EntryKind::File,
            mode: 0o644,
            owner: "0:0".into(),
            size: 3,
            hash: Some(h.into()),
        }
    }

    fn snap(base: &Arc<Manifest>, overlay: &[(&str, Option<Entry>)], live: &[&str]) -> Snapshot {
        Snapshot {
            base: base.clone(),
            overlay: overlay
                .iter()
                .map(|(p, e)| (p.to_string(), e.clone()))
                .collect(),
            packages: BTreeMap::new(),
            live: live.iter().map(|s| s.to_string()).collect(),
            commands: BTreeSet::new(),
        }
    }

    #[test]
    fn parses_agent_records() {
        let data = b"f\t644\t0:0\t839\tabc\t/etc/passwd\0-\t-\t-\t0\t-\t/nope\0d\t755\t0:0\t0\t-\t/usr/a\tb\0";
        let r = parse_records(data).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].1.as_ref().unwrap().hash.as_deref(), Some("abc"));
        assert!(r[1].1.is_none());
        assert_eq!(r[2].0, "/usr/a\tb", "tabs inside a path survive");
        assert!(parse_records(b"garbage\0").is_err());
    }

    #[test]
    fn overlay_residue_uses_the_base_for_unlisted_paths() {
        let base: Arc<Manifest> = Arc::new(
            [
                ("/etc/a".to_string(), file("1")),
                ("/etc/b".to_string(), file("2")),
            ]
            .into(),
        );
        // Before: /etc/a rewritten with identical content (listed, unchanged).
        let before = snap(&base, &[("/etc/a", Some(file("1")))], &[]);
        // After: /etc/b modified (only listed now), /etc/c added, /var/log/x garbage.
        let after = snap(
            &base,
            &[
                ("/etc/a", Some(file("1"))),
                ("/etc/b", Some(file("9"))),
                ("/etc/c", Some(file("3"))),
                ("/var/log/x", Some(file("4"))),
            ],
            &[],
        );
        let r = residue(&before, &after);
        assert_eq!((r.added, r.removed, r.modified, r.garbage), (1, 0, 1, 1));
        let back = residue(&after, &before);
        assert_eq!((back.added, back.removed, back.modified), (0, 1, 1));
    }

    #[test]
    fn directories_are_counted_apart_from_files() {
        let dir = |mode| Entry {
            kind: EntryKind::Dir,
            mode,
            owner: "0:0".into(),
            size: 0,
            hash: None,
        };
        let base: Arc<Manifest> = Arc::new(
            [
                ("/etc/old".to_string(), dir(0o755)),
                ("/etc/mode".to_string(), dir(0o755)),
            ]
            .into(),
        );
        let before = snap(&base, &[], &[]);
        // Added: a folder and a file in it; removed: a folder; a folder's
        // mode changed.
        let after = snap(
            &base,
            &[
                ("/etc/new", Some(dir(0o755))),
                ("/etc/new/x.conf", Some(file("1"))),
                ("/etc/old", None),
                ("/etc/mode", Some(dir(0o700))),
            ],
            &[],
        );
        let r = residue(&before, &after);
        assert_eq!((r.added, r.removed, r.modified), (1, 0, 0), "one file");
        assert_eq!(r.dirs, 3);
        assert_eq!((r.visible_files(), r.visible_changes()), (1, 4));
        let back = residue(&after, &before);
        assert_eq!((back.removed, back.dirs), (1, 3), "a removed folder is a folder");
    }

    #[test]
    fn package_view_diff_counts_changed_packages() {
        let base = Arc::new(Manifest::new());
        let mut a = snap(&base, &[], &[]);
        let mut b = snap(&base, &[], &[]);
        a.packages = PackageView::parse("P\tlibc\t2.36 ii\nP\tfoo\t1.0 ii\n").packages;
        b.packages = PackageView::parse(
            "P\tlibc\t2.36 ii\nP\tfoo\t1.0 iH\nP\tdepa\t1.0 ii\nL\t/nix/store/x\n",
        )
        .packages;
        assert_eq!(
            residue(&a, &b).packages,
            vec!["depa".to_string(), "foo".to_string()]
        );
    }
}
