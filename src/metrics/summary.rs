//! Statistics across replications: each metric's mean, p05 and p95 per period and group.
//!
//! Groups are single sites, jurisdictions (sums over their sites), firms, and the whole world.
//! Ratios (utilisation, offshore share) and percentiles (waits) are computed per replication from the
//! group's sums and merged histograms, then summarised; never averaged across sites.

use super::{FirmPeriod, Histogram, JobKind, RunMetrics, SitePeriod};

/// The kind and name of a summary group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// Everything.
    All,
    /// Sites in one jurisdiction.
    Jurisdiction(String),
    /// One site.
    Site(String),
    /// One firm.
    Firm(String),
    /// All firms together.
    AllFirms,
}

impl Group {
    /// `all`, `jurisdiction`, `site` or `firm`.
    pub fn kind(&self) -> &'static str {
        match self {
            Group::All => "all",
            Group::Jurisdiction(_) => "jurisdiction",
            Group::Site(_) => "site",
            Group::Firm(_) => "firm",
            Group::AllFirms => "firms",
        }
    }
    /// The group's name (`all` for the world).
    pub fn name(&self) -> &str {
        match self {
            Group::All | Group::AllFirms => "all",
            Group::Jurisdiction(s) | Group::Site(s) | Group::Firm(s) => s,
        }
    }
}

/// One line of the summary: a metric of a group in a period, across replications.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// Period index.
    pub period: usize,
    /// The group.
    pub group: Group,
    /// Metric name (as in the CSV headers).
    pub metric: &'static str,
    /// Replications that had a value (percentiles need at least one sample).
    pub n: usize,
    /// Mean across replications.
    pub mean: f64,
    /// 5th percentile across replications.
    pub p05: f64,
    /// 95th percentile across replications.
    pub p95: f64,
}

/// Metrics reported for site-like groups (sites, jurisdictions, all).
pub const SITE_METRICS: &[&str] = &[
    "chips_online",
    "chip_hours_busy",
    "utilisation",
    "compute_pflop_days",
    "tokens_served",
    "training_jobs_completed",
    "cost_usd",
    "usd_per_pflop_day",
    "usd_per_million_tokens",
    "energy_mwh",
    "evictions",
    "failures",
    "wait_hours_p50",
    "wait_hours_p95",
    "completion_hours_p50",
];

/// Metrics reported for firms.
pub const FIRM_METRICS: &[&str] = &[
    "compute_home_pflop_days",
    "compute_abroad_pflop_days",
    "offshore_share",
    "tokens_demanded",
    "tokens_served",
    "cost_usd",
    "training_jobs_completed",
    "blocked_jobs",
    "evictions",
];

fn site_values(parts: &[&SitePeriod]) -> Vec<Option<f64>> {
    let sum = |f: &dyn Fn(&SitePeriod) -> f64| parts.iter().map(|p| f(p)).sum::<f64>();
    let mut wait = Histogram::default();
    let mut done = Histogram::default();
    for p in parts {
        wait.merge(&p.wait_hours);
        for h in &p.completion_hours.0 {
            done.merge(h);
        }
    }
    let total = SitePeriod {
        chip_hours_online: sum(&|p| p.chip_hours_online),
        chip_hours_busy: sum(&|p| p.chip_hours_busy),
        compute_pflop_days: sum(&|p| p.compute_pflop_days),
        tokens_served: sum(&|p| p.tokens_served),
        usage_cost_training_usd: sum(&|p| p.usage_cost_training_usd),
        usage_cost_inference_usd: sum(&|p| p.usage_cost_inference_usd),
        ..SitePeriod::default()
    };
    let busy = total.chip_hours_busy;
    vec![
        Some(sum(&|p| p.chips_online as f64)),
        Some(busy),
        total.utilisation(),
        Some(total.compute_pflop_days),
        Some(total.tokens_served),
        Some(sum(&|p| p.jobs_completed[JobKind::Training] as f64)),
        Some(sum(&|p| p.cost_usd)),
        total.usd_per_pflop_day(),
        total.usd_per_million_tokens(),
        Some(sum(&|p| p.energy_mwh)),
        Some(sum(&|p| p.evictions as f64)),
        Some(sum(&|p| p.failures as f64)),
        wait.quantile(0.5),
        wait.quantile(0.95),
        done.quantile(0.5),
    ]
}

fn firm_values(parts: &[&FirmPeriod]) -> Vec<Option<f64>> {
    let mut total = FirmPeriod::default();
    for p in parts {
        total.compute_home_pflop_days += p.compute_home_pflop_days;
        total.compute_abroad_pflop_days += p.compute_abroad_pflop_days;
        total.tokens_demanded += p.tokens_demanded;
        total.tokens_served += p.tokens_served;
        total.cost_home_usd += p.cost_home_usd;
        total.cost_abroad_usd += p.cost_abroad_usd;
        for k in JobKind::ALL {
            total.jobs_completed[k] += p.jobs_completed[k];
            total.backlog[k].merge(&p.backlog[k]);
        }
        total.evictions += p.evictions;
    }
    let p = &total;
    vec![
        Some(p.compute_home_pflop_days),
        Some(p.compute_abroad_pflop_days),
        p.offshore_share(),
        Some(p.tokens_demanded),
        Some(p.tokens_served),
        Some(p.cost_usd()),
        Some(p.jobs_completed[JobKind::Training] as f64),
        Some(p.blocked_jobs() as f64),
        Some(p.evictions as f64),
    ]
}

/// The `q`-quantile of sorted values, interpolating linearly between order statistics.
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    debug_assert!(!v.is_empty());
    let h = (v.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (h - lo as f64)
}

fn push_rows(
    out: &mut Vec<SummaryRow>,
    period: usize,
    group: &Group,
    names: &'static [&'static str],
    per_rep: &[Vec<Option<f64>>],
) {
    for (m, &metric) in names.iter().enumerate() {
        let mut v: Vec<f64> = per_rep.iter().filter_map(|r| r[m]).collect();
        if v.is_empty() {
            continue;
        }
        v.sort_by(f64::total_cmp);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        out.push(SummaryRow {
            period,
            group: group.clone(),
            metric,
            n: v.len(),
            mean,
            p05: quantile_sorted(&v, 0.05),
            p95: quantile_sorted(&v, 0.95),
        });
    }
}

/// Summarises replications (given in replication order) per period and group.
///
/// `site_jurisdictions[s]` is the jurisdiction of site `s`. Rows come in a fixed order: by period,
/// then all sites, jurisdictions (sorted), sites (in world order), all firms, firms (in world
/// order), then metric.
pub fn summarise(
    runs: &[RunMetrics],
    site_names: &[String],
    site_jurisdictions: &[String],
    firm_names: &[String],
) -> Vec<SummaryRow> {
    let Some(first) = runs.first() else {
        return vec![];
    };
    let periods = first
        .site
        .first()
        .map_or(0, Vec::len)
        .max(first.firm.first().map_or(0, Vec::len));
    let mut jurisdictions: Vec<&String> = site_jurisdictions.iter().collect();
    jurisdictions.sort();
    jurisdictions.dedup();
    let mut out = Vec::new();
    for p in 0..periods {
        let site_group = |members: &dyn Fn(usize) -> bool| -> Vec<Vec<Option<f64>>> {
            runs.iter()
                .map(|r| {
                    let parts: Vec<&SitePeriod> = (0..site_names.len())
                        .filter(|&s| members(s))
                        .map(|s| &r.site[s][p])
                        .collect();
                    site_values(&parts)
                })
                .collect()
        };
        push_rows(
            &mut out,
            p,
            &Group::All,
            SITE_METRICS,
            &site_group(&|_| true),
        );
        for j in &jurisdictions {
            let g = Group::Jurisdiction((*j).clone());
            push_rows(
                &mut out,
                p,
                &g,
                SITE_METRICS,
                &site_group(&|s| site_jurisdictions[s] == **j),
            );
        }
        for (s, name) in site_names.iter().enumerate() {
            let g = Group::Site(name.clone());
            push_rows(&mut out, p, &g, SITE_METRICS, &site_group(&|x| x == s));
        }
        if !firm_names.is_empty() {
            let all: Vec<_> = runs
                .iter()
                .map(|r| firm_values(&r.firm.iter().map(|f| &f[p]).collect::<Vec<_>>()))
                .collect();
            push_rows(&mut out, p, &Group::AllFirms, FIRM_METRICS, &all);
        }
        for (f, name) in firm_names.iter().enumerate() {
            let per_rep: Vec<_> = runs.iter().map(|r| firm_values(&[&r.firm[f][p]])).collect();
            push_rows(
                &mut out,
                p,
                &Group::Firm(name.clone()),
                FIRM_METRICS,
                &per_rep,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let v: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(quantile_sorted(&v, 0.05), 5.0);
        assert_eq!(quantile_sorted(&v, 0.95), 95.0);
        assert_eq!(quantile_sorted(&[3.0], 0.95), 3.0);
    }

    #[test]
    fn jurisdictions_sum_their_sites_and_ratios_use_sums() {
        let mut runs = vec![RunMetrics::new(0, 2, 0, 1)];
        runs[0].site[0][0].chip_hours_online = 100.0;
        runs[0].site[0][0].chip_hours_busy = 100.0;
        runs[0].site[1][0].chip_hours_online = 300.0;
        let rows = summarise(
            &runs,
            &["a".into(), "b".into()],
            &["CN".into(), "CN".into()],
            &[],
        );
        let util = rows
            .iter()
            .find(|r| r.group == Group::Jurisdiction("CN".into()) && r.metric == "utilisation")
            .unwrap();
        assert_eq!(util.mean, 0.25);
    }
}
