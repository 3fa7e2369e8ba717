//! The one statistics room: quantiles (linear interpolation between closest
//! ranks), median, p95, min/max and a seeded percentile bootstrap CI of the
//! median (ChaCha8: same data, same CI). Every median the harness prints —
//! report, compare, `run`'s and `explore`'s summaries — comes from here.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seed of every bootstrap in a report (printed in the report).
pub const BOOTSTRAP_SEED: u64 = 24301;
/// Resamples per bootstrap.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;
/// Below this many trials a CI is labelled a small sample.
pub const SMALL_SAMPLE: usize = 10;

/// Quantile `q` in [0, 1] of sorted, non-empty data (type 7: numpy's default).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

pub fn median(values: &[f64]) -> Option<f64> {
    let v = sorted(values);
    (!v.is_empty()).then(|| quantile_sorted(&v, 0.5))
}

/// Five numbers and the p95 of one metric over the trials that measured it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub p95: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(values: &[f64]) -> Option<Summary> {
        let v = sorted(values);
        if v.is_empty() {
            return None;
        }
        Some(Summary {
            n: v.len(),
            min: v[0],
            q1: quantile_sorted(&v, 0.25),
            median: quantile_sorted(&v, 0.5),
            q3: quantile_sorted(&v, 0.75),
            p95: quantile_sorted(&v, 0.95),
            max: v[v.len() - 1],
        })
    }
}

/// Percentile bootstrap CI (`level`, e.g. 0.95) of the median: resample with
/// replacement, take each resample's median, read the interval off their
/// distribution. Deterministic for a seed.
pub fn bootstrap_median_ci(
    values: &[f64],
    seed: u64,
    resamples: usize,
    level: f64,
) -> Option<(f64, f64)> {
    let v = sorted(values);
    if v.is_empty() || resamples == 0 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sample = vec![0.0; v.len()];
    let mut medians: Vec<f64> = (0..resamples)
        .map(|_| {
            sample
                .iter_mut()
                .for_each(|x| *x = v[rng.random_range(0..v.len())]);
            sample.sort_by(f64::total_cmp);
            quantile_sorted(&sample, 0.5)
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    Some((
        quantile_sorted(&medians, tail),
        quantile_sorted(&medians, 1.0 - tail),
    ))
}

/// Wilson score interval (95%) of a proportion `k` of `n`: unlike the
/// normal approximation it stays inside [0, 1] and is honest at 0/n and
/// n/n, which small retry samples often are. None for n = 0.
pub fn wilson_95(k: usize, n: usize) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (k, n) = (k.min(n) as f64, n as f64);
    let z = 1.959_963_984_540_054_f64;
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * ((p * (1.0 - p) / n) + z * z / (4.0 * n * n)).sqrt() / denom;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// "(n=3, small sample)" below [`SMALL_SAMPLE`] trials, "(n=12)" otherwise.
pub fn sample_label(n: usize) -> String {
    if n < SMALL_SAMPLE {
        format!("(n={n}, small sample)")
    } else {
        format!("(n={n})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_matches_known_values() {
        // Reference values: Wilson (1927) as in R's prop.test(correct=FALSE).
        let (lo, hi) = wilson_95(0, 5).unwrap();
        assert!(lo == 0.0 && (hi - 0.4345).abs() < 1e-3, "{lo} {hi}");
        let (lo, hi) = wilson_95(5, 5).unwrap();
        assert!((lo - 0.5655).abs() < 1e-3 && hi == 1.0, "{lo} {hi}");
        let (lo, hi) = wilson_95(7, 10).unwrap();
        assert!(
            (lo - 0.3968).abs() < 1e-3 && (hi - 0.8922).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert_eq!(wilson_95(0, 0), None);
    }

    #[test]
    fn median_and_p95_on_known_data() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let one_to_twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        let s = Summary::of(&one_to_twenty).unwrap();
        assert_eq!((s.n, s.min, s.max), (20, 1.0, 20.0));
        assert_eq!(s.median, 10.5);
        assert!((s.p95 - 19.05).abs() < 1e-9, "p95 = {}", s.p95);
        assert_eq!((s.q1, s.q3), (5.75, 15.25));
        let flat = Summary::of(&[0.0; 5]).unwrap();
        assert_eq!((flat.median, flat.p95, flat.max), (0.0, 0.0, 0.0));
        assert_eq!(
            Summary::of(&[f64::NAN, 2.0]).unwrap().n,
            1,
            "NaN is not a measurement"
        );
    }

    #[test]
    fn bootstrap_ci_is_deterministic_and_contains_the_median() {
        let data = [586.0, 398.0, 470.0, 701.0, 604.0, 655.0, 512.0, 433.0];
        let a = bootstrap_median_ci(&data, BOOTSTRAP_SEED, BOOTSTRAP_RESAMPLES, 0.95).unwrap();
        let b = bootstrap_median_ci(&data, BOOTSTRAP_SEED, BOOTSTRAP_RESAMPLES, 0.95).unwrap();
        assert_eq!(a, b, "same seed, same interval");
        let m = median(&data).unwrap();
        assert!(a.0 <= m && m <= a.1, "{a:?} should contain {m}");
        assert!(
            a.0 >= 398.0 && a.1 <= 701.0 && a.0 < a.1,
            "{a:?} within the data's range"
        );
        let other =
            bootstrap_median_ci(&data, BOOTSTRAP_SEED + 1, BOOTSTRAP_RESAMPLES, 0.95).unwrap();
        assert!(other.0 <= m && m <= other.1);
        assert_eq!(bootstrap_median_ci(&[7.0], 1, 100, 0.95), Some((7.0, 7.0)));
        assert_eq!(bootstrap_median_ci(&[], 1, 100, 0.95), None);
    }

    #[test]
    fn small_samples_are_labelled() {
        assert_eq!(sample_label(3), "(n=3, small sample)");
        assert_eq!(sample_label(10), "(n=10)");
    }
}
