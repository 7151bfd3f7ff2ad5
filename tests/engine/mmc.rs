//! M/M/c on the engine against Erlang C (mean wait in queue) and Little's law, at three loads.
//!
//! Each setting runs independent replications (streams `(seed, rep, "arrivals")` and
//! `(seed, rep, "service")`), deletes a warm-up, and compares the across-replication mean with theory
//! using a 95% t confidence interval. Every wait test asserts two things: the mean is within 2% of
//! Erlang C, and the CI half-width is under 1% of it, so that a test too noisy to see a 2% error
//! fails instead of passing vacuously.
//!
//! Waits at high load are strongly autocorrelated: at c = 64, rho = 0.95 the plain mean of 10^7
//! customers still has a CI half-width near 3.5%, and a plain estimate with a 1% half-width would take
//! about 1.2 × 10^8 customers (minutes of run time). The multi-server settings therefore use the
//! companion-queue estimator described in `station` (common random numbers against an exactly solved
//! M/M/1), which is unbiased and about 20 times less variable. The plain mean is also required to
//! agree, within 2% plus its own (wider) half-width, because the companion shares the drawn inputs and
//! so partly cancels an error in drawing them. M/M/1 uses the plain mean (its companion would be
//! itself).

use std::sync::OnceLock;

use super::station::{run_replications, Config, RepStats, Service};
use super::stats::{mean_of_rounded_exp, mmc_wq, Ci};

/// Mean service time in seconds; large, so rounding to whole seconds is negligible (see `station`).
const MEAN_SERVICE_SECS: f64 = 1_000_000.0;
/// Master seed of these runs.
const SEED: u64 = 20_240_601;

/// How a replication's mean wait is estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Estimator {
    /// The plain mean of the measured customers' waits.
    Plain,
    /// `E[companion wait] + mean(wait − companion wait)`; see `station`.
    Companion,
}

/// One setting and its budget: replications × (warm-up + measured) customers.
struct Setting {
    label: &'static str,
    servers: u32,
    rho: f64,
    reps: u64,
    warmup: u64,
    measured: u64,
    estimator: Estimator,
}

impl Setting {
    fn config(&self) -> Config {
        Config {
            servers: self.servers,
            mean_interarrival_secs: MEAN_SERVICE_SECS / (self.rho * f64::from(self.servers)),
            service: Service::Exponential {
                mean_secs: MEAN_SERVICE_SECS,
            },
            warmup: self.warmup,
            measured: self.measured,
        }
    }

    /// Arrival and service rates the simulation really has (the means of the rounded draws).
    fn rates(&self) -> (f64, f64) {
        let lam = 1.0 / mean_of_rounded_exp(self.config().mean_interarrival_secs);
        let mu = 1.0 / mean_of_rounded_exp(MEAN_SERVICE_SECS);
        (lam, mu)
    }

    /// Erlang C mean wait in queue, in seconds.
    fn theory_wait(&self) -> f64 {
        let (lam, mu) = self.rates();
        mmc_wq(self.servers, lam, mu)
    }

    /// Mean wait of the companion queue (M/M/1 with service rate c mu), in seconds.
    fn companion_theory_wait(&self) -> f64 {
        let (lam, mu) = self.rates();
        mmc_wq(1, lam, f64::from(self.servers) * mu)
    }
}

/// What the replications of one setting measured; shared by the tests of that setting.
struct Outcome {
    reps: Vec<RepStats>,
    /// CI of the estimator the setting uses.
    wait: Ci,
    /// CI of the plain mean wait (for the record).
    plain: Ci,
    theory: f64,
}

fn outcome(cell: &'static OnceLock<Outcome>, s: &Setting) -> &'static Outcome {
    cell.get_or_init(|| {
        let reps = run_replications(s.config(), SEED, s.reps);
        let plain: Vec<f64> = reps.iter().map(|r| r.mean_wait).collect();
        let estimates: Vec<f64> = match s.estimator {
            Estimator::Plain => plain.clone(),
            Estimator::Companion => {
                let known = s.companion_theory_wait();
                reps.iter()
                    .map(|r| known + r.mean_wait - r.mean_companion_wait)
                    .collect()
            }
        };
        let o = Outcome {
            wait: Ci::of(&estimates),
            plain: Ci::of(&plain),
            theory: s.theory_wait(),
            reps,
        };
        eprintln!(
            "{}: {:?} estimate {} s; plain {} s; Erlang C {:.2} s; relative error {:+.3}%; \
             CI half-width {:.3}% (plain {:.3}%); {} events",
            s.label,
            s.estimator,
            o.wait,
            o.plain,
            o.theory,
            100.0 * (o.wait.mean - o.theory) / o.theory,
            100.0 * o.wait.rel_half_width(o.theory),
            100.0 * o.plain.rel_half_width(o.theory),
            o.reps.iter().map(|r| r.events).sum::<u64>(),
        );
        o
    })
}

fn assert_wait_matches_erlang_c(cell: &'static OnceLock<Outcome>, s: &Setting) {
    let o = outcome(cell, s);
    let rel_err = (o.wait.mean - o.theory) / o.theory;
    let rel_hw = o.wait.rel_half_width(o.theory);
    let detail = format!(
        "{}: mean wait ({:?} estimator) {} s; Erlang C {:.2} s; relative error {:+.3}%; \
         CI half-width {:.3}% of theory; plain mean {} s",
        s.label,
        s.estimator,
        o.wait,
        o.theory,
        100.0 * rel_err,
        100.0 * rel_hw,
        o.plain,
    );
    assert!(
        rel_hw < 0.01,
        "too little power (the half-width must be under 1%): {detail}"
    );
    assert!(rel_err.abs() < 0.02, "more than 2% from Erlang C: {detail}");
    // The companion shares the drawn service times and gaps, so an error in drawing them (not an
    // engine error: the companion never sees the engine) moves both queues and partly cancels. The
    // plain mean cannot cancel anything; it must agree too, at the precision it has.
    let plain_err = (o.plain.mean - o.theory) / o.theory;
    assert!(
        plain_err.abs() < 0.02 + o.plain.rel_half_width(o.theory),
        "plain mean more than 2% plus its CI half-width from Erlang C \
         (relative error {:+.3}%): {detail}",
        100.0 * plain_err
    );
}

fn assert_littles_law(cell: &'static OnceLock<Outcome>, s: &Setting) {
    let o = outcome(cell, s);
    // L is the integral of the number in system over the window divided by its length; lambda W is
    // the observed arrival rate in the window times the mean time in system of those arrivals. On one
    // sample path they differ only by edge terms (customers straddling either end of the window),
    // which are tiny against windows of 10^5 customers, so each replication is checked on its own.
    for (rep, r) in o.reps.iter().enumerate() {
        let rel = (r.time_avg_in_system - r.lambda_times_sojourn) / r.lambda_times_sojourn;
        assert!(
            rel.abs() < 0.01,
            "{} replication {rep}: L = {:.4}, lambda W = {:.4}, relative difference {:+.4}%",
            s.label,
            r.time_avg_in_system,
            r.lambda_times_sojourn,
            100.0 * rel
        );
    }
    let l = Ci::of(
        &o.reps
            .iter()
            .map(|r| r.time_avg_in_system)
            .collect::<Vec<_>>(),
    );
    let lw = Ci::of(
        &o.reps
            .iter()
            .map(|r| r.lambda_times_sojourn)
            .collect::<Vec<_>>(),
    );
    let rel = (l.mean - lw.mean) / lw.mean;
    eprintln!(
        "{}: L {l}; lambda W {lw}; relative difference {:+.5}%",
        s.label,
        100.0 * rel
    );
    assert!(
        rel.abs() < 0.01,
        "{}: L {l}, lambda W {lw}, relative difference {:+.4}%",
        s.label,
        100.0 * rel
    );
}

fn assert_waits_equal_recursion(cell: &'static OnceLock<Outcome>, s: &Setting) {
    let o = outcome(cell, s);
    for (rep, r) in o.reps.iter().enumerate() {
        assert_eq!(
            r.mismatched_waits, 0,
            "{} replication {rep}: {} customers' waits differ from the FIFO recursion; \
             first (id, engine wait, recursion wait) = {:?}",
            s.label, r.mismatched_waits, r.first_mismatch
        );
    }
}

const MM1: Setting = Setting {
    label: "M/M/1 rho=0.5",
    servers: 1,
    rho: 0.5,
    reps: 40,
    warmup: 2_000,
    measured: 100_000,
    estimator: Estimator::Plain,
};
static MM1_RUNS: OnceLock<Outcome> = OnceLock::new();

const MM8: Setting = Setting {
    label: "M/M/8 rho=0.8",
    servers: 8,
    rho: 0.8,
    reps: 40,
    warmup: 5_000,
    measured: 100_000,
    estimator: Estimator::Companion,
};
static MM8_RUNS: OnceLock<Outcome> = OnceLock::new();

const MM64: Setting = Setting {
    label: "M/M/64 rho=0.95",
    servers: 64,
    rho: 0.95,
    reps: 40,
    warmup: 20_000,
    measured: 250_000,
    estimator: Estimator::Companion,
};
static MM64_RUNS: OnceLock<Outcome> = OnceLock::new();

#[test]
fn mm1_rho_050_mean_wait_matches_erlang_c() {
    assert_wait_matches_erlang_c(&MM1_RUNS, &MM1);
}

#[test]
fn mm1_rho_050_littles_law() {
    assert_littles_law(&MM1_RUNS, &MM1);
}

#[test]
fn mm8_rho_080_mean_wait_matches_erlang_c() {
    assert_wait_matches_erlang_c(&MM8_RUNS, &MM8);
}

#[test]
fn mm8_rho_080_littles_law() {
    assert_littles_law(&MM8_RUNS, &MM8);
}

#[test]
fn mm64_rho_095_mean_wait_matches_erlang_c() {
    assert_wait_matches_erlang_c(&MM64_RUNS, &MM64);
}

#[test]
fn mm64_rho_095_littles_law() {
    assert_littles_law(&MM64_RUNS, &MM64);
}

// The statistical tests see means; this sees every customer. If the engine handled any event at the
// wrong time or out of order, some wait would differ from the exact FIFO recursion.
#[test]
fn mmc_waits_equal_the_fifo_recursion_customer_by_customer() {
    assert_waits_equal_recursion(&MM1_RUNS, &MM1);
    assert_waits_equal_recursion(&MM8_RUNS, &MM8);
    assert_waits_equal_recursion(&MM64_RUNS, &MM64);
}
