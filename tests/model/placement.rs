//! Behaviour of the three placement strategies, each on a tiny world against a control that places
//! by another strategy (and shows a different choice).

use capsim::metrics::{RunMetrics, FLOP_PER_PFLOP_DAY};

use crate::support::{firm_index, run, site_index, total, WorldBuilder, H100};

/// FLOP that `gang` H100s do in `days` days.
fn h100_flop(gang: u64, days: f64) -> f64 {
    gang as f64 * H100.effective_flop_per_s() * days * 86_400.0
}

fn compute(m: &RunMetrics, site: usize) -> f64 {
    total(&m.site[site], |p| p.compute_pflop_days)
}

fn close(a: f64, b: f64) -> bool {
    (a / b - 1.0).abs() < 1e-6
}

#[test]
fn cheapest_places_on_the_cheapest_allowed_site() {
    // Two idle leased sites; the dear one comes first, so the choice is not scenario order.
    let world = |placement: &str| {
        WorldBuilder::new()
            .horizon("2025-01-01", "2025-01-31")
            .chip(H100)
            .site("dear", |s| s.foreign("MY").lease(3.0).chips(1_024))
            .site("cheap", |s| s.foreign("SG").lease(0.5).chips(1_024))
            .firm("acme", |f| {
                f.sites(["dear", "cheap"])
                    .placement(placement)
                    .fine_tuning(|w| {
                        w.dates(["2025-01-02"])
                            .gang(512)
                            .size_flop(h100_flop(512, 2.0))
                    })
            })
            .build()
    };
    let sc = world("cheapest");
    let m = run(&sc, 1).runs.remove(0);
    let (dear, cheap) = (site_index(&sc, "dear"), site_index(&sc, "cheap"));
    assert_eq!(m.jobs.completed, 1);
    assert_eq!(compute(&m, dear), 0.0);
    assert!(close(
        compute(&m, cheap),
        h100_flop(512, 2.0) / FLOP_PER_PFLOP_DAY
    ));
    // The firm paid the cheap price for every chip-hour it used.
    let f = &m.firm[firm_index(&sc, "acme")];
    let chip_hours = total(&m.site[cheap], |p| p.chip_hours_busy);
    assert!(close(total(f, |p| p.cost_abroad_usd), 0.5 * chip_hours));

    // Control: earliest_finish sees two equally fast idle sites and takes the first, the dear one.
    let m = run(&world("earliest_finish"), 1).runs.remove(0);
    assert_eq!(compute(&m, cheap), 0.0);
    assert!(compute(&m, dear) > 0.0);
}

#[test]
fn earliest_finish_picks_the_idle_site_over_a_busy_cheaper_one() {
    // Two 10-day jobs that each fill a site; the second arrives while the first runs at `busy`.
    let world = |placement: &str| {
        WorldBuilder::new()
            .horizon("2025-01-01", "2025-02-28")
            .chip(H100)
            .site("busy", |s| s.foreign("MY").lease(0.5).chips(1_024))
            .site("idle", |s| s.foreign("SG").lease(3.0).chips(1_024))
            .firm("acme", |f| {
                f.sites(["busy", "idle"])
                    .placement(placement)
                    .training(|w| {
                        w.dates(["2025-01-02", "2025-01-03"])
                            .gang(1_024)
                            .size_flop(h100_flop(1_024, 10.0))
                    })
            })
            .build()
    };
    let sc = world("earliest_finish");
    let (busy, idle) = (site_index(&sc, "busy"), site_index(&sc, "idle"));
    let job = h100_flop(1_024, 10.0) / FLOP_PER_PFLOP_DAY;
    let m = run(&sc, 1).runs.remove(0);
    assert_eq!(m.jobs.completed, 2);
    assert!(close(compute(&m, busy), job), "{}", compute(&m, busy));
    assert!(close(compute(&m, idle), job), "{}", compute(&m, idle));
    // Both ran at once: all the work was done in January.
    assert!(close(
        m.site[busy][0].compute_pflop_days + m.site[idle][0].compute_pflop_days,
        2.0 * job
    ));

    // Control: cheapest queues the second job behind the first at the cheap site.
    let m = run(&world("cheapest"), 1).runs.remove(0);
    assert_eq!(compute(&m, idle), 0.0);
    assert!(close(compute(&m, busy), 2.0 * job));
}

#[test]
fn home_first_stays_home_when_home_can_run_the_job() {
    // A cheap leased site abroad (listed first) and a small owned site at home (512 chips):
    // job A (512 chips, 5 days) fills home; job C (256 chips) arrives while A runs and may wait for
    // home; job B (1,024 chips) cannot run at home at all.
    let world = |placement: &str| {
        WorldBuilder::new()
            .horizon("2025-01-01", "2025-01-31")
            .chip(H100)
            .site("abroad", |s| s.foreign("MY").lease(0.5).chips(2_048))
            .site("home", |s| s.chips(512))
            .firm("acme", |f| {
                f.sites(["abroad", "home"])
                    .placement(placement)
                    .fine_tuning(|w| {
                        w.name("a")
                            .dates(["2025-01-02"])
                            .gang(512)
                            .size_flop(h100_flop(512, 5.0))
                    })
                    .fine_tuning(|w| {
                        w.name("c")
                            .dates(["2025-01-03"])
                            .gang(256)
                            .size_flop(h100_flop(256, 1.0))
                    })
                    .fine_tuning(|w| {
                        w.name("b")
                            .dates(["2025-01-04"])
                            .gang(1_024)
                            .size_flop(h100_flop(1_024, 1.0))
                    })
            })
            .build()
    };
    let pfd = |flop: f64| flop / FLOP_PER_PFLOP_DAY;
    let sc = world("home_first");
    let f = firm_index(&sc, "acme");
    let m = run(&sc, 1).runs.remove(0);
    assert_eq!(m.jobs.completed, 3);
    let home = total(&m.firm[f], |p| p.compute_home_pflop_days);
    let abroad = total(&m.firm[f], |p| p.compute_abroad_pflop_days);
    assert!(
        close(home, pfd(h100_flop(512, 5.0) + h100_flop(256, 1.0))),
        "{home}"
    );
    assert!(close(abroad, pfd(h100_flop(1_024, 1.0))), "{abroad}");

    // Control: cheapest sends everything to the cheaper site abroad.
    let m = run(&world("cheapest"), 1).runs.remove(0);
    assert_eq!(total(&m.firm[f], |p| p.compute_home_pflop_days), 0.0);
}
