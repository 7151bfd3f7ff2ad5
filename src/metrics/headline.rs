//! Headline numbers of one replication: the scalars an analyst compares across scenarios and sweep
//! points (totals over the horizon and values at its end). Which numbers, and how each is read, is
//! the catalog's [`HEADLINES`](super::catalog::HEADLINES) table; this computes them.

use super::catalog::{headline_list, HeadlineGroup, Rows};
use super::{Periods, RunMetrics};

/// The headline numbers of one replication over its whole horizon, in [`headline_names`] order
/// (per-firm numbers for the run's firms, in world order). A ratio with nothing to divide (no
/// compute, no demand, no completions) is NaN.
pub fn headline(run: &RunMetrics, periods: &Periods) -> Vec<f64> {
    let seconds = periods.horizon().0 as f64;
    let n = periods.len();
    let sites = Rows::new(
        (0..n)
            .map(|p| run.site.iter().map(|s| &s[p]).collect())
            .collect(),
        seconds,
    );
    let firms = Rows::new(
        (0..n)
            .map(|p| run.firm.iter().map(|f| &f[p]).collect())
            .collect(),
        seconds,
    );
    let names: Vec<String> = (0..run.firm.len()).map(|f| f.to_string()).collect();
    headline_list(&names)
        .iter()
        .map(|h| {
            let m = h.headline.metric();
            let v = match (h.headline.group, h.firm) {
                (HeadlineGroup::AllSites, _) => m.of_sites(&sites),
                (HeadlineGroup::AllFirms, _) => m.of_firms(&firms),
                (HeadlineGroup::EachFirm, f) => {
                    let f = f.expect("a per-firm headline has a firm");
                    let rows = Rows::new((0..n).map(|p| vec![&run.firm[f][p]]).collect(), seconds);
                    m.of_firms(&rows)
                }
            };
            v.unwrap_or(f64::NAN)
        })
        .collect()
}

/// The names matching [`headline`]'s values for these firms (`offshore_share.<firm>` per firm).
pub fn headline_names(firms: &[String]) -> Vec<String> {
    headline_list(firms).into_iter().map(|h| h.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{JobKind, PeriodKind};
    use chrono::NaiveDate;

    #[test]
    fn totals_sum_periods_stocks_read_the_end_and_medians_merge_histograms() {
        let d = |m| NaiveDate::from_ymd_opt(2025, m, 1).unwrap();
        let periods = Periods::new(d(1), d(3), PeriodKind::Month);
        assert_eq!(periods.len(), 3);
        let mut run = RunMetrics::new(0, 1, 1, 3);
        for p in 0..3 {
            run.site[0][p].compute_pflop_days = 10.0;
            run.site[0][p].cost_usd = 5.0;
            run.firm[0][p].compute_home_pflop_days = 6.0;
            run.firm[0][p].compute_abroad_pflop_days = 4.0;
            run.firm[0][p].backlog[JobKind::Training].waiting = p as u64 + 1;
            run.firm[0][p].completion_hours[JobKind::Training].add(100.0 * (p + 1) as f64);
        }
        let names = headline_names(&["acme".into()]);
        let v = headline(&run, &periods);
        let get = |n: &str| v[names.iter().position(|x| x == n).unwrap()];
        assert_eq!(get("compute_pflop_days"), 30.0);
        assert_eq!(get("cost_usd"), 15.0);
        assert_eq!(get("compute_abroad_share"), 0.4);
        assert_eq!(get("offshore_share.acme"), 0.4);
        assert_eq!(get("backlog_training_end"), 3.0);
        assert_eq!(get("waiting_jobs_end"), 3.0);
        let p50 = get("completion_hours_p50_training");
        assert!((p50 / 200.0 - 1.0).abs() < 0.07, "{p50}");
        assert!(get("tokens_served_share").is_nan());
    }
}
