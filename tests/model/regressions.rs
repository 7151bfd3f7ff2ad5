//! Regressions of issue 9 ("numbers that hold"), each on the smallest world that showed it: jobs
//! starving where they can never start, permit delays breaking past 64 policies, costs that did not
//! reconcile, lost work counted as useful, and the per-job record.

use capsim::metrics::{JobKind, JobOutcome, PeriodKind, FLOP_PER_PFLOP_DAY};
use capsim::scenario::Scenario;

use crate::support::{run, run_by, site_index, total, WorldBuilder, ASCEND_910C, H100};

/// The repro: `a-serve` (1,024 fast chips, inference priority, inference demand that leaves
/// fewer free chips than a gang; the old binary starved 2 of 90 jobs here, 6 in the run) and
/// `b-train` (1,024 slower chips, idle); one `earliest_finish` firm sending a 256-chip fine-tuning
/// job a day. Before the fix, jobs were sent to `a-serve` (its empty queue looked like no wait)
/// and sat there for ever while `b-train` was mostly idle.
fn starving_world(with_b_train: bool) -> Scenario {
    let sites: &[&str] = if with_b_train {
        &["a-serve", "b-train"]
    } else {
        &["a-serve"]
    };
    let mut w = WorldBuilder::new()
        .horizon("2025-01-01", "2025-03-31")
        .chip(H100)
        .chip(ASCEND_910C)
        .site("a-serve", |s| s.chips(1_024).inference_priority());
    if with_b_train {
        w = w.site("b-train", |s| s.chip("ascend-910c").chips(1_024));
    }
    w.firm("acme", |f| {
        let f = match sites {
            [a] => f.sites([a]),
            [a, b] => f.sites([a, b]),
            _ => unreachable!(),
        };
        f.placement("earliest_finish")
            .fine_tuning(|w| w.every_days(1.0).gang(256).size_flop(3e21))
            // About 909 of a-serve's 1,024 H100s busy serving: 115 left, fewer than a gang.
            .inference(|w| w.tokens_per_day(2.2e11))
    })
    .build()
}

#[test]
fn a_job_waits_only_where_it_can_start() {
    let sc = starving_world(true);
    let r = run(&sc, 4);
    for m in &r.runs {
        assert_eq!(m.jobs.arrived, 90, "{:?}", m.jobs);
        // Every job that arrived early enough to finish did; none waits at a-serve at the end.
        let waiting_at_a: u64 = m.site[site_index(&sc, "a-serve")]
            .last()
            .map_or(0, |p| p.jobs_waiting_end);
        assert_eq!(waiting_at_a, 0, "{:?}", m.jobs);
        assert!(m.jobs.completed >= 88, "{:?}", m.jobs);
        assert_eq!(m.jobs.queued + m.jobs.blocked, 0, "{:?}", m.jobs);
        // b-train did the work.
        let b = site_index(&sc, "b-train");
        assert!(
            m.site[b]
                .iter()
                .map(|p| p.jobs_completed[JobKind::FineTuning])
                .sum::<u64>()
                > 0
        );
    }
}

#[test]
fn jobs_that_fit_nowhere_show_as_a_waiting_backlog_with_their_age() {
    // Only a-serve: inference wants nearly every chip; the jobs wait, visibly, and age.
    let sc = starving_world(false);
    let r = run_by(&sc, 1, PeriodKind::Month);
    let m = &r.runs[0];
    let end = m.firm[0].last().unwrap();
    let b = &end.backlog[JobKind::FineTuning];
    assert_eq!(m.jobs.queued + m.jobs.running, b.waiting + b.running);
    assert_eq!(b.blocked, 0);
    // The first job arrives before the first inference batch and runs; every later one waits.
    assert_eq!(m.jobs.completed, 1, "{:?}", m.jobs);
    assert_eq!(b.waiting, 89, "{b:?}");
    assert!(b.age_hours_max > 24.0 * 30.0, "{b:?}");
    let mean = b.age_hours_mean().unwrap();
    assert!(mean > 0.0 && mean <= b.age_hours_max, "{b:?}");
    // The per-job records say the same.
    let waiting = m
        .job_records
        .iter()
        .filter(|j| j.outcome == JobOutcome::Waiting)
        .count() as u64;
    assert_eq!(waiting, m.jobs.queued);
}

/// A Malaysian site with two shipments, the second held by a 45-day permit delay, and `filler`
/// unrelated policies listed before the permit rule.
fn permit_world(filler: usize) -> Scenario {
    let mut w = WorldBuilder::new().chip(H100).site("johor-h100", |s| {
        s.foreign("MY")
            .lease(2.35)
            .delivery("2025-01-01", 10_240)
            .delivery("2025-10-01", 4_096)
    });
    for i in 0..filler {
        w = w.policy(
            &format!("residency-{i}"),
            "data_residency",
            "2025-01-01",
            |p| p.data_class(&format!("class-{i}")),
        );
    }
    w.policy("my-permit", "permit_delay", "2025-07-14", |p| {
        p.through("MY").delay_days(45.0)
    })
    .build()
}

#[test]
fn permit_delays_hold_with_any_number_of_policies() {
    let delivered = |sc: &Scenario| -> Vec<u64> {
        let r = run_by(sc, 1, PeriodKind::Month);
        r.runs[0].site[0]
            .iter()
            .map(|p| p.chips_delivered)
            .collect()
    };
    let one = delivered(&permit_world(0));
    let many = delivered(&permit_world(60));
    let over_64 = delivered(&permit_world(70));
    assert_eq!(one.iter().sum::<u64>(), 14_336);
    // The October lot arrives 45 days late, in November.
    assert_eq!(one[9], 0);
    assert_eq!(one[10], 4_096);
    assert_eq!(many, one);
    assert_eq!(over_64, one);
}

#[test]
fn costs_reconcile_in_every_shipped_scenario() {
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let sc = capsim::scenario::load_file(&path).unwrap();
        let r = run(&sc, 1);
        let m = &r.runs[0];
        let (mut unpaid_total, mut firms_idle_total) = (0.0, 0.0);
        for p in 0..r.periods.len() {
            let sites: f64 = m.site.iter().map(|s| s[p].cost_usd).sum();
            let unpaid: f64 = m.site.iter().map(|s| s[p].cost_unpaid_usd).sum();
            let idle: f64 = m.site.iter().map(|s| s[p].cost_idle_usd).sum();
            let usage: f64 = m.site.iter().map(|s| s[p].usage_cost_usd()).sum();
            let firms: f64 = m.firm.iter().map(|f| f[p].cost_usd()).sum();
            let firms_idle: f64 = m.firm.iter().map(|f| f[p].cost_idle_usd).sum();
            let tol = 1e-9 * sites.max(1.0);
            assert!(
                (sites - firms - unpaid).abs() <= tol,
                "{}: period {p}: sites {sites} != firms {firms} + unpaid {unpaid}",
                sc.name
            );
            assert!(
                (sites - usage - idle).abs() <= tol,
                "{}: period {p}",
                sc.name
            );
            assert!(
                (firms - firms_idle - usage).abs() <= tol,
                "{}: period {p}",
                sc.name
            );
            unpaid_total += unpaid;
            firms_idle_total += firms_idle;
        }
        // Leases and blocks: the sites' counts are the firms' (a block is not a market lease).
        let sum = |site: fn(&capsim::metrics::SitePeriod) -> u64,
                   firm: fn(&capsim::metrics::FirmPeriod) -> u64| {
            let s: u64 = m.site.iter().flatten().map(site).sum();
            let f: u64 = m.firm.iter().flatten().map(firm).sum();
            (s, f)
        };
        let signed = sum(|p| p.lease_chips_signed, |p| p.lease_chips_signed);
        let blocks = sum(|p| p.cloud_chips_reserved, |p| p.cloud_chips_reserved);
        assert_eq!(signed.0, signed.1, "{}", sc.name);
        assert_eq!(blocks.0, blocks.1, "{}", sc.name);
        assert!(
            signed.0 > 0 && blocks.0 > 0,
            "{}: {signed:?} {blocks:?}",
            sc.name
        );
        // Clouds' unrented chips are paid by no firm; owners and tenants pay for their idle.
        assert!(unpaid_total > 0.0, "{}", sc.name);
        assert!(firms_idle_total > 0.0, "{}", sc.name);
    }
}

#[test]
fn useful_compute_is_the_work_done_and_lost_work_is_apart() {
    // One 2,048-chip job on a site whose chips fail often: the useful compute over the run is
    // exactly the job's size; the work rolled back by failures is reported apart.
    let size = 2.0e24;
    let sc = WorldBuilder::new()
        .chip(H100)
        .site("s", |s| s.chips(4_096).mtbf_hours(20_000.0))
        .firm("lab", |f| {
            f.sites(["s"]).training(|w| {
                w.dates(["2025-01-05"])
                    .gang(2_048)
                    .size_flop(size)
                    .checkpoint_hours(2.0)
                    .restart_hours(0.25)
            })
        })
        .build();
    let r = run(&sc, 3);
    for m in &r.runs {
        assert_eq!(m.jobs.completed, 1);
        let useful = total(&m.site[0], |p| p.compute_pflop_days);
        let lost = total(&m.site[0], |p| p.lost_pflop_days);
        let failures: u64 = m.site[0].iter().map(|p| p.failures).sum();
        assert!(failures > 10, "{failures}");
        assert!(
            (useful / (size / FLOP_PER_PFLOP_DAY) - 1.0).abs() < 1e-6,
            "useful {useful} vs job size {}",
            size / FLOP_PER_PFLOP_DAY
        );
        assert!(lost > 0.0);
        // Lost work is at most one checkpoint interval per failure.
        let per_failure =
            2_048.0 * H100.effective_flop_per_s() * 2.0 * 3_600.0 / FLOP_PER_PFLOP_DAY;
        assert!(lost <= failures as f64 * per_failure * (1.0 + 1e-9));
        // The firm's view agrees with the site's.
        let firm_useful = total(&m.firm[0], |p| {
            p.compute_home_pflop_days + p.compute_abroad_pflop_days
        });
        assert!((firm_useful / useful - 1.0).abs() < 1e-9);
        assert!((total(&m.firm[0], |p| p.lost_pflop_days) / lost - 1.0).abs() < 1e-9);
        // The job's record: one site, its failures, completed.
        let rec = &m.job_records[0];
        assert_eq!(rec.outcome, JobOutcome::Completed);
        assert_eq!(rec.failures as u64, failures);
        assert_eq!(rec.sites, vec![0]);
        assert!(rec.first_start.is_some() && rec.completed > rec.first_start);
    }
}

#[test]
fn job_records_agree_with_the_ledger() {
    let sc = capsim::scenario::load_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/lease-ban-2026.toml"
    )))
    .unwrap();
    let r = run(&sc, 1);
    let m = &r.runs[0];
    assert_eq!(m.job_records.len() as u64, m.jobs.arrived);
    let count = |o: JobOutcome| m.job_records.iter().filter(|j| j.outcome == o).count() as u64;
    assert_eq!(count(JobOutcome::Completed), m.jobs.completed);
    assert_eq!(count(JobOutcome::Running), m.jobs.running);
    assert_eq!(count(JobOutcome::Waiting), m.jobs.queued);
    assert_eq!(count(JobOutcome::Blocked), m.jobs.blocked);
    let evictions: u64 = m.firm.iter().flatten().map(|p| p.evictions).sum();
    assert_eq!(
        m.job_records
            .iter()
            .map(|j| u64::from(j.evictions))
            .sum::<u64>(),
        evictions
    );
    // Every completed job started, at or after its arrival, and ran somewhere.
    for j in m
        .job_records
        .iter()
        .filter(|j| j.outcome == JobOutcome::Completed)
    {
        assert!(j.first_start >= Some(j.arrived) && !j.sites.is_empty());
    }
}
