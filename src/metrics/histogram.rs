//! A fixed-size log-binned histogram of durations in hours, for bounded-memory percentiles.
//!
//! Bins: one for values below 0.01 h, then 20 bins per decade from 0.01 h to 1e5 h, then an overflow
//! bin. A percentile is reported as the geometric midpoint of its bin, so its relative error is at
//! most about 6% (half a bin, 10^(1/40)), whatever the number of samples.

const LOW_HOURS: f64 = 0.01;
const BINS_PER_DECADE: f64 = 20.0;
const DECADES: usize = 7;
/// Number of bins, underflow and overflow included.
pub const NBINS: usize = DECADES * 20 + 2;

/// Counts of durations (hours) in log-spaced bins.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    counts: Box<[u32; NBINS]>,
    n: u64,
    sum: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; NBINS]),
            n: 0,
            sum: 0.0,
        }
    }
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

    /// Adds one duration in hours.
    pub fn add(&mut self, hours: f64) {
        self.counts[Self::bin(hours)] += 1;
        self.n += 1;
        self.sum += hours;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
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
        for (b, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return Some(Self::bin_mid(b));
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

    #[test]
    fn zero_waits_report_zero() {
        let mut h = Histogram::default();
        h.add(0.0);
        h.add(0.0);
        assert_eq!(h.quantile(0.5), Some(0.0));
    }
}
