//! Which crash points an explore crashes when there are more than its
//! budget: a share per syscall family, and within one a seeded pick of
//! files before further calls on a file, so the same seed crashes the same
//! operations in every approach's dry run.

use std::collections::{BTreeMap, HashMap};

use super::points::{family_rank, CrashPoint};
/// All points when there are at most `max`; else a budget per family (equal
/// shares, a family with fewer points than its share gives the rest to the
/// others, and every family with points gets at least one, so the total may
/// exceed `max` when there are more families than `max`), each family's
/// share chosen by [`select_within`] with a seed derived from `seed` and the
/// family. The result is in dry-run order.
pub fn select(points: &[CrashPoint], max: usize, seed: u64) -> Vec<CrashPoint> {
    if points.len() <= max {
        return points.to_vec();
    }
    let mut by: BTreeMap<(usize, &str), Vec<CrashPoint>> = BTreeMap::new();
    for p in points {
        by.entry((family_rank(&p.family), p.family.as_str()))
            .or_default()
            .push(p.clone());
    }
    // Water-filling: smallest families first, each takes min(size, fair share).
    let mut order: Vec<(&(usize, &str), usize)> = by.iter().map(|(k, v)| (k, v.len())).collect();
    order.sort_by_key(|(k, n)| (*n, **k));
    let mut left = max.max(order.len());
    let mut budget: HashMap<(usize, &str), usize> = HashMap::new();
    for (i, (k, n)) in order.iter().enumerate() {
        let share = (left / (order.len() - i)).max(1);
        let take = share.min(*n);
        budget.insert(**k, take);
        left = left.saturating_sub(take);
    }
    let mut out: Vec<CrashPoint> = Vec::new();
    for (k, ps) in &by {
        let family_seed = k.1.bytes().fold(seed, |h, b| {
            h.wrapping_mul(0x100_0000_01B3).wrapping_add(b as u64)
        });
        out.extend(select_within(ps, budget[k], family_seed));
    }
    out.sort_by_key(|p| p.index);
    out
}

/// All points when there are at most `max`; else the first point, then one
/// point per file (label) — the file's first point — in the seeded order of
/// the files ([`seeded_rank`] of tree, process, syscall and label), then, when
/// every file has one, further calls on a file in the seeded order of their
/// operations. The picks depend on which files a process touches, not on
/// how many times: a run that makes one more call on a file (the Nix
/// daemon syncs its database's WAL once or twice) picks the same points
/// unless the budget reaches past the files. The class's last point is not
/// kept for that reason: a tail that comes and goes would move it. `max` 1:
/// the file that ranks first.
pub fn select_within(points: &[CrashPoint], max: usize, seed: u64) -> Vec<CrashPoint> {
    if points.len() <= max {
        return points.to_vec();
    }
    let mut files: std::collections::HashSet<String> = std::collections::HashSet::new();
    let (mut firsts, mut later): (Vec<&CrashPoint>, Vec<&CrashPoint>) = (Vec::new(), Vec::new());
    for p in points {
        if files.insert(file_identity(p)) {
            firsts.push(p);
        } else {
            later.push(p);
        }
    }
    fn ranked(
        mut ps: Vec<&CrashPoint>,
        seed: u64,
        key: fn(&CrashPoint) -> String,
    ) -> Vec<&CrashPoint> {
        ps.sort_by_key(|p| (seeded_rank(seed, &key(p)), p.index));
        ps
    }
    let mut order: Vec<&CrashPoint> = Vec::with_capacity(points.len());
    let rest_of_firsts = if max >= 2 {
        order.push(firsts[0]);
        firsts[1..].to_vec()
    } else {
        firsts
    };
    order.extend(ranked(rest_of_firsts, seed, file_identity));
    order.extend(ranked(later, seed, operation_identity));
    let mut out: Vec<CrashPoint> = order.into_iter().take(max).cloned().collect();
    out.sort_by_key(|p| p.index);
    out
}

/// Tree, process, syscall and file: the calls a file's occurrences share.
fn file_identity(p: &CrashPoint) -> String {
    format!(
        "{}{}\0{} {}",
        if p.in_worker { "worker/" } else { "" },
        p.process,
        p.syscall,
        p.label
    )
}

/// Tree, process and operation (the file and which call on it).
fn operation_identity(p: &CrashPoint) -> String {
    format!(
        "{}{}\0{}",
        if p.in_worker { "worker/" } else { "" },
        p.process,
        p.operation()
    )
}

/// A place in a seeded sample: FNV-1a of an identity (a file's or an
/// operation's), mixed with the seed (SplitMix64's finaliser), so a rank
/// depends on what is ranked, not on its position among others.
pub fn seeded_rank(seed: u64, identity: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in identity.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::points::count_by_family;

    fn many(n: usize, family: &str, from: usize) -> Vec<CrashPoint> {
        (0..n)
            .map(|i| CrashPoint {
                index: from + i,
                syscall: family.into(),
                family: family.into(),
                k: i as u64 + 1,
                process: "p".into(),
                change: i as u64 + 1,
                first_reached_by: None,
                target: None,
                in_worker: false,
                label: String::new(),
                unsteady: false,
            })
            .collect()
    }

    /// `files` files of `calls` writes each, interleaved (f0 #1, f1 #1, …,
    /// f0 #2, …).
    fn files(files: usize, calls: u64) -> Vec<CrashPoint> {
        let mut out = Vec::new();
        for k in 1..=calls {
            for f in 0..files {
                out.push(CrashPoint {
                    index: out.len(),
                    k,
                    label: format!("/f{f}"),
                    ..many(1, "write", 0)[0].clone()
                });
            }
        }
        out
    }

    #[test]
    fn sampling_within_a_family_is_seeded_by_file_and_survives_added_calls() {
        let all = files(10, 10);
        assert_eq!(select_within(&all, 200, 1), all);
        let a = select_within(&all, 12, 7);
        assert_eq!(a.len(), 12);
        assert_eq!(a[0].index, 0, "the first point is kept");
        let firsts = a.iter().filter(|p| p.k == 1).count();
        assert_eq!(firsts, 10, "every file before a second call on one: {a:?}");
        assert!(
            a.windows(2).all(|w| w[0].index < w[1].index),
            "dry-run order"
        );
        assert_eq!(a, select_within(&all, 12, 7), "same seed, same points");
        assert_ne!(a, select_within(&all, 12, 8));
        let ones: Vec<String> = (0..8)
            .map(|seed| select_within(&all, 1, seed)[0].operation())
            .collect();
        assert!(
            ones.iter().all(|o| o.ends_with("#1")),
            "one point is a file's first call: {ones:?}"
        );
        assert!(
            ones.iter().any(|o| *o != ones[0]),
            "one point is a seeded pick, not always the first: {ones:?}"
        );
        let ops = |ps: &[CrashPoint], seed: u64| -> Vec<String> {
            select_within(ps, 6, seed)
                .iter()
                .map(|p| p.operation())
                .collect()
        };
        for seed in 0..20 {
            // Another run calls on two files once or twice more at the end
            // (a database's WAL synced again): the same picks.
            let mut longer = all.clone();
            for (f, k) in [(3, 11), (3, 12), (7, 11)] {
                longer.push(CrashPoint {
                    index: longer.len(),
                    k,
                    label: format!("/f{f}"),
                    ..all[0].clone()
                });
            }
            assert_eq!(ops(&all, seed), ops(&longer, seed), "seed {seed}");
            // Another run touches five more files: every pick that is not
            // one of them was picked before.
            let mut more = all.clone();
            for p in more.iter_mut() {
                p.index += 5;
            }
            more.extend((0..5).map(|i| CrashPoint {
                index: i,
                label: format!("/elsewhere{i}"),
                ..all[0].clone()
            }));
            more.sort_by_key(|p| p.index);
            let before = ops(&all[..], seed);
            let after: Vec<String> = ops(&more, seed)
                .into_iter()
                .filter(|o| !o.contains("/elsewhere"))
                .collect();
            assert!(
                after.iter().all(|o| before.contains(o)),
                "seed {seed}: {before:?} / {after:?}"
            );
        }
    }

    #[test]
    fn sampling_stratifies_per_family_so_none_is_starved() {
        // 1,000 writes, 40 renames, 2 fsyncs, 3 mkdirs.
        let mut all = many(1000, "write", 0);
        all.extend(many(40, "rename", 1000));
        all.extend(many(2, "sync", 1040));
        all.extend(many(3, "mkdir", 1042));
        let s = select(&all, 20, 3);
        let counts = count_by_family(s.iter().map(|p| p.family.as_str()));
        let got: Vec<(&str, usize)> = counts.iter().map(|((_, f), n)| (f.as_str(), *n)).collect();
        // sync 2 and mkdir 3 are taken whole; the other 15 split 7 / 8.
        assert_eq!(
            got,
            vec![("write", 8), ("rename", 7), ("mkdir", 3), ("sync", 2)]
        );
        assert!(
            s.windows(2).all(|w| w[0].index < w[1].index),
            "dry-run order"
        );
        assert_eq!(s, select(&all, 20, 3));
        assert_ne!(s, select(&all, 20, 4));
        // Fewer slots than families: one each, never none.
        let one = select(&all, 2, 1);
        assert_eq!(
            count_by_family(one.iter().map(|p| p.family.as_str())).len(),
            4
        );
        // Few enough: everything.
        assert_eq!(select(&all[1000..], 45, 1).len(), 45);
    }
}
