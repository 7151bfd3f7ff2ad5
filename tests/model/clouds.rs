//! Domestic-cloud reservations (issue 12): a firm that plans may reserve blocks of a domestic
//! cloud's idle chips for a term, at the cloud's price per chip-hour, paid busy or idle; the chips
//! leave the cloud's pool of capacity rented by the hour and come back when the lot is released.
//!
//! The world: firm `acme` owns 2,048 H100 at home and lists `acme-cloud`, a site that reserves
//! blocks of `cloud` (8,192 chips no firm owns) for 91-day terms, up to `reserve_share` of the
//! cloud. It does not list the cloud itself: reserving is its only way in. From January it sends a
//! 2,048-chip, ~15-day training job every 5 days until `work_until`, so its work waits at home.

use capsim::metrics::{Channel, LeaseAction, RunMetrics};

use crate::support::{load, run, site_index, H100_TOML as H100};

fn world(reserve_share: f64, work_until: &str, extra: &str) -> String {
    format!(
        r#"name = "clouds"
description = "a firm that reserves blocks of a domestic cloud"
start_date = 2025-01-01
end_date = 2025-12-31
seed = 7
{H100}
[sites.home]
jurisdiction = "CN"
operator = "domestic"
chip = "h100"
pricing = "owned"
owner = "acme"
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0
initial_chips = 2048

[sites.cloud]
jurisdiction = "CN"
operator = "domestic"
chip = "h100"
pricing = "owned"
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0
initial_chips = 8192

[sites.acme-cloud]
jurisdiction = "CN"
operator = "domestic"
chip = "h100"
pricing = "contract"
tenant = "acme"
term_years = {term:?}
reserves = "cloud"
reserve_share = {reserve_share:?}
reserve_markup = 2.0
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0

[firms.acme]
headquarters = "CN"
sites = ["home", "acme-cloud"]
placement = "earliest_finish"

[firms.acme.planning]
every_days = 30
lead_days = 30
block_chips = 1024
patience_days = 14
max_leased_chips = 65536

[[firms.acme.workloads]]
name = "a"
kind = "training"
end_date = {work_until}
arrivals = {{ every_days = 5 }}
size_flop = 1.05e24
gang_chips = 2048
checkpoint_hours = 1.0
restart_hours = 0.5
{extra}"#,
        term = 91.0 / 365.0,
    )
}

fn reservations(m: &RunMetrics, action: LeaseAction) -> Vec<capsim::metrics::Decision> {
    m.decisions
        .iter()
        .copied()
        .filter(|d| d.channel == Channel::Cloud && d.action == action)
        .collect()
}

#[test]
fn waiting_work_reserves_cloud_blocks_which_leave_the_cloud_and_come_back() {
    let sc = load(&world(0.5, "2025-06-30", ""));
    let (home, cloud, reserved) = (
        site_index(&sc, "home"),
        site_index(&sc, "cloud"),
        site_index(&sc, "acme-cloud"),
    );
    let m = &run(&sc, 1).runs[0];
    let signed = reservations(m, LeaseAction::Sign);
    assert!(!signed.is_empty(), "{:?}", m.decisions);
    for d in &signed {
        assert_eq!(d.site as usize, reserved);
        assert!(d.need_chips > 0, "{d:?}");
        assert_eq!(d.chips % 1024, 0, "whole blocks: {d:?}");
        // Twice the cloud's cost per chip-hour: capex over 4 years (25,000 USD) and energy (1.3 kW
        // x PUE 1.3 x 0.08 USD/kWh), fixed for the term.
        let price = 2.0 * (25_000.0 / (4.0 * 8_766.0) + 1.3 * 1.3 * 0.08);
        assert!(
            (d.usd_per_chip_hour / price - 1.0).abs() < 0.01,
            "{d:?} vs {price}"
        );
    }
    // Half the cloud may be held, 4,096 chips, and the waiting work takes all of it.
    let most = m.firm[0].iter().map(|p| p.cloud_chips_held).max().unwrap();
    assert_eq!(most, 4096);
    // The chips leave the cloud while held: its online chips plus what is held stay 8,192.
    for p in 0..12 {
        let held = m.firm[0][p].cloud_chips_held;
        assert_eq!(m.site[cloud][p].chips_online + held, 8192, "period {p}");
        assert_eq!(m.site[reserved][p].chips_online, held, "period {p}");
    }
    // The firm's work runs on the reserved chips (home and reserved compute both used).
    let on_reserved: f64 = m.site[reserved].iter().map(|p| p.compute_pflop_days).sum();
    let on_home: f64 = m.site[home].iter().map(|p| p.compute_pflop_days).sum();
    assert!(on_reserved > 0.0 && on_home > 0.0);
    // Paid busy or idle: the reserved site's cost is its chips' online hours at the block price.
    let cost: f64 = m.site[reserved].iter().map(|p| p.cost_usd).sum();
    let hours: f64 = m.site[reserved].iter().map(|p| p.chip_hours_online).sum();
    let price = signed[0].usd_per_chip_hour;
    assert!(
        (cost / (hours * price) - 1.0).abs() < 1e-6,
        "cost {cost} vs {hours} h x {price}"
    );
    let busy: f64 = m.site[reserved].iter().map(|p| p.chip_hours_busy).sum();
    assert!(busy < hours, "some reserved hours stand idle, and are paid");
    // Work stops at the end of June: the lots are released at their term ends, and by December
    // the cloud has all its chips back.
    let released = reservations(m, LeaseAction::Release);
    assert!(!released.is_empty());
    assert_eq!(m.firm[0][11].cloud_chips_held, 0);
    assert_eq!(m.site[cloud][11].chips_online, 8192);
}

#[test]
fn reserve_share_bounds_what_a_firm_takes_of_the_cloud() {
    let sc = load(&world(0.125, "2025-12-31", ""));
    let m = &run(&sc, 1).runs[0];
    let most = m.firm[0].iter().map(|p| p.cloud_chips_held).max().unwrap();
    assert_eq!(most, 1024, "an eighth of 8,192");
    let passed: Vec<_> = m
        .decisions
        .iter()
        .filter(|d| d.channel == Channel::Cloud && d.action == LeaseAction::Pass)
        .collect();
    assert!(
        passed.iter().all(|d| d.why == capsim::metrics::Why::NoRoom),
        "{passed:?}"
    );
}

/// Firm `other` rents the whole cloud by the hour all year: one 8,192-chip run from 1 January.
const OTHER_FILLS_THE_CLOUD: &str = r#"
[firms.other]
headquarters = "CN"
sites = ["cloud"]
placement = "earliest_finish"

[[firms.other.workloads]]
name = "all-year"
kind = "training"
arrivals = { dates = [2025-01-01] }
size_flop = 1.1e26
gang_chips = 8192
checkpoint_hours = 1.0
restart_hours = 0.5
"#;

#[test]
fn a_reservation_takes_only_idle_chips() {
    // The cloud is busy with another firm's work all year: every review passes it (no room), the
    // cloud keeps its chips and acme's work waits at home.
    let sc = load(&world(0.5, "2025-06-30", OTHER_FILLS_THE_CLOUD));
    let cloud = site_index(&sc, "cloud");
    let m = &run(&sc, 1).runs[0];
    assert!(reservations(m, LeaseAction::Sign).is_empty());
    let passed: Vec<_> = m
        .decisions
        .iter()
        .filter(|d| d.channel == Channel::Cloud)
        .collect();
    assert!(!passed.is_empty());
    assert!(passed
        .iter()
        .all(|d| d.action == LeaseAction::Pass && d.why == capsim::metrics::Why::NoRoom));
    assert!(m.site[cloud].iter().all(|p| p.chips_online == 8192));
    assert!(m.firm[0].iter().all(|p| p.cloud_chips_held == 0));
}

#[test]
fn a_site_that_reserves_a_cloud_refuses_what_cannot_be_a_block() {
    let base = world(0.5, "2025-06-30", "");
    let cases = [
        (
            base.replace("reserves = \"cloud\"", "reserves = \"clod\""),
            "unknown site 'clod'",
        ),
        (
            base.replace("reserves = \"cloud\"", "reserves = \"home\""),
            "site 'home' is not a domestic cloud",
        ),
        (
            base.replace("reserves = \"cloud\"", "reserves = \"acme-cloud\""),
            "a site cannot reserve its own chips",
        ),
        (
            base.replace(
                "reserves = \"cloud\"",
                "reserves = \"cloud\"\ninitial_chips = 100",
            ),
            "initial_chips does not apply to a site that reserves a domestic cloud",
        ),
        (
            base.replace(
                "reserves = \"cloud\"",
                "reserves = \"cloud\"\npower_cap_mw = 10.0",
            ),
            "power_cap_mw does not apply to a site that reserves a domestic cloud",
        ),
        (
            base.replace(
                "[sites.cloud]\njurisdiction = \"CN\"",
                "[sites.cloud]\njurisdiction = \"HK\"",
            ),
            "has other chips or is elsewhere than this site",
        ),
        (
            base.replace(
                "sites = [\"home\", \"acme-cloud\"]",
                "sites = [\"home\", \"cloud\"]",
            ),
            "reserves cloud chips for 'acme', which does not list it",
        ),
        (
            base.replace("reserve_share = 0.5", "reserve_share = 1.5"),
            "reserve_share",
        ),
        (
            // A second firm's site that reserves the same cloud: 0.5 + 0.75 of it.
            format!(
                "{base}{}",
                r#"
[sites.beta-cloud]
jurisdiction = "CN"
operator = "domestic"
chip = "h100"
pricing = "contract"
tenant = "beta"
term_years = 1.0
reserves = "cloud"
reserve_share = 0.75
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0

[firms.beta]
headquarters = "CN"
sites = ["beta-cloud"]
placement = "earliest_finish"

[firms.beta.planning]
every_days = 30
lead_days = 30
block_chips = 1024
patience_days = 14
max_leased_chips = 65536
"#
            ),
            "may hold 1.25 of it together",
        ),
        (
            base.replace(
                "pricing = \"contract\"\ntenant",
                "pricing = \"lease\"\ntenant",
            ),
            "applies only to contracted sites",
        ),
        (
            base.replace("reserve_markup = 2.0", "reserve_markup = 0.0"),
            "reserve_markup",
        ),
    ];
    for (toml, want) in cases {
        let err = capsim::scenario::load_str(&toml, "t.toml", None)
            .err()
            .unwrap_or_else(|| panic!("accepted: {want}"))
            .to_string();
        assert!(err.contains(want), "want '{want}': {err}");
        assert!(err.contains("t.toml:"), "located: {err}");
        assert!(err.contains("help:"), "with help: {err}");
    }
}

#[test]
fn blocks_reserved_count_as_the_cloud_s_use_when_it_decides_what_to_buy() {
    // The cloud is also supplied (10 chips a day) and buys by its use (reviews every 30 days, at
    // 30% or more). Acme rents none of it by the hour, so its only use is the blocks acme
    // reserves: half of it while acme's work waits (to June). Days 60 to 180 it buys every lot;
    // without acme's work (nothing arrives), it buys none of them.
    let buying = |work_until: &str| {
        let w = world(0.5, work_until, "");
        let w = w.replace(
            "initial_chips = 8192\n",
            "initial_chips = 8192\nsupply = { chips_per_year = 3652.5 }\n\
             buying = { every_days = 30, busy_above = 0.3 }\n",
        );
        let sc = load(&w);
        let cloud = site_index(&sc, "cloud");
        let m = crate::support::run_by(&sc, 1, capsim::metrics::PeriodKind::Day)
            .runs
            .remove(0);
        let declined: u64 = m.site[cloud][60..180]
            .iter()
            .map(|p| p.chips_declined)
            .sum();
        let delivered: u64 = m.site[cloud][60..180]
            .iter()
            .map(|p| p.chips_delivered)
            .sum();
        (declined, delivered)
    };
    assert_eq!(buying("2025-06-30"), (0, 1200));
    assert_eq!(buying("2025-01-01"), (1200, 0));
}

#[test]
fn a_cloud_s_measured_use_counts_each_block_until_the_moment_it_ends() {
    // The cloud of the test above, but it keeps buying only at 90% use or more: with acme's
    // blocks (at most half of it) as its only use, it declines from its first review on, so no
    // daily delivery brings its use up to date. Each of its reviews must still measure exactly
    // the blocks' chip-time over its chip-time online, as the run's own accounting records them
    // (the block sites' online hours; the cloud's online hours), over the days since the last
    // review, including the reviews that follow a block's release at its term end, mid-interval.
    // (A block's end that did not first bring the cloud's use up to date would count the block
    // as gone since the last change before it.)
    let w = world(0.5, "2025-06-30", "").replace(
        "initial_chips = 8192\n",
        "initial_chips = 8192\nsupply = { chips_per_year = 3652.5 }\n\
         buying = { every_days = 30, busy_above = 0.9 }\n",
    );
    let sc = load(&w);
    let (cloud, reserved) = (site_index(&sc, "cloud"), site_index(&sc, "acme-cloud"));
    let m = crate::support::run_by(&sc, 1, capsim::metrics::PeriodKind::Day)
        .runs
        .remove(0);
    let day = 86_400;
    let reviews: Vec<(usize, f64)> = m
        .decisions
        .iter()
        .filter(|d| d.firm == capsim::metrics::Decision::NO_FIRM)
        .map(|d| ((d.at.0 / day) as usize, d.market_held_share))
        .collect();
    assert_eq!(reviews.len(), 12);
    // Blocks were released at term ends while the cloud declined (nothing delivered after its
    // first review).
    let released: Vec<usize> = reservations(&m, LeaseAction::Release)
        .iter()
        .map(|d| (d.at.0 / day) as usize)
        .collect();
    assert!(!released.is_empty());
    let delivered: u64 = m.site[cloud][30..].iter().map(|p| p.chips_delivered).sum();
    assert_eq!(delivered, 0);
    let mut last = 0;
    let mut spanned_a_release = false;
    for &(at, share) in &reviews {
        let held: f64 = m.site[reserved][last..at]
            .iter()
            .map(|p| p.chip_hours_online)
            .sum();
        let own: f64 = m.site[cloud][last..at]
            .iter()
            .map(|p| p.chip_hours_online)
            .sum();
        let want = held / (held + own);
        assert!(
            (share - want).abs() < 1e-9,
            "review on day {at}: measured {share}, accounted {want}"
        );
        spanned_a_release |= released.iter().any(|&r| r > last && r < at) && held > 0.0;
        last = at;
    }
    assert!(spanned_a_release, "{released:?} {reviews:?}");
}
