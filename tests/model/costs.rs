//! Costs as contracts: capacity reserved by contract is paid busy or idle at the index at the start
//! of its term, a lease ban ends contracts, owned chips are their owner's cost busy or idle, idle
//! chips draw power, and a firm's marginal price decides where its work goes. Each test checks the
//! figure against arithmetic done here, and against a control that shows the opposite.

use capsim::metrics::RunMetrics;

use crate::support::world::{FirmBuilder, SiteBuilder};
use crate::support::{run, run_by, WorldBuilder, H100};
use capsim::metrics::PeriodKind;

const HOURS_2025_Q1: f64 = (31.0 + 28.0 + 31.0) * 24.0;

fn firm_total(m: &RunMetrics, f: usize, g: impl Fn(&capsim::metrics::FirmPeriod) -> f64) -> f64 {
    m.firm[f].iter().map(g).sum()
}

fn site_total(m: &RunMetrics, s: usize, g: impl Fn(&capsim::metrics::SitePeriod) -> f64) -> f64 {
    m.site[s].iter().map(g).sum()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// A 1,000-chip H100 block in Malaysia under `pricing`, and a home stockpile; firm `acme` may use
/// both and has the work `work` adds.
fn world(
    offshore: impl FnOnce(SiteBuilder) -> SiteBuilder,
    work: impl FnOnce(FirmBuilder) -> FirmBuilder,
) -> WorldBuilder {
    WorldBuilder::new()
        .horizon("2025-01-01", "2025-03-31")
        .chip(H100)
        .site("johor", |s| {
            offshore(s.foreign("MY").delivery("2025-01-01", 1000))
        })
        .site("home", |s| s.domestic("CN").chips(1000))
        .firm("acme", |f| work(f.sites(["johor", "home"])))
}

fn contract(s: SiteBuilder) -> SiteBuilder {
    s.set("pricing", "\"contract\"")
        .set("tenant", "\"acme\"")
        .set("term_years", "1")
        .set("lease_usd_per_chip_hour", "2.0")
}

#[test]
fn a_contract_is_paid_for_every_online_hour_busy_or_idle() {
    // No work at all: the tenant still pays 1,000 chips x every hour x $2.
    let sc = world(contract, |f| f).build();
    let m = &run(&sc, 1).runs[0];
    let want = 1000.0 * HOURS_2025_Q1 * 2.0;
    let paid = firm_total(m, 0, |p| p.cost_abroad_usd);
    assert!(close(paid, want), "{paid} vs {want}");
    assert!(close(firm_total(m, 0, |p| p.cost_idle_usd), want));
    assert!(close(site_total(m, 0, |p| p.cost_idle_usd), want));
    assert_eq!(site_total(m, 0, |p| p.cost_unpaid_usd), 0.0);
    // Control: the same block on demand costs nothing while unused (the idle is the operator's).
    let sc = world(|s| s.lease(2.0), |f| f).build();
    let m = &run(&sc, 1).runs[0];
    assert_eq!(firm_total(m, 0, |p| p.cost_abroad_usd), 0.0);
    assert_eq!(site_total(m, 0, |p| p.cost_usd), 0.0);
}

#[test]
fn a_contract_price_holds_for_its_term_and_follows_the_index_at_renewal() {
    // Terms of 30 days from 2025-01-01; the index falls to $1 on 2025-01-15 and rises to $3 on
    // 2025-02-15. Term 1 (Jan 1-30) pays $2 (the index on Jan 1); term 2 (Jan 31 - Mar 1) pays
    // the $1 index of Jan 31; term 3 (Mar 2 - Mar 31) the $3 of Mar 2.
    let sc = world(
        |s| {
            contract(s)
                .set("term_years", &format!("{:?}", 30.0 / 365.0))
                .set(
                    "lease_prices",
                    "[{ from = 2025-01-15, usd_per_chip_hour = 1.0 }, \
                 { from = 2025-02-15, usd_per_chip_hour = 3.0 }]",
                )
        },
        |f| f,
    )
    .build();
    let m = &run(&sc, 1).runs[0];
    let want = 1000.0 * 24.0 * (30.0 * 2.0 + 30.0 * 1.0 + 30.0 * 3.0);
    let paid = firm_total(m, 0, |p| p.cost_abroad_usd);
    assert!(close(paid, want), "{paid} vs {want}");
    // On demand, the price follows the index from each date: the same chip-hours cost differently.
    let sc = world(
        |s| {
            s.lease(2.0).set(
                "lease_prices",
                "[{ from = 2025-01-15, usd_per_chip_hour = 1.0 }, \
                 { from = 2025-02-15, usd_per_chip_hour = 3.0 }]",
            )
        },
        |f| f.inference(|w| w.tokens_per_day(1000.0 * 2800.0 * 86_400.0 * 0.5)),
    )
    .edit_firm("acme", |f| f.sites(["johor"]))
    .build();
    let m = &run(&sc, 1).runs[0];
    let by_month: Vec<f64> = m.site[0].iter().map(|p| p.cost_usd).collect();
    let hours: Vec<f64> = m.site[0].iter().map(|p| p.chip_hours_busy).collect();
    // January mixes $2 and $1, February $1 and $3, March is all $3.
    assert!(close(by_month[2], hours[2] * 3.0), "{by_month:?} {hours:?}");
    assert!(
        by_month[0] < hours[0] * 2.0 && by_month[0] > hours[0] * 1.0,
        "{by_month:?} {hours:?}"
    );
}

#[test]
fn a_lease_ban_ends_the_contract_and_evicts_the_work_running_there() {
    let training = |f: FirmBuilder| {
        f.placement("earliest_finish").training(|w| {
            w.name("run")
                .dates(["2025-01-05"])
                .size_flop(1.5e24)
                .gang(1000)
        })
    };
    let banned = world(contract, training)
        .policy("ban", "lease_ban", "2025-02-01", |p| {
            p.firms_headquartered_in("CN").grace_days(0.0)
        })
        .build();
    let m = &run(&banned, 1).runs[0];
    assert_eq!(firm_total(m, 0, |p| p.contracts_ended as f64), 1.0);
    assert_eq!(site_total(m, 0, |p| p.contracts_ended as f64), 1.0);
    assert_eq!(m.site[0][1].contracts_ended, 1, "ended in February");
    assert!(site_total(m, 0, |p| p.evictions as f64) >= 1.0);
    // Paid for January only: 1,000 chips x 31 days x $2, and nothing after the ban.
    let want = 1000.0 * 31.0 * 24.0 * 2.0;
    let paid = firm_total(m, 0, |p| p.cost_abroad_usd);
    assert!(close(paid, want), "{paid} vs {want}");
    assert_eq!(m.firm[0][1].cost_abroad_usd, 0.0);
    assert_eq!(m.jobs.completed, 1, "the run finishes at home");
    // Control: without the ban the contract runs to the end and nothing is evicted.
    let m = &run(&world(contract, training).build(), 1).runs[0];
    assert_eq!(firm_total(m, 0, |p| p.contracts_ended as f64), 0.0);
    assert_eq!(site_total(m, 0, |p| p.evictions as f64), 0.0);
    assert!(close(
        firm_total(m, 0, |p| p.cost_abroad_usd),
        1000.0 * HOURS_2025_Q1 * 2.0
    ));
}

#[test]
fn in_a_lease_ban_s_grace_work_uses_the_contract_paid_for_until_the_deadline_evicts_it() {
    // The ban is in force from 2025-02-01 with 30 days' grace (deadline 2025-03-03). A run that
    // arrives on 2025-02-10 may still be placed on the block acme holds under contract (it pays
    // for it until the deadline); it is running there at the deadline, so it is evicted and
    // finishes at home, and the contract ends then. On-demand capacity abroad takes no new work
    // from the ban's first day: the same run goes home at once and nothing is evicted.
    let training = |f: FirmBuilder| {
        f.placement("earliest_finish").training(|w| {
            w.name("run")
                .dates(["2025-02-10"])
                .size_flop(1.5e24)
                .gang(1000)
        })
    };
    let ban = |w: WorldBuilder| {
        w.policy("ban", "lease_ban", "2025-02-01", |p| {
            p.firms_headquartered_in("CN").grace_days(30.0)
        })
        .build()
    };
    let m = &run_by(&ban(world(contract, training)), 1, PeriodKind::Day).runs[0];
    let (johor, home) = (0, 1);
    let (arrival, deadline) = (31 + 9, 31 + 28 + 2);
    let days = |s: usize, d: std::ops::Range<usize>| -> f64 {
        m.site[s][d].iter().map(|p| p.compute_pflop_days).sum()
    };
    assert!(
        days(johor, arrival..deadline) > 0.0,
        "ran abroad in the grace"
    );
    assert_eq!(
        days(johor, deadline..90),
        0.0,
        "nothing abroad after the deadline"
    );
    assert_eq!(days(home, 0..deadline), 0.0, "nothing at home before it");
    assert!(days(home, deadline..90) > 0.0, "finished at home");
    assert_eq!(site_total(m, johor, |p| p.evictions as f64), 1.0);
    assert_eq!(
        m.site[johor][deadline].evictions, 1,
        "evicted at the deadline"
    );
    assert_eq!(m.jobs.completed, 1);
    assert_eq!(site_total(m, johor, |p| p.contracts_ended as f64), 1.0);
    // Paid to the deadline: 1,000 chips x (31 + 28 + 2) days x 24 h x $2.
    let want = 1000.0 * 61.0 * 24.0 * 2.0;
    let paid = firm_total(m, 0, |p| p.cost_abroad_usd);
    assert!(close(paid, want), "{paid} vs {want}");
    // On demand: placed at home from the ban's first day, never abroad, never evicted.
    let m = &run(&ban(world(|s| s.lease(2.0), training)), 1).runs[0];
    assert_eq!(site_total(m, johor, |p| p.compute_pflop_days), 0.0);
    assert_eq!(site_total(m, johor, |p| p.evictions as f64), 0.0);
    assert_eq!(m.jobs.completed, 1);
}

#[test]
fn owned_chips_are_their_owners_cost_busy_or_idle_and_a_cloud_s_idle_is_no_ones() {
    let home = |owner: Option<&str>| {
        let world = WorldBuilder::new()
            .horizon("2025-01-01", "2025-03-31")
            .chip(H100)
            .site("home", |s| {
                let s = s.domestic("CN").chips(1000).electricity(0.0);
                match owner {
                    Some(o) => s.set("owner", &format!("{o:?}")),
                    None => s,
                }
            })
            .firm("acme", |f| f.sites(["home"]));
        run(&world.build(), 1).runs.remove(0)
    };
    // Capex of an idle H100: $25,000 over 4 years of 8,760 hours, for every online chip-hour.
    let capex = 1000.0 * HOURS_2025_Q1 * 25_000.0 / (4.0 * 8_760.0);
    let owned = home(Some("acme"));
    assert!(close(firm_total(&owned, 0, |p| p.cost_home_usd), capex));
    assert!(close(firm_total(&owned, 0, |p| p.cost_idle_usd), capex));
    assert_eq!(site_total(&owned, 0, |p| p.cost_unpaid_usd), 0.0);
    let cloud = home(None);
    assert_eq!(firm_total(&cloud, 0, |p| p.cost_home_usd), 0.0);
    assert!(close(site_total(&cloud, 0, |p| p.cost_unpaid_usd), capex));
}

#[test]
fn idle_chips_draw_their_idle_fraction_of_power() {
    let energy = |fraction: Option<f64>| {
        let mut chip = H100;
        chip.name = "h100";
        let mut world = WorldBuilder::new()
            .horizon("2025-01-01", "2025-01-31")
            .chip(chip)
            .site("home", |s| s.domestic("CN").chips(1000).pue(1.5))
            .firm("acme", |f| f.sites(["home"]));
        if let Some(x) = fraction {
            world = world.chip_set("h100", "idle_power_fraction", &format!("{x:?}"));
        }
        let m = run(&world.build(), 1).runs.remove(0);
        site_total(&m, 0, |p| p.energy_mwh)
    };
    // 1,000 idle chips x 31 days x 1,300 W x PUE 1.5 x 0.3.
    let want = 1000.0 * 31.0 * 24.0 * 1.3 * 1.5 * 0.3 / 1_000.0;
    let got = energy(Some(0.3));
    assert!(close(got, want), "{got} vs {want}");
    assert_eq!(energy(None), 0.0);
}

#[test]
fn firms_use_capacity_they_already_pay_for_before_renting_more() {
    // The contracted block costs $2/h and the rental $1/h; the tenant's marginal price at its own
    // contract is zero, so a cheapest-placement firm trains there; on demand it would rent.
    let work = |f: FirmBuilder| {
        f.placement("cheapest")
            .fine_tuning(|w| w.every_days(7.0).gang(512).size_flop(1e21))
    };
    let with = |offshore: fn(SiteBuilder) -> SiteBuilder| {
        let world = WorldBuilder::new()
            .horizon("2025-01-01", "2025-03-31")
            .chip(H100)
            .site("johor", |s| {
                offshore(s.foreign("MY").delivery("2025-01-01", 1000))
            })
            .site("rental", |s| {
                s.foreign("SG").lease(1.0).delivery("2025-01-01", 1000)
            })
            .firm("acme", |f| work(f.sites(["rental", "johor"])));
        run(&world.build(), 1).runs.remove(0)
    };
    let contracted = with(contract);
    assert!(site_total(&contracted, 0, |p| p.compute_pflop_days) > 0.0);
    assert_eq!(site_total(&contracted, 1, |p| p.compute_pflop_days), 0.0);
    let on_demand = with(|s| s.lease(2.0));
    assert_eq!(site_total(&on_demand, 0, |p| p.compute_pflop_days), 0.0);
    assert!(site_total(&on_demand, 1, |p| p.compute_pflop_days) > 0.0);
}

#[test]
fn contracts_and_owners_are_checked_at_load() {
    let err = |b: WorldBuilder| {
        b.try_build()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    // Another firm may not list a contracted site.
    let e = err(world(contract, |f| f).firm("other", |f| f.sites(["johor"])));
    assert!(
        e.contains("contracted by another firm") && e.contains("tenant"),
        "{e}"
    );
    let e = err(world(|s| contract(s).set("tenant", "\"nobody\""), |f| f));
    assert!(
        e.contains("unknown firm 'nobody'") && e.contains("acme"),
        "{e}"
    );
    let e = err(world(
        |s| contract(s).set("term_years", "{ uniform = [1, 2] }"),
        |f| f,
    ));
    assert!(e.contains("term_years must be a number"), "{e}");
    let e = err(world(
        |s| {
            contract(s).set(
                "lease_prices",
                "[{ from = 2025-02-01, usd_per_chip_hour = 1.0 }, \
                 { from = 2025-01-01, usd_per_chip_hour = 2.0 }]",
            )
        },
        |f| f,
    ));
    assert!(e.contains("not after the previous price"), "{e}");
    let e = err(world(|s| s.set("on_demand_premium", "0.5"), |f| f));
    assert!(
        e.contains("on_demand_premium applies only to on-demand"),
        "{e}"
    );
    let e = err(world(|s| s.lease(2.0).set("owner", "\"acme\""), |f| f));
    assert!(e.contains("owner applies only to owned sites"), "{e}");
    let e = err(world(
        |s| s.set("pricing", "\"contract\"").set("term_years", "1"),
        |f| f,
    ));
    assert!(e.contains("has no tenant"), "{e}");
}

#[test]
fn chip_hours_rented_from_domestic_clouds_are_counted_apart() {
    // A 512-chip fleet of the firm's own and a 1,000-chip domestic cloud (no owner) at home, and
    // an on-demand rental in Singapore: more work than the own fleet holds. What the firm's work
    // uses at the cloud is `chip_hours_cloud`, to the chip-hour; the own fleet and the rental
    // abroad are not. Owned by the firm, the same site is no cloud.
    let with = |cloud_owner: Option<&str>| {
        let world = WorldBuilder::new()
            .horizon("2025-01-01", "2025-03-31")
            .chip(H100)
            .site("own", |s| {
                s.domestic("CN").chips(512).set("owner", "\"acme\"")
            })
            .site("cloud", |s| {
                let s = s.domestic("CN").chips(1000);
                match cloud_owner {
                    Some(o) => s.set("owner", &format!("{o:?}")),
                    None => s,
                }
            })
            .site("rental", |s| {
                s.foreign("SG").lease(3.0).delivery("2025-01-01", 1000)
            })
            .firm("acme", |f| {
                f.sites(["own", "cloud", "rental"])
                    .placement("earliest_finish")
                    .fine_tuning(|w| w.every_days(1.0).gang(512).size_flop(1e23))
            });
        run(&world.build(), 1).runs.remove(0)
    };
    let m = with(None);
    let cloud = firm_total(&m, 0, |p| p.chip_hours_cloud);
    assert!(cloud > 0.0);
    assert!(close(cloud, site_total(&m, 1, |p| p.chip_hours_busy)));
    assert!(cloud < firm_total(&m, 0, |p| p.chip_hours_home));
    let owned = with(Some("acme"));
    assert_eq!(firm_total(&owned, 0, |p| p.chip_hours_cloud), 0.0);
    assert!(firm_total(&owned, 0, |p| p.chip_hours_home) > 0.0);
}
