//! A log-binned histogram of durations in hours, for bounded-memory percentiles.
//!
//! Bins: one for values below 0.01 h, then 20 bins per decade from 0.01 h to 1e5 h, then an overflow
//! bin. A percentile is reported as the geometric midpoint of its bin, so its relative error is at
//! most about 6% (half a bin, 10^(1/40)), whatever the number of samples.
//!
//! Only the span of bins from the lowest to the highest one used is stored, and an empty histogram
//! stores nothing: a run holds two histograms per site and period, most of them empty or narrow,
//! so a replication's metrics stay small (this keeps many replications in memory at once cheap).

const LOW_HOURS: f64 = 0.01;
const BINS_PER_DECADE: f64 = 20.0;
const DECADES: usize = 7;
/// Number of bins, underflow and overflow included.
pub const NBINS: usize = DECADES * 20 + 2;

/// Counts of durations (hours) in log-spaced bins.
///
/// `counts[i]` is the count of bin `lo + i`; the span always runs from the lowest to the highest
/// non-empty bin (counts only grow), so equal histograms have equal representations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    lo: usize,
    counts: Vec<u32>,
    n: u64,
    sum: f64,
}

impl Histogram {
    fn bin(hours: f64) -> usize {
        if hours.is_nan() || hours < LOW_HOURS {
            return 0;
        }
        let b = ((hours / LOW_HOURS).log10() * BINS_PER_DECADE).floor() as usize + 1;
        b.min(NBINS - 1)
    }

    fn bin_mid(b: usize) -> f64 {
        match b {
            0 => 0.0,
            b if b == NBINS - 1 => LOW_HOURS * 10f64.powi(DECADES as i32),
            b => LOW_HOURS * 10f64.powf((b as f64 - 0.5) / BINS_PER_DECADE),
        }
    }

    /// Widens the stored span to cover bins `lo..=hi`.
    fn cover(&mut self, lo: usize, hi: usize) {
        if self.counts.is_empty() {
            self.lo = lo;
            self.counts = vec![0; hi - lo + 1];
            return;
        }
        if lo < self.lo {
            let mut wider = vec![0; self.lo - lo];
            wider.extend_from_slice(&self.counts);
            self.counts = wider;
            self.lo = lo;
        }
        let top = self.lo + self.counts.len() - 1;
        if hi > top {
            self.counts.resize(hi - self.lo + 1, 0);
        }
    }

    /// Adds one duration in hours.
    pub fn add(&mut self, hours: f64) {
        let b = Self::bin(hours);
        self.cover(b, b);
        self.counts[b - self.lo] += 1;
        self.n += 1;
        self.sum += hours;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        if !other.counts.is_empty() {
            self.cover(other.lo, other.lo + other.counts.len() - 1);
            let at = other.lo - self.lo;
            for (a, b) in self.counts[at..].iter_mut().zip(&other.counts) {
                *a += b;
            }
        }
        self.n += other.n;
        self.sum += other.sum;
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Exact mean of the samples, or None when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    /// The `q`-quantile (0..=1) by nearest rank, to bin resolution; None when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.n as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return Some(Self::bin_mid(self.lo + i));
            }
        }
        Some(Self::bin_mid(NBINS - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_within_bin_resolution() {
        let mut h = Histogram::default();
        for i in 1..=1000 {
            h.add(i as f64);
        }
        let p50 = h.quantile(0.5).unwrap();
        let p95 = h.quantile(0.95).unwrap();
        assert!((p50 / 500.0 - 1.0).abs() < 0.07, "{p50}");
        assert!((p95 / 950.0 - 1.0).abs() < 0.07, "{p95}");
        assert_eq!(h.mean(), Some(500.5));
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    /// The stored span is an implementation detail: histograms built in any order, by adding or
    /// by merging, hold the same counts and report the same quantiles as a full-width reference.
    #[test]
    fn sparse_span_matches_a_full_width_reference() {
        let xs = [5.0, 0.0, 3e4, 0.2, 7.5, 1e9, 0.011, 5.0, 120.0, 0.003];
        let mut full = [0u64; NBINS];
        let mut whole = Histogram::default();
        for &x in &xs {
            full[Histogram::bin(x)] += 1;
            whole.add(x);
        }
        let (mut left, mut right) = (Histogram::default(), Histogram::default());
        for (i, &x) in xs.iter().enumerate() {
            if i % 3 == 0 {
                left.add(x)
            } else {
                right.add(x)
            }
        }
        let mut merged = Histogram::default();
        merged.merge(&right);
        merged.merge(&Histogram::default());
        merged.merge(&left);
        // (Sums are added in another order, so compare the counts.)
        assert_eq!(
            (merged.lo, &merged.counts, merged.n),
            (whole.lo, &whole.counts, whole.n)
        );
        for (b, &want) in full.iter().enumerate() {
            let stored = b
                .checked_sub(whole.lo)
                .and_then(|i| whole.counts.get(i))
                .copied()
                .unwrap_or(0);
            assert_eq!(u64::from(stored), want, "bin {b}");
        }
        for q in [0.0, 0.05, 0.5, 0.95, 1.0] {
            let rank = ((q * xs.len() as f64).ceil() as u64).max(1);
            let mut seen = 0;
            let want = (0..NBINS)
                .find(|&b| {
                    seen += full[b];
                    seen >= rank
                })
                .map(Histogram::bin_mid);
            assert_eq!(whole.quantile(q), want, "q {q}");
        }
        assert!(Histogram::default().counts.is_empty());
    }

    #[test]
    fn zero_waits_report_zero() {
        let mut h = Histogram::default();
        h.add(0.0);
        h.add(0.0);
        assert_eq!(h.quantile(0.5), Some(0.0));
    }
}
