//! The on-disk cache of what depends on an image's content alone (its full
//! manifest, its tools' versions), keyed by the image's content-addressed
//! id: a rebuilt image has a new id, so it can never be served an old entry.
//! Imports nothing of the harness, so `docker` and `runner` can both use it.

use serde::{de::DeserializeOwned, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Set to anything but "" or "0": no cache file is read or written.
pub const NO_CACHE_ENV: &str = "MISTAKE_COST_NO_CACHE";

/// Files kept per kind: older ones (images since rebuilt, other checkouts'
/// images) are removed when a new one is written, so the folder stays a
/// few tens of MB.
const KEEP: usize = 16;

/// One kind of entry (`manifests`, `versions`) in its own folder. The
/// format version is part of each file's name and header: a harness that
/// reads or parses the entries differently bumps it and never sees the old
/// files.
#[derive(Debug, Clone)]
pub struct ImageCache {
    /// `None`: disabled (by the variable, or no cache folder known).
    dir: Option<PathBuf>,
    kind: &'static str,
    version: u32,
}

/// What a look-up found.
#[derive(Debug)]
pub enum Lookup<T> {
    Hit(T),
    /// No entry for this id (or the cache is off).
    Miss,
    /// A file was there but is not usable (cut, altered, another format):
    /// ignored, and rewritten by the caller's next `store`.
    Invalid {
        path: PathBuf,
        reason: String,
    },
}

impl ImageCache {
    /// `$XDG_CACHE_HOME/mistake-cost/<kind>/` (else `$HOME/.cache/...`),
    /// unless `MISTAKE_COST_NO_CACHE` is set.
    pub fn from_env(kind: &'static str, version: u32) -> ImageCache {
        Self::from_vars(kind, version, |name| std::env::var_os(name))
    }

    /// `from_env` over any variable lookup (tests do not touch the
    /// process's environment, which other tests share).
    fn from_vars(
        kind: &'static str,
        version: u32,
        get: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> ImageCache {
        let var = |name: &str| get(name).filter(|v| !v.is_empty());
        let disabled = var(NO_CACHE_ENV).is_some_and(|v| v != "0");
        // The XDG spec says to ignore a relative XDG_CACHE_HOME.
        let root = var("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")));
        ImageCache {
            dir: root
                .filter(|_| !disabled)
                .map(|r| r.join("mistake-cost").join(kind)),
            kind,
            version,
        }
    }

    /// A cache in `dir` (tests).
    pub fn in_dir(dir: impl Into<PathBuf>, kind: &'static str, version: u32) -> ImageCache {
        ImageCache {
            dir: Some(dir.into()),
            kind,
            version,
        }
    }

    pub fn disabled(kind: &'static str, version: u32) -> ImageCache {
        ImageCache {
            dir: None,
            kind,
            version,
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.dir.is_some()
    }

    /// The file for an image id; `None` when disabled or when the id is not
    /// one Docker makes (`sha256:<hex>`): nothing else becomes a file name.
    pub fn path(&self, image_id: &str) -> Option<PathBuf> {
        let (algo, hex) = image_id.split_once(':')?;
        let plain = |s: &str| {
            !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if !plain(algo) || !plain(hex) {
            return None;
        }
        Some(
            self.dir
                .as_ref()?
                .join(format!("{algo}-{hex}.v{}.json", self.version)),
        )
    }

    fn header(&self, image_id: &str, payload: &[u8]) -> String {
        format!(
            "mistake-cost cache\t{}\tv{}\t{image_id}\t{}\tblake3:{}\n",
            self.kind,
            self.version,
            payload.len(),
            blake3::hash(payload).to_hex()
        )
    }

    pub fn load<T: DeserializeOwned>(&self, image_id: &str) -> Lookup<T> {
        let Some(path) = self.path(image_id) else {
            return Lookup::Miss;
        };
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => {
                return Lookup::Invalid {
                    path,
                    reason: format!("unreadable: {e}"),
                }
            }
        };
        let invalid = |reason: &str| Lookup::Invalid {
            path: path.clone(),
            reason: reason.to_string(),
        };
        let Some(nl) = data.iter().position(|b| *b == b'\n') else {
            return invalid("no header line");
        };
        let (header, payload) = (&data[..=nl], &data[nl + 1..]);
        // The header names kind, version, id, length and checksum: a file
        // cut short, altered, renamed or written by another format fails
        // here, before its contents are believed.
        if header != self.header(image_id, payload).as_bytes() {
            return invalid("header or checksum does not match its contents");
        }
        match serde_json::from_slice(payload) {
            Ok(v) => Lookup::Hit(v),
            Err(e) => Lookup::Invalid {
                path,
                reason: format!("does not parse: {e}"),
            },
        }
    }

    /// Writes the entry for `image_id` atomically (a temporary file renamed
    /// over it, so a reader sees the old file or the new one, never half of
    /// one) and removes the oldest files beyond the most recent 16. No
    /// fsync: a file torn by a power cut fails its checksum and is rebuilt.
    /// `Ok(None)`: disabled, or an id that is not cached.
    pub fn store<T: Serialize>(
        &self,
        image_id: &str,
        value: &T,
    ) -> std::io::Result<Option<PathBuf>> {
        let (Some(path), Some(dir)) = (self.path(image_id), self.dir.as_ref()) else {
            return Ok(None);
        };
        let payload = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        std::fs::create_dir_all(dir)?;
        // Unique per process and call: two writers never share a temporary.
        static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tmp = dir.join(format!(
            ".{}.tmp-{}-{}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id(),
            SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(self.header(image_id, &payload).as_bytes())?;
            f.write_all(&payload)?;
            drop(f);
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            std::fs::remove_file(&tmp).ok();
            return Err(e);
        }
        prune(dir, KEEP);
        Ok(Some(path))
    }
}

/// Removes all but the `keep` most recently written entries of `dir`
/// (temporary files of live writers have a leading dot and are left alone).
/// Best effort: a file another process removed first is no error.
fn prune(dir: &Path, keep: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = rd
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= keep {
        return;
    }
    files.sort();
    for (_, p) in &files[..files.len() - keep] {
        std::fs::remove_file(p).ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const ID: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const OTHER: &str = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

    fn value() -> BTreeMap<String, u64> {
        [("/etc/passwd".to_string(), 839), ("/usr".to_string(), 0)].into()
    }

    fn cache(dir: &Path) -> ImageCache {
        ImageCache::in_dir(dir.join("manifests"), "manifests", 1)
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        assert!(matches!(c.load::<BTreeMap<String, u64>>(ID), Lookup::Miss));
        let path = c.store(ID, &value()).unwrap().unwrap();
        assert!(path.starts_with(dir.path().join("manifests")));
        assert!(path.to_string_lossy().ends_with(".v1.json"));
        match c.load::<BTreeMap<String, u64>>(ID) {
            Lookup::Hit(v) => assert_eq!(v, value()),
            other => panic!("expected a hit, got {other:?}"),
        }
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("manifests"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn another_id_or_version_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        c.store(ID, &value()).unwrap();
        assert!(matches!(
            c.load::<BTreeMap<String, u64>>(OTHER),
            Lookup::Miss
        ));
        let v2 = ImageCache::in_dir(dir.path().join("manifests"), "manifests", 2);
        assert!(matches!(v2.load::<BTreeMap<String, u64>>(ID), Lookup::Miss));
    }

    #[test]
    fn a_file_renamed_to_another_id_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        let from = c.store(ID, &value()).unwrap().unwrap();
        std::fs::copy(&from, c.path(OTHER).unwrap()).unwrap();
        assert!(matches!(
            c.load::<BTreeMap<String, u64>>(OTHER),
            Lookup::Invalid { .. }
        ));
    }

    #[test]
    fn corrupt_files_are_ignored_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        let path = c.store(ID, &value()).unwrap().unwrap();
        let good = std::fs::read(&path).unwrap();
        let header_len = good.iter().position(|b| *b == b'\n').unwrap() + 1;
        let mut flipped = good.clone();
        // Same length, one path changed: only the checksum can tell.
        let at = header_len + 5;
        flipped[at] = if flipped[at] == b'x' { b'y' } else { b'x' };
        let cut = good[..good.len() - 3].to_vec();
        for bad in [
            flipped,
            cut,
            Vec::new(),
            b"garbage".to_vec(),
            vec![0xff; 64],
            good[header_len..].to_vec(),
        ] {
            std::fs::write(&path, &bad).unwrap();
            assert!(
                matches!(c.load::<BTreeMap<String, u64>>(ID), Lookup::Invalid { .. }),
                "accepted {:?}",
                String::from_utf8_lossy(&bad)
            );
        }
        // A valid file of the wrong shape parses to an error, not a panic.
        c.store(ID, &vec!["not", "a", "map"]).unwrap();
        assert!(matches!(
            c.load::<BTreeMap<String, u64>>(ID),
            Lookup::Invalid { .. }
        ));
        c.store(ID, &value()).unwrap();
        assert!(matches!(
            c.load::<BTreeMap<String, u64>>(ID),
            Lookup::Hit(_)
        ));
    }

    #[test]
    fn a_folder_in_the_way_is_an_error_on_store_and_invalid_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        std::fs::create_dir_all(c.path(ID).unwrap()).unwrap();
        assert!(matches!(
            c.load::<BTreeMap<String, u64>>(ID),
            Lookup::Invalid { .. }
        ));
        assert!(c.store(ID, &value()).is_err());
    }

    #[test]
    fn ids_that_are_not_digests_are_never_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        for id in [
            "",
            "sha256:",
            "abc",
            "sha256:../../etc/passwd",
            "a/b:c",
            "sha256:ab cd",
        ] {
            assert_eq!(c.path(id), None, "{id}");
            assert_eq!(c.store(id, &value()).unwrap(), None);
            assert!(matches!(c.load::<BTreeMap<String, u64>>(id), Lookup::Miss));
        }
    }

    #[test]
    fn the_folder_comes_from_xdg_then_home_unless_disabled() {
        let dir = |vars: &[(&str, &str)]| {
            let vars: BTreeMap<String, String> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            ImageCache::from_vars("manifests", 1, |n| vars.get(n).map(Into::into)).dir
        };
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(
            dir(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]),
            p("/x/mistake-cost/manifests")
        );
        assert_eq!(
            dir(&[("HOME", "/h")]),
            p("/h/.cache/mistake-cost/manifests")
        );
        // A relative or empty XDG_CACHE_HOME is ignored, as the spec says.
        assert_eq!(
            dir(&[("XDG_CACHE_HOME", "rel"), ("HOME", "/h")]),
            p("/h/.cache/mistake-cost/manifests")
        );
        assert_eq!(
            dir(&[("XDG_CACHE_HOME", ""), ("HOME", "/h")]),
            p("/h/.cache/mistake-cost/manifests")
        );
        assert_eq!(dir(&[]), None);
        for off in ["1", "yes"] {
            assert_eq!(dir(&[("HOME", "/h"), (NO_CACHE_ENV, off)]), None);
        }
        for on in ["", "0"] {
            assert!(dir(&[("HOME", "/h"), (NO_CACHE_ENV, on)]).is_some());
        }
    }

    #[test]
    fn disabled_reads_and_writes_nothing() {
        let c = ImageCache::disabled("manifests", 1);
        assert!(!c.is_enabled());
        assert_eq!(c.store(ID, &value()).unwrap(), None);
        assert!(matches!(c.load::<BTreeMap<String, u64>>(ID), Lookup::Miss));
    }

    #[test]
    fn only_the_newest_entries_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path());
        let ids: Vec<String> = (0..KEEP + 3).map(|i| format!("sha256:{i:064x}")).collect();
        for (i, id) in ids.iter().enumerate() {
            let p = c.store(id, &value()).unwrap().unwrap();
            // Distinct, increasing times whatever the file system's resolution.
            let t = std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs(1_000 + i as u64);
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        c.store(&ids[KEEP + 2], &value()).unwrap();
        let kept = std::fs::read_dir(dir.path().join("manifests"))
            .unwrap()
            .count();
        assert_eq!(kept, KEEP);
        assert!(matches!(
            c.load::<BTreeMap<String, u64>>(&ids[0]),
            Lookup::Miss
        ));
        assert!(matches!(
            c.load::<BTreeMap<String, u64>>(&ids[KEEP + 2]),
            Lookup::Hit(_)
        ));
    }
}
