//! CSV exporters: pure functions from metrics to bytes, columns in a fixed, documented order.

use crate::metrics::{JobKind, Periods, RunMetrics, SummaryRow};
use crate::model::{Operator, World};

/// Formats a number for CSV: integers without a decimal point, others with at most 4 decimals.
pub fn num(v: f64) -> String {
    if v.is_finite() && v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".to_string()
        } else {
            s.to_string()
        }
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_default()
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().from_writer(Vec::new())
}

fn finish(w: csv::Writer<Vec<u8>>) -> Vec<u8> {
    w.into_inner().expect("writing to memory cannot fail")
}

/// Columns of `timeseries.csv`.
pub const TIMESERIES_COLUMNS: &[&str] = &[
    "replication",
    "period_start",
    "site",
    "jurisdiction",
    "operator",
    "chip",
    "chips_online",
    "chip_hours_online",
    "chip_hours_busy",
    "chip_hours_inference",
    "utilisation",
    "compute_pflop_days",
    "lost_pflop_days",
    "tokens_served",
    "training_jobs_completed",
    "fine_tuning_jobs_completed",
    "queue_length_mean",
    "wait_hours_p50",
    "wait_hours_p95",
    "completion_hours_p50",
    "cost_usd",
    "energy_mwh",
    "evictions",
    "failures",
    "blocked_jobs",
    "chips_delivered",
    "chips_refused",
];

/// One row per (replication, period, site).
pub fn timeseries(world: &World, periods: &Periods, runs: &[RunMetrics]) -> Vec<u8> {
    let mut w = writer();
    w.write_record(TIMESERIES_COLUMNS).expect("in memory");
    for run in runs {
        for p in 0..periods.len() {
            let period_secs = (periods.bounds[p + 1].0 - periods.bounds[p].0) as f64;
            for (s, site) in world.sites.iter().enumerate() {
                let r = &run.site[s][p];
                let operator = match site.operator {
                    Operator::Domestic => "domestic",
                    Operator::Foreign => "foreign",
                };
                w.write_record([
                    run.replication.to_string(),
                    periods.starts[p].to_string(),
                    site.name.clone(),
                    site.jurisdiction.clone(),
                    operator.to_string(),
                    world.chips[site.chip.0 as usize].name.clone(),
                    r.chips_online.to_string(),
                    num(r.chip_hours_online),
                    num(r.chip_hours_busy),
                    num(r.chip_hours_inference),
                    opt(r.utilisation()),
                    num(r.compute_pflop_days),
                    num(r.lost_pflop_days),
                    num(r.tokens_served),
                    r.jobs_completed[JobKind::Training].to_string(),
                    r.jobs_completed[JobKind::FineTuning].to_string(),
                    num(r.queue_length_mean(period_secs)),
                    opt(r.wait_hours.quantile(0.5)),
                    opt(r.wait_hours.quantile(0.95)),
                    opt(r.completion_hours[JobKind::Training].quantile(0.5)),
                    num(r.cost_usd),
                    num(r.energy_mwh),
                    r.evictions.to_string(),
                    r.failures.to_string(),
                    r.blocked_jobs.to_string(),
                    r.chips_delivered.to_string(),
                    r.chips_refused.to_string(),
                ])
                .expect("in memory");
            }
        }
    }
    finish(w)
}

/// Columns of `firms.csv`.
pub const FIRMS_COLUMNS: &[&str] = &[
    "replication",
    "period_start",
    "firm",
    "headquarters",
    "compute_home_pflop_days",
    "compute_abroad_pflop_days",
    "offshore_share",
    "chip_hours_home",
    "chip_hours_abroad",
    "tokens_demanded",
    "tokens_served",
    "tokens_served_domestic_chips",
    "cost_home_usd",
    "cost_abroad_usd",
    "cost_usd",
    "jobs_arrived",
    "training_jobs_completed",
    "fine_tuning_jobs_completed",
    "blocked_jobs",
    "evictions",
];

/// One row per (replication, period, firm).
pub fn firms(world: &World, periods: &Periods, runs: &[RunMetrics]) -> Vec<u8> {
    let mut w = writer();
    w.write_record(FIRMS_COLUMNS).expect("in memory");
    for run in runs {
        for p in 0..periods.len() {
            for (f, firm) in world.firms.iter().enumerate() {
                let r = &run.firm[f][p];
                w.write_record([
                    run.replication.to_string(),
                    periods.starts[p].to_string(),
                    firm.name.clone(),
                    firm.headquarters.clone(),
                    num(r.compute_home_pflop_days),
                    num(r.compute_abroad_pflop_days),
                    opt(r.offshore_share()),
                    num(r.chip_hours_home),
                    num(r.chip_hours_abroad),
                    num(r.tokens_demanded),
                    num(r.tokens_served),
                    num(r.tokens_served_domestic_chips),
                    num(r.cost_home_usd),
                    num(r.cost_abroad_usd),
                    num(r.cost_usd()),
                    r.jobs_arrived.to_string(),
                    r.jobs_completed[JobKind::Training].to_string(),
                    r.jobs_completed[JobKind::FineTuning].to_string(),
                    r.blocked_jobs().to_string(),
                    r.evictions.to_string(),
                ])
                .expect("in memory");
            }
        }
    }
    finish(w)
}

/// Columns of `summary.csv`.
pub const SUMMARY_COLUMNS: &[&str] = &[
    "period_start",
    "group_kind",
    "group",
    "metric",
    "replications",
    "mean",
    "p05",
    "p95",
];

/// One row per (period, group, metric), across replications.
pub fn summary(periods: &Periods, rows: &[SummaryRow]) -> Vec<u8> {
    let mut w = writer();
    w.write_record(SUMMARY_COLUMNS).expect("in memory");
    for r in rows {
        w.write_record([
            periods.starts[r.period].to_string(),
            r.group.kind().to_string(),
            r.group.name().to_string(),
            r.metric.to_string(),
            r.n.to_string(),
            num(r.mean),
            num(r.p05),
            num(r.p95),
        ])
        .expect("in memory");
    }
    finish(w)
}

/// `draws.csv`: the value each replication drew for each uncertain input (header only when the
/// scenario has none).
pub fn draws(draws: &[Vec<(String, f64)>]) -> Vec<u8> {
    let mut w = writer();
    w.write_record(["replication", "field", "value"])
        .expect("in memory");
    for (r, rep) in draws.iter().enumerate() {
        for (field, v) in rep {
            // Shortest round-trip form: the exact value the replication used.
            w.write_record([r.to_string(), field.clone(), format!("{v}")])
                .expect("in memory");
        }
    }
    finish(w)
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn numbers_are_compact_and_stable() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(0.30000000000000004), "0.3");
        assert_eq!(num(1.23456), "1.2346");
        assert_eq!(num(-0.00001), "0");
        assert_eq!(num(2.5e12), "2500000000000");
    }
}
