//! Headline numbers of a run, and their differences between runs (`capsim compare`).
//!
//! Everything here is read from the summary series a [`RunView`] holds; nothing is recomputed from
//! replications. A figure at the end of the horizon is the last period's band (mean over
//! replications, p05 and p95 where there are two or more). A figure over the horizon is built from
//! per-period means (a sum, a ratio of sums, or a median over periods): the summary holds no
//! per-replication totals, so such figures have a mean and no band.
//!
//! Runs are compared over their common window: the periods whose first day lies between the latest
//! start and the earliest end of the runs' horizons (for runs of the same scenario horizon, every
//! period).

use chrono::NaiveDate;

use super::charts::Chart;
use super::view::{Band, RunView};

/// Where a headline figure is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// The last period of the window.
    End,
    /// The whole window.
    Total,
}

impl Scope {
    /// `end` or `total`, as in `comparison.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::End => "end",
            Scope::Total => "total",
        }
    }
}

/// How a figure over the whole window is built from the per-period series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// Sum of the per-period means.
    Sum,
    /// Offshore share: summed abroad compute over summed home and abroad compute (per-period means).
    OffshoreRatio,
    /// Median over periods of the per-period mean (for percentiles, which do not add up).
    MedianOverPeriods,
    /// No figure over the window: the metric is a stock counted at each period's end.
    None,
}

/// Which groups a headline metric is reported for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Groups {
    /// Each firm, then all firms together (`firm/<name>`, `firms/all`).
    Firms,
    /// The whole world (`all/all`).
    All,
}

/// A headline metric: a summary metric and how it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    /// Summary metric name (as in `summary.csv`).
    pub name: &'static str,
    /// What a reader calls it.
    pub label: &'static str,
    /// Unit (`share` is a fraction 0..1).
    pub unit: &'static str,
    /// The groups it is reported for.
    pub groups: Groups,
    /// How the figure over the window is built.
    pub total: Aggregate,
}

/// The headline metrics, in report order.
pub const METRICS: &[Metric] = &[
    Metric {
        name: "offshore_share",
        label: "offshore share of training compute",
        unit: "share",
        groups: Groups::Firms,
        total: Aggregate::OffshoreRatio,
    },
    Metric {
        name: "cost_usd",
        label: "cost",
        unit: "USD",
        groups: Groups::Firms,
        total: Aggregate::Sum,
    },
    Metric {
        name: "tokens_served",
        label: "tokens served",
        unit: "tokens",
        groups: Groups::Firms,
        total: Aggregate::Sum,
    },
    Metric {
        name: "tokens_demanded",
        label: "tokens demanded",
        unit: "tokens",
        groups: Groups::Firms,
        total: Aggregate::Sum,
    },
    Metric {
        name: "blocked_jobs",
        label: "blocked jobs",
        unit: "jobs",
        groups: Groups::Firms,
        total: Aggregate::None,
    },
    Metric {
        name: "compute_pflop_days",
        label: "useful training compute",
        unit: "PFLOP-days",
        groups: Groups::All,
        total: Aggregate::Sum,
    },
    Metric {
        name: "completion_hours_p50",
        label: "median job completion time (arrival to finish)",
        unit: "hours",
        groups: Groups::All,
        total: Aggregate::MedianOverPeriods,
    },
];

/// The headline metric called `name`.
pub fn metric(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

/// A headline figure: mean over replications, and p05 and p95 where there is a band.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Value {
    /// Mean over replications (or built from per-period means, see [`Aggregate`]).
    pub mean: f64,
    /// 5th and 95th percentiles over replications, where the figure has a band.
    pub band: Option<(f64, f64)>,
}

impl Value {
    fn of_band(b: &Band) -> Value {
        Value {
            mean: b.mean,
            band: (b.n > 1).then_some((b.p05, b.p95)),
        }
    }
    fn mean(mean: f64) -> Value {
        Value { mean, band: None }
    }
}

/// One headline figure of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Headline {
    /// The metric.
    pub metric: &'static Metric,
    /// Group kind (`firm`, `firms`, `all`).
    pub group_kind: String,
    /// Group name.
    pub group: String,
    /// End of the window or the whole window.
    pub scope: Scope,
    /// The figure; `None` where the series has no value (e.g. no compute in the last period).
    pub value: Option<Value>,
}

impl Headline {
    /// How the figure is built, in words (the `how` column of `comparison.csv`).
    pub fn how(&self) -> &'static str {
        match (self.scope, self.metric.total) {
            (Scope::End, _) => "last period",
            (Scope::Total, Aggregate::Sum) => "sum of per-period means",
            (Scope::Total, Aggregate::OffshoreRatio) => "abroad / all compute, summed means",
            (Scope::Total, Aggregate::MedianOverPeriods) => "median of per-period means",
            (Scope::Total, Aggregate::None) => "none (a count at each period's end)",
        }
    }
}

/// The dates a set of runs is read over: periods whose first day is in `from ..= until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub until: NaiveDate,
}

impl Window {
    /// Indices of the view's periods that start inside the window.
    pub fn periods(&self, view: &RunView) -> Vec<usize> {
        (0..view.periods.len())
            .filter(|&i| view.periods[i] >= self.from && view.periods[i] <= self.until)
            .collect()
    }
}

/// Why runs cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// Fewer than two runs.
    #[error("compare needs at least two run folders, got {count}\n  help: capsim compare output/baseline output/<what-if>")]
    TooFew {
        /// How many were given.
        count: usize,
    },
    /// The runs were reported by different periods.
    #[error("runs have different periods: '{first}' is reported by {first_period}, '{other}' by {other_period}\n  help: re-run '{other}' with `--period {first_period}` (or '{first}' with `--period {other_period}`)")]
    PeriodMismatch {
        /// The baseline run.
        first: String,
        /// Its period.
        first_period: String,
        /// The run that differs.
        other: String,
        /// Its period.
        other_period: String,
    },
    /// The runs' horizons do not overlap.
    #[error("runs do not overlap in time: '{first}' covers {first_horizon}, '{other}' covers {other_horizon}\n  help: compare runs whose horizons (start_date to end_date) share at least one period")]
    NoOverlap {
        /// The baseline run.
        first: String,
        /// Its horizon.
        first_horizon: String,
        /// The run that does not overlap.
        other: String,
        /// Its horizon.
        other_horizon: String,
    },
    /// The output folder is a run folder, which writing the comparison would replace.
    #[error("{out} is a run folder (it holds manifest.json); writing the comparison there would replace the run\n  help: give another --out, e.g. --out output/compare")]
    OutIsARun {
        /// The folder.
        out: String,
    },
    /// `--out` names no folder (`/`, `..`).
    #[error("--out {out}: not a folder name\n  help: give the folder to write, e.g. --out output/my-comparison")]
    BadOut {
        /// What was given.
        out: String,
    },
    /// A manifest date is not an ISO date.
    #[error("run '{run}': manifest.json has {field} = '{value}', not an ISO date (YYYY-MM-DD)\n  help: re-run `capsim run` with this version of capsim")]
    BadDate {
        /// The run.
        run: String,
        /// `start_date` or `end_date`.
        field: &'static str,
        /// What it holds.
        value: String,
    },
}

fn horizon(view: &RunView) -> Result<Window, CompareError> {
    let m = &view.manifest;
    let parse = |field: &'static str, value: &str| {
        value
            .parse::<NaiveDate>()
            .map_err(|_| CompareError::BadDate {
                run: m.scenario.clone(),
                field,
                value: value.to_string(),
            })
    };
    Ok(Window {
        from: parse("start_date", &m.start_date)?,
        until: parse("end_date", &m.end_date)?,
    })
}

/// The window of a single run: its whole horizon (falling back on its periods if the manifest's
/// dates do not parse).
pub fn run_window(view: &RunView) -> Window {
    horizon(view).unwrap_or_else(|_| Window {
        from: view.periods.first().copied().unwrap_or(NaiveDate::MIN),
        until: view.periods.last().copied().unwrap_or(NaiveDate::MAX),
    })
}

/// The common window of runs, after checking they are reported by the same period kind and that
/// their horizons overlap. The first run is the baseline.
pub fn common_window(views: &[RunView]) -> Result<Window, CompareError> {
    let Some(first) = views.first() else {
        return Err(CompareError::TooFew { count: 0 });
    };
    let base = horizon(first)?;
    let mut w = base;
    for (i, v) in views.iter().enumerate().skip(1) {
        if v.manifest.period != first.manifest.period {
            return Err(CompareError::PeriodMismatch {
                first: first.manifest.scenario.clone(),
                first_period: first.manifest.period.clone(),
                other: v.manifest.scenario.clone(),
                other_period: v.manifest.period.clone(),
            });
        }
        let h = horizon(v)?;
        w.from = w.from.max(h.from);
        w.until = w.until.min(h.until);
        // Every run so far must have a period that starts inside the window.
        if w.from > w.until || views[..=i].iter().any(|x| w.periods(x).is_empty()) {
            return Err(CompareError::NoOverlap {
                first: first.manifest.scenario.clone(),
                first_horizon: format!("{} to {}", base.from, base.until),
                other: v.manifest.scenario.clone(),
                other_horizon: format!("{} to {}", h.from, h.until),
            });
        }
    }
    Ok(w)
}

/// The groups a metric is reported for in a run: firms in world order, then all firms; or all.
fn groups(view: &RunView, g: Groups) -> Vec<(String, String)> {
    match g {
        Groups::Firms => view
            .manifest
            .firms
            .iter()
            .map(|f| ("firm".to_string(), f.name.clone()))
            .chain(std::iter::once(("firms".to_string(), "all".to_string())))
            .collect(),
        Groups::All => vec![("all".to_string(), "all".to_string())],
    }
}

fn total(view: &RunView, m: &Metric, kind: &str, group: &str, periods: &[usize]) -> Option<Value> {
    let means = |metric: &str| -> Vec<f64> {
        view.series(kind, group, metric)
            .map(|s| {
                periods
                    .iter()
                    .filter_map(|&p| s.get(p).copied().flatten())
                    .map(|b| b.mean)
                    .collect()
            })
            .unwrap_or_default()
    };
    match m.total {
        Aggregate::Sum => {
            let v = means(m.name);
            (!v.is_empty()).then(|| Value::mean(v.iter().sum()))
        }
        Aggregate::OffshoreRatio => {
            let home: f64 = means("compute_home_pflop_days").iter().sum();
            let abroad: f64 = means("compute_abroad_pflop_days").iter().sum();
            (home + abroad > 0.0).then(|| Value::mean(abroad / (home + abroad)))
        }
        Aggregate::MedianOverPeriods => {
            let mut v = means(m.name);
            if v.is_empty() {
                return None;
            }
            v.sort_by(f64::total_cmp);
            Some(Value::mean(crate::metrics::summary::quantile_sorted(
                &v, 0.5,
            )))
        }
        Aggregate::None => None,
    }
}

/// A run's headline figures over `window`: for each metric and group, the end of the window, then
/// (where the metric has one) the whole window.
pub fn headlines(view: &RunView, window: &Window) -> Vec<Headline> {
    let periods = window.periods(view);
    let last = periods.last().copied();
    let mut out = Vec::new();
    for m in METRICS {
        for (kind, group) in groups(view, m.groups) {
            let end = last.and_then(|p| {
                view.series(&kind, &group, m.name)
                    .and_then(|s| s.get(p).copied().flatten())
                    .map(|b| Value::of_band(&b))
            });
            out.push(Headline {
                metric: m,
                group_kind: kind.clone(),
                group: group.clone(),
                scope: Scope::End,
                value: end,
            });
            if m.total != Aggregate::None {
                out.push(Headline {
                    metric: m,
                    group_kind: kind.clone(),
                    group: group.clone(),
                    scope: Scope::Total,
                    value: total(view, m, &kind, &group, &periods),
                });
            }
        }
    }
    out
}

/// One line of a comparison: a headline figure in every run.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The metric.
    pub metric: &'static Metric,
    /// Group kind.
    pub group_kind: String,
    /// Group name.
    pub group: String,
    /// End of the window or the whole window.
    pub scope: Scope,
    /// How the figure is built (see [`Headline::how`]).
    pub how: &'static str,
    /// The figure in each run, in run order (`None`: the run has no such group or no value).
    pub values: Vec<Option<Value>>,
}

impl Row {
    /// Run `i`'s mean minus the baseline's.
    pub fn diff(&self, i: usize) -> Option<f64> {
        Some(self.values.get(i).copied()??.mean - self.values.first().copied()??.mean)
    }
    /// Run `i`'s mean over the baseline's (`None` when the baseline is 0).
    pub fn ratio(&self, i: usize) -> Option<f64> {
        let base = self.values.first().copied()??.mean;
        let v = self.values.get(i).copied()??.mean;
        (base != 0.0).then(|| v / base)
    }
}

/// Runs side by side: their labels, the common window and the headline rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// A unique label per run (its scenario name; `-2`, `-3`, ... appended to repeats).
    pub labels: Vec<String>,
    /// The window every figure is read over.
    pub window: Window,
    /// Whether the window is shorter than some run's horizon.
    pub window_trimmed: bool,
    /// The rows: the baseline's headline figures in order, then groups only later runs have.
    pub rows: Vec<Row>,
}

/// Unique labels for runs: scenario names, with `-2`, `-3`, ... appended to repeats.
pub fn labels(views: &[RunView]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(views.len());
    for v in views {
        let name = &v.manifest.scenario;
        let mut label = name.clone();
        let mut k = 1;
        while out.contains(&label) {
            k += 1;
            label = format!("{name}-{k}");
        }
        out.push(label);
    }
    out
}

/// Compares runs; the first is the baseline.
pub fn compare(views: &[RunView]) -> Result<Comparison, CompareError> {
    if views.len() < 2 {
        return Err(CompareError::TooFew { count: views.len() });
    }
    let window = common_window(views)?;
    let per_run: Vec<Vec<Headline>> = views.iter().map(|v| headlines(v, &window)).collect();
    let mut rows: Vec<Row> = Vec::new();
    for (i, hs) in per_run.iter().enumerate() {
        for h in hs {
            let found = rows.iter_mut().find(|r| {
                r.metric.name == h.metric.name
                    && r.group_kind == h.group_kind
                    && r.group == h.group
                    && r.scope == h.scope
            });
            let row = match found {
                Some(r) => r,
                None => {
                    rows.push(Row {
                        metric: h.metric,
                        group_kind: h.group_kind.clone(),
                        group: h.group.clone(),
                        scope: h.scope,
                        how: h.how(),
                        values: vec![None; views.len()],
                    });
                    rows.last_mut().expect("just pushed")
                }
            };
            row.values[i] = h.value;
        }
    }
    // Later runs' extra groups (a firm only a what-if has) go after the baseline's, but each
    // metric's rows stay together.
    rows.sort_by_key(|r| {
        METRICS
            .iter()
            .position(|m| m.name == r.metric.name)
            .unwrap_or(usize::MAX)
    });
    let window_trimmed = views
        .iter()
        .any(|v| window.periods(v).len() != v.periods.len());
    Ok(Comparison {
        labels: labels(views),
        window,
        window_trimmed,
        rows,
    })
}

/// Columns of `comparison.csv` before the per-run columns.
pub const COMPARISON_KEY_COLUMNS: &[&str] =
    &["metric", "group_kind", "group", "scope", "how", "unit"];

/// `comparison.csv`: one row per (metric, group, scope); for each run `<label>_mean`, `_p05`,
/// `_p95` (empty without a band), and for each run after the first `<label>_diff` and `_ratio`
/// against the first.
pub fn comparison_csv(c: &Comparison) -> Vec<u8> {
    let num = super::csv::num;
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = COMPARISON_KEY_COLUMNS
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (i, l) in c.labels.iter().enumerate() {
        for s in ["mean", "p05", "p95"] {
            header.push(format!("{l}_{s}"));
        }
        if i > 0 {
            header.push(format!("{l}_diff"));
            header.push(format!("{l}_ratio"));
        }
    }
    w.write_record(&header).expect("in memory");
    for r in &c.rows {
        let mut rec: Vec<String> = vec![
            r.metric.name.into(),
            r.group_kind.clone(),
            r.group.clone(),
            r.scope.as_str().into(),
            r.how.into(),
            r.metric.unit.into(),
        ];
        for (i, v) in r.values.iter().enumerate() {
            rec.push(v.map(|v| num(v.mean)).unwrap_or_default());
            let band = v.and_then(|v| v.band);
            rec.push(band.map(|b| num(b.0)).unwrap_or_default());
            rec.push(band.map(|b| num(b.1)).unwrap_or_default());
            if i > 0 {
                rec.push(r.diff(i).map(num).unwrap_or_default());
                rec.push(r.ratio(i).map(num).unwrap_or_default());
            }
        }
        w.write_record(&rec).expect("in memory");
    }
    w.into_inner().expect("in memory")
}

/// Refuses an output folder that is a run folder (`write_folder` replaces what is there).
pub fn check_out(out: &std::path::Path) -> Result<(), CompareError> {
    if out.join("manifest.json").exists() {
        return Err(CompareError::OutIsARun {
            out: out.display().to_string(),
        });
    }
    Ok(())
}

/// The default folder name of a comparison: `compare-<a>-vs-<b>...` (at most four names, then
/// `-and-N-more`, so the name stays short enough for any file system).
pub fn folder_name(labels: &[String]) -> String {
    let shown = labels.len().min(4);
    let mut name = format!("compare-{}", labels[..shown].join("-vs-"));
    if labels.len() > shown {
        name.push_str(&format!("-and-{}-more", labels.len() - shown));
    }
    name
}

/// Every file of a comparison folder: `comparison.csv`, `report.html`, then
/// `charts/<name>.svg|png` for `charts` (from `charts::render(views)`).
pub fn files(c: &Comparison, views: &[RunView], charts: &[Chart]) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        ("comparison.csv".to_string(), comparison_csv(c)),
        (
            "report.html".to_string(),
            super::html::compare_report(c, views, charts),
        ),
    ];
    out.extend(super::chart_files(charts));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::manifest::{FirmEntry, Ledger, Manifest};
    use std::collections::BTreeMap;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn band(mean: f64, n: usize) -> Option<Band> {
        Some(Band {
            mean,
            p05: mean - 1.0,
            p95: mean + 1.0,
            n,
        })
    }

    fn view(name: &str, period: &str, start: &str, end: &str, periods: &[&str]) -> RunView {
        let mut series = BTreeMap::new();
        let key = |k: &str, g: &str, m: &str| (k.to_string(), g.to_string(), m.to_string());
        let n = periods.len();
        series.insert(key("firm", "acme", "cost_usd"), vec![band(10.0, 2); n]);
        series.insert(
            key("firm", "acme", "compute_home_pflop_days"),
            vec![band(3.0, 2); n],
        );
        series.insert(
            key("firm", "acme", "compute_abroad_pflop_days"),
            vec![band(1.0, 2); n],
        );
        let mut share = vec![band(0.25, 2); n];
        share[n - 1] = None;
        series.insert(key("firm", "acme", "offshore_share"), share);
        series.insert(
            key("all", "all", "completion_hours_p50"),
            (0..n).map(|i| band(i as f64 * 10.0, 1)).collect(),
        );
        RunView {
            manifest: Manifest {
                scenario: name.into(),
                description: String::new(),
                content_hash: String::new(),
                files: vec![],
                overrides: vec![],
                seed: 1,
                replications: 2,
                period: period.into(),
                start_date: start.into(),
                end_date: end.into(),
                capsim_version: "0".into(),
                wall_time_s: 0.0,
                events: 0,
                jobs: Ledger::default(),
                sites: vec![],
                firms: vec![FirmEntry {
                    name: "acme".into(),
                    headquarters: "CN".into(),
                }],
                policies: vec![],
            },
            periods: periods.iter().map(|s| d(s)).collect(),
            series,
            provenance: vec![],
        }
    }

    fn months() -> Vec<&'static str> {
        vec!["2025-01-01", "2025-02-01", "2025-03-01"]
    }

    fn find<'a>(hs: &'a [Headline], metric: &str, group: &str, scope: Scope) -> &'a Headline {
        hs.iter()
            .find(|h| h.metric.name == metric && h.group == group && h.scope == scope)
            .unwrap()
    }

    #[test]
    fn headlines_read_the_last_period_and_build_totals_from_means() {
        let v = view("a", "month", "2025-01-01", "2025-03-31", &months());
        let hs = headlines(&v, &run_window(&v));
        let cost_end = find(&hs, "cost_usd", "acme", Scope::End).value.unwrap();
        assert_eq!(cost_end.mean, 10.0);
        assert_eq!(cost_end.band, Some((9.0, 11.0)));
        let cost_total = find(&hs, "cost_usd", "acme", Scope::Total).value.unwrap();
        assert_eq!(cost_total, Value::mean(30.0));
        // No compute in the last period: no share there, but one over the horizon.
        assert_eq!(find(&hs, "offshore_share", "acme", Scope::End).value, None);
        let share = find(&hs, "offshore_share", "acme", Scope::Total)
            .value
            .unwrap();
        assert_eq!(share.mean, 0.25);
        // One replication: no band.
        let done = find(&hs, "completion_hours_p50", "all", Scope::End)
            .value
            .unwrap();
        assert_eq!(done, Value::mean(20.0));
        let typical = find(&hs, "completion_hours_p50", "all", Scope::Total)
            .value
            .unwrap();
        assert_eq!(typical.mean, 10.0);
        // A stock has no total.
        assert!(hs
            .iter()
            .all(|h| !(h.metric.name == "blocked_jobs" && h.scope == Scope::Total)));
    }

    #[test]
    fn comparison_has_diffs_ratios_and_unique_labels() {
        let a = view("a", "month", "2025-01-01", "2025-03-31", &months());
        let mut b = a.clone();
        for s in b.series.values_mut() {
            for x in s.iter_mut().flatten() {
                x.mean *= 2.0;
            }
        }
        let c = compare(&[a.clone(), b, a]).unwrap();
        assert_eq!(c.labels, ["a", "a-2", "a-3"]);
        assert!(!c.window_trimmed);
        let cost = c
            .rows
            .iter()
            .find(|r| r.metric.name == "cost_usd" && r.group == "acme" && r.scope == Scope::Total)
            .unwrap();
        assert_eq!(cost.diff(1), Some(30.0));
        assert_eq!(cost.ratio(1), Some(2.0));
        assert_eq!(cost.ratio(2), Some(1.0));
        let csv = String::from_utf8(comparison_csv(&c)).unwrap();
        let header = csv.lines().next().unwrap();
        assert!(header
            .starts_with("metric,group_kind,group,scope,how,unit,a_mean,a_p05,a_p95,a-2_mean"));
        assert!(header.contains("a-2_diff,a-2_ratio") && !header.contains("a_diff"));
        assert!(
            csv.contains("cost_usd,firm,acme,total,sum of per-period means,USD,30,,,60,,,30,2,")
        );
    }

    #[test]
    fn incompatible_runs_are_refused_with_help() {
        let a = view("a", "month", "2025-01-01", "2025-03-31", &months());
        let w = view("w", "week", "2025-01-01", "2025-03-31", &["2025-01-01"]);
        let e = compare(&[a.clone(), w]).unwrap_err().to_string();
        assert!(
            e.contains("'a' is reported by month, 'w' by week") && e.contains("--period month"),
            "{e}"
        );
        let late = view("late", "month", "2026-01-01", "2026-03-31", &["2026-01-01"]);
        let e = compare(&[a.clone(), late]).unwrap_err().to_string();
        assert!(
            e.contains("2025-01-01 to 2025-03-31") && e.contains("2026-01-01 to 2026-03-31"),
            "{e}"
        );
        assert!(matches!(
            compare(&[a]),
            Err(CompareError::TooFew { count: 1 })
        ));
    }

    #[test]
    fn overlapping_horizons_are_read_over_the_common_window() {
        let a = view("a", "month", "2025-01-01", "2025-03-31", &months());
        let b = view(
            "b",
            "month",
            "2025-02-01",
            "2025-04-30",
            &["2025-02-01", "2025-03-01", "2025-04-01"],
        );
        let c = compare(&[a, b]).unwrap();
        assert_eq!(
            c.window,
            Window {
                from: d("2025-02-01"),
                until: d("2025-03-31")
            }
        );
        assert!(c.window_trimmed);
        let cost = c
            .rows
            .iter()
            .find(|r| r.metric.name == "cost_usd" && r.scope == Scope::Total && r.group == "acme")
            .unwrap();
        assert_eq!(cost.values[0].unwrap().mean, 20.0);
        assert_eq!(cost.values[1].unwrap().mean, 20.0);
    }

    #[test]
    fn folder_names_stay_short() {
        let l: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
        assert_eq!(folder_name(&l[..2]), "compare-s0-vs-s1");
        assert_eq!(folder_name(&l), "compare-s0-vs-s1-vs-s2-vs-s3-and-2-more");
    }
}
