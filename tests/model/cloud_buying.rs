//! Domestic clouds that buy by what their renters use (issue 12: "each domestic cloud that rents
//! capacity on reviews its capacity"): a cloud with `buying` reviews its use every 30 days and
//! buys its supply line's lots until the next review only when its chips were in use at least
//! half the time since the last one; what it declines goes to buyers outside the scenario.
//!
//! The world: `cloud`, Ascend 910C that no firm owns, supplied with 36,525 chips a year (100 a
//! day, exactly) and no chips at the start; firm `acme` rents it by the hour for training work:
//! 1,000-chip jobs of forty days, one a day from `work_from` (40,000 chips of work at once, more
//! than the cloud gets in the year), so once work runs, the cloud's chips are all in use.

use capsim::metrics::{Decision, LeaseAction, RunMetrics, Why};
use capsim::scenario::Scenario;

use crate::support::{load, run, run_by, site_index, ASCEND_910C};
use capsim::metrics::PeriodKind;

/// One forty-day job: 1,000 910C at 780 TFLOPS x 0.35 MFU for 40 days.
const JOB_FLOP: f64 = 1000.0 * 780e12 * 0.35 * 40.0 * 86_400.0;

fn world(buying: &str, work_from: &str) -> String {
    format!(
        r#"name = "cloud-buying"
description = "a domestic cloud that buys by its renters' use"
start_date = 2025-01-01
end_date = 2025-12-31
seed = 5
{chip}
[sites.cloud]
jurisdiction = "CN"
operator = "domestic"
chip = "ascend-910c"
pricing = "owned"
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0
supply = {{ chips_per_year = 36525.0 }}
{buying}

[firms.acme]
headquarters = "CN"
sites = ["cloud"]
placement = "earliest_finish"

[[firms.acme.workloads]]
name = "train"
kind = "training"
start_date = {work_from}
arrivals = {{ every_days = 1 }}
size_flop = {JOB_FLOP:e}
gang_chips = 1000
checkpoint_hours = 1.0
restart_hours = 0.5
"#,
        chip = ASCEND_910C.toml(),
    )
}

const BUYING: &str = "buying = { every_days = 30, busy_above = 0.5 }";

fn sum(m: &RunMetrics, s: usize, f: impl Fn(&capsim::metrics::SitePeriod) -> u64) -> u64 {
    m.site[s].iter().map(f).sum()
}

fn daily(sc: &Scenario) -> RunMetrics {
    run_by(sc, 1, PeriodKind::Day).runs.remove(0)
}

#[test]
fn an_idle_cloud_stops_buying_and_starts_again_when_its_chips_are_used() {
    let sc = load(&world(BUYING, "2025-10-01"));
    let cloud = site_index(&sc, "cloud");
    let m = daily(&sc);
    let delivered = |d: std::ops::Range<usize>| -> u64 {
        m.site[cloud][d].iter().map(|p| p.chips_delivered).sum()
    };
    let declined = |d: std::ops::Range<usize>| -> u64 {
        m.site[cloud][d].iter().map(|p| p.chips_declined).sum()
    };
    // It buys every lot until its first review (day 30): 30 lots of 100.
    assert_eq!(delivered(0..30), 3000);
    // No one used them: from day 30 it declines every lot, until the first review that sees the
    // work that starts on day 273 (1 October): day 300.
    assert_eq!(delivered(30..300), 0);
    assert_eq!(declined(30..300), 270 * 100);
    // Then its chips were in use most of the time since day 270, and it buys again.
    assert_eq!(delivered(300..365), 65 * 100);
    assert_eq!(declined(300..365), 0);
    // Each review is a row of decisions.csv with no firm: declines while unused (0% in use at
    // day 30 to 270), buys at day 300 (used on 27 of the last 30 days, all chips held).
    let reviews: Vec<(u64, LeaseAction, f64)> = m
        .decisions
        .iter()
        .filter(|d| d.firm == Decision::NO_FIRM)
        .map(|d| (d.at.0 / 86_400, d.action, d.market_held_share))
        .collect();
    assert_eq!(reviews.len(), 12, "{reviews:?}");
    for &(day, action, share) in &reviews {
        if day < 300 {
            assert_eq!(
                (action, share),
                (LeaseAction::CloudDeclines, 0.0),
                "day {day}"
            );
        } else {
            assert_eq!(action, LeaseAction::CloudBuys, "day {day}");
            assert!(share >= 0.5, "day {day}: {share}");
        }
    }
    assert!(m
        .decisions
        .iter()
        .filter(|d| d.firm == Decision::NO_FIRM)
        .all(|d| d.site as usize == cloud && (d.why == Why::Unused || d.why == Why::Used)));
    // Every lot of supply is either bought or declined (no orders here).
    assert_eq!(
        sum(&m, cloud, |p| p.chips_delivered) + sum(&m, cloud, |p| p.chips_declined),
        36_500
    );
    // What it declined costs no one anything: its online chip-hours are those of what it holds.
    let online: f64 = m.site[cloud].iter().map(|p| p.chip_hours_online).sum();
    let held_hours = 24.0 * (100.0 * (1..=30).sum::<u32>() as f64 + 3000.0 * 270.0)
        + 24.0 * (3000.0 * 65.0 + 100.0 * (1..=65).sum::<u32>() as f64);
    assert!(
        (online / held_hours - 1.0).abs() < 1e-9,
        "{online} vs {held_hours}"
    );
}

#[test]
fn a_cloud_kept_busy_buys_every_lot_and_changes_nothing() {
    // Work from the first day: every review finds its chips in use, so it buys all its supply,
    // and the run is the same as without the rule, to the last metric.
    let with = run(&load(&world(BUYING, "2025-01-01")), 2);
    let without = run(&load(&world("", "2025-01-01")), 2);
    for (a, b) in with.runs.iter().zip(&without.runs) {
        assert_eq!(sum(a, 0, |p| p.chips_declined), 0);
        assert_eq!(sum(a, 0, |p| p.chips_delivered), 36_500);
        assert_eq!(a.site, b.site);
        assert_eq!(a.firm, b.firm);
    }
}

#[test]
fn before_from_the_cloud_buys_everything() {
    // Reviews from 1 July (day 181): no work ever, yet every lot before its first review (day
    // 211) is bought, as history; after it, none.
    let b = "buying = { from = 2025-07-01, every_days = 30, busy_above = 0.5 }";
    let sc = load(&world(b, "2025-12-31"));
    let m = daily(&sc);
    let delivered: Vec<u64> = m.site[0].iter().map(|p| p.chips_delivered).collect();
    assert!(delivered[..211].iter().all(|&n| n == 100));
    assert!(delivered[211..].iter().all(|&n| n == 0));
}

#[test]
fn the_threshold_decides() {
    // The same world with work from October; a threshold of 0 buys at every review (a cloud with
    // chips always has at least no use), so the run is that of a cloud without the rule.
    let zero = run(
        &load(&world(
            "buying = { every_days = 30, busy_above = 0.0 }",
            "2025-10-01",
        )),
        1,
    );
    let plain = run(&load(&world("", "2025-10-01")), 1);
    assert_eq!(zero.runs[0].site, plain.runs[0].site);
    // At the day-300 review the chips were used on 27 of the last 30 days (the work starts on day
    // 273): 0.5 buys for the next 30 days, 1 declines them.
    let declined = |busy_above: f64| -> u64 {
        let b = format!("buying = {{ every_days = 30, busy_above = {busy_above:?} }}");
        let m = daily(&load(&world(&b, "2025-10-01")));
        m.site[0][300..330].iter().map(|p| p.chips_declined).sum()
    };
    assert_eq!(declined(0.5), 0);
    assert_eq!(declined(1.0), 3000);
}

#[test]
fn buying_is_checked_at_load() {
    let err = |toml: String| {
        capsim::scenario::load_str(&toml, "t.toml", None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let owned = world(BUYING, "2025-10-01").replace(
        "pricing = \"owned\"\n",
        "pricing = \"owned\"\nowner = \"acme\"\n",
    );
    let e = err(owned);
    assert!(e.contains("buying applies only to a domestic cloud"), "{e}");
    let unsupplied = world(BUYING, "2025-10-01").replace(
        "supply = { chips_per_year = 36525.0 }",
        "initial_chips = 1000",
    );
    let e = err(unsupplied);
    assert!(e.contains("buying needs a steady supply"), "{e}");
    let e = err(world(
        "buying = { every_days = { uniform = [10, 30] }, busy_above = 0.5 }",
        "2025-10-01",
    ));
    assert!(e.contains("every_days must be a number"), "{e}");
    let e = err(world(
        "buying = { every_days = 30, busy_above = 1.5 }",
        "2025-10-01",
    ));
    assert!(e.contains("busy_above"), "{e}");
    let e = err(world(
        "buying = { every_days = 30, busy_abve = 0.5 }",
        "2025-10-01",
    ));
    assert!(e.contains("busy_abve") && e.contains("busy_above"), "{e}");
    // An uncertain threshold is drawn per replication, like any figure.
    let sc = load(&world(
        "buying = { every_days = 30, busy_above = { uniform = [0.3, 0.7] } }",
        "2025-10-01",
    ));
    assert!(sc.inputs.iter().any(|u| u.path.ends_with("busy_above")));
}

/// A cloud of 10,000 910C (and 10 more a day from its supply) rented by the hour for inference
/// that starts at about a tenth of it and grows eightfold a year.
fn growing_world() -> String {
    format!(
        r#"name = "cloud-forecast"
description = "a domestic cloud whose renters' use grows"
start_date = 2025-01-01
end_date = 2025-12-31
seed = 5
{chip}
[sites.cloud]
jurisdiction = "CN"
operator = "domestic"
chip = "ascend-910c"
pricing = "owned"
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0
initial_chips = 10000
supply = {{ chips_per_year = 3652.5 }}
{BUYING}

[firms.acme]
headquarters = "CN"
sites = ["cloud"]
placement = "earliest_finish"

[[firms.acme.workloads]]
name = "serve"
kind = "inference"
start_date = 2025-01-01
tokens_per_day = 1.64e11
growth_per_year = 8.0
batch_hours = 1
"#,
        chip = ASCEND_910C.toml(),
    )
}

#[test]
fn a_cloud_whose_use_grows_buys_a_review_before_its_use_reaches_the_threshold() {
    // The forecast (issue 12: a cloud "forecasts what its workloads need"): from its second
    // review, a cloud also buys when the chips held on average since its last review, grown by
    // their growth since the review before, reach busy_above of the chips online now. Here its
    // use climbs from ~10% to ~70% over the year: it declines while even the forecast is short,
    // then buys as `growing` while its measured use is still under half, at least one review
    // before the measured use alone would have made it buy.
    let sc = load(&growing_world());
    let cloud = site_index(&sc, "cloud");
    let m = daily(&sc);
    let reviews: Vec<(usize, LeaseAction, Why, f64)> = m
        .decisions
        .iter()
        .filter(|d| d.firm == Decision::NO_FIRM)
        .map(|d| {
            (
                (d.at.0 / 86_400) as usize,
                d.action,
                d.why,
                d.market_held_share,
            )
        })
        .collect();
    assert_eq!(reviews.len(), 12, "{reviews:?}");
    // The rule, recomputed from the daily metrics: chips held on average over each review's 30
    // days, and the chips online at the review.
    let held = |days: std::ops::Range<usize>| -> f64 {
        let n = days.len() as f64;
        m.site[cloud][days]
            .iter()
            .map(|p| p.chip_hours_busy)
            .sum::<f64>()
            / (24.0 * n)
    };
    let mut first_growing = None;
    let mut first_used = None;
    for (k, &(day, action, why, share)) in reviews.iter().enumerate() {
        let now = held(day - 30..day);
        let forecast = if k == 0 {
            0.0
        } else {
            now * (now / held(day - 60..day - 30)) / m.site[cloud][day - 1].chips_online as f64
        };
        let expect = if share >= 0.5 {
            (LeaseAction::CloudBuys, Why::Used)
        } else if forecast >= 0.5 {
            (LeaseAction::CloudBuys, Why::Growing)
        } else {
            (LeaseAction::CloudDeclines, Why::Unused)
        };
        if (forecast - 0.5).abs() > 0.01 && (share - 0.5).abs() > 0.01 {
            assert_eq!((action, why), expect, "day {day}: {share} {forecast}");
        }
        if why == Why::Growing {
            assert!(share < 0.5, "day {day}: {share}");
            first_growing.get_or_insert(day);
        }
        if why == Why::Used {
            first_used.get_or_insert(day);
        }
    }
    let (g, u) = (
        first_growing.expect("a growing buy"),
        first_used.expect("its use reaches the threshold within the year"),
    );
    assert!(g + 30 <= u, "growing {g}, used {u}: {reviews:?}");
    // It declined before it forecast the threshold, and bought every lot after.
    let delivered = |d: std::ops::Range<usize>| -> u64 {
        m.site[cloud][d].iter().map(|p| p.chips_delivered).sum()
    };
    assert!(delivered(30..g) == 0 && delivered(g..365) == 10 * (365 - g) as u64);
}
