//! Behaviour of the delivery rules (chip caps, permit delays, supply shocks), the domestic inference
//! mandate, and site power caps, each on a tiny world against its control: the same world without
//! the rule. (Export bans, licence fees, lease bans and data residency are in `policies.rs`.)
//!
//! Each test asserts what its control shows too, so it fails if the rule has no effect; the comment
//! above each control says what it shows.

use capsim::metrics::PeriodKind;

use crate::support::{firm_index, run_by, site_index, WorldBuilder, ASCEND_910C, H100};

/// 100 chips a day (365.25 daily lots a year).
const CHIPS_PER_YEAR_100_A_DAY: f64 = 36_525.0;

#[test]
fn a_chip_cap_stops_deliveries_into_the_country_at_the_cap() {
    // Two Chinese sites: `nv` gets 100 H100 a day, `asc` holds 5,000 Ascend chips that a cap on
    // H100 must not count; `my`, in Malaysia, gets the same supply and no cap.
    let world = WorldBuilder::new()
        .horizon("2025-01-01", "2025-01-31")
        .chip(H100)
        .chip(ASCEND_910C)
        .site("nv", |s| s.chips(200).supply(CHIPS_PER_YEAR_100_A_DAY))
        .site("asc", |s| s.chip("ascend-910c").chips(5_000))
        .site("my", |s| s.foreign("MY").supply(CHIPS_PER_YEAR_100_A_DAY));
    let sc = world
        .clone()
        .policy("cap", "chip_cap", "2025-01-01", |p| {
            p.country("CN").chip("h100").max_chips(1_000)
        })
        .build();
    let r = run_by(&sc, 1, PeriodKind::Day);
    let m = &r.runs[0];
    let (nv, my) = (site_index(&sc, "nv"), site_index(&sc, "my"));
    for (p, row) in m.site[nv].iter().enumerate() {
        assert!(row.chips_online <= 1_000, "day {p}: {}", row.chips_online);
    }
    assert_eq!(m.site[nv].last().unwrap().chips_online, 1_000);
    let delivered: u64 = m.site[nv].iter().map(|p| p.chips_delivered).sum();
    let refused: u64 = m.site[nv].iter().map(|p| p.chips_refused).sum();
    assert_eq!((delivered, refused), (800, 31 * 100 - 800));
    // Another country is not capped.
    assert_eq!(m.site[my].last().unwrap().chips_online, 31 * 100);

    // Control: without the cap `nv` ends with 200 + 31 x 100 chips.
    let free = run_by(&world.build(), 1, PeriodKind::Day).runs.remove(0);
    assert_eq!(free.site[nv].last().unwrap().chips_online, 200 + 31 * 100);
}

#[test]
fn a_permit_delay_makes_a_shipment_arrive_exactly_the_delay_later() {
    // One shipment to Malaysia (through the permit) and one to China (not), both on 2025-01-10.
    let world = WorldBuilder::new()
        .horizon("2025-01-01", "2025-02-28")
        .chip(H100)
        .site("my", |s| s.foreign("MY").delivery("2025-01-10", 512))
        .site("cn", |s| s.delivery("2025-01-10", 256));
    let sc = world
        .clone()
        .policy("permit", "permit_delay", "2025-01-01", |p| {
            p.through("MY").delay_days(14.0)
        })
        .build();
    let r = run_by(&sc, 1, PeriodKind::Day);
    let m = &r.runs[0];
    let (my, cn) = (site_index(&sc, "my"), site_index(&sc, "cn"));
    let (jan_10, jan_24) = (9, 23);
    let arrivals = |s: usize| -> Vec<(usize, u64)> {
        (m.site[s].iter().enumerate())
            .filter(|(_, p)| p.chips_delivered > 0)
            .map(|(d, p)| (d, p.chips_delivered))
            .collect()
    };
    assert_eq!(arrivals(my), vec![(jan_24, 512)]);
    assert_eq!(m.site[my][jan_24 - 1].chips_online, 0);
    assert_eq!(m.site[my][jan_24].chips_online, 512);
    assert_eq!(arrivals(cn), vec![(jan_10, 256)], "China is not delayed");

    // Control: without the permit the Malaysian shipment arrives on its date.
    let free = run_by(&world.build(), 1, PeriodKind::Day).runs.remove(0);
    assert_eq!(free.site[my][jan_10].chips_delivered, 512);
}

#[test]
fn a_supply_shock_scales_the_supply_rate_by_its_factor_from_its_date() {
    let world = WorldBuilder::new()
        .horizon("2025-01-01", "2025-03-31")
        .chip(H100)
        .site("fab", |s| s.supply(CHIPS_PER_YEAR_100_A_DAY));
    let sc = world
        .clone()
        .policy("hbm", "supply_shock", "2025-02-01", |p| {
            p.chip("h100").factor(0.25)
        })
        .build();
    let with = run_by(&sc, 1, PeriodKind::Month).runs.remove(0);
    // Control: the same supply without the shock, 100 chips a day in every month.
    let without = run_by(&world.build(), 1, PeriodKind::Month).runs.remove(0);
    let delivered = |m: &capsim::metrics::RunMetrics| -> Vec<u64> {
        m.site[0].iter().map(|p| p.chips_delivered).collect()
    };
    assert_eq!(delivered(&without), vec![3_100, 2_800, 3_100]);
    assert_eq!(delivered(&with), vec![3_100, 2_800 / 4, 3_100 / 4]);
}

/// A Chinese firm serving inference from a cheap leased H100 site and an owned Ascend site, both
/// at home; the H100s are cheaper per token, so without a mandate they serve everything.
fn inference_world() -> WorldBuilder {
    // About 300 H100s' worth of tokens a day: well within either site.
    let tokens_per_day = 300.0 * H100.inference_tokens_per_s * 86_400.0;
    WorldBuilder::new()
        .horizon("2025-01-01", "2025-02-28")
        .chip(H100)
        .chip(ASCEND_910C)
        .site("nv", |s| s.lease(0.5).chips(1_000))
        .site("asc", |s| s.chip("ascend-910c").chips(1_000))
        .firm("acme", |f| {
            f.sites(["nv", "asc"])
                .inference(|w| w.tokens_per_day(tokens_per_day).batch_hours(6.0))
        })
}

#[test]
fn a_domestic_mandate_serves_at_least_its_share_on_home_made_chips() {
    let sc = inference_world()
        .policy("mandate", "domestic_mandate", "2025-01-01", |p| {
            p.firms_headquartered_in("CN").inference_share(0.6)
        })
        .build();
    let r = run_by(&sc, 1, PeriodKind::Month);
    let f = firm_index(&sc, "acme");
    for (p, row) in r.runs[0].firm[f].iter().enumerate() {
        assert!(row.tokens_demanded > 0.0);
        // Capacity allows: everything is served, and at least 60% of it on Ascend chips.
        assert!(
            (row.tokens_served / row.tokens_demanded - 1.0).abs() < 1e-9,
            "month {p}: {row:?}"
        );
        let share = row.tokens_served_domestic_chips / row.tokens_served;
        assert!(share >= 0.6 - 1e-9, "month {p}: domestic share {share}");
    }
    // Control: without the mandate the cheaper H100s serve every token.
    let free = run_by(&inference_world().build(), 1, PeriodKind::Month);
    for row in &free.runs[0].firm[f] {
        assert!(row.tokens_served > 0.0);
        assert_eq!(row.tokens_served_domestic_chips, 0.0);
    }
}

#[test]
fn a_power_cap_bounds_installed_chips_by_cap_over_power_times_pue() {
    let (cap_mw, pue) = (2.0, 1.3);
    let world = WorldBuilder::new()
        .horizon("2025-01-01", "2025-01-31")
        .chip(H100)
        .site("dc", |s| {
            s.pue(pue)
                .chips(500)
                .supply(CHIPS_PER_YEAR_100_A_DAY)
                .power_cap_mw(cap_mw)
        });
    // 2 MW / (1,300 W x 1.3) = 1,183.4: room for 1,183 chips.
    let max_chips = (cap_mw * 1e6 / (H100.all_in_power_w * pue)).floor() as u64;
    assert_eq!(max_chips, 1_183);
    let sc = world.build();
    let m = run_by(&sc, 1, PeriodKind::Day).runs.remove(0);
    for (d, row) in m.site[0].iter().enumerate() {
        assert!(
            row.chips_online <= max_chips,
            "day {d}: {}",
            row.chips_online
        );
    }
    assert_eq!(m.site[0].last().unwrap().chips_online, max_chips);
    assert!(m.site[0].iter().map(|p| p.chips_refused).sum::<u64>() > 0);

    // Control: without the cap the site ends with 500 + 31 x 100 chips.
    let free = world.edit_site("dc", |s| s.no_power_cap()).build();
    let free = run_by(&free, 1, PeriodKind::Day).runs.remove(0);
    assert_eq!(free.site[0].last().unwrap().chips_online, 500 + 31 * 100);
}
