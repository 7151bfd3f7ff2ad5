//! Unit tests of the one date rule: every end date of a scenario (a policy's `until`, a workload's
//! `end_date`, a supply's `until`, the horizon's `end_date`) is the last day, inclusive.

use super::*;
use crate::model::{Arrivals, WorkloadKind};

/// A one-site world with `extra` appended (policies, workloads).
fn scenario(extra: &str) -> String {
    format!(
        r#"name = "dates"
description = "date rules"
start_date = 2025-01-01
end_date = 2025-12-31
seed = 1

[chips.h100]
vendor = "nvidia"
vendor_country = "US"
bf16_dense_tflops = 989
memory_gb = 80
board_power_w = 700
all_in_power_w = 1300
training_mfu = 0.4
inference_tokens_per_s = 2800
purchase_usd = 30000
lease_usd_per_chip_hour = 2.35

[sites.johor]
jurisdiction = "MY"
operator = "foreign"
chip = "h100"
pricing = "lease"
electricity_usd_per_kwh = 0.1
pue = 1.4
mtbf_hours = 50000
repair_hours = 48
initial_chips = 1000
supply = {{ chips_per_year = 1000, from = 2025-02-01, until = 2025-02-28 }}

[firms.acme]
headquarters = "CN"
sites = ["johor"]
placement = "cheapest"
{extra}
"#
    )
}

fn load(extra: &str) -> Scenario {
    load_str(&scenario(extra), "dates.toml", None).unwrap_or_else(|e| panic!("{e}"))
}

fn day(s: &Scenario, d: &str) -> SimTime {
    s.date_to_time(d.parse().expect("date"))
}

/// The last second before `t`.
fn before(t: SimTime) -> SimTime {
    SimTime(t.0 - 1)
}

const FEE_TO_MARCH_31: &str = r#"
[[policy]]
name = "fee"
rule = "licence_fee"
chip = "h100"
to = "MY"
fee_fraction = 0.5
from = 2025-03-01
until = 2025-03-31
"#;

#[test]
fn a_policy_is_in_force_on_its_until_day_and_not_the_day_after() {
    let s = load(FEE_TO_MARCH_31);
    let p = &s.world.timeline.policies[0];
    let last_second = before(day(&s, "2025-04-01"));
    assert!(p.in_force(day(&s, "2025-03-31")));
    assert!(p.in_force(last_second));
    assert!(!p.in_force(day(&s, "2025-04-01")));
    assert!(p.in_force(day(&s, "2025-03-01")));
    assert!(!p.in_force(before(day(&s, "2025-03-01"))));
    // The timeline answers the same way.
    let (site, chip) = (&s.world.sites[0], &s.world.chips[0]);
    let tl = &s.world.timeline;
    assert_eq!(tl.price_factor(site, chip, day(&s, "2025-03-31")), 1.5);
    assert_eq!(tl.price_factor(site, chip, day(&s, "2025-04-01")), 1.0);
    // Dates for reports: the last day as written, and the day it is out of force.
    let d = s.policy_dates[0];
    assert_eq!(d.last_day, Some("2025-03-31".parse().unwrap()));
    assert_eq!(d.until, Some("2025-04-01".parse().unwrap()));
}

#[test]
fn a_one_day_policy_is_valid_and_until_before_from_is_not() {
    let one_day = FEE_TO_MARCH_31.replace("until = 2025-03-31", "until = 2025-03-01");
    let s = load(&one_day);
    let p = &s.world.timeline.policies[0];
    assert!(p.in_force(day(&s, "2025-03-01")));
    assert!(!p.in_force(day(&s, "2025-03-02")));

    let backwards = FEE_TO_MARCH_31.replace("until = 2025-03-31", "until = 2025-02-28");
    let e = load_str(&scenario(&backwards), "dates.toml", None)
        .expect_err("until before from")
        .to_string();
    assert!(e.contains("dates.toml:"), "{e}");
    assert!(e.contains("policy.fee.until"), "{e}");
    assert!(
        e.contains("until 2025-02-28 is before from 2025-03-01"),
        "{e}"
    );
    assert!(e.contains("help: until is the last day"), "{e}");
}

#[test]
fn a_policy_until_the_last_day_of_the_horizon_never_ends() {
    let s = load(&FEE_TO_MARCH_31.replace("until = 2025-03-31", "until = 2025-12-31"));
    let p = &s.world.timeline.policies[0];
    assert_eq!(p.until, Some(s.world.horizon));
    assert!(p.in_force(before(s.world.horizon)));
}

#[test]
fn a_workload_end_date_is_its_last_day() {
    let s = load(
        r#"
[[firms.acme.workloads]]
name = "runs"
kind = "training"
start_date = 2025-03-01
end_date = 2025-03-31
arrivals = { dates = [2025-03-01, 2025-03-31] }
size_flop = 1e20
gang_chips = 8
checkpoint_hours = 1
restart_hours = 0.5
"#,
    );
    let w = &s.world.firms[0].workloads[0];
    assert_eq!(w.start, day(&s, "2025-03-01"));
    assert_eq!(w.end, day(&s, "2025-04-01"));
    let WorkloadKind::Batch(b) = &w.kind else {
        panic!("batch workload expected");
    };
    // An arrival on the end date is inside the workload.
    assert_eq!(
        b.arrivals,
        Arrivals::At(vec![day(&s, "2025-03-01"), day(&s, "2025-03-31")])
    );
    assert!(day(&s, "2025-03-31") < w.end);
}

#[test]
fn a_supply_until_is_its_last_day() {
    let s = load("");
    let sp = s.world.sites[0].supply.expect("supply");
    assert_eq!(sp.from, day(&s, "2025-02-01"));
    assert_eq!(sp.until, day(&s, "2025-03-01"));
}
