//! Policy behaviour, each rule checked on the outputs of small worlds and of the shipped what-ifs.

use crate::support::{load, run, two_sites};
use capsim::metrics::RunMetrics;
use capsim::scenario;

const TRAINING_ONE_JOB: &str = r#"
[[firms.acme.workloads]]
name = "pretraining"
kind = "training"
arrivals = { dates = [2025-01-10] }
size_flop = 2e25
gang_chips = 4096
checkpoint_hours = 1
restart_hours = 0.5
"#;

fn site_sum(m: &RunMetrics, site: usize, f: impl Fn(&capsim::metrics::SitePeriod) -> f64) -> f64 {
    m.site[site].iter().map(f).sum()
}

#[test]
fn lease_ban_evicts_offshore_training_which_finishes_at_home_with_nothing_lost() {
    let policy = r#"
[[policy]]
name = "lease-ban"
rule = "lease_ban"
firms_headquartered_in = "CN"
grace_days = 30
from = 2025-03-01
"#;
    // Johor is cheaper, so the job starts abroad; the deadline is 2025-03-31.
    let toml = two_sites(policy, TRAINING_ONE_JOB);
    let sc = load(&toml);
    let r = run(&sc, 1);
    let m = &r.runs[0];
    let (johor, home) = (0, 1);
    assert_eq!(m.jobs.completed, 1, "{:?}", m.jobs);
    assert_eq!(m.site[johor].iter().map(|p| p.evictions).sum::<u64>(), 1);
    assert_eq!(
        m.site[johor]
            .iter()
            .map(|p| p.training_jobs_completed)
            .sum::<u64>(),
        0
    );
    assert_eq!(
        m.site[home]
            .iter()
            .map(|p| p.training_jobs_completed)
            .sum::<u64>(),
        1
    );
    // It ran abroad before the deadline and never after it.
    let months = &r.periods.starts;
    for (p, start) in months.iter().enumerate() {
        let abroad = m.firm[0][p].compute_abroad_pflop_days;
        if *start >= chrono::NaiveDate::from_ymd_opt(2025, 4, 1).unwrap() {
            assert_eq!(abroad, 0.0, "compute abroad in {start}");
        }
    }
    assert!(m.firm[0][0].compute_abroad_pflop_days > 0.0);
    // Nothing lost: useful compute equals the job's size (eviction checkpoints the job).
    let pflop_days = 2e25 / (1e15 * 86_400.0);
    let done =
        site_sum(m, johor, |p| p.compute_pflop_days) + site_sum(m, home, |p| p.compute_pflop_days);
    assert!(
        (done / pflop_days - 1.0).abs() < 1e-3,
        "{done} vs {pflop_days}"
    );
}

#[test]
fn shipped_lease_ban_ends_offshore_compute_after_the_grace_period() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/lease-ban-2026.toml");
    let sc = scenario::load_file(&path).unwrap();
    let r = run(&sc, 1);
    let m = &r.runs[0];
    // The ban starts 2026-07-01 with 90 days' grace: from October 2026 nothing runs abroad.
    let after = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let mut abroad_before = 0.0;
    for (f, firm) in sc.world.firms.iter().enumerate() {
        if firm.headquarters != "CN" {
            continue;
        }
        for (p, start) in r.periods.starts.iter().enumerate() {
            let row = &m.firm[f][p];
            if *start >= after {
                assert_eq!(
                    row.compute_abroad_pflop_days, 0.0,
                    "{} abroad in {start}",
                    firm.name
                );
                assert_eq!(
                    row.chip_hours_abroad, 0.0,
                    "{} chip-hours abroad in {start}",
                    firm.name
                );
            } else {
                abroad_before += row.compute_abroad_pflop_days;
            }
        }
    }
    assert!(
        abroad_before > 0.0,
        "the baseline story has offshore training before the ban"
    );
    // Offshore training that would outlast the deadline is evicted and re-placed (checked in the
    // small world above); here every job is still accounted for.
    assert!(m.jobs.is_conserved(), "{:?}", m.jobs);
}

fn private_fine_tuning(residency: bool) -> RunMetrics {
    let policy = if residency {
        r#"
[[policy]]
name = "pipl"
rule = "data_residency"
data_class = "customer_private"
from = 2021-11-01
"#
    } else {
        ""
    };
    let workloads = r#"
[[firms.acme.workloads]]
name = "customer-tuning"
kind = "fine_tuning"
arrivals = { mean_gap_days = 2 }
size_flop = { lognormal = { median = 2e21, p95 = 8e21 } }
gang_chips = 256
checkpoint_hours = 1
restart_hours = 0.2
data_class = "customer_private"
"#;
    let sc = load(&two_sites(policy, workloads));
    run(&sc, 1).runs.remove(0)
}

#[test]
fn customer_private_fine_tuning_never_runs_outside_its_home_jurisdiction() {
    let m = private_fine_tuning(true);
    let (johor, home) = (0, 1);
    assert_eq!(site_sum(&m, johor, |p| p.chip_hours_busy), 0.0);
    assert_eq!(
        m.site[johor]
            .iter()
            .map(|p| p.fine_tuning_jobs_completed)
            .sum::<u64>(),
        0
    );
    assert!(
        m.site[home]
            .iter()
            .map(|p| p.fine_tuning_jobs_completed)
            .sum::<u64>()
            > 100
    );
    assert!(m.firm[0].iter().all(|p| p.chip_hours_abroad == 0.0));
    // Control: without the rule the same jobs go to the cheaper foreign site, so the check above
    // is not vacuous.
    let free = private_fine_tuning(false);
    assert!(
        free.site[johor]
            .iter()
            .map(|p| p.fine_tuning_jobs_completed)
            .sum::<u64>()
            > 100
    );
}

#[test]
fn an_export_ban_stops_deliveries_from_its_date() {
    let policy = r#"
[[policy]]
name = "h100-ban"
rule = "export_ban"
chip = "h100"
to = "CN"
from = 2025-07-01
"#;
    let toml = two_sites(policy, "").replace(
        "initial_chips = 4096",
        "initial_chips = 4096\nsupply = { chips_per_year = 12000 }",
    );
    let sc = load(&toml);
    let r = run(&sc, 1);
    let home = &r.runs[0].site[1];
    let july = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    for (p, start) in r.periods.starts.iter().enumerate() {
        if *start < july {
            assert!(
                home[p].chips_delivered > 0,
                "deliveries before the ban in {start}"
            );
        } else {
            assert_eq!(
                home[p].chips_delivered, 0,
                "no deliveries after the ban in {start}"
            );
            assert!(home[p].chips_refused > 0, "lots refused in {start}");
        }
    }
    // The stockpile stays, and the foreign site is not affected.
    assert!(home.last().unwrap().chips_online >= 4096 + 5 * 1000);
    assert!(r.runs[0].site[0].iter().all(|p| p.chips_refused == 0));
}

#[test]
fn a_licence_fee_raises_cost_by_the_fee() {
    let workloads = r#"
[[firms.acme.workloads]]
name = "tuning"
kind = "fine_tuning"
arrivals = { every_days = 3 }
size_flop = 5e21
gang_chips = 512
checkpoint_hours = 1
restart_hours = 0.2
"#;
    let fee = r#"
[[policy]]
name = "fee"
rule = "licence_fee"
chip = "h100"
to = "MY"
fee_fraction = 0.15
from = 2025-07-01
"#;
    // Only the leased Malaysian site, so placement cannot move work away from the fee.
    let only_johor = |p: &str| {
        two_sites(p, workloads).replace(r#"sites = ["johor", "home"]"#, r#"sites = ["johor"]"#)
    };
    let with = run(&load(&only_johor(fee)), 1).runs.remove(0);
    let without = run(&load(&only_johor("")), 1).runs.remove(0);
    let july = 6;
    for p in 0..12 {
        let (a, b) = (with.site[0][p].cost_usd, without.site[0][p].cost_usd);
        assert!(b > 0.0);
        let expected = if p < july { 1.0 } else { 1.15 };
        assert!(
            (a / b - expected).abs() < 1e-9,
            "month {p}: {a} / {b} != {expected}"
        );
        assert!(
            (with.firm[0][p].cost_usd() / without.firm[0][p].cost_usd() - expected).abs() < 1e-9
        );
    }
}
