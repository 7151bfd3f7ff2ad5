//! Statistics across replications: each metric's mean, p05 and p95 per period and group.
//!
//! Groups are single sites, jurisdictions and chip types (sums over their sites), firms, and the
//! whole world; the
//! metrics are the catalog's ([`catalog::SITE`] for site groups, [`catalog::FIRM`] for firms).
//! Ratios (utilisation, offshore share) and percentiles (waits) are computed per replication from the
//! group's sums and merged histograms, then summarised; never averaged across sites.

use super::catalog::{self, Metric, Rows};
use super::{FirmPeriod, Periods, RunMetrics, SitePeriod};

/// The kind and name of a summary group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// Everything.
    All,
    /// Sites in one jurisdiction.
    Jurisdiction(String),
    /// Sites with one chip type.
    Chip(String),
    /// One site.
    Site(String),
    /// One firm.
    Firm(String),
    /// All firms together.
    AllFirms,
}

impl Group {
    /// `all`, `jurisdiction`, `chip`, `site`, `firms` or `firm`.
    pub fn kind(&self) -> &'static str {
        match self {
            Group::All => "all",
            Group::Jurisdiction(_) => "jurisdiction",
            Group::Chip(_) => "chip",
            Group::Site(_) => "site",
            Group::Firm(_) => "firm",
            Group::AllFirms => "firms",
        }
    }
    /// The group's name (`all` for the world).
    pub fn name(&self) -> &str {
        match self {
            Group::All | Group::AllFirms => "all",
            Group::Jurisdiction(s) | Group::Chip(s) | Group::Site(s) | Group::Firm(s) => s,
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

/// The `q`-quantile of sorted values, interpolating linearly between order statistics.
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    debug_assert!(!v.is_empty());
    let h = (v.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (h - lo as f64)
}

/// Mean, p05 and p95 of some replications' values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// Values (NaN ones left out).
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// 5th percentile.
    pub p05: f64,
    /// 95th percentile.
    pub p95: f64,
}

impl Spread {
    /// The spread of `values` (in any order; NaN left out), or None when none has a value. Every
    /// statistic across replications goes through here, so summaries, headline bands and sweeps
    /// agree to the last bit.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(Spread {
            n: v.len(),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            p05: quantile_sorted(&v, 0.05),
            p95: quantile_sorted(&v, 0.95),
        })
    }
}

fn push_rows(
    out: &mut Vec<SummaryRow>,
    period: usize,
    group: &Group,
    metrics: &'static [Metric],
    per_rep: &[Vec<Option<f64>>],
) {
    for (m, metric) in metrics.iter().enumerate() {
        let Some(s) = Spread::of(per_rep.iter().filter_map(|r| r[m])) else {
            continue;
        };
        out.push(SummaryRow {
            period,
            group: group.clone(),
            metric: metric.name,
            n: s.n,
            mean: s.mean,
            p05: s.p05,
            p95: s.p95,
        });
    }
}

/// Summarises replications (given in replication order) per period and group.
///
/// `site_jurisdictions[s]` and `site_chips[s]` are the jurisdiction and chip type of site `s`. Rows
/// come in a fixed order: by period, then all sites, jurisdictions (sorted), chip types (sorted),
/// sites (in world order), all firms, firms (in world order), then metric (in catalog order).
pub fn summarise(
    runs: &[RunMetrics],
    periods: &Periods,
    site_names: &[String],
    site_jurisdictions: &[String],
    site_chips: &[String],
    firm_names: &[String],
) -> Vec<SummaryRow> {
    if runs.is_empty() {
        return vec![];
    }
    let mut jurisdictions: Vec<&String> = site_jurisdictions.iter().collect();
    jurisdictions.sort();
    jurisdictions.dedup();
    let mut chips: Vec<&String> = site_chips.iter().collect();
    chips.sort();
    chips.dedup();
    let mut out = Vec::new();
    for p in 0..periods.len() {
        let secs = (periods.bounds[p + 1].0 - periods.bounds[p].0) as f64;
        let site_group = |members: &dyn Fn(usize) -> bool| -> Vec<Vec<Option<f64>>> {
            runs.iter()
                .map(|r| {
                    let parts: Vec<&SitePeriod> = (0..site_names.len())
                        .filter(|&s| members(s))
                        .map(|s| &r.site[s][p])
                        .collect();
                    let rows = Rows::new(vec![parts], secs);
                    catalog::SITE.iter().map(|m| m.of_sites(&rows)).collect()
                })
                .collect()
        };
        let firm_group = |members: &dyn Fn(usize) -> bool| -> Vec<Vec<Option<f64>>> {
            runs.iter()
                .map(|r| {
                    let parts: Vec<&FirmPeriod> = (0..firm_names.len())
                        .filter(|&f| members(f))
                        .map(|f| &r.firm[f][p])
                        .collect();
                    let rows = Rows::new(vec![parts], secs);
                    catalog::FIRM.iter().map(|m| m.of_firms(&rows)).collect()
                })
                .collect()
        };
        let site_rows = |out: &mut Vec<SummaryRow>, g: Group, m: &dyn Fn(usize) -> bool| {
            push_rows(out, p, &g, catalog::SITE, &site_group(m));
        };
        site_rows(&mut out, Group::All, &|_| true);
        for j in &jurisdictions {
            let g = Group::Jurisdiction((*j).clone());
            site_rows(&mut out, g, &|s| site_jurisdictions[s] == **j);
        }
        for c in &chips {
            let g = Group::Chip((*c).clone());
            site_rows(&mut out, g, &|s| site_chips[s] == **c);
        }
        for (s, name) in site_names.iter().enumerate() {
            site_rows(&mut out, Group::Site(name.clone()), &|x| x == s);
        }
        if !firm_names.is_empty() {
            push_rows(
                &mut out,
                p,
                &Group::AllFirms,
                catalog::FIRM,
                &firm_group(&|_| true),
            );
        }
        for (f, name) in firm_names.iter().enumerate() {
            let g = Group::Firm(name.clone());
            push_rows(&mut out, p, &g, catalog::FIRM, &firm_group(&|x| x == f));
        }
    }
    out
}

/// Whose rows a windowed value reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Members {
    /// These sites (indices in the world), with a site metric.
    Sites(Vec<usize>),
    /// These firms (indices in the world), with a firm metric.
    Firms(Vec<usize>),
}

/// One catalog metric over `members` and the periods `first..=last`, in each replication (None
/// where the metric has no value there, or reads the other kind of rows): a flow is summed over
/// the window, a stock read at its end, a ratio taken of the sums, a percentile of the merged
/// histograms, exactly as for one period.
pub fn window(
    runs: &[RunMetrics],
    periods: &Periods,
    metric: &catalog::Metric,
    members: &Members,
    first: usize,
    last: usize,
) -> Vec<Option<f64>> {
    let secs = (periods.bounds[last + 1].0 - periods.bounds[first].0) as f64;
    runs.iter()
        .map(|r| match members {
            Members::Sites(sites) => {
                let rows = (first..=last)
                    .map(|p| sites.iter().map(|&s| &r.site[s][p]).collect())
                    .collect();
                metric.of_sites(&Rows::new(rows, secs))
            }
            Members::Firms(firms) => {
                let rows = (first..=last)
                    .map(|p| firms.iter().map(|&f| &r.firm[f][p]).collect())
                    .collect();
                metric.of_firms(&Rows::new(rows, secs))
            }
        })
        .collect()
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
    fn jurisdictions_and_chips_sum_their_sites_and_ratios_use_sums() {
        let d = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        let periods = Periods::new(d, d, crate::metrics::PeriodKind::Day);
        let mut runs = vec![RunMetrics::new(0, 2, 0, 1)];
        runs[0].site[0][0].chip_hours_online = 100.0;
        runs[0].site[0][0].chip_hours_busy = 100.0;
        runs[0].site[1][0].chip_hours_online = 300.0;
        let rows = summarise(
            &runs,
            &periods,
            &["a".into(), "b".into()],
            &["CN".into(), "CN".into()],
            &["h100".into(), "h20".into()],
            &[],
        );
        let util = |g: Group| {
            rows.iter()
                .find(|r| r.group == g && r.metric == "utilisation")
                .unwrap()
                .mean
        };
        assert_eq!(util(Group::Jurisdiction("CN".into())), 0.25);
        assert_eq!(util(Group::Chip("h100".into())), 1.0);
        assert_eq!(util(Group::Chip("h20".into())), 0.0);
    }
}
