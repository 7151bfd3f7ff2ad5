//! Workloads: generators of training and fine-tuning jobs, and inference demand.

use rand::Rng;
use rand_distr::{Distribution, Exp, StandardNormal, Uniform};

use crate::engine::{SimDuration, SimTime};

use super::ModelError;

/// A non-negative quantity drawn at random (or fixed).
#[derive(Clone, Debug, PartialEq)]
pub enum Quantity {
    /// Always the same value.
    Fixed(f64),
    /// Log-normal, given by its median and 95th percentile.
    LogNormal {
        /// The median.
        median: f64,
        /// The 95th percentile (>= median).
        p95: f64,
    },
    /// Uniform on `[low, high]`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound (>= low).
        high: f64,
    },
    /// Triangular with a mode.
    Triangular {
        /// Lower bound.
        low: f64,
        /// Most likely value.
        mode: f64,
        /// Upper bound.
        high: f64,
    },
}

/// z-score of the 95th percentile of the standard normal.
const Z95: f64 = 1.644_853_626_951_472_2;

/// A lognormal draw lies within this many standard deviations of its log-median: the normal is
/// truncated there (a draw beyond it has probability 2e-9, and is taken at the edge), so that a
/// range check on `median * e^(+-6 sigma)` at load covers every draw.
pub const LOGNORMAL_REACH: f64 = 6.0;

impl Quantity {
    /// Checks the parameters: finite, non-negative, ordered.
    pub fn validate(&self) -> Result<(), ModelError> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        let bad = |what: &str| Err(ModelError::new(what.to_string()));
        match *self {
            Quantity::Fixed(v) if !ok(v) => bad("must be a finite number >= 0"),
            Quantity::LogNormal { median, p95 } if !(ok(median) && ok(p95) && median > 0.0) => {
                bad("lognormal median and p95 must be finite and > 0")
            }
            Quantity::LogNormal { median, p95 } if p95 < median => {
                bad("lognormal p95 must be >= median")
            }
            Quantity::Uniform { low, high } if !(ok(low) && ok(high) && low <= high) => {
                bad("uniform bounds must be finite, >= 0 and low <= high")
            }
            Quantity::Triangular { low, mode, high }
                if !(ok(low)
                    && ok(mode)
                    && ok(high)
                    && low <= mode
                    && mode <= high
                    && low < high) =>
            {
                bad("triangular needs finite 0 <= low <= mode <= high with low < high")
            }
            _ => Ok(()),
        }
    }

    /// The mean of the distribution.
    pub fn mean(&self) -> f64 {
        match *self {
            Quantity::Fixed(v) => v,
            Quantity::LogNormal { median, p95 } => {
                let sigma = (p95 / median).ln() / Z95;
                median * (sigma * sigma / 2.0).exp()
            }
            Quantity::Uniform { low, high } => (low + high) / 2.0,
            Quantity::Triangular { low, mode, high } => (low + mode + high) / 3.0,
        }
    }

    /// One draw. Parameters must have passed [`Quantity::validate`].
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Quantity::Fixed(v) => v,
            Quantity::LogNormal { median, p95 } => {
                // As rand_distr's LogNormal (exp(mu + sigma z)), with z clamped to the reach that
                // validation checks, and no panic on parameters it would refuse.
                let sigma = (p95 / median).ln() / Z95;
                let z: f64 = rng.sample(StandardNormal);
                let z = z.clamp(-LOGNORMAL_REACH, LOGNORMAL_REACH);
                let v = (median.ln() + sigma * z).exp();
                if v.is_finite() {
                    v
                } else {
                    median
                }
            }
            Quantity::Uniform { low, high } => {
                if low == high {
                    low
                } else {
                    Uniform::new_inclusive(low, high).map_or(low, |u| u.sample(rng))
                }
            }
            Quantity::Triangular { low, mode, high } => {
                // As rand_distr's Triangular, with the products under the square roots split when
                // they would overflow (a support near f64::MAX).
                let f: f64 = rng.random();
                let range = high - low;
                let f_range = f * range;
                let root = |a: f64, b: f64| {
                    let p = a * b;
                    if p.is_finite() {
                        p.sqrt()
                    } else {
                        a.sqrt() * b.sqrt()
                    }
                };
                let v = if f_range < mode - low {
                    low + root(f_range, mode - low)
                } else {
                    high - root(range - f_range, high - mode)
                };
                v.clamp(low, high)
            }
        }
    }
}

/// When a workload's jobs arrive.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrivals {
    /// One job every `every`, the first at the workload's start.
    Every(SimDuration),
    /// A Poisson process with this mean gap between jobs.
    Poisson {
        /// Mean inter-arrival time.
        mean_gap: SimDuration,
    },
    /// Jobs at these instants (sorted).
    At(Vec<SimTime>),
}

impl Arrivals {
    /// The gap to the next arrival after one at the current time (for `Every` and `Poisson`).
    pub fn next_gap<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<SimDuration> {
        match self {
            Arrivals::Every(d) => Some(*d),
            Arrivals::Poisson { mean_gap } => {
                let rate = 1.0 / mean_gap.as_secs_f64().max(1.0);
                let gap = Exp::new(rate).expect("positive rate").sample(rng);
                Some(SimDuration::from_secs_f64(gap).max(SimDuration(1)))
            }
            Arrivals::At(_) => None,
        }
    }
}

/// A class of data that rules may bind to a place (e.g. `customer_private`).
pub type DataClass = String;

pub use crate::metrics::JobKind;

/// A generator of gang jobs (training or fine-tuning).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchWorkload {
    /// Training or fine-tuning.
    pub kind: JobKind,
    /// When jobs arrive.
    pub arrivals: Arrivals,
    /// Size of each job, FLOP (model FLOPs, the work to be done).
    pub size_flop: Quantity,
    /// Chips in the gang.
    pub gang_chips: u64,
    /// Time between checkpoints of running work.
    pub checkpoint: SimDuration,
    /// Time lost on every (re)start after a failure or an eviction.
    pub restart: SimDuration,
    /// Data class of the job's data, if any rule cares.
    pub data_class: Option<DataClass>,
}

/// Inference demand: tokens per day with a growth trend and a daily cycle, served in batches.
#[derive(Clone, Debug, PartialEq)]
pub struct InferenceWorkload {
    /// Mean demand at the workload's start, tokens per day.
    pub tokens_per_day: f64,
    /// Multiplicative growth per year (1.0 = flat; 3.0 = triples each year).
    pub growth_per_year: f64,
    /// Amplitude of the daily cycle as a fraction of the mean (0 = flat, 0.5 = +-50%).
    pub daily_amplitude: f64,
    /// Hour of day (site-independent, simulation clock) of peak demand.
    pub peak_hour: f64,
    /// Length of one batch: demand is placed once per batch. Shorter = finer, slower.
    pub batch: SimDuration,
}

impl InferenceWorkload {
    /// Tokens demanded in `[t, t + batch)`, with `t` counted from the workload's start.
    /// Integrates the trend exactly over the batch and takes the cycle at the batch midpoint.
    pub fn tokens_in_batch(&self, since_start: SimDuration) -> f64 {
        let secs_per_year = 365.25 * 86_400.0;
        let t0 = since_start.as_secs_f64();
        let dt = self.batch.as_secs_f64();
        let per_sec = self.tokens_per_day / 86_400.0;
        let trend = if (self.growth_per_year - 1.0).abs() < 1e-12 {
            dt
        } else {
            let k = self.growth_per_year.ln() / secs_per_year;
            ((k * (t0 + dt)).exp() - (k * t0).exp()) / k
        };
        let mid_hour = ((t0 + dt / 2.0) / 3_600.0).rem_euclid(24.0);
        let phase = (mid_hour - self.peak_hour) / 24.0 * std::f64::consts::TAU;
        per_sec * trend * (1.0 + self.daily_amplitude * phase.cos())
    }
}

/// What a workload generates.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkloadKind {
    /// Gang jobs.
    Batch(BatchWorkload),
    /// A demand stream.
    Inference(InferenceWorkload),
}

/// A job generator of one firm.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// Name, unique within the firm.
    pub name: String,
    /// First arrival (or demand start).
    pub start: SimTime,
    /// No arrivals from this instant on: 00:00 on the day after the scenario's `end_date` (the workload's
    /// last day), or the end of the horizon. Inference demand stops here.
    pub end: SimTime,
    /// What it generates.
    pub kind: WorkloadKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lognormal_median_and_p95_are_respected() {
        let q = Quantity::LogNormal {
            median: 100.0,
            p95: 300.0,
        };
        let mut rng = crate::engine::rng::stream(1, 0, "t");
        let mut v: Vec<f64> = (0..20_000).map(|_| q.sample(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        let med = v[10_000];
        let p95 = v[19_000];
        assert!((med / 100.0 - 1.0).abs() < 0.05, "median {med}");
        assert!((p95 / 300.0 - 1.0).abs() < 0.08, "p95 {p95}");
    }

    #[test]
    fn flat_inference_demand_sums_to_tokens_per_day() {
        let w = InferenceWorkload {
            tokens_per_day: 2.4e6,
            growth_per_year: 1.0,
            daily_amplitude: 0.5,
            peak_hour: 14.0,
            batch: SimDuration::from_hours(1),
        };
        let day: f64 = (0..24)
            .map(|h| w.tokens_in_batch(SimDuration::from_hours(h)))
            .sum();
        assert!((day / 2.4e6 - 1.0).abs() < 1e-9, "{day}");
    }

    #[test]
    fn growth_compounds_per_year() {
        let w = InferenceWorkload {
            tokens_per_day: 1.0,
            growth_per_year: 3.0,
            daily_amplitude: 0.0,
            peak_hour: 0.0,
            batch: SimDuration::from_hours(1),
        };
        let year = SimDuration::from_secs((365.25 * 86_400.0) as u64);
        let r = w.tokens_in_batch(year) / w.tokens_in_batch(SimDuration::ZERO);
        assert!((r / 3.0 - 1.0).abs() < 1e-3, "{r}");
    }

    #[test]
    fn bad_parameters_are_rejected() {
        assert!(Quantity::Fixed(-1.0).validate().is_err());
        assert!(Quantity::Fixed(f64::NAN).validate().is_err());
        assert!(Quantity::LogNormal {
            median: 2.0,
            p95: 1.0
        }
        .validate()
        .is_err());
        assert!(Quantity::Uniform {
            low: 2.0,
            high: 1.0
        }
        .validate()
        .is_err());
    }
}
