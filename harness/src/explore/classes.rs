//! Equivalence classes of crash points (after ALICE and CrashMonkey): one
//! process's changes of one kind in one region of the file system (dpkg
//! renaming the files of one package's folder) form a class; explore
//! crashes a seeded sample of each and reports how many points each
//! explored point stands for. A pruned run is never called exhaustive.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use super::points::{CrashPoint, TracedCall};
use super::sample::select_within;

/// The file a state-changing call changed, as strace's `-y` decoded it (an
/// fd's path, or a path argument joined to its decoded directory fd); `None`
/// when the log does not say (`sync`, an fd strace could not decode).
pub fn changed_path(c: &TracedCall) -> Option<String> {
    let arg = |i: usize| c.args.get(i).map(String::as_str).unwrap_or("");
    let at = |dir: usize, path: usize| join(arg(dir), arg(path));
    match c.syscall.as_str() {
        "open" | "creat" => c
            .ret
            .as_deref()
            .and_then(fd_path)
            .or_else(|| unquote(arg(0))),
        "openat" => c.ret.as_deref().and_then(fd_path).or_else(|| at(0, 1)),
        "copy_file_range" => fd_path(arg(2)),
        "write" | "pwrite64" | "writev" | "pwritev" | "pwritev2" | "sendfile" | "ftruncate"
        | "fsync" | "fdatasync" | "sync_file_range" | "syncfs" | "fchmod" | "fchown" => {
            fd_path(arg(0))
        }
        "rename" | "link" | "symlink" => unquote(arg(1)),
        "renameat" | "renameat2" | "linkat" => at(2, 3),
        "symlinkat" => at(1, 2),
        "unlink" | "rmdir" | "mkdir" | "chmod" | "chown" | "lchown" => unquote(arg(0)),
        "unlinkat" | "mkdirat" | "fchmodat" | "fchownat" => at(0, 1),
        "utimensat" if arg(1) == "NULL" => fd_path(arg(0)),
        "utimensat" => at(0, 1),
        "sync" => None,
        // A syscall outside the families: its first path-like argument.
        _ => c
            .args
            .iter()
            .find_map(|a| unquote(a).or_else(|| fd_path(a))),
    }
}

/// `3</tmp/a>` or `AT_FDCWD</tmp>` → the decoded path.
fn fd_path(arg: &str) -> Option<String> {
    let (_, rest) = arg.split_once('<')?;
    let p = rest.strip_suffix('>')?;
    p.starts_with('/').then(|| p.to_string())
}

/// `"a/b"` (strace's quoting, maybe with `...` after it) → `a/b`.
fn unquote(arg: &str) -> Option<String> {
    let inner = arg.strip_prefix('"')?;
    let end = inner.rfind('"')?;
    Some(inner[..end].to_string())
}

/// A path argument resolved against its directory fd when it is relative.
fn join(dir: &str, path: &str) -> Option<String> {
    let p = unquote(path)?;
    if p.starts_with('/') {
        return Some(p);
    }
    Some(match fd_path(dir) {
        Some(d) => format!("{}/{p}", d.trim_end_matches('/')),
        None => p,
    })
}

/// How many leading folders of a changed file's path name its region:
/// `/usr/share/liba`, `/var/lib/dpkg`, `/nix/store/<hash>-liba-1.0`,
/// `/usr/local/lib`, `/tmp/pip-install-<random>`. Deeper would split one
/// package's unpack by subfolder; shallower would merge packages.
pub const REGION_DEPTH: usize = 3;

/// The region of a changed file: its folder's first [`REGION_DEPTH`]
/// components, digit runs as `#` (so `python3.11` and `python3.12`, or two
/// numbered temp folders, are one region); `-` when the log names no file.
pub fn region(path: Option<&str>) -> String {
    let Some(path) = path else {
        return "-".into();
    };
    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let absolute = path.starts_with('/');
    let parts: Vec<&str> = dir
        .split('/')
        .filter(|p| !p.is_empty())
        .take(REGION_DEPTH)
        .collect();
    let joined = digits_as_hash(&parts.join("/"));
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn digits_as_hash(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One class: the points where one process made one family of changes
/// (create, write, rename, ...) in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointClass {
    /// Rank by the class's first point in the dry run (0-based).
    pub id: usize,
    pub process: String,
    pub family: String,
    /// [`region`] of the points' files.
    pub region: String,
    /// The points' indices, in dry-run order.
    pub points: Vec<usize>,
}

impl PointClass {
    /// `dpkg rename /usr/share/liba`: for tables and logs.
    pub fn label(&self) -> String {
        format!("{} {} {}", self.process, self.family, self.region)
    }
}

/// Groups points into classes by (process, syscall family, region), in
/// order of each class's first point. Every point is in exactly one class.
/// A class is a claim of similarity, not of equal outcomes: the report
/// says how many points each explored one stands for, never "all".
pub fn classes(points: &[CrashPoint]) -> Vec<PointClass> {
    let mut out: Vec<PointClass> = Vec::new();
    let mut by_key: HashMap<(String, String, String), usize> = HashMap::new();
    for p in points {
        let key = (
            p.process.clone(),
            p.family.clone(),
            // Normalised: a temporary folder's random name is one region in every run.
            region(
                p.target
                    .as_deref()
                    .map(crate::nemesis::call_label::normalise)
                    .as_deref(),
            ),
        );
        let next = out.len();
        let i = *by_key.entry(key.clone()).or_insert(next);
        if i == next {
            out.push(PointClass {
                id: next,
                process: key.0,
                family: key.1,
                region: key.2,
                points: Vec::new(),
            });
        }
        out[i].points.push(p.index);
    }
    out
}

/// Up to `per_class` points of each class: all when the class is that
/// small, else its first point and seeded picks, one file before a second
/// call on a file (one seeded pick when `per_class` is 1;
/// [`select_within`]), the seed derived from
/// `seed` and the class's label so adding a class does not reshuffle the
/// others.
pub fn sample(
    points: &[CrashPoint],
    classes: &[PointClass],
    per_class: usize,
    seed: u64,
) -> Vec<CrashPoint> {
    let by_index: HashMap<usize, &CrashPoint> = points.iter().map(|p| (p.index, p)).collect();
    let mut out: Vec<CrashPoint> = Vec::new();
    for c in classes {
        let members: Vec<CrashPoint> = c
            .points
            .iter()
            .filter_map(|i| by_index.get(i).map(|p| (*p).clone()))
            .collect();
        // From the class's label, not its rank: a class another run finds
        // earlier or later keeps its picks.
        let class_seed = c.label().bytes().fold(seed, |h, b| {
            h.wrapping_mul(0x100_0000_01B3).wrapping_add(b as u64)
        });
        out.extend(select_within(&members, per_class.max(1), class_seed));
    }
    out.sort_by_key(|p| p.index);
    out
}

/// Point index → (class id, class size), for the rows of crashpoints.csv.
pub fn membership(classes: &[PointClass]) -> HashMap<usize, (usize, usize)> {
    classes
        .iter()
        .flat_map(|c| c.points.iter().map(move |&i| (i, (c.id, c.points.len()))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(syscall: &str, args: &[&str], ret: &str) -> TracedCall {
        TracedCall {
            pid: 1,
            life: 0,
            process: "p".into(),
            syscall: syscall.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            ret: Some(ret.into()),
            at: None,
            worker: false,
        }
    }

    fn point(index: usize, process: &str, syscall: &str, target: Option<&str>) -> CrashPoint {
        CrashPoint {
            index,
            syscall: syscall.into(),
            family: super::super::points::family_of(syscall).into(),
            k: index as u64 + 1,
            process: process.into(),
            change: 0,
            first_reached_by: None,
            target: target.map(String::from),
            in_worker: false,
            label: target.unwrap_or_default().into(),
            unsteady: false,
        }
    }

    #[test]
    fn the_changed_file_is_read_from_each_call_shape() {
        let cases = [
            (
                call(
                    "openat",
                    &["AT_FDCWD</w>", "\"a\"", "O_WRONLY|O_CREAT"],
                    "3</w/a>",
                ),
                Some("/w/a"),
            ),
            (
                call(
                    "renameat2",
                    &["AT_FDCWD</w>", "\"a\"", "AT_FDCWD</w>", "\"c\"", "0"],
                    "0",
                ),
                Some("/w/c"),
            ),
            (
                call("rename", &["\"/x/a.tmp\"", "\"/x/a\""], "0"),
                Some("/x/a"),
            ),
            (
                call("write", &["1</w/a>", "\"\"...", "3"], "3"),
                Some("/w/a"),
            ),
            (
                call(
                    "copy_file_range",
                    &["3</etc/h>", "NULL", "4</w/z>", "NULL", "9", "0"],
                    "3",
                ),
                Some("/w/z"),
            ),
            (
                call("symlinkat", &["\"c\"", "AT_FDCWD</w>", "\"d\""], "0"),
                Some("/w/d"),
            ),
            (
                call("unlinkat", &["5</w/x>", "\"y\"", "0"], "0"),
                Some("/w/x/y"),
            ),
            (call("mkdir", &["\"x\"", "0777"], "0"), Some("x")),
            (
                call("utimensat", &["3</w/a>", "NULL", "[...]", "0"], "0"),
                Some("/w/a"),
            ),
            (call("fsync", &["3<pipe:[12]>"], "0"), None),
            (call("sync", &[], "0"), None),
        ];
        for (c, want) in cases {
            assert_eq!(changed_path(&c).as_deref(), want, "{c:?}");
        }
    }

    #[test]
    fn regions_keep_three_folders_with_digits_as_hash() {
        assert_eq!(
            region(Some("/usr/share/liba/share/liba/part12.dat.dpkg-new")),
            "/usr/share/liba"
        );
        assert_eq!(region(Some("/var/lib/dpkg/updates/0003")), "/var/lib/dpkg");
        assert_eq!(region(Some("/tmp/pip-9x2/v1/README")), "/tmp/pip-#x#/v#");
        assert_eq!(region(Some("/etc/x.conf")), "/etc");
        assert_eq!(region(Some("build/lib/app/data/f")), "build/lib/app");
        assert_eq!(region(Some("x")), ".");
        assert_eq!(region(None), "-");
        assert_ne!(
            region(Some("/usr/share/liba/a")),
            region(Some("/usr/share/libb/a"))
        );
    }

    #[test]
    fn a_class_is_one_process_family_and_region() {
        let pts = vec![
            point(0, "dpkg", "renameat", Some("/u/s/liba/x/a1.dpkg-new")),
            point(1, "dpkg", "fsync", Some("/u/s/liba/x/a1.dpkg-new")),
            point(2, "dpkg", "rename", Some("/u/s/liba/y/a2")),
            point(3, "dpkg", "rename", Some("/u/s/libb/x/b1")),
            point(4, "dpkg", "renameat2", Some("/u/s/liba/a3")),
            point(5, "apt", "rename", Some("/u/s/liba/a4")),
            point(6, "dpkg", "sync", None),
        ];
        let cs = classes(&pts);
        let got: Vec<(String, Vec<usize>)> =
            cs.iter().map(|c| (c.label(), c.points.clone())).collect();
        assert_eq!(
            got,
            vec![
                // rename, renameat and renameat2 are one family.
                ("dpkg rename /u/s/liba".into(), vec![0, 2, 4]),
                ("dpkg sync /u/s/liba".into(), vec![1]),
                ("dpkg rename /u/s/libb".into(), vec![3]),
                ("apt rename /u/s/liba".into(), vec![5]),
                ("dpkg sync -".into(), vec![6]),
            ]
        );
        let total: usize = cs.iter().map(|c| c.points.len()).sum();
        assert_eq!(total, pts.len(), "every point is in one class");
        assert!(cs.iter().enumerate().all(|(i, c)| c.id == i));
    }

    #[test]
    fn sampling_takes_every_class_and_is_seeded() {
        let pts: Vec<CrashPoint> = (0..50)
            .map(|i| point(i, "dpkg", "rename", Some(&format!("/s/d{}/f{i}.x", i / 10))))
            .collect();
        // Folders d0..d4 are one region, `/s/d#`: one class.
        let cs = classes(&pts);
        assert_eq!(cs.len(), 1);
        let one = sample(&pts, &cs, 1, 7);
        assert_eq!(one.len(), 1);
        assert_eq!(one, sample(&pts, &cs, 1, 7));
        let three = sample(&pts, &cs, 3, 7);
        assert_eq!(three.len(), 3);
        assert_eq!(three[0].index, 0, "the class's first point");
        assert_ne!(three, sample(&pts, &cs, 3, 8), "the others are seeded");
        let all = sample(&pts, &cs, 100, 7);
        assert_eq!(all.len(), 50);
        let m = membership(&cs);
        assert_eq!(m[&17], (0, 50));
    }
}
