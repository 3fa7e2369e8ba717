//! The base-manifest cache (issue 12) against real Docker and the apt
//! image: what a run reads back from the cache equals a fresh scan of the
//! image in another container, a corrupt cache file is scanned anew and
//! rewritten, and a valid one is served without a scan.

mod common;

use std::collections::{BTreeSet, HashMap};

use mistake_cost::cache::{ImageCache, Lookup};
use mistake_cost::docker::images::{self, Family};
use mistake_cost::docker::{RunId, RUN_LABEL};
use mistake_cost::runner::DockerExecutor;
use mistake_cost::snapshot::classify::excluded;
use mistake_cost::snapshot::manifest::{Entry, EntryKind, Manifest, CACHE_FORMAT};
use tokio_util::task::TaskTracker;

/// Paths whose entries differ between two scans of the same image, with
/// what each scan saw.
fn differences(a: &Manifest, b: &Manifest) -> Vec<(String, Option<Entry>, Option<Entry>)> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| (k.clone(), a.get(k).cloned(), b.get(k).cloned()))
        .collect()
}

#[test]
fn the_cached_base_manifest_equals_a_fresh_scan() {
    let o = common::run(&["images", "build"]);
    assert_eq!(o.status.code(), Some(0), "images build");
    let dir = tempfile::tempdir().unwrap();
    let cache = ImageCache::in_dir(dir.path().join("manifests"), "manifests", CACHE_FORMAT);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let run = RunId::new();
    let label = format!("{RUN_LABEL}={run}");
    rt.block_on(async {
        let docker = mistake_cost::docker::connect()
            .await
            .expect("docker engine (run scripts/setup-host.sh)");
        let tracker = TaskTracker::new();
        let executor = || {
            DockerExecutor::new(docker.clone(), run.clone(), HashMap::new(), tracker.clone())
                .with_manifest_cache(cache.clone())
        };
        let id = images::image_id_of(&docker, &Family::Apt.image())
            .await
            .unwrap()
            .expect("the apt image exists");
        let file = cache.path(&id).expect("an image id is a cache file name");

        // 1. Nothing cached: scanned, and written under the image's id.
        let scanned = executor().base_manifest(Family::Apt).await.expect("scan");
        assert!(
            scanned.len() > 1000,
            "a whole image: {} paths",
            scanned.len()
        );
        match cache.load::<Manifest>(&id) {
            Lookup::Hit(m) => assert_eq!(m, *scanned, "the cache holds what was scanned"),
            other => panic!("nothing usable cached in {}: {other:?}", file.display()),
        }

        // 2. A corrupt file is ignored: scanned again (in another
        // container, so a fresh scan) and rewritten.
        let mut bytes = std::fs::read(&file).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        std::fs::write(&file, &bytes).unwrap();
        assert!(matches!(
            cache.load::<Manifest>(&id),
            Lookup::Invalid { .. }
        ));
        let fresh = executor().base_manifest(Family::Apt).await.expect("rescan");
        assert!(
            matches!(cache.load::<Manifest>(&id), Lookup::Hit(m) if m == *fresh),
            "rewritten after the corrupt file"
        );

        // 3. Cached vs fresh: the same entries, except the files Docker
        // mounts into each container (its hostname and addresses), which
        // no snapshot compares (`classify::excluded`).
        let diff = differences(&scanned, &fresh);
        let unexpected: Vec<_> = diff.iter().filter(|(p, _, _)| !excluded(p)).collect();
        assert!(
            unexpected.is_empty(),
            "two scans of one image differ beyond the excluded paths: {unexpected:#?}"
        );
        eprintln!(
            "{} paths; differing only in excluded paths: {:?}",
            scanned.len(),
            diff.iter().map(|d| &d.0).collect::<Vec<_>>()
        );

        // 4. A valid entry is served as it is, without a scan: a marker
        // only the cache file has comes back.
        let mut marked = (*fresh).clone();
        let marker = Entry {
            kind: EntryKind::Other,
            mode: 0,
            owner: "0:0".into(),
            size: 0,
            hash: None,
        };
        marked.insert("/only-in-the-cache".into(), marker);
        cache.store(&id, &marked).unwrap();
        let served = executor().base_manifest(Family::Apt).await.expect("hit");
        assert_eq!(*served, marked, "served from the cache");

        // 5. Disabled: a scan again, nothing read or written.
        std::fs::remove_file(&file).unwrap();
        let off = DockerExecutor::new(docker.clone(), run.clone(), HashMap::new(), tracker.clone())
            .with_manifest_cache(ImageCache::disabled("manifests", CACHE_FORMAT));
        let again = off.base_manifest(Family::Apt).await.expect("scan");
        assert!(!again.contains_key("/only-in-the-cache"));
        assert!(!file.exists(), "a disabled cache wrote {}", file.display());

        tracker.close();
        tracker.wait().await;
    });
    assert_eq!(
        common::containers_with_label(&label),
        0,
        "scan containers left behind"
    );
}
