//! Which paths of a container changed since its image. The engine's answer
//! (`docker diff`) is the reference, but engines using overlay2's "naive
//! diff" walk the whole image for it (about 0.45 s a call here). When the
//! engine runs on this host and its overlay2 upper directory is readable,
//! walking that directory gives the same paths in milliseconds.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Changed paths, plus the directories whose former contents are gone
/// (deleted, or replaced by an opaque directory): their children in the
/// image must be looked at too.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChangedPaths {
    pub paths: Vec<String>,
    pub replaced_dirs: Vec<String>,
}

/// From the engine's change list: kind 2 is a deletion.
pub fn from_engine(changes: Vec<bollard::models::FilesystemChange>) -> ChangedPaths {
    let mut out = ChangedPaths::default();
    for c in changes {
        if c.kind == bollard::models::ChangeType::_2 {
            out.replaced_dirs.push(c.path.clone());
        }
        out.paths.push(c.path);
    }
    out
}

/// The overlay2 upper directory, if the engine reports one that this
/// process can read (same host, enough rights).
pub fn usable_upper_dir(driver: Option<&bollard::models::DriverData>) -> Option<PathBuf> {
    let d = driver?;
    if d.name != "overlay2" {
        return None;
    }
    let upper = PathBuf::from(d.data.get("UpperDir")?);
    std::fs::read_dir(&upper).ok().map(|_| upper)
}

/// Walks an overlay2 upper directory. A whiteout (a character device 0:0)
/// marks a deleted path; a directory with `trusted.overlay.opaque = y`
/// hides everything the image had below it.
pub fn from_upper_dir(upper: &Path) -> std::io::Result<ChangedPaths> {
    from_upper_dir_bounded(upper, MAX_CHANGED_PATHS, MAX_CHANGED_BYTES)
}

/// The most bytes of changed files a snapshot accepts (their apparent
/// sizes, summed over the walk): a package operation writes megabytes; a
/// scenario that writes more than this errors its trial rather than have
/// the harness hash it.
pub const MAX_CHANGED_BYTES: u64 = 8 << 30;

/// The most changed paths a snapshot reads: far above any package
/// operation (a whole image is ~20,000 paths), low enough that a scenario
/// writing files without end errors its trial instead of stalling the host
/// (the walk and the path list live on the host).
pub const MAX_CHANGED_PATHS: usize = 1_000_000;

/// The walk's error when a container changed more than `limit` paths.
pub fn too_many_changes(limit: usize) -> std::io::Error {
    std::io::Error::other(format!(
        "the container changed more than {limit} paths: the trial is errored rather than walked (a bound on what a scenario can make the host read)"
    ))
}

fn from_upper_dir_bounded(
    upper: &Path,
    limit: usize,
    max_bytes: u64,
) -> std::io::Result<ChangedPaths> {
    let mut out = ChangedPaths::default();
    let mut bytes: u64 = 0;
    let mut stack = vec![(upper.to_path_buf(), String::new())];
    // A path can vanish mid-walk if something in the container still runs;
    // it is listed anyway (the agent then reports it absent or present).
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    while let Some((dir, rel)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Err(e) if gone(&e) && !rel.is_empty() => continue,
            r => r?,
        };
        for entry in entries {
            let entry = match entry {
                Err(e) if gone(&e) => continue,
                r => r?,
            };
            let name = entry.file_name();
            let path = format!("{rel}/{}", String::from_utf8_lossy(name.as_bytes()));
            let meta = match entry.metadata() {
                Err(e) if gone(&e) => {
                    out.paths.push(path);
                    continue;
                }
                r => r?,
            };
            let ft = meta.file_type();
            if ft.is_file() {
                bytes = bytes.saturating_add(meta.len());
                if bytes > max_bytes {
                    return Err(std::io::Error::other(format!(
                        "the container's changed files hold more than {} GiB: the trial is errored rather than hashed (a bound on what a scenario can make the host read)",
                        max_bytes >> 30
                    )));
                }
            }
            if ft.is_char_device() && meta.rdev() == 0 {
                out.replaced_dirs.push(path.clone());
            } else if ft.is_dir() {
                if is_opaque(&entry.path()) {
                    out.replaced_dirs.push(path.clone());
                }
                stack.push((entry.path(), path.clone()));
            }
            out.paths.push(path);
            if out.paths.len() > limit {
                return Err(too_many_changes(limit));
            }
        }
    }
    Ok(out)
}

fn is_opaque(dir: &Path) -> bool {
    let Ok(c_path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut value = [0u8; 4];
    // SAFETY: both pointers are valid for the lengths given; lgetxattr
    // writes at most `value.len()` bytes.
    let n = unsafe {
        libc::lgetxattr(
            c_path.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    n == 1 && value[0] == b'y'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_files_dirs_and_reports_nested_paths() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("usr/share/depa")).unwrap();
        std::fs::write(d.path().join("usr/share/depa/x"), "x").unwrap();
        std::fs::write(d.path().join("top"), "t").unwrap();
        let mut c = from_upper_dir(d.path()).unwrap();
        c.paths.sort();
        assert_eq!(
            c.paths,
            vec![
                "/top",
                "/usr",
                "/usr/share",
                "/usr/share/depa",
                "/usr/share/depa/x"
            ]
        );
        assert!(c.replaced_dirs.is_empty());
    }

    #[test]
    fn a_walk_past_its_bound_is_an_error_not_a_cut_list() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::write(d.path().join(format!("f{i}")), "x").unwrap();
        }
        assert_eq!(
            from_upper_dir_bounded(d.path(), 5, u64::MAX)
                .unwrap()
                .paths
                .len(),
            5
        );
        let e = from_upper_dir_bounded(d.path(), 4, u64::MAX).unwrap_err();
        assert!(e.to_string().contains("more than 4 paths"), "{e}");
        // Five one-byte files: four bytes are too many.
        let e = from_upper_dir_bounded(d.path(), 5, 4).unwrap_err();
        assert!(
            e.to_string().contains("changed files hold more than"),
            "{e}"
        );
    }
}
