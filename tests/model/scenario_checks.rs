//! Scenario rules checked through runs: every end date is inclusive (the last day on which a thing
//! applies or happens).

use super::{load, two_sites};
use capsim::experiment::{self, RunOptions, RunResult};
use capsim::metrics::PeriodKind;
use capsim::scenario::Scenario;

/// One replication reported by day.
fn run_daily(sc: &Scenario) -> RunResult {
    experiment::execute(
        sc,
        RunOptions {
            seed: sc.seed,
            replications: 1,
            period: PeriodKind::Day,
            threads: Some(1),
        },
    )
    .unwrap_or_else(|e| panic!("run failed: {e}"))
}

/// Index of the daily period that starts on `date`.
fn day_index(r: &RunResult, date: &str) -> usize {
    let d: chrono::NaiveDate = date.parse().unwrap();
    r.periods
        .starts
        .iter()
        .position(|s| *s == d)
        .unwrap_or_else(|| panic!("no period starts on {date}"))
}

#[test]
fn a_licence_fee_until_march_31_applies_on_march_31_and_not_on_april_1() {
    let policy = r#"
[[policy]]
name = "fee"
rule = "licence_fee"
chip = "h100"
to = "MY"
fee_fraction = 0.5
from = 2025-03-01
until = 2025-03-31
"#;
    // Flat inference demand, served at Johor (cheapest even with the fee) every hour of the year.
    let workloads = r#"
[[firms.acme.workloads]]
name = "chat"
kind = "inference"
tokens_per_day = 1e11
"#;
    let sc = load(&two_sites(policy, workloads));
    let p = &sc.world.timeline.policies[0];
    assert!(p.in_force(sc.date_to_time("2025-03-31".parse().unwrap())));
    assert!(!p.in_force(sc.date_to_time("2025-04-01".parse().unwrap())));

    let r = run_daily(&sc);
    let firm = &r.runs[0].firm[0];
    let cost = |d: &str| firm[day_index(&r, d)].cost_usd();
    let (feb28, mar1, mar31, apr1) = (
        cost("2025-02-28"),
        cost("2025-03-01"),
        cost("2025-03-31"),
        cost("2025-04-01"),
    );
    assert!(apr1 > 0.0, "Johor serves the demand");
    assert!(mar31 > apr1 * 1.2, "fee on its last day: {mar31} vs {apr1}");
    assert!(
        mar1 > feb28 * 1.2,
        "fee on its first day: {mar1} vs {feb28}"
    );
    assert!((mar31 - mar1).abs() < 1e-6 * mar1, "{mar31} vs {mar1}");
    assert!((apr1 - feb28).abs() < 1e-6 * feb28, "{apr1} vs {feb28}");
}

#[test]
fn a_workload_generates_arrivals_on_its_end_date() {
    // Every 12 hours on one day: 00:00 and 12:00 on 2025-03-31, its first and last day.
    let workloads = r#"
[[firms.acme.workloads]]
name = "tuning"
kind = "fine_tuning"
start_date = 2025-03-31
end_date = 2025-03-31
arrivals = { every_days = 0.5 }
size_flop = 1e18
gang_chips = 8
checkpoint_hours = 1
restart_hours = 0.5
"#;
    let sc = load(&two_sites("", workloads));
    let r = run_daily(&sc);
    let firm = &r.runs[0].firm[0];
    assert_eq!(firm[day_index(&r, "2025-03-30")].jobs_arrived, 0);
    assert_eq!(firm[day_index(&r, "2025-03-31")].jobs_arrived, 2);
}
