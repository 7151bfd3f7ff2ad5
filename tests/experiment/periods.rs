//! Reporting periods change how a run is cut, never what it does: a quarter or a year holds the sums
//! of its months, and its ratios are rebuilt from those sums.

use capsim::metrics::{catalog, PeriodKind, Periods};

use crate::support::run_by;

#[test]
fn quarters_and_years_hold_the_sums_of_their_months_and_ratios_of_those_sums() {
    let sc = capsim::scenario::baseline().unwrap();
    let month = run_by(&sc, 1, PeriodKind::Month).runs.remove(0);
    for kind in [PeriodKind::Quarter, PeriodKind::Year] {
        let r = run_by(&sc, 1, kind);
        let periods = Periods::new(sc.start_date, sc.end_date, kind);
        let months = Periods::new(sc.start_date, sc.end_date, PeriodKind::Month);
        assert_eq!(r.periods, periods);
        let m = &r.runs[0];
        for (f, rows) in m.firm.iter().enumerate() {
            for (p, row) in rows.iter().enumerate() {
                // The months inside this period.
                let inside: Vec<usize> = (0..months.len())
                    .filter(|&q| {
                        months.bounds[q] >= periods.bounds[p]
                            && months.bounds[q + 1] <= periods.bounds[p + 1]
                    })
                    .collect();
                let sum = |g: fn(&capsim::metrics::FirmPeriod) -> f64| -> f64 {
                    inside.iter().map(|&q| g(&month.firm[f][q])).sum()
                };
                let (home, abroad) = (
                    sum(|x| x.compute_home_pflop_days),
                    sum(|x| x.compute_abroad_pflop_days),
                );
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
                assert!(close(row.compute_home_pflop_days, home), "{kind:?} {f} {p}");
                assert!(
                    close(row.compute_abroad_pflop_days, abroad),
                    "{kind:?} {f} {p}"
                );
                assert!(close(row.tokens_served, sum(|x| x.tokens_served)));
                // The catalog's offshore share of the period: abroad over the period's total.
                let share = catalog::firm_metric("offshore_share").unwrap();
                let secs = (periods.bounds[p + 1].0 - periods.bounds[p].0) as f64;
                let got = share.of_firms(&catalog::Rows::one(row, secs));
                if home + abroad > 0.0 {
                    assert!(close(got.unwrap(), abroad / (home + abroad)));
                }
            }
        }
    }
}
