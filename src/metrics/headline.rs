//! Headline numbers of one replication: the scalars an analyst compares across scenarios and sweep
//! points (totals over the horizon and values at its end).

use super::{Histogram, JobKind, RunMetrics};

/// Names of the headline numbers, in output order. Per-firm offshore shares follow these, named
/// `offshore_share.<firm>`.
pub const HEADLINE_METRICS: &[&str] = &[
    "compute_pflop_days",
    "compute_abroad_share",
    "cost_usd",
    "tokens_served",
    "tokens_served_share",
    "training_jobs_completed",
    "completion_hours_p50",
    "blocked_jobs_end",
    "evictions",
];

/// The headline numbers of one replication: `HEADLINE_METRICS` then one offshore share per firm.
/// A ratio with nothing to divide (no compute, no demand, no completions) is NaN.
pub fn headline(run: &RunMetrics) -> Vec<f64> {
    let firm_rows = || run.firm.iter().flatten();
    let home: f64 = firm_rows().map(|p| p.compute_home_pflop_days).sum();
    let abroad: f64 = firm_rows().map(|p| p.compute_abroad_pflop_days).sum();
    let demanded: f64 = firm_rows().map(|p| p.tokens_demanded).sum();
    let served: f64 = firm_rows().map(|p| p.tokens_served).sum();
    let mut done = Histogram::default();
    for p in run.site.iter().flatten() {
        for h in &p.completion_hours.0 {
            done.merge(h);
        }
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let mut v = vec![
        home + abroad,
        ratio(abroad, home + abroad),
        firm_rows().map(|p| p.cost_usd()).sum(),
        served,
        ratio(served, demanded),
        firm_rows()
            .map(|p| p.jobs_completed[JobKind::Training] as f64)
            .sum(),
        done.quantile(0.5).unwrap_or(f64::NAN),
        run.firm
            .iter()
            .map(|f| f.last().map_or(0, |p| p.blocked_jobs()) as f64)
            .sum(),
        firm_rows().map(|p| p.evictions as f64).sum(),
    ];
    for f in &run.firm {
        let h: f64 = f.iter().map(|p| p.compute_home_pflop_days).sum();
        let a: f64 = f.iter().map(|p| p.compute_abroad_pflop_days).sum();
        v.push(ratio(a, h + a));
    }
    v
}

/// The names matching [`headline`]'s values for these firms.
pub fn headline_names(firms: &[String]) -> Vec<String> {
    HEADLINE_METRICS
        .iter()
        .map(|s| s.to_string())
        .chain(firms.iter().map(|f| format!("offshore_share.{f}")))
        .collect()
}
