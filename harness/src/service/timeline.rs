//! The health probe's samples turned into what a configure trial reports:
//! was the service healthy before, right after the change and after the
//! recovery; how long the tool took to make the change (`change_ms`), how
//! long the change took to show once the tool returned (`detect_ms`), how
//! long the service was down in all (`downtime_ms`, a lower bound when it
//! never came back: `downtime_censored`) and how long the recovery took to
//! bring it back (`restore_ms`). Pure: the samples and the step start times
//! come from the container's monotonic clock, read by the caller.

use serde::{Deserialize, Serialize};

/// One probe sample: when it started and ended (CLOCK_MONOTONIC ns) and
/// its result. A slow probe (an SSH login, `psql`) can start before a
/// change and end after it began; its result is the state at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub ns: u64,
    pub healthy: bool,
    /// When it ended (None in logs from before results format 5, whose
    /// third field was nginx's wanted-header flag).
    pub end: Option<u64>,
}

/// Parses the probe log (`start-ns<TAB>healthy 1|0<TAB>end-ns<TAB>reason`
/// a line; before format 5 the third field was a 1|0 flag). A last line
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
            let mut f = line.splitn(4, '\t');
            let ns = f.next().and_then(|v| v.parse::<u64>().ok());
            let healthy = match f.next() {
                Some("1") => Some(true),
                Some("0") => Some(false),
                _ => None,
            };
            let third = f.next();
            let end = match third {
                Some("0") | Some("1") => Some(None),
                Some(v) => v.parse::<u64>().ok().map(Some),
                None => None,
            };
            match (ns, healthy, end) {
                (Some(ns), Some(healthy), Some(end)) => Ok(Sample { ns, healthy, end }),
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
    /// The change command's own time (the tool: nix-build, ansible, a
    /// copy and reload), start to return. Absent before format 2.
    #[serde(default)]
    pub change_ms: Option<f64>,
    /// The change command's return → first failing sample (before any
    /// recovery); 0 when a sample had already failed while the tool ran.
    /// Before format 2: from the change command's start.
    pub detect_ms: Option<f64>,
    /// Time the probe failed (each failing sample counts until the next
    /// one) during the change and the reaction window after it (the same
    /// `settle_ms` for every approach), and from the recovery's start on.
    /// The harness's own snapshot and checks between the two are not
    /// counted: they take longer for some approaches than for others
    /// (hashing etckeeper's git objects) and are no operator's doing.
    /// A lower bound when `downtime_censored`: the outage went on past
    /// the last sample.
    pub downtime_ms: Option<f64>,
    /// The last sample after the change failed: the service never came
    /// back while the probe watched (then `restore_ms` is empty and
    /// `downtime_ms` a lower bound). None without samples after the
    /// change; absent before format 2.
    #[serde(default)]
    pub downtime_censored: Option<bool>,
    /// Every failing moment after the change start, the harness's
    /// inspection included (trials.jsonl only).
    pub failing_total_ms: Option<f64>,
    /// Recovery start → first healthy sample after it; 0 when the service
    /// was serving when the recovery began and still is at its first sample.
    pub restore_ms: Option<f64>,
    pub healthy_after_recovery: Option<bool>,
    /// After the recovery, a file the wanted edit changed does not hold
    /// its result (`service::WANTED_CHECK`; None: no wanted edit, or no
    /// recovery ran). Filled by the lifecycle, not by [`judge`].
    pub wanted_edit_lost: Option<bool>,
    /// A data-holding service (PostgreSQL): a known row written at set-up
    /// is missing or changed after the recovery. None: no such service,
    /// no recovery, or the server could not be asked.
    #[serde(default)]
    pub data_lost: Option<bool>,
    /// Samples after the change start, and the longest gap between two
    /// (the resolution the times above have).
    pub samples: usize,
    pub max_gap_ms: f64,
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// When things happened, on the container's monotonic clock (ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moments {
    pub change: u64,
    /// The change command's return (the tool's own time after `change`).
    pub change_end: u64,
    /// The change's end plus the reaction window (`settle_ms`).
    pub reaction_end: u64,
    /// The recovery's start, if one ran.
    pub recovery: Option<u64>,
}

/// Length of the overlap of `[a, b)` and `[from, to)`.
fn overlap(a: u64, b: u64, from: u64, to: u64) -> u64 {
    b.min(to).saturating_sub(a.max(from))
}

/// Judges `samples` around one change.
pub fn judge(samples: &[Sample], at: Moments) -> Timeline {
    let (change_ns, recovery_ns) = (at.change, at.recovery);
    let reaction_end = at.reaction_end.min(recovery_ns.unwrap_or(u64::MAX));
    // The state before the change: the last sample that ended before it
    // began (one still running when the change stopped the service failed
    // because of the change).
    let before = samples
        .iter()
        .rev()
        .find(|s| s.end.unwrap_or(s.ns) < change_ns);
    let after: Vec<&Sample> = samples.iter().filter(|s| s.ns >= change_ns).collect();
    let until_recovery = |s: &&&Sample| recovery_ns.is_none_or(|r| s.ns < r);
    // The state the change settled into, and whether the service was
    // serving when the recovery began: the last sample that *ended* before
    // the recovery started. A slow sample (a psql or ssh login) started
    // just before it can see the recovery's own fix.
    let ended_before = |s: &Sample, r: u64| s.end.unwrap_or(s.ns) < r;
    let settled = after
        .iter()
        .rev()
        .find(|s| recovery_ns.is_none_or(|r| ended_before(s, r)));
    let detect = after
        .iter()
        .take_while(until_recovery)
        .find(|s| !s.healthy)
        .map(|s| ms(s.ns.saturating_sub(at.change_end)));
    let (mut downtime, mut failing_total, mut max_gap) = (0u64, 0u64, 0u64);
    for pair in after.windows(2) {
        let (a, b) = (pair[0].ns, pair[1].ns);
        max_gap = max_gap.max(b - a);
        if !pair[0].healthy {
            failing_total += b - a;
            downtime += overlap(a, b, change_ns, reaction_end)
                + recovery_ns.map_or(0, |r| overlap(a, b, r, u64::MAX));
        }
    }
    let restore = recovery_ns.and_then(|r| {
        after.iter().find(|s| s.ns >= r && s.healthy).map(|s| {
            let serving_at_start = after
                .iter()
                .rev()
                .find(|x| ended_before(x, r))
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
        change_ms: Some(ms(at.change_end.saturating_sub(change_ns))),
        detect_ms: detect,
        downtime_ms: (!after.is_empty()).then(|| ms(downtime)),
        downtime_censored: after.last().map(|s| !s.healthy),
        failing_total_ms: (!after.is_empty()).then(|| ms(failing_total)),
        restore_ms: restore,
        healthy_after_recovery: recovery_ns.and(after.last().map(|s| s.healthy)),
        wanted_edit_lost: None,
        data_lost: None,
        samples: after.len(),
        max_gap_ms: ms(max_gap),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change at `change` ns whose command returns 10 ms later and
    /// whose reaction window ends 100 ms after the change.
    fn at(change: u64, recovery: Option<u64>) -> Moments {
        Moments {
            change,
            change_end: change + 10_000_000,
            reaction_end: change + 100_000_000,
            recovery,
        }
    }

    /// Samples every 10 ms from t=0, healthy unless `down` holds the time.
    fn every_10ms(until: u64, down: impl Fn(u64) -> bool) -> Vec<Sample> {
        (0..until / 10)
            .map(|i| Sample {
                ns: i * 10_000_000,
                healthy: !down(i * 10),
                end: Some(i * 10_000_000 + 1_000_000),
            })
            .collect()
    }

    #[test]
    fn an_outage_is_detected_timed_and_restored() {
        // Change at 100 ms breaks the service from 120 ms; recovery at
        // 300 ms brings it back at 340 ms.
        let s = every_10ms(500, |t| (120..340).contains(&t));
        let t = judge(&s, at(100_000_000, Some(300_000_000)));
        assert_eq!(t.healthy_before, Some(true));
        assert_eq!(t.healthy_after_change, Some(false));
        assert_eq!(t.change_ms, Some(10.0));
        assert_eq!(
            t.detect_ms,
            Some(10.0),
            "from the change's return at 110 ms"
        );
        assert_eq!(t.downtime_censored, Some(false));
        // Failing 120..340: counted 120..200 (the reaction window) and
        // 300..340 (after the recovery started); 200..300 is the harness's.
        assert_eq!(t.downtime_ms, Some(120.0));
        assert_eq!(t.failing_total_ms, Some(220.0));
        assert_eq!(t.restore_ms, Some(40.0));
        assert_eq!(t.healthy_after_recovery, Some(true));
        assert_eq!(t.max_gap_ms, 10.0);
    }

    #[test]
    fn a_service_that_never_failed_has_no_detection_and_no_downtime() {
        let s = every_10ms(500, |_| false);
        let t = judge(&s, at(100_000_000, Some(300_000_000)));
        assert_eq!(t.detect_ms, None);
        assert_eq!(t.downtime_ms, Some(0.0));
        assert_eq!(t.restore_ms, Some(0.0));
        assert_eq!(t.healthy_after_change, Some(true));
    }

    #[test]
    fn a_slow_sample_cut_by_the_recovery_does_not_speak_for_the_state_before_it() {
        // Down from 120 ms; a 50 ms login sample starts at 290 ms, 10 ms
        // before the recovery at 300 ms, and ends healthy at 340 ms: it saw
        // the recovery's fix. The change had settled into an outage.
        let mut s = every_10ms(290, |t| t >= 120);
        s.push(Sample {
            ns: 290_000_000,
            healthy: true,
            end: Some(340_000_000),
        });
        s.push(Sample {
            ns: 340_000_000,
            healthy: true,
            end: Some(341_000_000),
        });
        let t = judge(&s, at(100_000_000, Some(300_000_000)));
        assert_eq!(t.healthy_after_change, Some(false));
        assert_eq!(
            t.restore_ms,
            Some(40.0),
            "the first healthy sample started after it"
        );
    }

    #[test]
    fn a_recovery_that_fails_has_no_restore_time() {
        let s = every_10ms(500, |t| t >= 120);
        let t = judge(&s, at(100_000_000, Some(300_000_000)));
        assert_eq!(t.restore_ms, None);
        assert_eq!(t.healthy_after_recovery, Some(false));
        // Down from 120 to the last sample at 490: 120..200 and 300..490,
        // and on after it: a lower bound.
        assert_eq!(t.downtime_ms, Some(270.0));
        assert_eq!(t.downtime_censored, Some(true));
        assert_eq!(t.failing_total_ms, Some(370.0));
    }

    #[test]
    fn a_failure_while_the_tool_still_ran_is_detected_at_0() {
        // The change command runs 100..150 ms; the service fails from 120.
        let s = every_10ms(500, |t| (120..340).contains(&t));
        let mut m = at(100_000_000, Some(300_000_000));
        m.change_end = 150_000_000;
        let t = judge(&s, m);
        assert_eq!((t.change_ms, t.detect_ms), (Some(50.0), Some(0.0)));
        // It fails 30 ms after the command returned.
        m.change_end = 90_000_000;
        m.change = 80_000_000;
        let t = judge(&s, m);
        assert_eq!((t.change_ms, t.detect_ms), (Some(10.0), Some(30.0)));
    }

    #[test]
    fn no_recovery_leaves_the_recovery_fields_empty() {
        let s = every_10ms(300, |_| false);
        let t = judge(&s, at(100_000_000, None));
        assert_eq!((t.restore_ms, t.healthy_after_recovery), (None, None));
        assert_eq!(t.healthy_after_change, Some(true));
    }

    #[test]
    fn the_log_parses_and_a_cut_last_line_is_dropped() {
        let s = parse("10\t1\t15\tok\n20\t0\t0\tstatus 404\n30\t1").unwrap();
        let sample = |ns, healthy, end| Sample { ns, healthy, end };
        assert_eq!(
            s,
            vec![sample(10, true, Some(15)), sample(20, false, None)],
            "an end time, or an old log's flag"
        );
        assert!(parse("x\t1\t1\tok\n").is_err());
        assert!(parse("10\t1\tok\n").is_err(), "the third field is required");
        assert_eq!(parse("").unwrap(), vec![]);
    }

    #[test]
    fn a_slow_sample_the_change_ended_is_not_the_state_before_it() {
        // A 75 ms probe started at 95 ms, failed because the change at
        // 100 ms stopped the service: the state before is the sample
        // before it.
        let s = vec![
            Sample {
                ns: 10_000_000,
                healthy: true,
                end: Some(85_000_000),
            },
            Sample {
                ns: 95_000_000,
                healthy: false,
                end: Some(170_000_000),
            },
            Sample {
                ns: 180_000_000,
                healthy: false,
                end: Some(255_000_000),
            },
        ];
        let t = judge(&s, at(100_000_000, None));
        assert_eq!(t.healthy_before, Some(true));
    }
}
