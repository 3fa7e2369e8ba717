//! Crash points from a traced dry run, and the seeded, stratified choice of
//! which to explore. strace counts injections per process and per syscall,
//! so a point is (syscall, k): every process reaching its k-th call of that
//! syscall is killed there. Points are ordered by when the dry run first
//! reached them, which is the order a crash would meet them.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One matching call in the dry run's trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedCall {
    pub pid: u32,
    pub process: String,
    pub syscall: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashPoint {
    /// Rank by first occurrence in the dry run (0-based).
    pub index: usize,
    pub syscall: String,
    /// The call number strace counts: the k-th call of `syscall` in a process.
    pub k: u64,
    /// The process that reached it first in the dry run (its command name).
    pub process: String,
}

/// Parses `strace -f -Y` output: `PID<comm> name(args...) = ret`.
/// Resumed halves (`<... name resumed>`) and signal lines are skipped, so
/// every call counts once, where it entered.
pub fn parse_trace(text: &str, syscalls: &[String]) -> Vec<TracedCall> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((who, rest)) = line.split_once(' ') else { continue };
        let Some((pid, comm)) = who.split_once('<') else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        let Some(name) = rest.split_once('(').map(|(n, _)| n) else { continue };
        if !syscalls.iter().any(|s| s == name) {
            continue;
        }
        out.push(TracedCall { pid, process: comm.trim_end_matches('>').to_string(), syscall: name.to_string() });
    }
    out
}

/// Every (syscall, k) the dry run reached, in order of first occurrence.
pub fn points(calls: &[TracedCall]) -> Vec<CrashPoint> {
    let mut per_process: HashMap<(u32, &str), u64> = HashMap::new();
    let mut seen: HashMap<(&str, u64), ()> = HashMap::new();
    let mut out = Vec::new();
    for c in calls {
        let n = per_process.entry((c.pid, c.syscall.as_str())).or_insert(0);
        *n += 1;
        if seen.insert((c.syscall.as_str(), *n), ()).is_none() {
            out.push(CrashPoint { index: out.len(), syscall: c.syscall.clone(), k: *n, process: c.process.clone() });
        }
    }
    out
}

/// All points when there are at most `max`; else the first, the last, and
/// one seeded pick from each of `max - 2` equal strata in between.
pub fn select(points: &[CrashPoint], max: usize, seed: u64) -> Vec<CrashPoint> {
    if points.len() <= max {
        return points.to_vec();
    }
    if max <= 2 {
        let mut v = vec![points[0].clone()];
        if max == 2 {
            v.push(points[points.len() - 1].clone());
        }
        return v;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let inner = &points[1..points.len() - 1];
    let strata = max - 2;
    let mut out = vec![points[0].clone()];
    for s in 0..strata {
        let lo = s * inner.len() / strata;
        let hi = ((s + 1) * inner.len() / strata).max(lo + 1);
        out.push(inner[rng.random_range(lo..hi)].clone());
    }
    out.push(points[points.len() - 1].clone());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "\
11<apt-get> rename(\"a\", \"b\") = 0
12<dpkg> rename(\"c\", \"d\" <unfinished ...>
11<apt-get> fsync(3) = 0
12<dpkg> <... rename resumed>) = 0
12<dpkg> rename(\"e\", \"f\") = 0
12<dpkg> --- SIGCHLD {si_signo=SIGCHLD} ---
13<sh> write(1, \"x\", 1) = 1
12<dpkg> rename(\"g\", \"h\") = 0
";

    fn set() -> Vec<String> {
        vec!["rename".into(), "fsync".into()]
    }

    #[test]
    fn parses_calls_once_each_and_only_the_chosen_syscalls() {
        let calls = parse_trace(TRACE, &set());
        let names: Vec<(u32, &str)> = calls.iter().map(|c| (c.pid, c.syscall.as_str())).collect();
        assert_eq!(names, vec![(11, "rename"), (12, "rename"), (11, "fsync"), (12, "rename"), (12, "rename")]);
        assert_eq!(calls[1].process, "dpkg");
    }

    #[test]
    fn points_follow_strace_counting_per_process_and_syscall() {
        let p = points(&parse_trace(TRACE, &set()));
        let keys: Vec<(&str, u64, &str)> = p.iter().map(|c| (c.syscall.as_str(), c.k, c.process.as_str())).collect();
        // apt-get's 1st rename and dpkg's 1st rename are the same point.
        assert_eq!(keys, vec![("rename", 1, "apt-get"), ("fsync", 1, "apt-get"), ("rename", 2, "dpkg"), ("rename", 3, "dpkg")]);
        assert_eq!(p.iter().map(|c| c.index).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    }

    fn many(n: usize) -> Vec<CrashPoint> {
        (0..n).map(|i| CrashPoint { index: i, syscall: "rename".into(), k: i as u64 + 1, process: "p".into() }).collect()
    }

    #[test]
    fn sampling_is_stratified_seeded_and_keeps_the_ends() {
        let all = many(100);
        assert_eq!(select(&all, 200, 1), all);
        let a = select(&all, 12, 7);
        assert_eq!(a.len(), 12);
        assert_eq!(a[0].index, 0);
        assert_eq!(a[11].index, 99);
        // One per stratum: strictly increasing, each in its tenth.
        for (s, p) in a[1..11].iter().enumerate() {
            assert!(p.index > s * 98 / 10 && p.index <= (s + 1) * 98 / 10, "stratum {s}: {}", p.index);
        }
        assert_eq!(a, select(&all, 12, 7), "same seed, same points");
        assert_ne!(a, select(&all, 12, 8));
        assert_eq!(select(&all, 2, 1).iter().map(|p| p.index).collect::<Vec<_>>(), vec![0, 99]);
    }
}
