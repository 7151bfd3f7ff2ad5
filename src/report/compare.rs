//! Headline numbers of a run, and their differences between runs (`capsim compare`).
//!
//! The headline numbers are the catalog's ([`crate::metrics::catalog::HEADLINES`]), with one
//! definition everywhere: the run page, this comparison and the sweep read the same per-replication
//! values. Each number is shown twice:
//!
//! - over the whole horizon (scope `total`): the mean, p05 and p95 across replications of each
//!   replication's value over its horizon (`headline.csv`), so totals carry bands;
//! - in the last full period of the window (scope `end`): that period's band of the matching
//!   series in `summary.csv`. A partial last period (the five days of a week cut by the horizon)
//!   would read as a drop, so the last period that is full in every run is used, and `how` names it.
//!
//! Runs are compared over their common window: the periods whose first day lies between the latest
//! start and the earliest end of the runs' horizons (for runs of the same scenario horizon, every
//! period). A run whose horizon is longer than the window has no `total` figure (its headline
//! numbers cover its whole horizon).

use chrono::NaiveDate;

use super::view::{Band, FirmPeriods, RunView};
use crate::metrics::catalog::{headline_of, Headline as Def, Kind};
use crate::metrics::{PeriodKind, Periods};

/// Where a headline figure is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// The last full period of the window.
    End,
    /// The whole horizon.
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

/// A headline figure: mean over replications, and p05 and p95 where there is a band.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Value {
    /// Mean over replications.
    pub mean: f64,
    /// 5th and 95th percentiles over replications, where two or more replications have a value.
    pub band: Option<(f64, f64)>,
}

impl Value {
    fn of_band(b: &Band) -> Value {
        Value {
            mean: b.mean,
            band: (b.n > 1).then_some((b.p05, b.p95)),
        }
    }
}

/// One headline figure of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Headline {
    /// Output name (`cost_usd`, `offshore_share.<firm>`).
    pub name: String,
    /// The catalog's headline entry.
    pub def: &'static Def,
    /// Group kind of the matching `summary.csv` series (`all`, `firms`, `firm`).
    pub group_kind: String,
    /// Group name.
    pub group: String,
    /// End of the window or the whole horizon.
    pub scope: Scope,
    /// How the figure is built, in words (the `how` column of `comparison.csv`).
    pub how: String,
    /// The figure; `None` where there is no value (e.g. no compute in the last period).
    pub value: Option<Value>,
}

impl Headline {
    /// Unit of the figure (as the catalog gives it).
    pub fn unit(&self) -> &'static str {
        self.def.metric().unit
    }
}

/// How a headline number is built over a horizon from one replication's rows, in words.
pub fn how_total(def: &Def) -> &'static str {
    let m = def.metric();
    match m.kind {
        Kind::Flow => "per replication: sum over the horizon",
        Kind::Ratio => "per replication: ratio of sums over the horizon",
        Kind::Percentile => "per replication: over every job in the horizon (merged histograms)",
        Kind::Stock => "per replication: at the end of the horizon",
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
    /// `--period` asks for periods that the runs' own periods do not add up to (shorter ones, or
    /// weeks into months, quarters or years).
    #[error("--period {want}: run '{run}' is reported by {has} (manifest.json: period = \"{has}\"), and {has}s do not add up to {want}s{why}\n  help: run them again with `--period {want}` (capsim run SCENARIO --period {want} --replications N), or with `--period day`, whose days add up to any period; or compare by {has} with `--period {has}`")]
    PeriodNotWritten {
        /// The baseline run.
        run: String,
        /// The runs' period.
        has: String,
        /// The period asked for.
        want: String,
        /// Why not, in words (starting with "; ", or empty).
        why: String,
    },
    /// A run's `firms.csv` has a period that does not lie inside one of the periods asked for (a
    /// damaged or hand-edited folder).
    #[error("run '{run}': firms.csv: {message}\n  help: re-run `capsim run` with this version of capsim")]
    BadPeriods {
        /// The run.
        run: String,
        /// What does not fit.
        message: String,
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
                run: view.run.clone(),
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
                first: first.run.clone(),
                first_period: first.manifest.period.clone(),
                other: v.run.clone(),
                other_period: v.manifest.period.clone(),
            });
        }
        let h = horizon(v)?;
        w.from = w.from.max(h.from);
        w.until = w.until.min(h.until);
        // Every run so far must have a period that starts inside the window.
        if w.from > w.until || views[..=i].iter().any(|x| w.periods(x).is_empty()) {
            return Err(CompareError::NoOverlap {
                first: first.run.clone(),
                first_horizon: format!("{} to {}", base.from, base.until),
                other: v.run.clone(),
                other_horizon: format!("{} to {}", h.from, h.until),
            });
        }
    }
    Ok(w)
}

/// The period the `end` figures are read from: the last period of the baseline in `window` that
/// is full in every run (and so has the same length everywhere); failing that, the last one in the
/// window. Returns its first day and whether it is full.
pub fn end_period(views: &[RunView], window: &Window) -> Option<(NaiveDate, bool)> {
    let base = views.first()?;
    let periods = window.periods(base);
    let full_everywhere = |d: NaiveDate| {
        views.iter().all(|v| {
            v.periods
                .iter()
                .position(|&x| x == d)
                .is_some_and(|p| v.is_full(p))
        })
    };
    periods
        .iter()
        .rev()
        .map(|&p| base.periods[p])
        .find(|&d| full_everywhere(d))
        .map(|d| (d, true))
        .or_else(|| periods.last().map(|&p| (base.periods[p], false)))
}

/// `how` of an `end` figure read in the period starting `d`.
fn how_end(d: NaiveDate, full: bool) -> String {
    if full {
        format!("last full period ({d})")
    } else {
        format!("last period ({d}, partial: no full period in the window)")
    }
}

/// A run's headline figures: for each headline number (in headline order), the `end` figure read in
/// the period starting `end` (see [`end_period`]), then the `total` one (None when `whole` is false:
/// the run's horizon is longer than the window).
pub fn headlines(view: &RunView, end: Option<(NaiveDate, bool)>, whole: bool) -> Vec<Headline> {
    let mut out = Vec::new();
    for (name, _) in &view.headlines {
        let Some((def, firm)) = headline_of(name) else {
            continue; // a number this version does not know
        };
        let (kind, group) = def.summary_group(firm.unwrap_or(""));
        let end_value = end.and_then(|(d, _)| {
            let p = view.periods.iter().position(|&x| x == d)?;
            view.series(kind, group, def.metric().name)?
                .get(p)
                .copied()
                .flatten()
                .map(|b| Value::of_band(&b))
        });
        let row = |scope, how: String, value| Headline {
            name: name.clone(),
            def,
            group_kind: kind.to_string(),
            group: group.to_string(),
            scope,
            how,
            value,
        };
        out.push(row(
            Scope::End,
            end.map_or("no period".into(), |(d, full)| how_end(d, full)),
            end_value,
        ));
        let total = if whole {
            view.headline_band(name).map(|b| Value::of_band(&b))
        } else {
            None
        };
        let how = if whole {
            how_total(def).to_string()
        } else {
            format!(
                "{} (none: the window is shorter than this run's horizon)",
                how_total(def)
            )
        };
        out.push(row(Scope::Total, how, total));
    }
    out
}

/// A single run's headline figures over its whole horizon.
pub fn run_headlines(view: &RunView) -> Vec<Headline> {
    let window = run_window(view);
    let views = std::slice::from_ref(view);
    headlines(view, end_period(views, &window), true)
}

/// One line of a comparison: a headline figure in every run.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Output name of the headline number.
    pub name: String,
    /// The catalog's headline entry.
    pub def: &'static Def,
    /// Group kind.
    pub group_kind: String,
    /// Group name.
    pub group: String,
    /// End of the window or the whole window.
    pub scope: Scope,
    /// How the figure is built (the baseline's [`Headline::how`]).
    pub how: String,
    /// The figure in each run, in run order (`None`: the run has no such group or no value).
    pub values: Vec<Option<Value>>,
    /// For each run after the baseline (index 0 unused), the paired difference: the mean, p05
    /// and p95 across replications of the run's value minus the baseline's in the same
    /// replication. Only for whole-horizon figures of runs that share the baseline's seed and
    /// replications (their replications draw the same random streams); `None` otherwise.
    pub paired: Vec<Option<Value>>,
}

impl Row {
    /// Whether the figure is a share (its differences are in percentage points, with no ratio).
    pub fn is_share(&self) -> bool {
        self.unit() == "share"
    }

    /// Unit of the figure (as the catalog gives it).
    pub fn unit(&self) -> &'static str {
        self.def.metric().unit
    }

    /// Run `i`'s mean minus the baseline's ([`change`]: rounding reads as none).
    pub fn diff(&self, i: usize) -> Option<f64> {
        Some(change(
            self.values.get(i).copied()??.mean,
            self.values.first().copied()??.mean,
        ))
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
    /// A unique label per run (its name, as its tables' `run` column; `-2`, `-3`, ... appended
    /// to repeats, which only runs of the same name in different folders have).
    pub labels: Vec<String>,
    /// The window every figure is read over.
    pub window: Window,
    /// Whether the window is shorter than some run's horizon.
    pub window_trimmed: bool,
    /// The rows: the baseline's headline figures in order, then groups only later runs have.
    pub rows: Vec<Row>,
}

/// Unique labels for runs: their names (the `run` column of their tables, `--name`), with `-2`,
/// `-3`, ... appended to repeats.
pub fn labels(views: &[RunView]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(views.len());
    for v in views {
        let name = &v.run;
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
    let end = end_period(views, &window);
    let per_run: Vec<Vec<Headline>> = views
        .iter()
        .map(|v| headlines(v, end, window.periods(v).len() == v.periods.len()))
        .collect();
    let mut rows: Vec<Row> = Vec::new();
    for (i, hs) in per_run.iter().enumerate() {
        for h in hs {
            let found = rows
                .iter_mut()
                .find(|r| r.name == h.name && r.scope == h.scope);
            let row = match found {
                Some(r) => r,
                None => {
                    rows.push(Row {
                        name: h.name.clone(),
                        def: h.def,
                        group_kind: h.group_kind.clone(),
                        group: h.group.clone(),
                        scope: h.scope,
                        how: h.how.clone(),
                        values: vec![None; views.len()],
                        paired: vec![None; views.len()],
                    });
                    rows.last_mut().expect("just pushed")
                }
            };
            row.values[i] = h.value;
        }
    }
    // Paired differences of whole-horizon figures, where runs share the baseline's seeds.
    let base = &views[0];
    for (i, v) in views.iter().enumerate().skip(1) {
        let paired_ok = v.manifest.seed == base.manifest.seed
            && v.manifest.replications == base.manifest.replications
            && window.periods(v).len() == v.periods.len()
            && window.periods(base).len() == base.periods.len();
        if !paired_ok {
            continue;
        }
        for r in rows.iter_mut().filter(|r| r.scope == Scope::Total) {
            let (Some(a), Some(b)) = (base.headline(&r.name), v.headline(&r.name)) else {
                continue;
            };
            let diffs = a
                .iter()
                .zip(b)
                .filter_map(|(x, y)| Some(change((*y)?, (*x)?)));
            r.paired[i] = crate::metrics::summary::Spread::of(diffs).map(|s| Value {
                mean: s.mean,
                band: (s.n > 1).then_some((s.p05, s.p95)),
            });
        }
    }
    // Later runs' extra numbers (a firm only a what-if has) go after the baseline's, but the rows
    // of one catalog entry stay together.
    rows.sort_by_key(|r| {
        crate::metrics::catalog::HEADLINES
            .iter()
            .position(|d| std::ptr::eq(d, r.def))
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

/// Columns of `comparison.csv` (long form: one value per row).
pub const COMPARISON_COLUMNS: &[&str] = &[
    "metric",
    "group_kind",
    "group",
    "scope",
    "how",
    "unit",
    "run",
    "statistic",
    "value",
];

/// `comparison.csv`, long (tidy): one row per (headline number, scope, run, statistic). Every run
/// has `mean`, `p05` and `p95` (the last two where it has a band). Each run after the first has,
/// against the first: `diff` (its mean less the baseline's), `diff_p05` and `diff_p95` (paired:
/// across replications of the run's value less the baseline's in the same replication, where
/// both runs share seed and replications; whole-horizon figures only), and `ratio` (its mean over
/// the baseline's). For a share, differences are in percentage points (`diff_pp`,
/// `diff_pp_p05`, `diff_pp_p95`) and there is no ratio. A statistic with no value is left out.
pub fn comparison_csv(c: &Comparison) -> Vec<u8> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(COMPARISON_COLUMNS).expect("in memory");
    for r in &c.rows {
        let key = [
            r.name.as_str(),
            r.group_kind.as_str(),
            r.group.as_str(),
            r.scope.as_str(),
            r.how.as_str(),
            r.unit(),
        ];
        write_statistics(
            &mut w,
            &key,
            &c.labels,
            &r.values,
            &r.paired,
            r.is_share(),
            true,
        );
    }
    w.into_inner().expect("in memory")
}

/// The rows of one figure (`key`: the columns before `run`) in every run: each run's `mean`,
/// `p05`, `p95`; each run after the first its `diff` from the first, the paired `diff_p05` and
/// `diff_p95` and (with `ratios`, not for shares) its `ratio`. A share's differences are in
/// percentage points (`diff_pp`, ...). A statistic with no value is left out.
fn write_statistics(
    w: &mut ::csv::Writer<Vec<u8>>,
    key: &[&str],
    labels: &[String],
    values: &[Option<Value>],
    paired: &[Option<Value>],
    share: bool,
    ratios: bool,
) {
    let mut put = |run: &str, statistic: &str, value: Option<f64>| {
        if let Some(v) = value {
            let mut rec: Vec<String> = key.iter().map(|s| s.to_string()).collect();
            rec.extend([run.to_string(), statistic.to_string(), super::csv::float(v)]);
            w.write_record(&rec).expect("in memory");
        }
    };
    let pp = if share { 100.0 } else { 1.0 };
    let diff = if share { "diff_pp" } else { "diff" };
    let base = values.first().copied().flatten().map(|b| b.mean);
    for (i, (label, v)) in labels.iter().zip(values).enumerate() {
        let mean = v.map(|v| v.mean);
        let band = v.and_then(|v| v.band);
        put(label, "mean", mean);
        put(label, "p05", band.map(|b| b.0));
        put(label, "p95", band.map(|b| b.1));
        if i == 0 {
            continue;
        }
        put(label, diff, mean.zip(base).map(|(m, b)| change(m, b) * pp));
        let pair = paired.get(i).copied().flatten().and_then(|p| p.band);
        put(label, &format!("{diff}_p05"), pair.map(|b| b.0 * pp));
        put(label, &format!("{diff}_p95"), pair.map(|b| b.1 * pp));
        if ratios && !share {
            put(
                label,
                "ratio",
                mean.zip(base).filter(|(_, b)| *b != 0.0).map(|(m, b)| {
                    if change(m, b) == 0.0 {
                        1.0
                    } else {
                        m / b
                    }
                }),
            );
        }
    }
}

/// `run` less `base`, with a difference that is only rounding read as none: within 1e-9 of the
/// larger value, as the same figure summed in another order, or a mean of equal numbers over
/// different counts, gives (`2.8e-15` percentage points of a share that did not move).
pub fn change(run: f64, base: f64) -> f64 {
    let d = run - base;
    if d.abs() <= 1e-9 * run.abs().max(base.abs()) {
        0.0
    } else {
        d
    }
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
    // Each name cut to 40 characters (run names are ASCII), so four fit in one file name.
    let cut: Vec<&str> = labels[..shown]
        .iter()
        .map(|l| l.get(..40).unwrap_or(l))
        .collect();
    let mut name = format!("compare-{}", cut.join("-vs-"));
    if labels.len() > shown {
        name.push_str(&format!("-and-{}-more", labels.len() - shown));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::headline_names;
    use crate::report::manifest::{FirmEntry, Ledger, Manifest};
    use std::collections::BTreeMap;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_change_that_is_only_rounding_is_none() {
        // The same share summed in another order: 0.1 + 0.2 against 0.3.
        assert_eq!(change(0.1 + 0.2, 0.3), 0.0);
        assert_eq!(change(0.0, 0.0), 0.0);
        assert_eq!(change(1e12 + 1.0, 1e12), 0.0);
        // A real change, however small against zero or against the values, stays.
        assert_eq!(change(1e-20, 0.0), 1e-20);
        assert_eq!(change(1.000_001, 1.0), 1.000_001 - 1.0);
        assert_eq!(change(-3.0, -1.0), -2.0);
    }

    fn band(mean: f64, n: usize) -> Option<Band> {
        Some(Band {
            mean,
            p05: mean - 1.0,
            p95: mean + 1.0,
            n,
        })
    }

    /// A run of one firm `acme`: firms' cost 10 (9 to 11) in every period, acme's offshore share
    /// in every period but the last; per replication, firms' cost 10 and 20 over the horizon, every
    /// other headline number 1 and 3.
    fn view(name: &str, period: &str, start: &str, end: &str, periods: &[&str]) -> RunView {
        let mut series = BTreeMap::new();
        let key = |k: &str, g: &str, m: &str| (k.to_string(), g.to_string(), m.to_string());
        let n = periods.len();
        series.insert(key("firms", "all", "cost_usd"), vec![band(10.0, 2); n]);
        let mut share = vec![band(0.25, 2); n];
        share[n - 1] = None;
        series.insert(key("firm", "acme", "offshore_share"), share);
        let starts: Vec<NaiveDate> = periods.iter().map(|s| d(s)).collect();
        let stop = d(end).succ_opt().unwrap();
        let period_days = (0..n)
            .map(|i| (starts.get(i + 1).copied().unwrap_or(stop) - starts[i]).num_days() as f64)
            .collect();
        let headlines = headline_names(&["acme".into()])
            .into_iter()
            .map(|h| {
                let v = if h == "cost_firms_usd" {
                    vec![Some(10.0), Some(20.0)]
                } else {
                    vec![Some(1.0), Some(3.0)]
                };
                (h, v)
            })
            .collect();
        RunView {
            run: name.into(),
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
            periods: starts,
            period_days,
            series,
            provenance: vec![],
            headlines,
        }
    }

    fn months() -> Vec<&'static str> {
        vec!["2025-01-01", "2025-02-01", "2025-03-01"]
    }

    fn find<'a>(hs: &'a [Headline], name: &str, scope: Scope) -> &'a Headline {
        hs.iter()
            .find(|h| h.name == name && h.scope == scope)
            .unwrap()
    }

    #[test]
    fn totals_come_from_replications_and_end_figures_from_the_last_full_period() {
        let v = view("a", "month", "2025-01-01", "2025-03-31", &months());
        let hs = run_headlines(&v);
        let end = find(&hs, "cost_firms_usd", Scope::End);
        assert_eq!(
            (end.group_kind.as_str(), end.group.as_str()),
            ("firms", "all")
        );
        assert_eq!(
            end.value.unwrap(),
            Value {
                mean: 10.0,
                band: Some((9.0, 11.0))
            }
        );
        assert_eq!(end.how, "last full period (2025-03-01)");
        let total = find(&hs, "cost_firms_usd", Scope::Total);
        assert_eq!(
            total.value.unwrap(),
            Value {
                mean: 15.0,
                band: Some((10.5, 19.5))
            }
        );
        assert_eq!(total.how, "per replication: sum over the horizon");
        // No compute in the last period: no share there, but one over the horizon.
        assert_eq!(find(&hs, "offshore_share.acme", Scope::End).value, None);
        assert_eq!(
            find(&hs, "offshore_share.acme", Scope::Total)
                .value
                .unwrap()
                .mean,
            2.0
        );
        // Every headline number, at the end and over the horizon.
        assert_eq!(hs.len(), 2 * headline_names(&["acme".into()]).len());

        // A horizon that ends mid-month: the end figures come from the last full month.
        let short = view("a", "month", "2025-01-01", "2025-03-15", &months());
        assert!(!short.is_full(2) && short.is_full(1));
        let hs = run_headlines(&short);
        assert_eq!(
            find(&hs, "offshore_share.acme", Scope::End).how,
            "last full period (2025-02-01)"
        );
        assert_eq!(
            find(&hs, "offshore_share.acme", Scope::End)
                .value
                .unwrap()
                .mean,
            0.25
        );
    }

    #[test]
    fn comparison_has_every_headline_number_diffs_ratios_and_unique_labels() {
        let a = view("a", "month", "2025-01-01", "2025-03-31", &months());
        let mut b = a.clone();
        for s in b.series.values_mut() {
            for x in s.iter_mut().flatten() {
                x.mean *= 2.0;
            }
        }
        for (_, v) in b.headlines.iter_mut() {
            for x in v.iter_mut().flatten() {
                *x *= 2.0;
            }
        }
        let c = compare(&[a.clone(), b, a]).unwrap();
        assert_eq!(c.labels, ["a", "a-2", "a-3"]);
        assert!(!c.window_trimmed);
        for name in headline_names(&["acme".into()]) {
            for scope in [Scope::End, Scope::Total] {
                assert!(
                    c.rows.iter().any(|r| r.name == name && r.scope == scope),
                    "{name}"
                );
            }
        }
        let cost = c
            .rows
            .iter()
            .find(|r| r.name == "cost_firms_usd" && r.scope == Scope::Total)
            .unwrap();
        assert_eq!(cost.diff(1), Some(15.0));
        assert_eq!(cost.ratio(1), Some(2.0));
        assert_eq!(cost.ratio(2), Some(1.0));
        // Paired: per replication 20 - 10 and 40 - 20.
        let paired = cost.paired[1].unwrap();
        assert_eq!((paired.mean, paired.band), (15.0, Some((10.5, 19.5))));
        assert_eq!(cost.paired[0], None);
        let csv = String::from_utf8(comparison_csv(&c)).unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next().unwrap(),
            "metric,group_kind,group,scope,how,unit,run,statistic,value"
        );
        let key = "cost_firms_usd,firms,all,total,per replication: sum over the horizon,USD";
        for (run, stat, v) in [
            ("a", "mean", "15.0"),
            ("a", "p05", "10.5"),
            ("a-2", "mean", "30.0"),
            ("a-2", "diff", "15.0"),
            ("a-2", "diff_p05", "10.5"),
            ("a-2", "diff_p95", "19.5"),
            ("a-2", "ratio", "2.0"),
            ("a-3", "diff", "0.0"),
            ("a-3", "diff_p95", "0.0"),
        ] {
            let line = format!("{key},{run},{stat},{v}\n");
            assert!(csv.contains(&line), "{line}");
        }
        assert!(
            !csv.contains(&format!("{key},a,diff,")),
            "no diff against itself"
        );
        // A share: differences in percentage points, no ratio. Per replication 2 - 1 and 6 - 3.
        let share = "offshore_share.acme,firm,acme,total,per replication: ratio of sums over the horizon,share";
        assert!(
            csv.contains(&format!("{share},a-2,diff_pp,200.0\n")),
            "{csv}"
        );
        assert!(csv.contains(&format!("{share},a-2,diff_pp_p05,")));
        assert!(!csv.contains(&format!("{share},a-2,ratio,")));
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
        let find = |scope| {
            c.rows
                .iter()
                .find(|r| r.name == "cost_firms_usd" && r.scope == scope)
                .unwrap()
        };
        // Both runs reach past the window: their horizon totals are not over it.
        assert_eq!(find(Scope::Total).values, [None, None]);
        assert!(find(Scope::Total).how.contains("window is shorter"));
        let end = find(Scope::End);
        assert_eq!(end.how, "last full period (2025-03-01)");
        assert_eq!(end.values[0].unwrap().mean, 10.0);
        assert_eq!(end.values[1].unwrap().mean, 10.0);
    }

    #[test]
    fn folder_names_stay_short() {
        let l: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
        assert_eq!(folder_name(&l[..2]), "compare-s0-vs-s1");
        assert_eq!(folder_name(&l), "compare-s0-vs-s1-vs-s2-vs-s3-and-2-more");
        // Four names of the longest a run may have still make one file name.
        let long: Vec<String> = (0..5).map(|i| format!("{i}{}", "x".repeat(229))).collect();
        let name = folder_name(&long);
        assert!(name.len() < 230, "{}", name.len());
        assert!(crate::report::output::name_problem(&name).is_none());
    }

    #[test]
    fn runs_are_labelled_by_their_names_not_their_scenarios() {
        let periods = ["2025-01-01", "2025-02-01"];
        let mut a = view("baseline", "month", "2025-01-01", "2025-02-28", &periods);
        let mut b = view("baseline", "month", "2025-01-01", "2025-02-28", &periods);
        (a.run, b.run) = ("base2".into(), "mfu45".into());
        assert_eq!(labels(&[a.clone(), b.clone()]), ["base2", "mfu45"]);
        b.run = "base2".into();
        assert_eq!(labels(&[a, b]), ["base2", "base2-2"]);
    }
}

/// One firm figure in one period of every run (`capsim compare --period P`).
#[derive(Clone, Debug, PartialEq)]
pub struct PeriodRow {
    /// The firm metric (a column of `firms.csv`).
    pub metric: String,
    /// Its unit (the catalog's).
    pub unit: &'static str,
    /// The firm.
    pub firm: String,
    /// First and last day of the period.
    pub start: NaiveDate,
    /// Last day of the period (inclusive).
    pub end: NaiveDate,
    /// The kind of period (`quarter`, ...).
    pub period: &'static str,
    /// The runs' own period where the figure was rebuilt from theirs (`month` for a comparison
    /// by quarter of runs written by month); None where the runs were written by `period`.
    pub rebuilt_from: Option<&'static str>,
    /// Mean and band across replications, per run (None: no value in any replication).
    pub values: Vec<Option<Value>>,
    /// For each run after the baseline (index 0 unused): mean and band across replications of
    /// the run's value less the baseline's in the same replication, where the runs share seed
    /// and replications.
    pub paired: Vec<Option<Value>>,
}

impl PeriodRow {
    /// Whether the figure is a share (differences in percentage points).
    pub fn is_share(&self) -> bool {
        self.unit == "share"
    }
}

fn value_of(s: Option<crate::metrics::summary::Spread>) -> Option<Value> {
    s.map(|s| Value {
        mean: s.mean,
        band: (s.n > 1).then_some((s.p05, s.p95)),
    })
}

/// Every firm figure of `firms.csv` per period and firm, in every run (`firms[i]` is run `i`'s),
/// over the periods all runs have. Runs written by a shorter `--period` that nests in `period`
/// (days into anything, months into quarters or years, quarters into years: see
/// [`PeriodKind::nests_in`]) are first rebuilt by `period` per replication
/// ([`FirmPeriods::coarsen`]: flows summed, stocks at the end, ratios from their parts' sums),
/// leaving out the figures that cannot be rebuilt (percentiles, unit costs: see
/// [`super::view::cannot_coarsen`]); the rows say so ([`PeriodRow::rebuilt_from`]). Paired
/// differences where a run shares the baseline's seed and replications.
pub fn by_period(
    views: &[RunView],
    firms: &[FirmPeriods],
    period: &str,
) -> Result<Vec<PeriodRow>, CompareError> {
    if views.len() < 2 {
        return Err(CompareError::TooFew { count: views.len() });
    }
    let has = &views[0].manifest.period;
    let refuse = |why: &str| CompareError::PeriodNotWritten {
        run: views[0].run.clone(),
        has: has.clone(),
        want: period.to_string(),
        why: why.to_string(),
    };
    let (Some(has_kind), Some(want)) = (PeriodKind::parse(has), PeriodKind::parse(period)) else {
        return Err(refuse(""));
    };
    let coarsened: Vec<FirmPeriods>;
    let (firms, rebuilt_from) = if has_kind == want {
        (firms, None)
    } else if has_kind.nests_in(want) {
        coarsened =
            views
                .iter()
                .zip(firms)
                .map(|(v, f)| {
                    let bad = |message: String| CompareError::BadPeriods {
                        run: v.run.clone(),
                        message,
                    };
                    let start: NaiveDate = v.manifest.start_date.parse().map_err(|_| {
                        bad(format!("manifest start_date '{}'", v.manifest.start_date))
                    })?;
                    let end: NaiveDate =
                        v.manifest.end_date.parse().map_err(|_| {
                            bad(format!("manifest end_date '{}'", v.manifest.end_date))
                        })?;
                    f.coarsen(&Periods::new(start, end, want)).map_err(bad)
                })
                .collect::<Result<_, _>>()?;
        (coarsened.as_slice(), Some(has_kind.as_str()))
    } else if want.nests_in(has_kind) {
        return Err(refuse(&format!("; a {has} cannot be split into {period}s")));
    } else {
        // Every other kind nests in the next: one of the two is a week.
        return Err(refuse(
            "; an ISO week can straddle two months, quarters or years",
        ));
    };
    common_window(views)?;
    let base = &views[0];
    let paired_ok: Vec<bool> = views
        .iter()
        .map(|v| {
            v.manifest.seed == base.manifest.seed
                && v.manifest.replications == base.manifest.replications
        })
        .collect();
    let lookup: Vec<std::collections::HashMap<(NaiveDate, &str), &super::view::Replicated>> = firms
        .iter()
        .map(|f| {
            f.rows
                .iter()
                .map(|((start, _, firm), reps)| ((*start, firm.as_str()), reps))
                .collect()
        })
        .collect();
    let metric_at: Vec<std::collections::HashMap<&str, usize>> = firms
        .iter()
        .map(|f| {
            f.metrics
                .iter()
                .enumerate()
                .map(|(i, m)| (m.as_str(), i))
                .collect()
        })
        .collect();
    let mut out = Vec::new();
    for metric in &firms[0].metrics {
        let Some(def) = crate::metrics::catalog::FIRM
            .iter()
            .find(|d| d.name == metric)
        else {
            continue;
        };
        for ((start, end, firm), _) in &firms[0].rows {
            let key = (*start, firm.as_str());
            // Each run's values in each replication (None: no such period, firm or metric).
            let per_run: Vec<Option<Vec<Option<f64>>>> = (0..views.len())
                .map(|i| {
                    let reps = lookup[i].get(&key)?;
                    let at = *metric_at[i].get(metric.as_str())?;
                    Some(reps.iter().map(|r| r.get(at).copied().flatten()).collect())
                })
                .collect();
            if per_run.iter().any(Option::is_none) {
                continue;
            }
            let values: Vec<Option<Value>> = per_run
                .iter()
                .map(|v| {
                    value_of(crate::metrics::summary::Spread::of(
                        v.iter().flatten().flatten().copied(),
                    ))
                })
                .collect();
            let mut paired = vec![None; views.len()];
            for i in 1..views.len() {
                if !paired_ok[i] {
                    continue;
                }
                let (Some(a), Some(b)) = (&per_run[0], &per_run[i]) else {
                    continue;
                };
                paired[i] = value_of(crate::metrics::summary::Spread::of(
                    a.iter()
                        .zip(b)
                        .filter_map(|(x, y)| Some(change((*y)?, (*x)?))),
                ));
            }
            out.push(PeriodRow {
                metric: metric.clone(),
                unit: def.unit,
                firm: firm.clone(),
                start: *start,
                end: *end,
                period: want.as_str(),
                rebuilt_from,
                values,
                paired,
            });
        }
    }
    Ok(out)
}

/// Columns of `periods.csv` (long form: one value per row).
pub const PERIODS_COLUMNS: &[&str] = &[
    "metric",
    "group_kind",
    "group",
    "period_start",
    "period_end",
    "unit",
    "run",
    "statistic",
    "value",
];

/// `periods.csv` of `capsim compare --period P`, long (tidy): one row per (firm metric, firm,
/// period, run, statistic): each run's `mean`, `p05`, `p95` across replications; each run after
/// the first has `diff` (its mean less the baseline's) and, paired across replications where the
/// runs share seed and replications, `diff_p05` and `diff_p95`. Shares differ in percentage points
/// (`diff_pp`, `diff_pp_p05`, `diff_pp_p95`). No ratios. A statistic with no value is left out.
pub fn periods_csv(labels: &[String], rows: &[PeriodRow]) -> Vec<u8> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(PERIODS_COLUMNS).expect("in memory");
    for r in rows {
        let (start, end) = (r.start.to_string(), r.end.to_string());
        let key = [
            r.metric.as_str(),
            "firm",
            r.firm.as_str(),
            start.as_str(),
            end.as_str(),
            r.unit,
        ];
        write_statistics(
            &mut w,
            &key,
            labels,
            &r.values,
            &r.paired,
            r.is_share(),
            false,
        );
    }
    w.into_inner().expect("in memory")
}
