//! M/D/1 on the engine against the Pollaczek-Khinchine mean wait, `Wq = rho / (2 mu (1 - rho))`.
//!
//! Deterministic service exercises a different event pattern from M/M/c: every departure lies exactly
//! one service time after its start, so departures and arrivals keep the same relative spacing. The
//! plain across-replication mean is used (one server: no companion queue would differ from it).

use super::station::{run_replications, Config, Service};
use super::stats::{md1_wq, mean_of_rounded_exp, Ci};

/// The service time in seconds (exact: an integer needs no rounding).
const SERVICE_SECS: u64 = 1_000_000;
const RHO: f64 = 0.8;
const SEED: u64 = 20_240_602;
const REPS: u64 = 40;

#[test]
fn md1_rho_080_mean_wait_matches_pollaczek_khinchine() {
    let d = SERVICE_SECS as f64;
    let cfg = Config {
        servers: 1,
        mean_interarrival_secs: d / RHO,
        service: Service::Fixed { secs: SERVICE_SECS },
        warmup: 5_000,
        measured: 100_000,
    };
    let reps = run_replications(cfg, SEED, REPS);

    // The arrival rate the simulation really has: gaps are exponential draws rounded to the second.
    let lam = 1.0 / mean_of_rounded_exp(cfg.mean_interarrival_secs);
    let theory = md1_wq(lam, d);
    let wait = Ci::of(&reps.iter().map(|r| r.mean_wait).collect::<Vec<_>>());
    let rel_err = (wait.mean - theory) / theory;
    let rel_hw = wait.rel_half_width(theory);
    let detail = format!(
        "M/D/1 rho={RHO}: mean wait {wait} s; Pollaczek-Khinchine {theory:.2} s; \
         relative error {:+.3}%; CI half-width {:.3}% of theory; {} events",
        100.0 * rel_err,
        100.0 * rel_hw,
        reps.iter().map(|r| r.events).sum::<u64>()
    );
    eprintln!("{detail}");
    assert!(
        rel_hw < 0.01,
        "too little power (the half-width must be under 1%): {detail}"
    );
    assert!(
        rel_err.abs() < 0.02,
        "more than 2% from Pollaczek-Khinchine: {detail}"
    );

    // The same runs: exact FIFO waits customer by customer, and Little's law.
    for (rep, r) in reps.iter().enumerate() {
        assert_eq!(
            r.mismatched_waits, 0,
            "M/D/1 replication {rep}: first (id, engine wait, recursion wait) = {:?}",
            r.first_mismatch
        );
        let rel = (r.time_avg_in_system - r.lambda_times_sojourn) / r.lambda_times_sojourn;
        assert!(
            rel.abs() < 0.01,
            "M/D/1 replication {rep}: L = {:.4}, lambda W = {:.4}, relative difference {:+.4}%",
            r.time_avg_in_system,
            r.lambda_times_sojourn,
            100.0 * rel
        );
    }
}
