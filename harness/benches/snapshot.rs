//! Pure snapshot costs, no Docker: building manifests of 1k / 10k / 100k
//! synthetic entries, diffing two of them, and the trial's own residue step
//! (a base manifest overlaid with changed paths, diffed and classified).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use mistake_cost::snapshot::classify::classify;
use mistake_cost::snapshot::manifest::{diff, Entry, EntryKind, Manifest};
use mistake_cost::snapshot::{residue, Snapshot};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
const SEED: u64 = 20261125;

fn hex(rng: &mut ChaCha8Rng) -> String {
    (0..32)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// `n` paths shaped like a Debian root: about 40 files per directory,
/// sha256-length hashes, a few symlinks; seeded, so every run sees the same.
fn entries(n: usize, seed: u64) -> Vec<(String, Entry)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let roots = ["/usr/share", "/usr/lib", "/etc", "/var/lib", "/usr/bin"];
    (0..n)
        .map(|i| {
            let dir = i / 40;
            let path = format!("{}/pkg{dir}/file{i}.dat", roots[dir % roots.len()]);
            let entry = if i % 40 == 0 {
                Entry {
                    kind: EntryKind::Dir,
                    mode: 0o755,
                    owner: "0:0".into(),
                    size: 4096,
                    hash: None,
                }
            } else if i % 97 == 0 {
                Entry {
                    kind: EntryKind::Symlink,
                    mode: 0o777,
                    owner: "0:0".into(),
                    size: 12,
                    hash: Some(hex(&mut rng)),
                }
            } else {
                Entry {
                    kind: EntryKind::File,
                    mode: 0o644,
                    owner: "0:0".into(),
                    size: rng.random_range(0..1 << 20),
                    hash: Some(hex(&mut rng)),
                }
            };
            (path, entry)
        })
        .collect()
}

/// `before` changed the way a failed install changes a root: 1% of paths
/// modified, 0.5% removed, 0.5% added (a third of those under Nix's store,
/// a third under /var/log, so classification has work of each class).
fn changed(before: &Manifest, seed: u64) -> Manifest {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut after = before.clone();
    let n = before.len();
    let keys: Vec<String> = before.keys().cloned().collect();
    for k in keys.iter().step_by(100) {
        if let Some(e) = after.get_mut(k) {
            e.hash = Some(hex(&mut rng));
        }
    }
    for k in keys.iter().skip(50).step_by(200) {
        after.remove(k);
    }
    for i in 0..n / 200 {
        let path = match i % 3 {
            0 => format!("/nix/store/{}-pkg{i}/share/file", &hex(&mut rng)[..32]),
            1 => format!("/var/log/apt/term{i}.log"),
            _ => format!("/usr/share/newpkg/file{i}.dat"),
        };
        after.insert(
            path,
            Entry {
                kind: EntryKind::File,
                mode: 0o644,
                owner: "0:0".into(),
                size: 100,
                hash: Some(hex(&mut rng)),
            },
        );
    }
    after
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("manifest_build");
    g.sample_size(20);
    for n in SIZES {
        let input = entries(n, SEED);
        g.throughput(Throughput::Elements(n as u64));
        // The clone is set-up: only building the map is timed.
        g.bench_with_input(BenchmarkId::from_parameter(n), &input, |b, input| {
            b.iter_batched(
                || input.clone(),
                |v| v.into_iter().collect::<Manifest>(),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn diffing(c: &mut Criterion) {
    let mut g = c.benchmark_group("manifest_diff");
    g.sample_size(20);
    for n in SIZES {
        let before: Manifest = entries(n, SEED).into_iter().collect();
        let after = changed(&before, SEED + 1);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::from_parameter(n),
            &(before, after),
            |b, (before, after)| b.iter(|| diff(before, after)),
        );
    }
    g.finish();
}

/// What a trial does per snapshot pair: the image's manifest as the base,
/// the changed paths as overlays, then `residue` (diff of the overlays'
/// keys against the base, classification, package view diff).
fn trial_residue(c: &mut Criterion) {
    let mut g = c.benchmark_group("residue_overlay_classify");
    g.sample_size(20);
    for n in SIZES {
        let base: Manifest = entries(n, SEED).into_iter().collect();
        let after_full = changed(&base, SEED + 2);
        let overlay: BTreeMap<String, Option<Entry>> = diff(&base, &after_full)
            .into_iter()
            .map(|c| {
                let state = after_full.get(&c.path).cloned();
                (c.path, state)
            })
            .collect();
        let live: BTreeSet<String> = overlay
            .keys()
            .filter(|p| p.starts_with("/nix/store/"))
            .step_by(2)
            .cloned()
            .collect();
        let base = Arc::new(base);
        let before = Snapshot {
            base: base.clone(),
            overlay: BTreeMap::new(),
            packages: BTreeMap::new(),
            live: BTreeSet::new(),
            commands: BTreeSet::new(),
        };
        let after = Snapshot {
            base,
            overlay,
            packages: BTreeMap::new(),
            live,
            commands: BTreeSet::new(),
        };
        g.throughput(Throughput::Elements(after.overlay.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("base", n),
            &(before, after),
            |b, (before, after)| b.iter(|| residue(before, after)),
        );
    }
    g.finish();
}

fn classification(c: &mut Criterion) {
    let mut g = c.benchmark_group("classify");
    g.sample_size(20);
    let base: Manifest = entries(10_000, SEED).into_iter().collect();
    let after = changed(&base, SEED + 3);
    let changes = diff(&base, &after);
    let live: BTreeSet<String> = changes
        .iter()
        .filter(|c| c.path.starts_with("/nix/store/"))
        .step_by(2)
        .map(|c| c.path.clone())
        .collect();
    g.throughput(Throughput::Elements(changes.len() as u64));
    g.bench_function(
        BenchmarkId::new("changed_paths_of_10k", changes.len()),
        |b| {
            b.iter(|| {
                changes
                    .iter()
                    .map(|c| classify(&c.path, &live) as usize)
                    .sum::<usize>()
            })
        },
    );
    g.finish();
}

criterion_group!(benches, build, diffing, trial_residue, classification);
criterion_main!(benches);
