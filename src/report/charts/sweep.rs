//! What the charts of a sweep show, as plain data: per axis, the headline numbers against the
//! axis's values; and the tornado of one-at-a-time sensitivities. Built here from the sweep's
//! manifest and per-point statistics; drawn by [`draw`], which reuses the run charts'
//! page (header, legend, notes, source) and primitives.
//!
//! # Which points a chart shows
//!
//! Point 0, the scenario as written, is never placed on an x axis (the sweep does not record the
//! value a field has as written): it is the dashed reference line, with its own faint band.
//!
//! - **One at a time**: an axis's chart shows the points that set only that axis.
//! - **Grid, one axis**: every point but point 0.
//! - **Grid, several axes**: one series per combination of the other axes' values (legend
//!   `b.y=3, c.z=x`), up to [`MAX_SERIES`]; beyond that, only the slice where each other axis sits
//!   at its middle value (the lower middle for an even count), said in a note.
//!
//! The tornado is drawn for one-at-a-time sweeps and for grids of one axis, where each axis's
//! points differ from the scenario as written in that axis only. A grid of several axes has no
//! tornado: its points move several fields at once, so a bar per axis would mix the effects of the
//! others (its axis charts show the interactions instead).
//!
//! Headline numbers with no value at any point, or zero at every point, get no panel; a note names
//! them.

mod draw;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::spec::LegendItem;
use super::style::{okabe_ito, series_style, Dash, Marker, Style, Unit};
use super::ChartError;
use crate::experiment::sweep::PointStat;
use crate::metrics::headline_names;
use crate::report::sweep::SweepManifest;

/// Most series an axis chart of a grid overlays; more, and it shows one slice.
pub(super) const MAX_SERIES: usize = 5;

/// Most panels a sweep chart holds: a theme with more headline numbers (many firms) is split into
/// parts of at most this many, so panels stay wide enough for calendar ticks and whole words.
pub(super) const MAX_PANELS: usize = 8;

/// Most bars in a tornado panel (those with the largest swings): more do not fit a panel readably.
pub(super) const MAX_BARS: usize = 4;

/// A statistic at one point: the mean and its 5th-95th percentile band.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Stat {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
}

/// How an axis's values sit on the x axis, read from their labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum XKind {
    /// Every label is an ISO date; x is days since 1970-01-01, drawn on a calendar.
    Date,
    /// Every label is a number; x is the number, on a linear axis.
    Number,
    /// Words (or a mix): evenly spaced in the order given; x is the value's index.
    Category,
}

/// The x axis of an axis chart.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct XAxis {
    pub kind: XKind,
    /// The field path.
    pub title: String,
    /// The range drawn (the values, padded).
    pub lo: f64,
    pub hi: f64,
    /// The axis's values in the order given: (x, label).
    pub values: Vec<(f64, String)>,
}

/// One line of an axis chart: the sweep points along the axis, for one setting of the others.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct SweepSeries {
    /// Legend label: the other axes' values (None when the chart has a single series).
    pub label: Option<String>,
    pub style: Style,
    /// (x, statistic), in x order (categories: in the order given); None where the point has no
    /// value for the metric.
    pub points: Vec<(f64, Option<Stat>)>,
    /// Whether the p05-p95 band is drawn.
    pub band: bool,
}

/// What a group of headline numbers is about: each theme gets its own axis chart and tornado, so
/// a chart holds a handful of panels that belong together rather than one per headline number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Theme {
    /// Compute done and lost, and the share abroad.
    Compute,
    /// What sites cost, what firms spent (on idle capacity too), and unit costs.
    Costs,
    /// Tokens served and jobs completed, and how long jobs took.
    Service,
    /// Jobs unfinished, waiting or blocked at the end, and evictions.
    Backlog,
    /// Capacity acquired: leases, domestic orders, imports, grey purchases.
    Capacity,
    /// Each firm's share of its compute abroad.
    Firms,
    /// Numbers the table does not know.
    Other,
}

impl Theme {
    /// In chart names: `sweep-<k>-<path>-<slug>`, `tornado-<slug>`.
    pub(super) fn slug(self) -> &'static str {
        match self {
            Theme::Compute => "compute",
            Theme::Costs => "costs",
            Theme::Service => "service",
            Theme::Backlog => "backlog",
            Theme::Capacity => "capacity",
            Theme::Firms => "firms",
            Theme::Other => "other",
        }
    }

    /// In chart titles.
    pub(super) fn words(self) -> &'static str {
        match self {
            Theme::Compute => "compute",
            Theme::Costs => "costs and spend",
            Theme::Service => "tokens and jobs completed",
            Theme::Backlog => "jobs unfinished at the end",
            Theme::Capacity => "capacity acquired",
            Theme::Firms => "compute abroad by firm",
            Theme::Other => "other headline numbers",
        }
    }

    /// How its numbers are read over the horizon, for the chart's notes.
    fn reading(self) -> &'static str {
        match self {
            Theme::Compute => {
                "Compute (net of the work failures rolled back) and compute lost to failures are \
                 totals over the scenario's horizon; the share abroad is of the firms' total \
                 training compute."
            }
            Theme::Costs => {
                "Costs and spend are totals over the scenario's horizon; unit costs are firms' \
                 spend (idle capacity charged pro rata) over useful compute or tokens served."
            }
            Theme::Service => {
                "Tokens served and jobs completed are totals over the scenario's horizon; the \
                 share served is of the tokens demanded; completion times are medians over the \
                 jobs that completed (arrival to finish)."
            }
            Theme::Backlog => {
                "Jobs left (unfinished), waiting for capacity or blocked by rules, and the mean \
                 age of jobs left, are read at the end of the horizon; evictions are a total over \
                 it."
            }
            Theme::Capacity => {
                "Chips leased, ordered, imported and bought or seized on the grey market are \
                 totals over the scenario's horizon (all firms); chips held under lease are read \
                 at its end."
            }
            Theme::Firms => {
                "Each firm's training compute done abroad, as a share of its total over the \
                 scenario's horizon."
            }
            Theme::Other => {
                "Totals over the scenario's horizon, or values at its end for numbers named \
                 `_end`."
            }
        }
    }
}

/// A headline metric as charts name it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct MetricInfo {
    /// The name in `sweep.csv`.
    pub name: String,
    /// Plain words.
    pub title: String,
    /// Unit, for the value axis.
    pub unit_title: String,
    pub unit: Unit,
    /// The charts it is drawn in.
    pub theme: Theme,
}

/// One panel of an axis chart: one metric.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct AxisPanel {
    pub metric: MetricInfo,
    pub series: Vec<SweepSeries>,
    /// Point 0's statistic.
    pub baseline: Option<Stat>,
    /// Whether point 0's band is drawn.
    pub baseline_band: bool,
    /// How far the means spread (see [`spread`]), written beside the title: the value axis
    /// starts at 0, so a small difference draws small and this says how small.
    pub spread: Option<String>,
}

/// A chart of one theme's headline metrics against one axis.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct AxisChart {
    pub name: String,
    pub theme: Theme,
    pub title: String,
    pub subtitle: String,
    pub x: XAxis,
    pub panels: Vec<AxisPanel>,
    pub legend: Vec<LegendItem>,
    pub notes: Vec<String>,
    pub source: String,
}

/// One bar of a tornado: the range of one axis's point means.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Bar {
    /// The field path.
    pub axis: String,
    /// Lowest mean and the value that gave it.
    pub low: f64,
    pub low_label: String,
    /// Highest mean and the value that gave it.
    pub high: f64,
    pub high_label: String,
    /// How many of the axis's values had a mean.
    pub values: usize,
}

impl Bar {
    /// Highest minus lowest mean.
    pub fn swing(&self) -> f64 {
        self.high - self.low
    }
}

/// One panel of the tornado: one metric, a bar per axis, largest swing first.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct TornadoPanel {
    pub metric: MetricInfo,
    pub baseline: Option<Stat>,
    pub baseline_band: bool,
    pub bars: Vec<Bar>,
}

/// The tornado chart of one theme's headline metrics.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Tornado {
    pub name: String,
    pub theme: Theme,
    pub title: String,
    pub subtitle: String,
    pub panels: Vec<TornadoPanel>,
    pub legend: Vec<LegendItem>,
    pub notes: Vec<String>,
    pub source: String,
}

/// A sweep chart, ready to draw.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum SweepSpec {
    Axis(AxisChart),
    Tornado(Tornado),
}

impl SweepSpec {
    pub(super) fn name(&self) -> &str {
        match self {
            SweepSpec::Axis(c) => &c.name,
            SweepSpec::Tornado(t) => &t.name,
        }
    }

    pub(super) fn title(&self) -> &str {
        match self {
            SweepSpec::Axis(c) => &c.title,
            SweepSpec::Tornado(t) => &t.title,
        }
    }
}

/// The style of point 0, the scenario as written: black, dashed, no marker.
pub(super) fn baseline_style() -> Style {
    Style {
        color: okabe_ito::BLACK,
        dash: Dash::Dashed,
        marker: Marker::None,
        width: 2.0,
    }
}

/// Colours of a tornado bar's parts below and above the baseline mean.
pub(super) const BELOW: plotters::style::RGBColor = okabe_ito::BLUE;
pub(super) const ABOVE: plotters::style::RGBColor = okabe_ito::VERMILLION;

/// `chips.h100.training_mfu` -> `chips-h100-training-mfu`.
pub(super) fn slug(path: &str) -> String {
    let mut out = String::new();
    for c in path.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "axis".into()
    } else {
        out
    }
}

/// How charts name a headline metric: every name of `experiment::sweep`'s headline numbers (and
/// the older `completion_hours_p50`) has its words and unit here; any other name gets a title
/// made from its words and a unit read from its suffix ([`generic_info`]).
pub(super) fn metric_info(name: &str) -> MetricInfo {
    use Theme::{Backlog, Capacity, Compute, Costs, Service};
    const PFLOP_DAYS: &str = "PFLOP-days";
    let (title, unit_title, unit, theme) = match name {
        "compute_pflop_days" => ("Net useful compute", PFLOP_DAYS, Unit::Plain, Compute),
        "lost_pflop_days" => ("Compute lost", PFLOP_DAYS, Unit::Plain, Compute),
        "compute_abroad_share" => (
            "Share of compute abroad",
            "% of compute",
            Unit::Percent,
            Compute,
        ),
        "cost_usd" => ("What the sites cost", "USD", Unit::Usd, Costs),
        "cost_firms_usd" => ("What firms paid", "USD", Unit::Usd, Costs),
        "cost_idle_usd" => ("Cost of idle capacity", "USD", Unit::Usd, Costs),
        "cost_unpaid_usd" => ("Idle capacity no firm paid", "USD", Unit::Usd, Costs),
        "cost_firms_idle_usd" => ("Firms' spend on idle capacity", "USD", Unit::Usd, Costs),
        "usd_per_pflop_day" => (
            "Training spend per PFLOP-day",
            "USD/PFLOP-day",
            Unit::Usd,
            Costs,
        ),
        "usd_per_million_tokens" => (
            "Inference spend per million tokens",
            "USD/M tokens",
            Unit::Usd,
            Costs,
        ),

        "tokens_served" => ("Tokens served", "tokens", Unit::Plain, Service),
        "tokens_served_share" => (
            "Share of token demand served",
            "% of tokens demanded",
            Unit::Percent,
            Service,
        ),
        "training_jobs_completed" => ("Pre-training jobs completed", "jobs", Unit::Plain, Service),
        "fine_tuning_jobs_completed" => {
            ("Fine-tuning jobs completed", "jobs", Unit::Plain, Service)
        }
        "completion_hours_p50" => ("Median time to completion", "hours", Unit::Plain, Service),
        "completion_hours_p50_training" => {
            ("Pre-training: median time", "hours", Unit::Plain, Service)
        }
        "completion_hours_p50_fine_tuning" => {
            ("Fine-tuning: median time", "hours", Unit::Plain, Service)
        }
        "backlog_training_end" => ("Pre-training jobs left", "jobs", Unit::Plain, Backlog),
        "backlog_fine_tuning_end" => ("Fine-tuning jobs left", "jobs", Unit::Plain, Backlog),
        "waiting_jobs_end" => ("Jobs waiting for capacity", "jobs", Unit::Plain, Backlog),
        "blocked_jobs_end" => ("Jobs blocked by rules", "jobs", Unit::Plain, Backlog),
        "backlog_age_hours_mean_end" => ("Mean age of jobs left", "hours", Unit::Plain, Backlog),
        "evictions" => ("Jobs evicted by rules", "jobs", Unit::Plain, Backlog),
        "contracts_ended" => (
            "Contracts ended by rules",
            "contracts",
            Unit::Plain,
            Backlog,
        ),
        "lease_chips_signed" => (
            "Chips leased by new contracts",
            "chips",
            Unit::Plain,
            Capacity,
        ),
        "lease_chips_held_end" => (
            "Chips held under lease at the end",
            "chips",
            Unit::Plain,
            Capacity,
        ),
        "order_chips_placed" => ("Domestic chips ordered", "chips", Unit::Plain, Capacity),
        "cloud_chips_reserved" => (
            "Domestic-cloud chips reserved",
            "chips",
            Unit::Plain,
            Capacity,
        ),
        "import_chips_placed" => (
            "Chips imported under licence",
            "chips",
            Unit::Plain,
            Capacity,
        ),
        "grey_chips_placed" => ("Smuggled chips bought", "chips", Unit::Plain, Capacity),
        "grey_chips_seized" => ("Smuggled chips seized", "chips", Unit::Plain, Capacity),
        other => {
            if let Some(firm) = other.strip_prefix("offshore_share.") {
                return MetricInfo {
                    name: name.into(),
                    title: format!("{firm}: compute abroad"),
                    unit_title: "% of its compute".into(),
                    unit: Unit::Percent,
                    theme: Theme::Firms,
                };
            }
            return generic_info(other);
        }
    };
    MetricInfo {
        name: name.into(),
        title: title.into(),
        unit_title: unit_title.into(),
        unit,
        theme,
    }
}

/// A metric the table does not know (from a newer capsim, say): its words as the title, and a
/// unit read from its suffix (`_usd`, `_share`, `_hours`, `_pflop_days`, `_mwh`, ...), so that it
/// still draws with a sensible axis.
fn generic_info(name: &str) -> MetricInfo {
    const SUFFIXES: [(&str, &str, Unit); 8] = [
        ("_usd", "USD", Unit::Usd),
        ("_share", "%", Unit::Percent),
        ("_pflop_days", "PFLOP-days", Unit::Plain),
        ("_mwh", "MWh", Unit::Plain),
        ("_hours", "hours", Unit::Plain),
        ("_jobs", "jobs", Unit::Plain),
        ("_tokens", "tokens", Unit::Plain),
        ("_chips", "chips", Unit::Plain),
    ];
    // A name may carry a qualifier after its unit: `wait_hours_p95`, `backlog_age_hours_max_end`.
    let found = SUFFIXES.iter().find_map(|&(suffix, unit_title, unit)| {
        let at = name
            .find(&format!("{suffix}_"))
            .or_else(|| name.ends_with(suffix).then(|| name.len() - suffix.len()))?;
        let words = format!("{}{}", &name[..at], &name[at + suffix.len()..]);
        Some((words, unit_title, unit))
    });
    let (words, unit_title, unit) = found.unwrap_or((name.to_string(), "", Unit::Plain));
    let mut title: String = words
        .split(['_', '.'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if title.is_empty() {
        title = name.to_string();
    }
    if let Some(first) = title.get(..1) {
        let upper = first.to_ascii_uppercase();
        title.replace_range(..1, &upper);
    }
    MetricInfo {
        name: name.into(),
        title,
        unit_title: unit_title.into(),
        unit,
        theme: Theme::Other,
    }
}

/// How far a panel's means spread, highest less lowest: `spread 1.4%` of the scenario as written
/// (of the largest mean where point 0 has none or it is 0), or for shares `spread 2.1 pts`
/// (percentage points). None with fewer than two means.
pub(super) fn spread(unit: Unit, series: &[SweepSeries], baseline: Option<Stat>) -> Option<String> {
    let means: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|(_, st)| st.map(|s| s.mean)))
        .chain(baseline.map(|b| b.mean))
        .filter(|m| m.is_finite())
        .collect();
    if means.len() < 2 {
        return None;
    }
    let lo = means.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let short = |x: f64| {
        if x == 0.0 {
            "0".to_string()
        } else if x < 0.1 {
            "<0.1".to_string()
        } else if x < 10.0 {
            format!("{x:.1}")
        } else {
            format!("{x:.0}")
        }
    };
    if unit == Unit::Percent {
        return Some(format!("spread {} pts", short((hi - lo) * 100.0)));
    }
    let base = baseline
        .map(|b| b.mean.abs())
        .filter(|&b| b > 0.0)
        .unwrap_or(lo.abs().max(hi.abs()));
    (base > 0.0).then(|| format!("spread {}%", short(100.0 * (hi - lo) / base)))
}

/// The kind of an axis and each value's x.
fn classify(values: &[String]) -> (XKind, Vec<f64>) {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let dates: Option<Vec<f64>> = values
        .iter()
        .map(|v| {
            v.parse::<NaiveDate>()
                .ok()
                .map(|d| (d - epoch).num_days() as f64)
        })
        .collect();
    if let Some(x) = dates {
        return (XKind::Date, x);
    }
    let numbers: Option<Vec<f64>> = values
        .iter()
        .map(|v| v.parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect();
    if let Some(x) = numbers {
        return (XKind::Number, x);
    }
    // Repeated words share the first one's place.
    let x = values
        .iter()
        .map(|v| values.iter().position(|w| w == v).unwrap_or(0) as f64)
        .collect();
    (XKind::Category, x)
}

fn x_axis(path: &str, labels: &[String]) -> XAxis {
    let (kind, xs) = classify(labels);
    let (lo, hi) = match kind {
        XKind::Category => (-0.5, labels.len() as f64 - 0.5),
        XKind::Date | XKind::Number => {
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let span = hi - lo;
            let pad = match kind {
                XKind::Date => (span * 0.06).max(15.0),
                _ if span > 0.0 => span * 0.06,
                _ => (lo.abs() * 0.1).max(1e-6),
            };
            (lo - pad, hi + pad)
        }
    };
    XAxis {
        kind,
        title: path.to_string(),
        lo,
        hi,
        values: xs.into_iter().zip(labels.iter().cloned()).collect(),
    }
}

/// The sweep's manifest and statistics, indexed.
struct Ctx<'a> {
    m: &'a SweepManifest,
    /// (point, metric) -> statistic.
    stats: BTreeMap<(usize, &'a str), Stat>,
    /// Metrics with a panel, by theme (in headline order within one), in parts of at most
    /// [`MAX_PANELS`]: one axis chart per axis and part, one tornado per part.
    parts: Vec<Part>,
    /// Notes on every chart (the numbers not drawn).
    common_notes: Vec<String>,
    one_at_a_time: bool,
    /// Whether any statistic has a band worth drawing.
    any_band: bool,
    source: String,
}

/// A chart's share of the headline numbers: one theme, or one part of a theme with more than
/// [`MAX_PANELS`] numbers.
#[derive(Clone, Debug)]
struct Part {
    theme: Theme,
    /// 1-based, of `of`.
    index: usize,
    of: usize,
    metrics: Vec<MetricInfo>,
}

impl Part {
    /// In chart names: the theme, and its part number where it has several (`firms-2`).
    fn suffix(&self) -> String {
        if self.of > 1 {
            format!("{}-{}", self.theme.slug(), self.index)
        } else {
            self.theme.slug().to_string()
        }
    }

    /// In chart titles: `compute and cost`, `compute abroad by firm (2 of 3)`.
    fn words(&self) -> String {
        if self.of > 1 {
            format!("{} ({} of {})", self.theme.words(), self.index, self.of)
        } else {
            self.theme.words().to_string()
        }
    }
}

/// The metrics by theme (themes in order, metrics in their order within one), each theme cut
/// into parts of at most [`MAX_PANELS`], as even as they come.
fn parts(metrics: Vec<MetricInfo>) -> Vec<Part> {
    let mut by_theme: BTreeMap<Theme, Vec<MetricInfo>> = BTreeMap::new();
    for m in metrics {
        by_theme.entry(m.theme).or_default().push(m);
    }
    let mut out = Vec::new();
    for (theme, metrics) in by_theme {
        let of = metrics.len().div_ceil(MAX_PANELS);
        let size = metrics.len().div_ceil(of);
        for (i, chunk) in metrics.chunks(size).enumerate() {
            out.push(Part {
                theme,
                index: i + 1,
                of,
                metrics: chunk.to_vec(),
            });
        }
    }
    out
}

fn bad(m: &SweepManifest, message: String) -> ChartError {
    ChartError::BadSweep {
        scenario: m.scenario.clone(),
        message,
    }
}

/// Every chart of a sweep: per axis, in axis order, an axis chart per theme (see [`Theme`]); then
/// a tornado per theme where the design allows one.
pub(super) fn build(m: &SweepManifest, stats: &[PointStat]) -> Result<Vec<SweepSpec>, ChartError> {
    let cx = Ctx::new(m, stats)?;
    let mut out: Vec<SweepSpec> = (0..m.axes.len())
        .flat_map(|a| cx.parts.iter().map(move |part| (a, part)))
        .map(|(a, part)| SweepSpec::Axis(cx.axis_chart(a, part)))
        .collect();
    if cx.one_at_a_time || m.axes.len() == 1 {
        out.extend(
            cx.parts
                .iter()
                .map(|part| SweepSpec::Tornado(cx.tornado(part))),
        );
    }
    Ok(out)
}

impl<'a> Ctx<'a> {
    fn new(m: &'a SweepManifest, stats: &'a [PointStat]) -> Result<Ctx<'a>, ChartError> {
        let one_at_a_time = match m.design.as_str() {
            "one_at_a_time" => true,
            "grid" => false,
            other => {
                return Err(bad(
                    m,
                    format!("design '{other}' is neither 'grid' nor 'one_at_a_time'"),
                ))
            }
        };
        if m.points.is_empty() {
            return Err(bad(m, "the manifest lists no points".into()));
        }
        if m.point_values.len() != m.points.len() {
            return Err(bad(
                m,
                format!(
                    "{} points but {} rows of point values",
                    m.points.len(),
                    m.point_values.len()
                ),
            ));
        }
        if let Some((p, row)) = m
            .point_values
            .iter()
            .enumerate()
            .find(|(_, r)| r.len() != m.axes.len())
        {
            return Err(bad(
                m,
                format!(
                    "point {p} has {} axis values for {} axes",
                    row.len(),
                    m.axes.len()
                ),
            ));
        }
        if let Some((a, _)) = m.axes.iter().enumerate().find(|(_, a)| a.values.is_empty()) {
            return Err(bad(m, format!("axis {} has no values", a + 1)));
        }
        if let Some(s) = stats.iter().find(|s| s.point >= m.points.len()) {
            return Err(bad(
                m,
                format!(
                    "statistics for point {} of a sweep of {} points",
                    s.point,
                    m.points.len()
                ),
            ));
        }

        let mut index = BTreeMap::new();
        for s in stats {
            index.entry((s.point, s.metric.as_str())).or_insert(Stat {
                mean: s.mean,
                lo: s.p05,
                hi: s.p95,
            });
        }
        let mut names = headline_names(&m.firms);
        for s in stats {
            if !names.contains(&s.metric) {
                names.push(s.metric.clone());
            }
        }
        let mut metrics = Vec::new();
        let mut empty = Vec::new();
        let mut zero = Vec::new();
        for name in names {
            let vals: Vec<&Stat> = index
                .iter()
                .filter(|((_, n), _)| *n == name)
                .map(|(_, s)| s)
                .collect();
            if vals.iter().all(|s| !s.mean.is_finite()) {
                empty.push(name);
            } else if vals
                .iter()
                .all(|s| s.mean == 0.0 && s.lo == 0.0 && s.hi == 0.0)
            {
                zero.push(name);
            } else {
                metrics.push(metric_info(&name));
            }
        }
        let mut skipped = Vec::new();
        if !empty.is_empty() {
            skipped.push(format!("no value at any point: {}", empty.join(", ")));
        }
        if !zero.is_empty() {
            skipped.push(format!("zero at every point: {}", zero.join(", ")));
        }
        let mut common_notes = Vec::new();
        if !skipped.is_empty() {
            common_notes.push(format!(
                "Not drawn in any chart of this sweep ({}).",
                skipped.join("; ")
            ));
        }
        let any_band = stats.iter().any(|s| s.n > 1 && s.p05 != s.p95);
        let source = format!(
            "Source: capsim {} sweep of {} (seed {}, {} replication{} per point, {} points, {}, \
             reported by {})",
            m.capsim_version,
            m.scenario,
            m.seed,
            m.replications,
            if m.replications == 1 { "" } else { "s" },
            m.points.len(),
            if one_at_a_time {
                "one field at a time"
            } else {
                "grid"
            },
            m.period,
        );
        Ok(Ctx {
            m,
            stats: index,
            parts: parts(metrics),
            common_notes,
            one_at_a_time,
            any_band,
            source,
        })
    }

    fn stat(&self, point: usize, metric: &str) -> Option<Stat> {
        self.stats
            .get(&(point, metric))
            .copied()
            .filter(|s| s.mean.is_finite())
    }

    /// Whether point statistics have a band worth drawing.
    fn banded(&self, points: &[usize], metric: &str) -> bool {
        points
            .iter()
            .filter_map(|&p| self.stat(p, metric))
            .any(|s| s.lo != s.hi)
    }

    /// The value index of axis `a` at `point`, if the point sets it.
    fn value_at(&self, point: usize, a: usize) -> Option<usize> {
        let label = self.m.point_values[point][a].as_ref()?;
        self.m.axes[a].values.iter().position(|v| v == label)
    }

    /// The points of axis `a`: groups of (value index, point), each group one series, with its
    /// legend label; and a note when a grid is sliced.
    #[allow(clippy::type_complexity)]
    fn axis_groups(
        &self,
        a: usize,
    ) -> (Vec<(Option<String>, Vec<(usize, usize)>)>, Option<String>) {
        let m = self.m;
        let np = m.points.len();
        if self.one_at_a_time || m.axes.len() == 1 {
            let pts: Vec<(usize, usize)> = (1..np)
                .filter(|&p| (0..m.axes.len()).all(|b| (b == a) == m.point_values[p][b].is_some()))
                .filter_map(|p| self.value_at(p, a).map(|v| (v, p)))
                .collect();
            return (vec![(None, pts)], None);
        }
        // A grid of several axes: a series per combination of the others' values.
        let others: Vec<usize> = (0..m.axes.len()).filter(|&b| b != a).collect();
        let combos: usize = others
            .iter()
            .map(|&b| m.axes[b].values.len())
            .product::<usize>();
        let mut settings: Vec<Vec<usize>> = Vec::new();
        let mut note = None;
        if combos <= MAX_SERIES {
            for k in 0..combos {
                let mut rest = k;
                let mut s = vec![0; others.len()];
                // The last axis varies fastest, as in the grid.
                for (j, &b) in others.iter().enumerate().rev() {
                    s[j] = rest % m.axes[b].values.len();
                    rest /= m.axes[b].values.len();
                }
                settings.push(s);
            }
        } else {
            let mid: Vec<usize> = others
                .iter()
                .map(|&b| (m.axes[b].values.len() - 1) / 2)
                .collect();
            let what: Vec<String> = others
                .iter()
                .map(|&b| format!("{} ({} values)", m.axes[b].path, m.axes[b].values.len()))
                .collect();
            note = Some(format!(
                "The grid also varies {}: {combos} combinations, too many to overlay. Shown: the \
                 slice at {} (the middle value{}).",
                what.join(", "),
                self.setting_label(&others, &mid),
                if others.len() == 1 { "" } else { "s" }
            ));
            settings.push(mid);
        }
        // Points by their value indices.
        let mut by_values: BTreeMap<Vec<usize>, usize> = BTreeMap::new();
        for p in 1..np {
            let v: Option<Vec<usize>> = (0..m.axes.len()).map(|b| self.value_at(p, b)).collect();
            if let Some(v) = v {
                by_values.entry(v).or_insert(p);
            }
        }
        let groups = settings
            .iter()
            .map(|s| {
                let pts = (0..m.axes[a].values.len())
                    .filter_map(|i| {
                        let mut key = vec![0; m.axes.len()];
                        key[a] = i;
                        for (j, &b) in others.iter().enumerate() {
                            key[b] = s[j];
                        }
                        by_values.get(&key).map(|&p| (i, p))
                    })
                    .collect();
                (Some(self.setting_label(&others, s)), pts)
            })
            .collect();
        (groups, note)
    }

    fn setting_label(&self, axes: &[usize], values: &[usize]) -> String {
        axes.iter()
            .zip(values)
            .map(|(&b, &v)| format!("{}={}", self.m.axes[b].path, self.m.axes[b].values[v]))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn reps_text(&self) -> String {
        if self.m.replications == 1 {
            "One replication per point (no band)".into()
        } else if self.any_band {
            format!(
                "Means of {} replications per point; shaded: 5th to 95th percentile",
                self.m.replications
            )
        } else {
            format!("Means of {} replications per point", self.m.replications)
        }
    }

    fn axis_chart(&self, a: usize, part: &Part) -> AxisChart {
        let m = self.m;
        let axis = &m.axes[a];
        let x = x_axis(&axis.path, &axis.values);
        let (groups, slice_note) = self.axis_groups(a);
        let multi = groups.len() > 1;
        let mut panels = Vec::new();
        let mut banded_any = false;
        let mut baseline_banded = false;
        for metric in &part.metrics {
            let series: Vec<SweepSeries> = groups
                .iter()
                .enumerate()
                .map(|(i, (label, pts))| {
                    let mut points: Vec<(f64, Option<Stat>)> = pts
                        .iter()
                        .map(|&(v, p)| (x.values[v].0, self.stat(p, &metric.name)))
                        .collect();
                    if x.kind != XKind::Category {
                        points.sort_by(|a, b| a.0.total_cmp(&b.0));
                    }
                    let points_idx: Vec<usize> = pts.iter().map(|&(_, p)| p).collect();
                    let band = self.banded(&points_idx, &metric.name);
                    banded_any |= band;
                    SweepSeries {
                        label: label.clone(),
                        style: series_style(i),
                        points,
                        band,
                    }
                })
                .collect();
            let baseline = self.stat(0, &metric.name);
            let baseline_band = self.banded(&[0], &metric.name);
            baseline_banded |= baseline_band;
            panels.push(AxisPanel {
                spread: spread(metric.unit, &series, baseline),
                metric: metric.clone(),
                series,
                baseline,
                baseline_band,
            });
        }

        let mut legend = Vec::new();
        if multi && m.axes.len() == 2 {
            // One other axis: its path once, its values on the lines.
            let other = &m.axes[1 - a];
            legend.push(LegendItem::Heading(format!(
                "One line per value of {}",
                other.path
            )));
            let prefix = format!("{}=", other.path);
            for (i, (label, _)) in groups.iter().enumerate() {
                let label = label.as_deref().unwrap_or_default();
                legend.push(LegendItem::Line {
                    label: label.strip_prefix(&prefix).unwrap_or(label).to_string(),
                    style: series_style(i),
                    band: banded_any,
                });
            }
        } else if multi {
            legend.push(LegendItem::Heading("Other fields at".into()));
            for (i, (label, _)) in groups.iter().enumerate() {
                legend.push(LegendItem::Line {
                    label: label.clone().unwrap_or_default(),
                    style: series_style(i),
                    band: banded_any,
                });
            }
        } else {
            legend.push(LegendItem::Heading("Sweep points".into()));
            legend.push(LegendItem::Line {
                label: match &groups[0].0 {
                    Some(l) => l.clone(),
                    None => "mean at each value".into(),
                },
                style: series_style(0),
                band: banded_any,
            });
        }
        legend.push(LegendItem::Heading("Reference".into()));
        legend.push(LegendItem::Line {
            label: "as written (point 0)".into(),
            style: baseline_style(),
            band: baseline_banded,
        });
        if banded_any || baseline_banded {
            legend.push(LegendItem::Band(
                "5th to 95th percentile across replications".into(),
            ));
        }

        let mut notes = Vec::new();
        let what = match x.kind {
            XKind::Date => "a date",
            XKind::Number => "a number",
            XKind::Category => "a choice",
        };
        if self.one_at_a_time && m.axes.len() > 1 {
            notes.push(format!(
                "One field at a time: these points set {} ({what}) and leave the other swept \
                 fields as the scenario writes them.",
                axis.path
            ));
        }
        notes.push(
            "Dashed line: the scenario as written (point 0), whose own value of the field is not \
             placed on the x axis; its band is the noise to compare differences against."
                .into(),
        );
        notes.push(
            "Value axes start at 0, so a small difference draws small. Beside each title, how far \
             the means spread (highest less lowest): as a % of the scenario as written, or in \
             percentage points (pts) for shares."
                .into(),
        );
        notes.extend(slice_note);
        notes.push(part.theme.reading().into());
        notes.extend(self.common_notes.iter().cloned());
        let design = if self.one_at_a_time {
            "one field at a time"
        } else if m.axes.len() == 1 {
            "one-axis grid"
        } else {
            "grid"
        };
        AxisChart {
            name: format!("sweep-{}-{}-{}", a + 1, slug(&axis.path), part.suffix()),
            theme: part.theme,
            title: format!("Sweep over {}: {}", axis.path, part.words()),
            subtitle: format!(
                "Scenario {}, {design}, {} value{} of this field. {}.",
                m.scenario,
                axis.values.len(),
                if axis.values.len() == 1 { "" } else { "s" },
                self.reps_text()
            ),
            x,
            panels,
            legend,
            notes,
            source: self.source.clone(),
        }
    }

    fn tornado(&self, part: &Part) -> Tornado {
        let m = self.m;
        let groups: Vec<Vec<(usize, usize)>> = (0..m.axes.len())
            .map(|a| self.axis_groups(a).0.swap_remove(0).1)
            .collect();
        let mut panels = Vec::new();
        let mut baseline_banded = false;
        for metric in &part.metrics {
            let mut bars = Vec::new();
            for (a, pts) in groups.iter().enumerate() {
                let mut low: Option<(f64, usize)> = None;
                let mut high: Option<(f64, usize)> = None;
                let mut values = 0;
                for &(v, p) in pts {
                    let Some(s) = self.stat(p, &metric.name) else {
                        continue;
                    };
                    values += 1;
                    if low.is_none_or(|(l, _)| s.mean < l) {
                        low = Some((s.mean, v));
                    }
                    if high.is_none_or(|(h, _)| s.mean > h) {
                        high = Some((s.mean, v));
                    }
                }
                if let (Some((lo, lv)), Some((hi, hv))) = (low, high) {
                    bars.push(Bar {
                        axis: m.axes[a].path.clone(),
                        low: lo,
                        low_label: m.axes[a].values[lv].clone(),
                        high: hi,
                        high_label: m.axes[a].values[hv].clone(),
                        values,
                    });
                }
            }
            // Largest swing first; equal swings keep the axes' order.
            bars.sort_by(|a, b| b.swing().total_cmp(&a.swing()));
            bars.truncate(MAX_BARS);
            let baseline_band = self.banded(&[0], &metric.name);
            baseline_banded |= baseline_band;
            panels.push(TornadoPanel {
                metric: metric.clone(),
                baseline: self.stat(0, &metric.name),
                baseline_band,
                bars,
            });
        }
        let mut legend = vec![
            LegendItem::Heading("Range of the means".into()),
            LegendItem::Swatch {
                label: "below as written".into(),
                color: BELOW,
            },
            LegendItem::Swatch {
                label: "above as written".into(),
                color: ABOVE,
            },
            LegendItem::Heading("Reference".into()),
            LegendItem::Line {
                label: "as written (point 0)".into(),
                style: Style {
                    dash: Dash::Solid,
                    ..baseline_style()
                },
                band: false,
            },
        ];
        if baseline_banded {
            legend.push(LegendItem::Band(
                "5th to 95th percentile of the scenario as written (the noise)".into(),
            ));
        }
        let mut notes = vec![format!(
            "Each bar spans the lowest to the highest mean over one field's values{}; the labels \
             at its ends are the values that gave them. Longest bar on top.",
            if self.one_at_a_time && m.axes.len() > 1 {
                ", the other fields as written"
            } else {
                ""
            }
        )];
        if m.axes.len() > MAX_BARS {
            notes.push(format!(
                "{} fields were swept; each panel shows the {MAX_BARS} that move it most.",
                m.axes.len()
            ));
        }
        let broken = panels
            .iter()
            .any(|p| draw::tornado_range(p).is_some_and(|r| r.2));
        notes.extend(broken.then(|| {
            format!(
                "Tornado axes span the swings and do not start at 0 (\"{}\" beside the title, a \
             break mark on the axis): judge a bar by its tick values and the grey band, not by \
             the panel's width.",
                draw::BROKEN
            )
        }));
        if baseline_banded {
            notes.push(
                "A bar inside the grey band moves the mean less than replications of the \
                 scenario as written differ from one another."
                    .into(),
            );
        }
        notes.push(part.theme.reading().into());
        notes.extend(self.common_notes.iter().cloned());
        Tornado {
            name: format!("tornado-{}", part.suffix()),
            theme: part.theme,
            title: format!(
                "Sensitivity of {}: how far each swept field moves each number",
                part.words()
            ),
            subtitle: format!(
                "Scenario {}, {} field{} swept. Bars: means of {}; line: the scenario as \
                 written{}.",
                m.scenario,
                m.axes.len(),
                if m.axes.len() == 1 { "" } else { "s" },
                if m.replications == 1 {
                    "one replication per point".to_string()
                } else {
                    format!("{} replications per point", m.replications)
                },
                if baseline_banded {
                    ", grey: its 5th to 95th percentile"
                } else {
                    ""
                }
            ),
            panels,
            legend,
            notes,
            source: self.source.clone(),
        }
    }
}

/// Columns for a grid of `n` panels.
pub(super) fn grid_cols(n: usize) -> usize {
    match n {
        0..=3 => n.max(1),
        4 => 2,
        5..=7 | 9 => 3,
        8 | 10..=12 | 16 => 4,
        13..=15 | 17..=20 => 5,
        _ => 6,
    }
}
