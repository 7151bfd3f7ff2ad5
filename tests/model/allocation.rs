//! How national output is allocated among firms' open orders: each firm's own `order_share` of
//! every daily lot without a rule; under an `output_allocation` rule, up to the rule's share of
//! the lot together, listed firms first, then the others pro rata to their open orders.
//!
//! The world: the country's uncommitted Ascend 910C output is one domestic cloud's supply line,
//! 36,525 chips a year (100 a day, exactly). Two firms, `acme` and `beta`, each own a 910C site
//! at home (1,024 chips, plus their own line of 1 chip a day) and run training work that waits
//! there; each reviews monthly and orders 910C in lots of 100, arriving the day they are allocated
//! (`order_lead_days = 0`). Acme's work is twice beta's. Reported by day, so a day's allocation to
//! a firm is its `order_chips_delivered` that day, and its open orders before the day's lot are
//! its `order_chips_open` at the end of the day before.

use capsim::metrics::RunMetrics;
use capsim::scenario::Scenario;

use crate::support::{load, run_by, site_index, ASCEND_910C, H100};
use capsim::metrics::PeriodKind;

fn world(extra: &str) -> String {
    let mut firms = String::new();
    for (name, every) in [("acme", 5.0), ("beta", 10.0)] {
        firms.push_str(&format!(
            r#"
[sites.home-{name}]
jurisdiction = "CN"
operator = "domestic"
chip = "ascend-910c"
pricing = "owned"
owner = "{name}"
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0
initial_chips = 1024
supply = {{ chips_per_year = 365.25 }}

[firms.{name}]
headquarters = "CN"
sites = ["home-{name}"]
placement = "earliest_finish"

[firms.{name}.planning]
every_days = 30
lead_days = 30
block_chips = 100
patience_days = 7
max_leased_chips = 0
order_share = 0.3
order_lead_days = 0
max_wait_days = 180

[[firms.{name}.workloads]]
name = "pretrain"
kind = "training"
start_date = 2025-01-01
end_date = 2025-12-31
arrivals = {{ every_days = {every:?} }}
size_flop = 8.0e23
gang_chips = 1024
checkpoint_hours = 1.0
restart_hours = 0.5
"#
        ));
    }
    format!(
        r#"name = "allocation"
description = "two firms ordering from one country's output"
start_date = 2025-01-01
end_date = 2025-12-31
seed = 11

{chip}
[sites.cloud-910c]
jurisdiction = "CN"
operator = "domestic"
chip = "ascend-910c"
pricing = "owned"
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0
supply = {{ chips_per_year = 36525.0 }}
{firms}
{extra}"#,
        chip = ASCEND_910C.toml(),
    )
}

fn rule(orders_share: f64, priority: &str) -> String {
    format!(
        r#"
[[policy]]
name = "allocation"
rule = "output_allocation"
country = "CN"
chip = "ascend-910c"
orders_share = {orders_share:?}
{priority}
from = 2025-01-01
"#
    )
}

/// Per day from the second: (acme's open orders before the day's lot, beta's, what acme got that
/// day, what beta got), for the days on which neither firm placed an order (so the open orders
/// before the lot are the day before's at its end).
fn clean_days(m: &RunMetrics) -> Vec<(u64, u64, u64, u64)> {
    let (a, b) = (&m.firm[0], &m.firm[1]);
    (1..a.len())
        .filter(|&d| a[d].order_chips_placed == 0 && b[d].order_chips_placed == 0)
        .map(|d| {
            (
                a[d - 1].order_chips_open,
                b[d - 1].order_chips_open,
                a[d].order_chips_delivered,
                b[d].order_chips_delivered,
            )
        })
        .collect()
}

fn daily(sc: &Scenario) -> RunMetrics {
    run_by(sc, 1, PeriodKind::Day).runs.remove(0)
}

/// Days on which both firms had more open than the share they could take.
fn contested(days: &[(u64, u64, u64, u64)], above: u64) -> usize {
    days.iter()
        .filter(|(oa, ob, _, _)| *oa > above && *ob > above)
        .count()
}

#[test]
fn without_a_rule_each_firm_takes_up_to_its_own_share_of_each_day_s_output() {
    let sc = load(&world(""));
    let m = daily(&sc);
    let days = clean_days(&m);
    assert!(contested(&days, 30) > 30, "{days:?}");
    for &(oa, ob, ga, gb) in &days {
        // floor(100 x 0.3) = 30 a day each, or what it has open.
        assert_eq!((ga, gb), (oa.min(30), ob.min(30)), "{days:?}");
    }
    // The cloud keeps the rest of each lot: never less than 40 a day.
    let cloud = site_index(&sc, "cloud-910c");
    assert!(m.site[cloud].iter().all(|p| p.chips_to_orders <= 60));
}

#[test]
fn pro_rata_splits_each_day_s_share_by_the_firms_open_orders() {
    let sc = load(&world(&rule(0.9, "")));
    let m = daily(&sc);
    let days = clean_days(&m);
    assert!(contested(&days, 90) > 30, "{days:?}");
    let mut above_quota = 0;
    for &(oa, ob, ga, gb) in &days {
        if oa + ob <= 90 {
            // Room for every open chip.
            assert_eq!((ga, gb), (oa, ob), "{days:?}");
            continue;
        }
        // 90 chips split in proportion to the open orders, whole chips (one either way).
        assert_eq!(ga + gb, 90);
        let exact = 90.0 * oa as f64 / (oa + ob) as f64;
        assert!((ga as f64 - exact).abs() < 1.0, "{ga} vs {exact}: {days:?}");
        if ga > 30 {
            above_quota += 1;
        }
    }
    // The rule's share replaces the firms' own: acme, with the larger orders, often gets more
    // than its 30 a day.
    assert!(above_quota > 10, "{days:?}");
    let cloud = site_index(&sc, "cloud-910c");
    assert!(m.site[cloud].iter().all(|p| p.chips_to_orders <= 90));
}

#[test]
fn a_priority_list_serves_the_firm_it_names_first() {
    let m = daily(&load(&world(&rule(0.9, r#"priority = ["beta"]"#))));
    let days = clean_days(&m);
    assert!(contested(&days, 90) > 10, "{days:?}");
    for &(oa, ob, ga, gb) in &days {
        let b = ob.min(90);
        assert_eq!((ga, gb), (oa.min(90 - b), b), "{days:?}");
    }
    // Being first is worth chips: by the end of June beta has more, and acme less, than when
    // acme is first (beta's chips then wait until acme's orders are met).
    let other = daily(&load(&world(&rule(0.9, r#"priority = ["acme", "beta"]"#))));
    let by_july = |m: &RunMetrics, f: usize| -> u64 {
        m.firm[f][..181]
            .iter()
            .map(|p| p.order_chips_delivered)
            .sum()
    };
    let (beta_first, acme_first) = (&m, &other);
    assert!(by_july(beta_first, 1) > by_july(acme_first, 1));
    assert!(by_july(beta_first, 0) < by_july(acme_first, 0));
}

#[test]
fn the_rule_holds_only_while_in_force_and_only_for_its_chip_and_country() {
    let plain = daily(&load(&world("")));
    let delivered = |m: &RunMetrics, f: usize| -> Vec<u64> {
        m.firm[f].iter().map(|p| p.order_chips_delivered).collect()
    };
    // In force from July (day 181): before it, the allocations are those without the rule, to
    // the chip; after it, acme gets more than its own 30 a day on some days.
    let from_july = rule(0.9, "").replace("from = 2025-01-01", "from = 2025-07-01");
    let m = daily(&load(&world(&from_july)));
    for f in 0..2 {
        assert_eq!(delivered(&m, f)[..181], delivered(&plain, f)[..181]);
    }
    assert!(m.firm[0][181..]
        .iter()
        .any(|p| p.order_chips_delivered > 30));
    // A rule on another country's output, or on another chip, changes nothing.
    let elsewhere = rule(0.9, "").replace("country = \"CN\"", "country = \"MY\"");
    let other_chip = format!(
        "{}\n{}",
        rule(0.9, "").replace("chip = \"ascend-910c\"", "chip = \"h100\""),
        H100.toml()
    );
    for extra in [elsewhere, other_chip] {
        let moved = daily(&load(&world(&extra)));
        for f in 0..2 {
            assert_eq!(delivered(&moved, f), delivered(&plain, f), "{extra}");
        }
    }
}

#[test]
fn an_allocation_rule_is_checked_at_load() {
    let err = |extra: &str| {
        capsim::scenario::load_str(&world(extra), "t.toml", None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let e = err(&rule(0.9, r#"priority = ["beat"]"#));
    assert!(
        e.contains("unknown firm 'beat'") && e.contains("beta") && e.contains("priority"),
        "{e}"
    );
    // Beta without planning orders nothing: listing it would silently change nothing.
    let w = world(&rule(0.9, r#"priority = ["beta"]"#));
    let (i, j) = (
        w.find("[firms.beta.planning]").unwrap(),
        w.find("[[firms.beta.workloads]]").unwrap(),
    );
    let e = capsim::scenario::load_str(&format!("{}{}", &w[..i], &w[j..]), "t.toml", None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("'beta' does not order domestic chips") && e.contains("order_share"),
        "{e}"
    );
    let e = err(&rule(0.9, r#"priority = ["beta", "acme", "beta"]"#));
    assert!(e.contains("'beta' is listed twice"), "{e}");
    let e = err(&rule(1.5, ""));
    assert!(e.contains("orders_share"), "{e}");
    let e = err(&rule(0.9, "").replace("orders_share = 0.9\n", ""));
    assert!(e.contains("needs 'orders_share'"), "{e}");
    let e = err(&rule(0.9, "").replace("country = \"CN\"", "country = \"Narnia\""));
    assert!(e.contains("country"), "{e}");
    let e = err(&format!(
        "{}\n[[policy]]\nname = \"ban\"\nrule = \"export_ban\"\nchip = \"ascend-910c\"\nto = \"US\"\npriority = [\"acme\"]\nfrom = 2025-01-01\n",
        ""
    ));
    assert!(
        e.contains("'priority' does not apply to rule 'export_ban'"),
        "{e}"
    );
    // The rule's line in tables and charts.
    let sc = load(&world(&rule(0.6, r#"priority = ["beta"]"#)));
    assert_eq!(
        sc.world.timeline.policies[0].rule.describe(),
        "output allocation: up to 60% of ascend-910c made in CN to orders, beta first, then pro rata"
    );
}

#[test]
fn a_review_orders_what_the_rule_lets_it_expect() {
    // Each order is at most what the firm can expect within its 180-day wait, less the open
    // orders served no later than its own; the decision's `market_held_share` is that taken share
    // of the expected output: (open ahead + ordered) / (share x 100 chips a day x 180 days). So
    // the expected output an order was sized against is recovered from its row.
    let check = |extra: &str, want: [f64; 2], ahead_of: [&[usize]; 2]| {
        let m = daily(&load(&world(extra)));
        let orders: Vec<_> = m
            .decisions
            .iter()
            .filter(|d| d.action == capsim::metrics::LeaseAction::Order)
            .copied()
            .collect();
        assert!(orders.iter().any(|d| d.firm == 0) && orders.iter().any(|d| d.firm == 1));
        for d in &orders {
            let f = d.firm as usize;
            let day = (d.at.0 / 86_400) as usize;
            // Open orders before the review: those at the end of the day before, and those the
            // firms reviewed before it at the same instant (in scenario order) just placed.
            let ahead: u64 = ahead_of[f]
                .iter()
                .map(|&g| {
                    let before = if day == 0 {
                        0
                    } else {
                        m.firm[g][day - 1].order_chips_open
                    };
                    let same_instant: u64 = orders
                        .iter()
                        .filter(|o| o.at == d.at && o.firm as usize == g && g < f)
                        .map(|o| o.chips)
                        .sum();
                    before + same_instant
                })
                .sum();
            let r = (ahead + d.chips) as f64 / d.market_held_share;
            assert!((r - want[f]).abs() <= 1.0, "{d:?}: {r} vs {}", want[f]);
        }
    };
    // No rule: each its own 30 a day, after its own open orders.
    check("", [5400.0, 5400.0], [&[0], &[1]]);
    // Acme first: 90 a day, acme after its own, beta after both.
    check(
        &rule(0.9, r#"priority = ["acme"]"#),
        [16_200.0, 16_200.0],
        [&[0], &[0, 1]],
    );
    // Pro rata: 90 a day, each after every open order.
    check(&rule(0.9, ""), [16_200.0, 16_200.0], [&[0, 1], &[0, 1]]);
}
