//! The health probe's samples turned into what a configure trial reports:
//! was the service healthy before, right after the change and after the
//! recovery; how long the change took to show (`detect_ms`), how long the
//! service was down in all (`downtime_ms`) and how long the recovery took to
//! bring it back (`restore_ms`). Pure: the samples and the step start times
//! come from the container's monotonic clock, read by the caller.

use serde::{Deserialize, Serialize};

/// One probe sample: when it started (CLOCK_MONOTONIC ns) and its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub ns: u64,
    pub healthy: bool,
}

/// Parses the probe log (`ns<TAB>1|0<TAB>reason` a line). A last line
/// without its newline is a sample the prober was still writing: dropped.
pub fn parse(log: &str) -> Result<Vec<Sample>, String> {
    let complete = match log.rfind('\n') {
        Some(end) => &log[..end],
        None => "",
    };
    complete
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut f = line.splitn(3, '\t');
            let ns = f.next().and_then(|v| v.parse().ok());
            let ok = match f.next() {
                Some("1") => Some(true),
                Some("0") => Some(false),
                _ => None,
            };
            match (ns, ok) {
                (Some(ns), Some(healthy)) => Ok(Sample { ns, healthy }),
                _ => Err(format!("malformed probe line {line:?}")),
            }
        })
        .collect()
}

/// What the probe saw around one change. Every field is None when the
/// probe has no sample to say it (no sample before the change, no recovery).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub healthy_before: Option<bool>,
    /// The last sample before the recovery started (or the last sample,
    /// when no recovery ran): the state the change settled into.
    pub healthy_after_change: Option<bool>,
    /// Change start → first failing sample (before any recovery).
    pub detect_ms: Option<f64>,
    /// Total time the probe failed from the change start to the last
    /// sample: each failing sample counts until the next sample.
    pub downtime_ms: Option<f64>,
    /// Recovery start → first healthy sample after it; 0 when the service
    /// was serving when the recovery began and still is at its first sample.
    pub restore_ms: Option<f64>,
    pub healthy_after_recovery: Option<bool>,
    /// Samples after the change start, and the longest gap between two
    /// (the resolution the times above have).
    pub samples: usize,
    pub max_gap_ms: f64,
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Judges `samples` around a change that started at `change_ns`, with a
/// recovery that started at `recovery_ns` (if one ran).
pub fn judge(samples: &[Sample], change_ns: u64, recovery_ns: Option<u64>) -> Timeline {
    let before = samples.iter().rev().find(|s| s.ns < change_ns);
    let after: Vec<&Sample> = samples.iter().filter(|s| s.ns >= change_ns).collect();
    let until_recovery = |s: &&&Sample| recovery_ns.is_none_or(|r| s.ns < r);
    let settled = after
        .iter()
        .rev()
        .find(|s| recovery_ns.is_none_or(|r| s.ns < r));
    let detect = after
        .iter()
        .take_while(until_recovery)
        .find(|s| !s.healthy)
        .map(|s| ms(s.ns - change_ns));
    let mut downtime = 0u64;
    let mut max_gap = 0u64;
    for pair in after.windows(2) {
        let gap = pair[1].ns - pair[0].ns;
        max_gap = max_gap.max(gap);
        if !pair[0].healthy {
            downtime += gap;
        }
    }
    let restore = recovery_ns.and_then(|r| {
        after.iter().find(|s| s.ns >= r && s.healthy).map(|s| {
            let serving_at_start = after
                .iter()
                .rev()
                .find(|x| x.ns < r)
                .is_some_and(|x| x.healthy);
            if serving_at_start && after.iter().find(|x| x.ns >= r).is_some_and(|x| x.healthy) {
                0.0
            } else {
                ms(s.ns - r)
            }
        })
    });
    Timeline {
        healthy_before: before.map(|s| s.healthy),
        healthy_after_change: settled.map(|s| s.healthy),
        detect_ms: detect,
        downtime_ms: (!after.is_empty()).then(|| ms(downtime)),
        restore_ms: restore,
        healthy_after_recovery: recovery_ns.and(after.last().map(|s| s.healthy)),
        samples: after.len(),
        max_gap_ms: ms(max_gap),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples every 10 ms from t=0, healthy unless `down` holds the time.
    fn every_10ms(until: u64, down: impl Fn(u64) -> bool) -> Vec<Sample> {
        (0..until / 10)
            .map(|i| Sample {
                ns: i * 10_000_000,
                healthy: !down(i * 10),
            })
            .collect()
    }

    #[test]
    fn an_outage_is_detected_timed_and_restored() {
        // Change at 100 ms breaks the service from 120 ms; recovery at
        // 300 ms brings it back at 340 ms.
        let s = every_10ms(500, |t| (120..340).contains(&t));
        let t = judge(&s, 100_000_000, Some(300_000_000));
        assert_eq!(t.healthy_before, Some(true));
        assert_eq!(t.healthy_after_change, Some(false));
        assert_eq!(t.detect_ms, Some(20.0));
        assert_eq!(t.downtime_ms, Some(220.0));
        assert_eq!(t.restore_ms, Some(40.0));
        assert_eq!(t.healthy_after_recovery, Some(true));
        assert_eq!(t.max_gap_ms, 10.0);
    }

    #[test]
    fn a_service_that_never_failed_has_no_detection_and_no_downtime() {
        let s = every_10ms(500, |_| false);
        let t = judge(&s, 100_000_000, Some(300_000_000));
        assert_eq!(t.detect_ms, None);
        assert_eq!(t.downtime_ms, Some(0.0));
        assert_eq!(t.restore_ms, Some(0.0));
        assert_eq!(t.healthy_after_change, Some(true));
    }

    #[test]
    fn a_recovery_that_fails_has_no_restore_time() {
        let s = every_10ms(500, |t| t >= 120);
        let t = judge(&s, 100_000_000, Some(300_000_000));
        assert_eq!(t.restore_ms, None);
        assert_eq!(t.healthy_after_recovery, Some(false));
        // Down from 120 to the last sample at 490.
        assert_eq!(t.downtime_ms, Some(370.0));
    }

    #[test]
    fn no_recovery_leaves_the_recovery_fields_empty() {
        let s = every_10ms(300, |_| false);
        let t = judge(&s, 100_000_000, None);
        assert_eq!((t.restore_ms, t.healthy_after_recovery), (None, None));
        assert_eq!(t.healthy_after_change, Some(true));
    }

    #[test]
    fn the_log_parses_and_a_cut_last_line_is_dropped() {
        let s = parse("10\t1\tok\n20\t0\tstatus 404\n30\t1").unwrap();
        assert_eq!(
            s,
            vec![
                Sample {
                    ns: 10,
                    healthy: true
                },
                Sample {
                    ns: 20,
                    healthy: false
                }
            ]
        );
        assert!(parse("x\t1\tok\n").is_err());
        assert_eq!(parse("").unwrap(), vec![]);
    }
}
