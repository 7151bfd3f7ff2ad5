//! What each chart shows, as plain data: panels of series (or a heatmap), the legend, the policy
//! marks and their key, notes. Built from the runs here; drawn by `draw`, which knows nothing of
//! metrics or scenarios.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use plotters::style::RGBColor;

use super::observed::Observed;
use super::style::{okabe_ito, run_style, series_style, total_style, Dash, Marker, Style, Unit};
use super::ChartError;
use crate::report::view::{Band, RunView};

/// A series value in one period: the mean and the band around it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Val {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
}

/// One period of a series: its span on the time axis (days from the chart's start) and value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Pt {
    pub x0: f64,
    pub x1: f64,
    pub v: Option<Val>,
}

impl Pt {
    /// Where the period's value is plotted: the middle of the period.
    pub fn x(&self) -> f64 {
        (self.x0 + self.x1) / 2.0
    }
}

/// A curve (or, when `stacked`, a layer stacked on the panel's previous stacked layers).
#[derive(Clone, Debug)]
pub(super) struct Series {
    pub style: Style,
    pub points: Vec<Pt>,
    /// Draw the p05-p95 band.
    pub band: bool,
    pub stacked: bool,
    /// The summary series it draws and how, so that observations of the same quantity can be
    /// drawn beside it (None: a series derived from others, such as the unserved share).
    pub key: Option<SeriesRef>,
}

/// Which summary series a curve draws (as in `summary.csv`), and how it is read onto the axis.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct SeriesRef {
    /// Group kind: `all`, `jurisdiction`, `site`, `firms` or `firm`.
    pub kind: String,
    pub group: String,
    pub metric: String,
    pub read: Read,
}

impl SeriesRef {
    /// Whether two curves draw the same summary series (however each reads it).
    pub fn same_series(&self, other: &SeriesRef) -> bool {
        (&self.kind, &self.group, &self.metric) == (&other.kind, &other.group, &other.metric)
    }

    /// The curve of `metric` of group `kind`/`group`, read with `read` (as `Ctx::points` takes
    /// them).
    pub fn of(kind: &str, group: &str, metric: &str, read: Read) -> Option<SeriesRef> {
        Some(SeriesRef {
            kind: kind.to_string(),
            group: group.to_string(),
            metric: metric.to_string(),
            read,
        })
    }
}

/// One row of a heatmap.
#[derive(Clone, Debug)]
pub(super) struct HeatRow {
    /// Drawn at the first row of a group.
    pub label: Option<String>,
    /// Drawn on every row (the run, when runs are compared).
    pub sub: Option<String>,
    /// Cells: (x0, x1, value in 0..=1 or None).
    pub cells: HeatCells,
}

/// A heatmap row's cells: (x0, x1, value in 0..=1 or None).
pub(super) type HeatCells = Vec<(f64, f64, Option<f64>)>;

#[derive(Clone, Debug)]
pub(super) enum Body {
    Lines(Vec<Series>),
    Heatmap(Vec<HeatRow>),
}

#[derive(Clone, Debug)]
pub(super) struct Panel {
    pub title: Option<String>,
    pub y_title: String,
    pub unit: Unit,
    pub log: bool,
    pub body: Body,
    /// Observations of what the panel's curves measure (see `observed`).
    pub observed: Vec<Observed>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum LegendItem {
    Heading(String),
    Line {
        label: String,
        style: Style,
        band: bool,
    },
    Swatch {
        label: String,
        color: RGBColor,
    },
    /// What the shaded bands mean.
    Band(String),
    /// What the hatched bands on stacked layers mean.
    HatchBand(String),
    /// What the numbered vertical lines mean.
    Policy(String),
    /// The heatmap's colour scale.
    ColorBar {
        title: String,
    },
    /// The heatmap's "no value" cells.
    Missing(String),
    /// Observations: a diamond with its range; `input`: also an input of the scenario (hollow).
    Observed {
        label: String,
        input: bool,
    },
}

/// A vertical line on the time axis, with its label (the rule's number in the key).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Mark {
    pub x: f64,
    pub label: String,
    pub end: bool,
}

/// A line of the policy key under the chart.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct KeyItem {
    pub label: String,
    pub text: String,
}

/// A chart, ready to draw.
#[derive(Clone, Debug)]
pub(super) struct Spec {
    pub name: &'static str,
    pub title: String,
    pub subtitle: String,
    /// Day 0 of the time axis.
    pub x_start: NaiveDate,
    /// Length of the time axis in days.
    pub x_days: f64,
    pub panels: Vec<Panel>,
    pub cols: usize,
    /// All line panels share one y range.
    pub shared_y: bool,
    pub legend: Vec<LegendItem>,
    pub marks: Vec<Mark>,
    pub key: Vec<KeyItem>,
    pub notes: Vec<String>,
    pub source: String,
}

/// Every chart for the runs, in a fixed order.
pub(super) fn build(runs: &[RunView]) -> Result<Vec<Spec>, ChartError> {
    let cx = Ctx::new(runs)?;
    let mut specs = vec![
        cx.throughput_compute(),
        cx.throughput_tokens(),
        cx.cost_spend(),
        cx.cost_unit(),
        cx.compute_share(),
        cx.sites(),
        cx.training(),
    ];
    // Drawn only where some firm leased in a market or ordered domestic chips.
    specs.extend(cx.capacity_decisions());
    specs.extend(cx.capacity_channels());
    Ok(specs)
}

/// The firm metrics the capacity-decisions chart draws: (metric, label, style index).
const DECISION_METRICS: [(&str, &str); 3] = [
    ("lease_chips_held_end", "chips held under lease (markets)"),
    (
        "order_chips_open_end",
        "domestic chips ordered, not yet arrived",
    ),
    (
        "lease_need_chips_end",
        "unmet need found at the last review",
    ),
];

/// A line style without markers.
fn line(color: RGBColor, dash: Dash, width: f64) -> Style {
    Style {
        color,
        dash,
        marker: Marker::None,
        width,
    }
}

/// The firm metrics the capacity-channels chart draws: (metric, label).
const CHANNEL_METRICS: [(&str, &str); 6] = [
    ("lease_chips_signed", "leased abroad (signed)"),
    ("order_chips_placed", "domestic chips ordered"),
    ("import_chips_placed", "imported under licence"),
    ("grey_chips_placed", "bought on the grey market"),
    ("cloud_chips_reserved", "reserved at domestic clouds"),
    ("grey_chips_seized", "smuggled chips seized"),
];

/// A country name for an ISO code, for labels; the code itself when unknown.
fn country(code: &str) -> Option<&'static str> {
    Some(match code {
        "AE" => "UAE",
        "CN" => "China",
        "HK" => "Hong Kong",
        "ID" => "Indonesia",
        "IN" => "India",
        "JP" => "Japan",
        "KR" => "South Korea",
        "MY" => "Malaysia",
        "QA" => "Qatar",
        "SA" => "Saudi Arabia",
        "SG" => "Singapore",
        "TH" => "Thailand",
        "TW" => "Taiwan",
        "US" => "United States",
        "VN" => "Vietnam",
        _ => return None,
    })
}

fn jurisdiction_label(code: &str) -> String {
    match country(code) {
        Some(name) => format!("{name} ({code})"),
        None => code.to_string(),
    }
}

fn parse_date(run: &RunView, field: &str, value: &str) -> Result<NaiveDate, ChartError> {
    value.parse().map_err(|_| ChartError::BadDate {
        scenario: run.run.clone(),
        field: field.to_string(),
        value: value.to_string(),
    })
}

/// How a summary series is read onto a chart's y axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Read {
    /// As summarised, times a factor: stocks (chips online, backlog at period end), ratios and
    /// times.
    Level(f64),
    /// A flow summed over each period (compute, tokens, spend, energy), divided by the period's
    /// length in days: a partial first or last period, or a short month, then draws at the same
    /// height as a full one at the same daily rate instead of reading as a drop.
    PerDay,
}

/// The y title of compute drawn as a rate. A PFLOP-day per day is 1 PFLOP/s sustained; PFLOP/s is
/// the unit cluster capacity is quoted in (one H100 peaks near 1 PFLOP/s dense BF16), so the axis
/// reads as effective capacity kept busy, which "PFLOP-days per day" does not.
pub(super) const COMPUTE_RATE: &str = "PFLOP/s (average over the period)";

/// The note every chart of flows carries: why they are rates.
const RATE_NOTE: &str = "Flows are drawn as daily rates (the period's total divided by its days), \
     so partial first and last periods and short months do not read as drops.";

/// The unit of compute rates, on the charts that draw them.
const COMPUTE_NOTE: &str =
    "Compute in PFLOP/s sustained: 1 PFLOP/s for a day is 1 PFLOP-day (8.64e19 FLOP).";

/// Each period's length in days: from its first day to the next period's, the last to the day
/// after the manifest's end date (inclusive). The first and last periods may be partial.
pub(super) fn period_days(run: &RunView) -> Result<Vec<f64>, ChartError> {
    let end = parse_date(run, "end_date", &run.manifest.end_date)?;
    let stop = end.checked_add_days(Days::new(1)).unwrap_or(end);
    Ok((0..run.periods.len())
        .map(|i| {
            let next = run.periods.get(i + 1).copied().unwrap_or(stop);
            (next - run.periods[i]).num_days() as f64
        })
        .collect())
}

/// Which groups a split chart shows: (group kind, group, label, style when runs are not compared).
type GroupSel = (&'static str, String, String, Style);

struct Ctx<'a> {
    runs: &'a [RunView],
    /// Legend names: the scenario names, made unique.
    names: Vec<String>,
    /// Each run's period spans on the shared time axis.
    spans: Vec<Vec<(f64, f64)>>,
    /// Each run's period lengths in days ([`period_days`]).
    days_of: Vec<Vec<f64>>,
    start: NaiveDate,
    days: f64,
    jurisdictions: Vec<String>,
    marks: Vec<Mark>,
    key: Vec<KeyItem>,
    key_note: Option<String>,
    subtitle: String,
    /// The subtitle of the heatmap, which has cells, not lines.
    subtitle_cells: String,
    /// The subtitle of the stacked chart.
    subtitle_layers: String,
    source: String,
}

impl<'a> Ctx<'a> {
    fn new(runs: &'a [RunView]) -> Result<Ctx<'a>, ChartError> {
        let first = runs.first().ok_or(ChartError::NoRuns)?;
        for r in runs {
            if r.manifest.period != first.manifest.period {
                return Err(ChartError::MixedPeriods {
                    first: first.run.clone(),
                    first_period: first.manifest.period.clone(),
                    other: r.run.clone(),
                    other_period: r.manifest.period.clone(),
                });
            }
            if r.periods.is_empty() {
                return Err(ChartError::NoPeriods {
                    scenario: r.run.clone(),
                });
            }
        }
        // The shared time axis: from the earliest start to the day after the latest end.
        let mut start = NaiveDate::MAX;
        let mut stop = NaiveDate::MIN;
        let mut stops = Vec::new();
        for r in runs {
            let s = parse_date(r, "start_date", &r.manifest.start_date)?;
            let e = parse_date(r, "end_date", &r.manifest.end_date)?;
            let e = e.checked_add_days(Days::new(1)).unwrap_or(e);
            let e = e.max(*r.periods.last().expect("checked non-empty"));
            start = start.min(s).min(r.periods[0]);
            stop = stop.max(e);
            stops.push(e);
        }
        let day = |d: NaiveDate| (d - start).num_days() as f64;
        let spans = runs
            .iter()
            .zip(&stops)
            .map(|(r, &stop)| {
                (0..r.periods.len())
                    .map(|i| {
                        let end = r.periods.get(i + 1).copied().unwrap_or(stop);
                        (day(r.periods[i]), day(end))
                    })
                    .collect()
            })
            .collect();

        let days_of = runs.iter().map(period_days).collect::<Result<_, _>>()?;

        // The runs' names as comparison.csv gives them (`name`, `name-2` for a repeat).
        let names = crate::report::compare::labels(runs);

        let mut jurisdictions: Vec<String> = runs.iter().flat_map(|r| r.jurisdictions()).collect();
        jurisdictions.sort();
        jurisdictions.dedup();

        let (marks, key, key_note) = timeline(runs, &names, start, stop)?;

        let reps: Vec<u64> = runs.iter().map(|r| r.manifest.replications).collect();
        let any_band = runs.iter().any(|r| {
            r.series
                .values()
                .flatten()
                .flatten()
                .any(|b| b.n > 1 || b.p05 != b.p95)
        });
        let who = if runs.len() == 1 {
            format!("Run {}", names[0])
        } else {
            names.join(" vs ")
        };
        let mean_of = if reps.iter().all(|&n| n == 1) {
            None
        } else if reps.iter().all(|&n| n == reps[0]) {
            let each = if runs.len() > 1 { " each" } else { "" };
            Some(format!("mean of {} replications{each}", reps[0]))
        } else {
            let list: Vec<String> = names
                .iter()
                .zip(&reps)
                .map(|(n, r)| format!("{n} {r}"))
                .collect();
            Some(format!("mean over replications ({})", list.join(", ")))
        };
        let subtitle = match &mean_of {
            None => format!("{who}. One replication (no uncertainty band)."),
            Some(m) if any_band => {
                format!("{who}. Lines: {m}; shaded: 5th to 95th percentile across replications.")
            }
            Some(m) => format!("{who}. Lines: {m}."),
        };
        let subtitle_layers = match &mean_of {
            None => format!("{who}. One replication (no uncertainty band)."),
            Some(m) if any_band => {
                format!("{who}. Layers: {m}; hatched: 5th to 95th percentile of each part.")
            }
            Some(m) => format!("{who}. Layers: {m}."),
        };
        let subtitle_cells = match &mean_of {
            None => format!("{who}. One replication."),
            Some(m) => format!("{who}. Cells: {m}."),
        };
        let source = format!(
            "Source: capsim {} simulation; {}",
            first.manifest.capsim_version,
            runs.iter()
                .map(|r| format!(
                    "{} (seed {}, {} replication{}, {} to {})",
                    if r.run == r.manifest.scenario {
                        r.run.clone()
                    } else {
                        format!("{}, scenario {}", r.run, r.manifest.scenario)
                    },
                    r.manifest.seed,
                    r.manifest.replications,
                    if r.manifest.replications == 1 {
                        ""
                    } else {
                        "s"
                    },
                    r.manifest.start_date,
                    r.manifest.end_date
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
        Ok(Ctx {
            runs,
            names,
            spans,
            days_of,
            start,
            days: day(stop),
            jurisdictions,
            marks,
            key,
            key_note,
            subtitle,
            subtitle_cells,
            subtitle_layers,
            source,
        })
    }

    fn compare(&self) -> bool {
        self.runs.len() > 1
    }

    /// A run's series as points, read as `read` says (a level, or a flow per day).
    pub(super) fn points(
        &self,
        r: usize,
        kind: &str,
        group: &str,
        metric: &str,
        read: Read,
    ) -> Option<Vec<Pt>> {
        let s = self.runs[r].series(kind, group, metric)?;
        Some(
            s.iter()
                .zip(&self.spans[r])
                .zip(&self.days_of[r])
                .map(|((b, &(x0, x1)), &days)| {
                    let k = match read {
                        Read::Level(k) => Some(k),
                        // A period of no days has no rate (only a damaged manifest makes one).
                        Read::PerDay => (days > 0.0).then(|| 1.0 / days),
                    };
                    Pt {
                        x0,
                        x1,
                        v: (*b).zip(k).map(|(b, k)| Val {
                            mean: b.mean * k,
                            lo: b.p05 * k,
                            hi: b.p95 * k,
                        }),
                    }
                })
                .collect(),
        )
    }

    /// Whether a run's series has an uncertainty band worth drawing.
    fn banded(&self, r: usize, kind: &str, group: &str, metric: &str) -> bool {
        self.runs[r]
            .series(kind, group, metric)
            .is_some_and(|s| s.iter().flatten().any(|b: &Band| b.n > 1 || b.p05 != b.p95))
    }

    fn spec(&self, name: &'static str, title: &str) -> Spec {
        Spec {
            name,
            title: title.to_string(),
            subtitle: self.subtitle.clone(),
            x_start: self.start,
            x_days: self.days,
            panels: Vec::new(),
            cols: 1,
            shared_y: false,
            legend: Vec::new(),
            marks: self.marks.clone(),
            key: self.key.clone(),
            notes: self.key_note.iter().cloned().collect(),
            source: self.source.clone(),
        }
    }

    /// Legend lines for the runs, as overlaid.
    fn run_legend(&self, banded: bool) -> Vec<LegendItem> {
        let mut v = vec![LegendItem::Heading("Run".into())];
        for (i, n) in self.names.iter().enumerate() {
            v.push(LegendItem::Line {
                label: n.clone(),
                style: run_style(i),
                band: banded,
            });
        }
        v
    }

    fn finish_legend(&self, spec: &mut Spec) {
        let banded = |stacked: bool| {
            spec.panels.iter().any(|p| match &p.body {
                Body::Lines(s) => s.iter().any(|s| s.band && s.stacked == stacked),
                Body::Heatmap(_) => false,
            })
        };
        if banded(false) {
            spec.legend.push(LegendItem::Band(
                "5th to 95th percentile across replications".into(),
            ));
        }
        if banded(true) {
            spec.legend.push(LegendItem::HatchBand(
                "5th to 95th percentile of each part, on its layer".into(),
            ));
        }
        if !spec.marks.is_empty() {
            spec.legend.push(LegendItem::Policy(
                "policy change (numbered in the key below)".into(),
            ));
        }
    }

    fn jurisdiction_style(&self, j: &str) -> Style {
        let i = self.jurisdictions.iter().position(|x| x == j).unwrap_or(0);
        series_style(i)
    }

    fn jurisdiction_groups(&self, with_total: bool) -> Vec<GroupSel> {
        let mut v = Vec::new();
        if with_total {
            v.push((
                "all",
                "all".to_string(),
                "All sites".to_string(),
                total_style(),
            ));
        }
        for j in &self.jurisdictions {
            v.push((
                "jurisdiction",
                j.clone(),
                jurisdiction_label(j),
                self.jurisdiction_style(j),
            ));
        }
        v
    }

    /// A metric split by groups: one panel with a curve per group for a single run; a panel per
    /// group with a curve per run when runs are compared. Groups that are zero (or empty, on a log
    /// axis) throughout in every run are left out and named in a note.
    #[allow(clippy::too_many_arguments)]
    fn split(
        &self,
        spec: &mut Spec,
        groups: Vec<GroupSel>,
        metric: &str,
        read: Read,
        unit: Unit,
        y_title: &str,
        log: bool,
        empty_note: &str,
    ) {
        let mut shown = Vec::new();
        let mut hidden = Vec::new();
        for g in groups {
            let has = (0..self.runs.len()).any(|r| {
                self.points(r, g.0, &g.1, metric, read).is_some_and(|p| {
                    p.iter()
                        .flat_map(|p| p.v)
                        .any(|v| v.mean != 0.0 || v.hi != 0.0)
                })
            });
            if has {
                shown.push(g);
            } else if g.0 != "all" {
                hidden.push(g.2.clone());
            }
        }
        let mut banded_any = false;
        if !self.compare() {
            // The total gets a panel of its own: drawn with its parts, its band would cover them.
            let mut total = Vec::new();
            let mut parts = Vec::new();
            spec.legend.push(LegendItem::Heading("Where".into()));
            for (kind, group, label, style) in &shown {
                let band = self.banded(0, kind, group, metric);
                let s = Series {
                    style: *style,
                    points: self
                        .points(0, kind, group, metric, read)
                        .unwrap_or_default(),
                    band,
                    stacked: false,
                    key: SeriesRef::of(kind, group, metric, read),
                };
                if *kind == "all" {
                    total.push(s);
                } else {
                    parts.push(s);
                }
                spec.legend.push(LegendItem::Line {
                    label: label.clone(),
                    style: *style,
                    band,
                });
            }
            let two = !total.is_empty() && !parts.is_empty();
            for (title, series) in [("All sites", total), ("By jurisdiction", parts)] {
                if !series.is_empty() {
                    spec.panels.push(Panel {
                        title: two.then(|| title.to_string()),
                        y_title: y_title.to_string(),
                        unit,
                        log,
                        body: Body::Lines(series),
                        observed: Vec::new(),
                    });
                }
            }
        } else {
            for (kind, group, label, _) in &shown {
                let mut series = Vec::new();
                for r in 0..self.runs.len() {
                    let band = self.banded(r, kind, group, metric);
                    banded_any |= band;
                    series.push(Series {
                        style: run_style(r),
                        points: self
                            .points(r, kind, group, metric, read)
                            .unwrap_or_default(),
                        band,
                        stacked: false,
                        key: SeriesRef::of(kind, group, metric, read),
                    });
                }
                spec.panels.push(Panel {
                    title: Some(label.clone()),
                    y_title: y_title.to_string(),
                    unit,
                    log,
                    body: Body::Lines(series),
                    observed: Vec::new(),
                });
            }
            spec.legend = self.run_legend(banded_any);
            spec.cols = grid_cols(spec.panels.len());
        }
        if !hidden.is_empty() {
            spec.notes.insert(
                0,
                format!("Not shown ({empty_note}): {}.", hidden.join(", ")),
            );
        }
        if spec.panels.is_empty() {
            spec.panels.push(Panel {
                title: None,
                y_title: y_title.to_string(),
                unit,
                log,
                body: Body::Lines(Vec::new()),
                observed: Vec::new(),
            });
        }
    }

    fn throughput_compute(&self) -> Spec {
        let mut spec = self.spec(
            "throughput-compute",
            "Useful compute delivered, by jurisdiction of the data centre, and compute lost to \
             failures",
        );
        self.split(
            &mut spec,
            self.jurisdiction_groups(true),
            "compute_pflop_days",
            Read::PerDay,
            Unit::Plain,
            COMPUTE_RATE,
            false,
            "no compute in any period",
        );
        for p in &mut spec.panels {
            if let Some(t) = &mut p.title {
                *t = format!("Useful compute: {t}");
            }
        }
        self.lost_panel(&mut spec);
        spec.notes.insert(0, COMPUTE_NOTE.into());
        spec.notes.insert(0, RATE_NOTE.into());
        spec.notes.insert(
            0,
            "Useful compute: training and fine-tuning work kept (peak BF16 x MFU x productive \
             chip-time), net of the work failures rolled back to the last checkpoint, which is \
             drawn apart as lost."
                .into(),
        );
        self.finish_legend(&mut spec);
        spec
    }

    /// The panel of compute lost to failures (all sites, a curve per run), titled with the share
    /// of all compute done that was lost (runs compared: the shares in a note); a note instead
    /// where no run lost any.
    fn lost_panel(&self, spec: &mut Spec) {
        let metric = "lost_pflop_days";
        let style = |r: usize| {
            if self.compare() {
                run_style(r)
            } else {
                // Black like the total it is lost from, dotted: the jurisdictions' colours
                // stay theirs.
                Style {
                    color: okabe_ito::BLACK,
                    dash: Dash::Dotted,
                    marker: Marker::Cross,
                    width: 2.6,
                }
            }
        };
        let mut series = Vec::new();
        let mut shares = Vec::new();
        for r in 0..self.runs.len() {
            let total = |m: &str| -> f64 {
                self.runs[r]
                    .series("all", "all", m)
                    .map_or(0.0, |s| s.iter().flatten().map(|b| b.mean).sum())
            };
            let (lost, kept) = (total(metric), total("compute_pflop_days"));
            if lost > 0.0 {
                let share = Unit::Percent.format(lost / (lost + kept));
                shares.push(if self.compare() {
                    format!("{} {share}", self.names[r])
                } else {
                    share
                });
            }
            let band = self.banded(r, "all", "all", metric);
            series.push(Series {
                style: style(r),
                points: self
                    .points(r, "all", "all", metric, Read::PerDay)
                    .unwrap_or_default(),
                band,
                stacked: false,
                key: SeriesRef::of("all", "all", metric, Read::PerDay),
            });
        }
        if shares.is_empty() {
            spec.notes.insert(
                0,
                "No compute was lost to failures in any period (no panel drawn).".into(),
            );
            return;
        }
        if !self.compare() {
            spec.legend.push(LegendItem::Heading("Lost".into()));
            spec.legend.push(LegendItem::Line {
                label: "lost to failures, all sites".into(),
                style: style(0),
                band: series[0].band,
            });
        }
        // Runs compared: the shares, each named by its run, would not fit in a panel's title.
        let title = if self.compare() {
            spec.notes.insert(
                0,
                format!(
                    "Lost to failures, as a share of all compute done: {}.",
                    shares.join(", ")
                ),
            );
            "Lost to failures, all sites".to_string()
        } else {
            format!(
                "Lost to failures, all sites ({} of all compute done)",
                shares[0]
            )
        };
        spec.panels.push(Panel {
            title: Some(title),
            y_title: COMPUTE_RATE.into(),
            unit: Unit::Plain,
            log: false,
            body: Body::Lines(series),
            observed: Vec::new(),
        });
        // A lone useful-compute panel had no title; beside the lost one it needs one.
        if let [first, _] = spec.panels.as_mut_slice() {
            first.title.get_or_insert_with(|| "Useful compute".into());
        }
        if self.compare() {
            spec.cols = grid_cols(spec.panels.len());
        }
    }

    fn throughput_tokens(&self) -> Spec {
        let mut spec = self.spec(
            "throughput-tokens",
            "Inference tokens served against tokens demanded, all firms",
        );
        let y_title = "tokens per day".to_string();
        let get = |r: usize, m: &str| {
            self.points(r, "firms", "all", m, Read::PerDay)
                .unwrap_or_default()
        };
        let mut tokens = Vec::new();
        if !self.compare() {
            let served = Style {
                width: 4.0,
                ..series_style(0)
            };
            let demanded = Style {
                color: okabe_ito::BLACK,
                dash: Dash::Dashed,
                marker: Marker::None,
                width: 2.0,
            };
            for (metric, label, style) in [
                ("tokens_served", "served", served),
                ("tokens_demanded", "demanded", demanded),
            ] {
                let band = self.banded(0, "firms", "all", metric);
                tokens.push(Series {
                    style,
                    points: get(0, metric),
                    band,
                    stacked: false,
                    key: SeriesRef::of("firms", "all", metric, Read::PerDay),
                });
                spec.legend.push(LegendItem::Line {
                    label: format!("tokens {label}"),
                    style,
                    band,
                });
            }
        } else {
            let demands: Vec<Vec<Pt>> = (0..self.runs.len())
                .map(|r| get(r, "tokens_demanded"))
                .collect();
            let same_demand = demands.windows(2).all(|w| w[0] == w[1]);
            spec.legend = self.run_legend(false);
            for r in 0..self.runs.len() {
                let band = self.banded(r, "firms", "all", "tokens_served");
                tokens.push(Series {
                    style: run_style(r),
                    points: get(r, "tokens_served"),
                    band,
                    stacked: false,
                    key: SeriesRef::of("firms", "all", "tokens_served", Read::PerDay),
                });
                if let LegendItem::Line { band: b, label, .. } = &mut spec.legend[r + 1] {
                    *b = band;
                    *label = format!("{label}: served");
                }
            }
            let thin = |style: Style| Style {
                dash: Dash::Dotted,
                marker: Marker::None,
                width: 2.0,
                ..style
            };
            if same_demand {
                let style = thin(run_style(0));
                tokens.push(Series {
                    style,
                    points: demands[0].clone(),
                    band: false,
                    stacked: false,
                    key: SeriesRef::of("firms", "all", "tokens_demanded", Read::PerDay),
                });
                spec.legend.push(LegendItem::Line {
                    label: "demanded (same in every scenario)".into(),
                    style,
                    band: false,
                });
            } else {
                for (r, d) in demands.into_iter().enumerate() {
                    let style = thin(run_style(r));
                    tokens.push(Series {
                        style,
                        points: d,
                        band: false,
                        stacked: false,
                        key: SeriesRef::of("firms", "all", "tokens_demanded", Read::PerDay),
                    });
                    spec.legend.push(LegendItem::Line {
                        label: format!("{}: demanded", self.names[r]),
                        style,
                        band: false,
                    });
                }
            }
        }
        spec.panels.push(Panel {
            title: Some("Tokens served and demanded".into()),
            y_title,
            unit: Unit::Plain,
            log: false,
            body: Body::Lines(tokens),
            observed: Vec::new(),
        });
        // Unserved share from the means: the mean of a difference is the difference of the
        // means, but its percentiles are not in the summary, so this curve has no band.
        let mut unserved = Vec::new();
        for r in 0..self.runs.len() {
            let d = get(r, "tokens_demanded");
            let s = get(r, "tokens_served");
            let points = d
                .iter()
                .zip(&s)
                .map(|(d, s)| Pt {
                    v: match (d.v, s.v) {
                        (Some(d), Some(s)) if d.mean > 0.0 => {
                            let u = ((d.mean - s.mean) / d.mean).max(0.0);
                            Some(Val {
                                mean: u,
                                lo: u,
                                hi: u,
                            })
                        }
                        _ => None,
                    },
                    ..*d
                })
                .collect();
            let style = if self.compare() {
                run_style(r)
            } else {
                series_style(1)
            };
            unserved.push(Series {
                style,
                points,
                band: false,
                stacked: false,
                key: None,
            });
            if !self.compare() {
                spec.legend.push(LegendItem::Line {
                    label: "unserved share".into(),
                    style,
                    band: false,
                });
            }
        }
        spec.panels.push(Panel {
            title: Some(
                "Unserved demand, share of tokens demanded (from the means; no band)".into(),
            ),
            y_title: "% of demand".into(),
            unit: Unit::Percent,
            log: false,
            body: Body::Lines(unserved),
            observed: Vec::new(),
        });
        self.finish_legend(&mut spec);
        spec
    }

    fn cost_spend(&self) -> Spec {
        let mut spec = self.spec(
            "cost-spend",
            "What the sites cost, and who paid: firms at home, firms abroad, or no one",
        );
        let y_title = "USD per day";
        // (group kind, group, metric, label, colour): the parts of sites' cost_usd, bottom up.
        let parts = [
            (
                "firms",
                "all",
                "cost_home_usd",
                "paid by firms at home",
                okabe_ito::BLUE,
            ),
            (
                "firms",
                "all",
                "cost_abroad_usd",
                "paid by firms abroad",
                okabe_ito::ORANGE,
            ),
            (
                "all",
                "all",
                "cost_unpaid_usd",
                "idle, paid by no firm",
                okabe_ito::SKY_BLUE,
            ),
        ];
        let total_line = Style {
            color: okabe_ito::BLACK,
            dash: Dash::Dashed,
            marker: Marker::None,
            width: 2.0,
        };
        if !self.compare() {
            let mut series = Vec::new();
            spec.legend
                .push(LegendItem::Heading("All sites, stacked".into()));
            // Top layer first, as the stack reads.
            for (_, _, _, label, color) in parts.iter().rev() {
                spec.legend.push(LegendItem::Swatch {
                    label: label.to_string(),
                    color: *color,
                });
            }
            for (kind, group, metric, _, color) in parts {
                series.push(Series {
                    style: Style {
                        color,
                        dash: Dash::Solid,
                        marker: Marker::None,
                        width: 1.6,
                    },
                    points: self
                        .points(0, kind, group, metric, Read::PerDay)
                        .unwrap_or_default(),
                    band: self.banded(0, kind, group, metric),
                    stacked: true,
                    key: SeriesRef::of(kind, group, metric, Read::PerDay),
                });
            }
            // The sites' own total over the stack: where the parts add up, it runs along the top.
            series.push(Series {
                style: total_line,
                points: self
                    .points(0, "all", "all", "cost_usd", Read::PerDay)
                    .unwrap_or_default(),
                band: false,
                stacked: false,
                key: SeriesRef::of("all", "all", "cost_usd", Read::PerDay),
            });
            spec.legend.push(LegendItem::Line {
                label: "what the sites cost (total)".into(),
                style: total_line,
                band: false,
            });
            spec.panels.push(Panel {
                title: Some("All sites: what they cost, by who paid".into()),
                y_title: y_title.into(),
                unit: Unit::Usd,
                log: false,
                body: Body::Lines(series),
                observed: Vec::new(),
            });
            let before = spec.panels.len();
            self.split(
                &mut spec,
                self.jurisdiction_groups(false),
                "cost_usd",
                Read::PerDay,
                Unit::Usd,
                y_title,
                false,
                "no cost in any period",
            );
            if let Some(p) = spec.panels.get_mut(before) {
                p.title = Some("What the sites cost, by jurisdiction of the data centre".into());
            }
            spec.subtitle = self.subtitle_layers.clone();
            let hatched = parts.iter().any(|(k, g, m, _, _)| self.banded(0, k, g, m));
            spec.notes.insert(
                0,
                format!(
                    "Top panel: layers stack the means{}; the dashed line is the sites' total \
                     cost, which the layers add up to. Idle, paid by no firm: domestic clouds' \
                     chips no firm rented.",
                    if hatched {
                        " (hatching: each part's own 5th to 95th percentile)"
                    } else {
                        ""
                    }
                ),
            );
        } else {
            let mut banded_any = false;
            let mut panel = |kind: &str, group: &str, metric: &str, title: &str| {
                let mut series = Vec::new();
                for r in 0..self.runs.len() {
                    let band = self.banded(r, kind, group, metric);
                    banded_any |= band;
                    series.push(Series {
                        style: run_style(r),
                        points: self
                            .points(r, kind, group, metric, Read::PerDay)
                            .unwrap_or_default(),
                        band,
                        stacked: false,
                        key: SeriesRef::of(kind, group, metric, Read::PerDay),
                    });
                }
                spec.panels.push(Panel {
                    title: Some(title.into()),
                    y_title: y_title.into(),
                    unit: Unit::Usd,
                    log: false,
                    body: Body::Lines(series),
                    observed: Vec::new(),
                });
            };
            panel("all", "all", "cost_usd", "What the sites cost (total)");
            for (kind, group, metric, label, _) in parts {
                let mut title = label.to_string();
                title[..1].make_ascii_uppercase();
                panel(kind, group, metric, &title);
            }
            spec.legend = self.run_legend(banded_any);
            spec.cols = 2;
            spec.notes.insert(
                0,
                "The three parts add up to the total: what firms paid at home and abroad (their \
                 own chips and contracts busy or idle included), and idle capacity no firm paid."
                    .into(),
            );
        }
        spec.notes.insert(0, RATE_NOTE.into());
        spec.notes.insert(
            0,
            "Sites' cost, rule fees included: on-demand sites, busy chip-hours x price; contracts, \
             every online chip-hour while the contract runs; owned chips, amortised capex on every \
             online chip plus electricity (idle chips at their idle draw). Home and abroad are each \
             firm's own (its headquarters' jurisdiction)."
                .into(),
        );
        self.finish_legend(&mut spec);
        spec
    }

    fn cost_unit(&self) -> Spec {
        let mut spec = self.spec(
            "cost-unit",
            "Unit cost: what firms spent per unit of work, all firms",
        );
        let mut banded_any = false;
        for (metric, title, y_title) in [
            (
                "usd_per_pflop_day",
                "Training: USD per useful PFLOP-day",
                "USD per PFLOP-day",
            ),
            (
                "usd_per_million_tokens",
                "Inference: USD per million tokens served",
                "USD per million tokens",
            ),
        ] {
            let mut series = Vec::new();
            for r in 0..self.runs.len() {
                let band = self.banded(r, "firms", "all", metric);
                banded_any |= band;
                series.push(Series {
                    style: run_style(r),
                    points: self
                        .points(r, "firms", "all", metric, Read::Level(1.0))
                        .unwrap_or_default(),
                    band,
                    stacked: false,
                    key: SeriesRef::of("firms", "all", metric, Read::Level(1.0)),
                });
            }
            spec.panels.push(Panel {
                title: Some(title.into()),
                y_title: y_title.into(),
                unit: Unit::Usd,
                log: false,
                body: Body::Lines(series),
                observed: Vec::new(),
            });
        }
        spec.legend = self.run_legend(banded_any);
        spec.notes.insert(
            0,
            "What firms spent (on-demand and cloud chip-hours, contracts, their own chips' capex \
             and electricity) on training and fine-tuning per useful PFLOP-day, and on inference \
             per million tokens served; spend on idle capacity is charged to each pro rata to the \
             worth of the chip-hours it used."
                .into(),
        );
        self.finish_legend(&mut spec);
        spec
    }

    fn compute_share(&self) -> Spec {
        let mut spec = self.spec(
            "compute-share",
            "Where each firm's training compute runs: at home or abroad",
        );
        let y_title = COMPUTE_RATE.to_string();
        let mut firms: Vec<(String, String)> = Vec::new();
        for r in self.runs {
            for f in &r.manifest.firms {
                if !firms.iter().any(|(n, _)| n == &f.name) {
                    firms.push((f.name.clone(), f.headquarters.clone()));
                }
            }
        }
        let home_style = Style {
            color: okabe_ito::BLUE,
            dash: Dash::Solid,
            marker: Marker::None,
            width: 1.6,
        };
        let abroad_style = Style {
            color: okabe_ito::ORANGE,
            ..home_style
        };
        spec.shared_y = true;
        if !self.compare() {
            let mut banded_any = false;
            for (firm, hq) in &firms {
                let mut series = Vec::new();
                for (metric, style) in [
                    ("compute_home_pflop_days", home_style),
                    ("compute_abroad_pflop_days", abroad_style),
                ] {
                    let band = self.banded(0, "firm", firm, metric);
                    banded_any |= band;
                    series.push(Series {
                        style,
                        points: self
                            .points(0, "firm", firm, metric, Read::PerDay)
                            .unwrap_or_default(),
                        band,
                        stacked: true,
                        key: SeriesRef::of("firm", firm, metric, Read::PerDay),
                    });
                }
                spec.panels.push(Panel {
                    title: Some(format!("{firm} (home: {hq})")),
                    y_title: y_title.clone(),
                    unit: Unit::Plain,
                    log: false,
                    body: Body::Lines(series),
                    observed: Vec::new(),
                });
            }
            spec.legend = vec![
                LegendItem::Heading("Stacked".into()),
                LegendItem::Swatch {
                    label: "abroad".into(),
                    color: abroad_style.color,
                },
                LegendItem::Swatch {
                    label: "at home (headquarters)".into(),
                    color: home_style.color,
                },
            ];
            spec.subtitle = self.subtitle_layers.clone();
            if banded_any {
                spec.notes.insert(
                    0,
                    "Layers stack the means, at home below and abroad on top. The hatching \
                     around each layer's top edge spans that part's own 5th to 95th percentile \
                     (percentiles of the sum are not in the summary)."
                        .into(),
                );
            }
            spec.cols = grid_cols(firms.len());
        } else {
            let names: Vec<String> = firms.iter().map(|(n, _)| n.clone()).collect();
            let metrics = [
                ("compute_abroad_pflop_days", "abroad"),
                ("compute_home_pflop_days", "at home"),
            ];
            let banded_any =
                self.overlaid_firm_panels(&mut spec, &names, &metrics, Read::PerDay, &y_title);
            spec.legend = self.run_metric_legend(banded_any, "Compute", &metrics);
            spec.cols = grid_cols(firms.len());
        }
        if firms.len() > 1 {
            // Firms differ by orders of magnitude: a shared scale would flatten all but the
            // largest.
            spec.shared_y = false;
            spec.notes
                .push("Each firm's panel has its own scale.".into());
        }
        if firms.is_empty() {
            spec.panels.push(Panel {
                title: None,
                y_title,
                unit: Unit::Plain,
                log: false,
                body: Body::Lines(Vec::new()),
                observed: Vec::new(),
            });
        }
        self.finish_legend(&mut spec);
        spec
    }

    /// For a comparison: a panel per firm, titled with its name, each with every run's series of
    /// every metric overlaid: a run's colour (as [`run_style`]), a metric's dash
    /// ([`METRIC_DASHES`]); whether any series has a band. Legend: [`Self::run_metric_legend`].
    fn overlaid_firm_panels(
        &self,
        spec: &mut Spec,
        firms: &[String],
        metrics: &[(&str, &str)],
        read: Read,
        y_title: &str,
    ) -> bool {
        let mut banded_any = false;
        for firm in firms {
            let mut series = Vec::new();
            for (m, (metric, _)) in metrics.iter().enumerate() {
                for r in 0..self.runs.len() {
                    let band = self.banded(r, "firm", firm, metric);
                    banded_any |= band;
                    series.push(Series {
                        style: Style {
                            dash: METRIC_DASHES[m % METRIC_DASHES.len()],
                            width: run_width(r),
                            ..run_style(r)
                        },
                        points: self
                            .points(r, "firm", firm, metric, read)
                            .unwrap_or_default(),
                        band,
                        stacked: false,
                        key: SeriesRef::of("firm", firm, metric, read),
                    });
                }
            }
            spec.panels.push(Panel {
                title: Some(firm.clone()),
                y_title: y_title.to_string(),
                unit: Unit::Plain,
                log: false,
                body: Body::Lines(series),
                observed: Vec::new(),
            });
        }
        banded_any
    }

    /// The legend of [`Self::overlaid_firm_panels`]: each run's colour, then each metric's dash
    /// (in black) under `heading`.
    fn run_metric_legend(
        &self,
        banded: bool,
        heading: &str,
        metrics: &[(&str, &str)],
    ) -> Vec<LegendItem> {
        let mut v = vec![LegendItem::Heading("Run".into())];
        for (i, n) in self.names.iter().enumerate() {
            v.push(LegendItem::Line {
                label: n.clone(),
                style: Style {
                    dash: Dash::Solid,
                    width: run_width(i),
                    ..run_style(i)
                },
                band: false,
            });
        }
        v.push(LegendItem::Heading(heading.into()));
        for (m, (_, label)) in metrics.iter().enumerate() {
            v.push(LegendItem::Line {
                label: (*label).into(),
                style: line(
                    okabe_ito::BLACK,
                    METRIC_DASHES[m % METRIC_DASHES.len()],
                    1.6,
                ),
                band: banded,
            });
        }
        v
    }

    /// What firms' planning decided, per firm that leased or ordered: chips held under lease,
    /// domestic orders on their way, and the unmet need its reviews found, at each period's end.
    /// None when no firm of any run did either.
    fn capacity_decisions(&self) -> Option<Spec> {
        let styles = [
            line(okabe_ito::ORANGE, Dash::Solid, 1.8),
            line(okabe_ito::BLUE, Dash::Solid, 1.8),
            line(okabe_ito::REDDISH_PURPLE, Dash::Dotted, 1.4),
        ];
        self.per_firm_chart(
            "capacity-decisions",
            "Capacity decided in the run: chips leased abroad and ordered at home, per firm",
            &DECISION_METRICS,
            &styles,
            2,
            Read::Level(1.0),
            "chips (at the period's end)",
            "At each period's end",
            "Leases are signed in offshore markets and orders placed from domestic output at each \
             firm's review when its work waits or a rule refused chips it had planned for \
             (decisions.csv lists every option weighed).",
        )
    }

    /// Capacity acquired by channel, per firm that acquired any: chips leased, ordered from
    /// domestic output, imported under licence, bought on the grey market, reserved at domestic
    /// clouds, and seized on the way,
    /// as daily rates over each period. None when no firm of any run acquired any.
    fn capacity_channels(&self) -> Option<Spec> {
        let styles = [
            line(okabe_ito::ORANGE, Dash::Solid, 1.8),
            line(okabe_ito::BLUE, Dash::Solid, 1.8),
            line(okabe_ito::BLUISH_GREEN, Dash::Solid, 1.8),
            line(okabe_ito::VERMILLION, Dash::Solid, 1.8),
            line(okabe_ito::REDDISH_PURPLE, Dash::Solid, 1.8),
            line(okabe_ito::BLACK, Dash::Dotted, 1.4),
        ];
        self.per_firm_chart(
            "capacity-channels",
            "Capacity acquired by channel, per firm",
            &CHANNEL_METRICS,
            &styles,
            5,
            Read::PerDay,
            "chips a day (average over the period)",
            "Chips a day, by channel",
            "What each firm's reviews acquired, by channel, when it was decided (leases signed, \
             orders and purchases placed; they arrive after their lead times; domestic-cloud \
             blocks reserved, online at once), and smuggled chips seized on the way.",
        )
    }

    /// One panel per firm with any of the first `active` metrics above 0 in some run, each
    /// drawing `metrics` (one run), or, in a comparison, one panel per firm and metric of the
    /// first `active` with the runs overlaid. None when no firm qualifies.
    #[allow(clippy::too_many_arguments)]
    fn per_firm_chart(
        &self,
        name: &'static str,
        title: &str,
        metrics: &[(&str, &str)],
        styles: &[Style],
        active: usize,
        read: Read,
        y_title: &str,
        heading: &str,
        note: &str,
    ) -> Option<Spec> {
        let mut firms: Vec<String> = Vec::new();
        for r in 0..self.runs.len() {
            for f in &self.runs[r].manifest.firms {
                let any = metrics.iter().take(active).any(|(m, _)| {
                    self.points(r, "firm", &f.name, m, read).is_some_and(|pts| {
                        pts.iter()
                            .any(|p| p.v.is_some_and(|v| v.hi > 0.0 || v.mean > 0.0))
                    })
                });
                if any && !firms.contains(&f.name) {
                    firms.push(f.name.clone());
                }
            }
        }
        if firms.is_empty() {
            return None;
        }
        let mut left_out: Vec<&str> = Vec::new();
        for r in self.runs {
            for f in &r.manifest.firms {
                if !firms.contains(&f.name) && !left_out.contains(&f.name.as_str()) {
                    left_out.push(&f.name);
                }
            }
        }
        let mut spec = self.spec(name, title);
        let mut banded_any = false;
        if !self.compare() {
            for firm in &firms {
                let mut series = Vec::new();
                for ((metric, _), style) in metrics.iter().zip(styles) {
                    let band = self.banded(0, "firm", firm, metric);
                    banded_any |= band;
                    series.push(Series {
                        style: *style,
                        points: self
                            .points(0, "firm", firm, metric, read)
                            .unwrap_or_default(),
                        band,
                        stacked: false,
                        key: SeriesRef::of("firm", firm, metric, read),
                    });
                }
                spec.panels.push(Panel {
                    title: Some(firm.clone()),
                    y_title: y_title.into(),
                    unit: Unit::Plain,
                    log: false,
                    body: Body::Lines(series),
                    observed: Vec::new(),
                });
            }
            spec.legend = vec![LegendItem::Heading(heading.into())];
            for ((_, label), style) in metrics.iter().zip(styles) {
                spec.legend.push(LegendItem::Line {
                    label: (*label).into(),
                    style: *style,
                    band: banded_any,
                });
            }
            spec.cols = firms.len().clamp(1, 3);
        } else {
            banded_any =
                self.overlaid_firm_panels(&mut spec, &firms, &metrics[..active], read, y_title);
            spec.legend = self.run_metric_legend(banded_any, heading, &metrics[..active]);
            spec.cols = grid_cols(firms.len());
        }
        let mut note = note.to_string();
        if banded_any {
            note.push_str(" Lines: means across replications; bands: 5th to 95th percentile.");
        } else if self.runs.iter().any(|r| r.manifest.replications > 1) {
            note.push_str(" Lines: means across replications.");
        }
        if !left_out.is_empty() {
            note.push_str(&format!(
                " Not drawn, with none in any period: {}.",
                left_out.join(", ")
            ));
        }
        spec.notes.insert(0, note);
        if read == Read::PerDay {
            spec.notes.push(RATE_NOTE.into());
        }
        self.finish_legend(&mut spec);
        Some(spec)
    }

    fn sites(&self) -> Spec {
        let mut spec = self.spec(
            "sites",
            "Utilisation of each site: share of online chip-hours in use",
        );
        spec.subtitle = self.subtitle_cells.clone();
        let mut sites: Vec<(String, String, String)> = Vec::new();
        for r in self.runs {
            for s in &r.manifest.sites {
                if !sites.iter().any(|(n, _, _)| n == &s.name) {
                    sites.push((s.name.clone(), s.jurisdiction.clone(), s.chip.clone()));
                }
            }
        }
        // Each site's rows (one per run), and the sites left out: those with no chip online in any
        // period of any run.
        let mut groups: Vec<(&str, &str, &str, Vec<HeatCells>)> = Vec::new();
        let mut never_online = Vec::new();
        for (site, jur, chip) in &sites {
            let runs: Vec<HeatCells> = (0..self.runs.len())
                .map(
                    |r| match self.points(r, "site", site, "utilisation", Read::Level(1.0)) {
                        Some(p) => p
                            .iter()
                            .map(|p| (p.x0, p.x1, p.v.map(|v| v.mean)))
                            .collect(),
                        None => self.spans[r].iter().map(|&(a, b)| (a, b, None)).collect(),
                    },
                )
                .collect();
            if runs.iter().flatten().all(|c| c.2.is_none()) {
                never_online.push(site.as_str());
            } else {
                groups.push((site, jur, chip, runs));
            }
        }
        // At most SITE_ROWS rows a panel, in up to three panels side by side; a site's rows stay
        // in one panel. Where three panels are needed, labels are the sites' names alone.
        const SITE_ROWS: usize = 24;
        let per_site = self.runs.len().max(1);
        let wanted = (groups.len() * per_site).div_ceil(SITE_ROWS).clamp(1, 3);
        let sites_per_panel = groups.len().div_ceil(wanted).max(1);
        // The panels the sites fill (fewer than wanted where they do not divide evenly).
        let cols = groups.len().div_ceil(sites_per_panel).max(1);
        for chunk in groups.chunks(sites_per_panel) {
            let mut rows = Vec::new();
            for (site, jur, chip, runs) in chunk {
                for (r, cells) in runs.iter().enumerate() {
                    rows.push(HeatRow {
                        label: (r == 0).then(|| {
                            if cols < 3 {
                                format!("{site} ({jur}, {chip})")
                            } else {
                                site.to_string()
                            }
                        }),
                        // Three panels leave no room for the runs' names: their numbers.
                        sub: self.compare().then(|| {
                            if cols < 3 {
                                self.names[r].clone()
                            } else {
                                (r + 1).to_string()
                            }
                        }),
                        cells: cells.clone(),
                    });
                }
            }
            spec.panels.push(Panel {
                title: None,
                y_title: String::new(),
                unit: Unit::Percent,
                log: false,
                body: Body::Heatmap(rows),
                observed: Vec::new(),
            });
        }
        if spec.panels.is_empty() {
            spec.panels.push(Panel {
                title: None,
                y_title: String::new(),
                unit: Unit::Percent,
                log: false,
                body: Body::Heatmap(Vec::new()),
                observed: Vec::new(),
            });
        }
        spec.cols = spec.panels.len();
        spec.legend = vec![
            LegendItem::ColorBar {
                title: "Utilisation".into(),
            },
            LegendItem::Missing("no chips online".into()),
        ];
        let reps = self
            .runs
            .iter()
            .map(|r| r.manifest.replications)
            .max()
            .unwrap_or(1);
        let mut note = "Utilisation: busy chip-hours / online chip-hours in the period".to_string();
        if reps > 1 {
            note.push_str(", mean across replications");
        }
        if self.compare() {
            note.push_str("; one row per scenario under each site");
            if cols >= 3 {
                let numbered: Vec<String> = (self.names.iter().enumerate())
                    .map(|(r, n)| format!("{} {n}", r + 1))
                    .collect();
                note.push_str(&format!(", numbered: {}", numbered.join(", ")));
            }
        }
        note.push('.');
        if !never_online.is_empty() {
            note.push_str(&format!(
                " Left out, with no chip online in any period: {}.",
                never_online.join(", ")
            ));
        }
        spec.notes.insert(0, note);
        if !spec.marks.is_empty() {
            spec.legend.push(LegendItem::Policy(
                "policy change (numbered in the key below)".into(),
            ));
        }
        spec
    }

    fn training(&self) -> Spec {
        let mut spec = self.spec(
            "training",
            "Time to completion by kind of job, beside the jobs not yet finished",
        );
        let kinds = [("training", "Pre-training"), ("fine_tuning", "Fine-tuning")];
        let backlog_style = Style {
            color: okabe_ito::BLACK,
            dash: Dash::Dashed,
            marker: Marker::Square,
            width: 2.6,
        };
        // Single run: all sites and each jurisdiction where jobs ran; runs compared: all sites.
        let groups: Vec<GroupSel> = if self.compare() {
            vec![(
                "all",
                "all".to_string(),
                "All sites".to_string(),
                total_style(),
            )]
        } else {
            self.jurisdiction_groups(true)
        };
        let metric = |kind: &str| format!("completion_hours_p50_{kind}");
        let mut hidden = Vec::new();
        let shown: Vec<&GroupSel> = groups
            .iter()
            .filter(|g| {
                let has = kinds.iter().any(|(k, _)| {
                    (0..self.runs.len()).any(|r| {
                        self.points(r, g.0, &g.1, &metric(k), Read::Level(1.0))
                            .is_some_and(|p| p.iter().flat_map(|p| p.v).any(|v| v.mean > 0.0))
                    })
                });
                if !has && g.0 != "all" {
                    hidden.push(g.2.clone());
                }
                has
            })
            .collect();
        let mut banded_any = false;
        // Row 1: median time to completion; row 2: jobs not finished, each kind in its column.
        let mut completion = Vec::new();
        let mut backlog = Vec::new();
        for (kind, label) in kinds {
            let mut series = Vec::new();
            for r in 0..self.runs.len() {
                for (gk, g, _, style) in &shown {
                    // The total's band would cover its parts: only the parts carry one.
                    let band =
                        (self.compare() || *gk != "all") && self.banded(r, gk, g, &metric(kind));
                    banded_any |= band;
                    series.push(Series {
                        style: if self.compare() { run_style(r) } else { *style },
                        points: self
                            .points(r, gk, g, &metric(kind), Read::Level(1.0 / 24.0))
                            .unwrap_or_default(),
                        band,
                        stacked: false,
                        key: SeriesRef::of(gk, g, &metric(kind), Read::Level(1.0 / 24.0)),
                    });
                }
            }
            completion.push(Panel {
                title: Some(format!("{label}: median days from arrival to completion")),
                y_title: "days, median job (log scale)".into(),
                unit: Unit::Plain,
                log: true,
                body: Body::Lines(series),
                observed: Vec::new(),
            });
            let m = format!("backlog_{kind}_end");
            let mut series = Vec::new();
            for r in 0..self.runs.len() {
                let band = self.banded(r, "firms", "all", &m);
                banded_any |= band;
                series.push(Series {
                    style: if self.compare() {
                        run_style(r)
                    } else {
                        backlog_style
                    },
                    points: self
                        .points(r, "firms", "all", &m, Read::Level(1.0))
                        .unwrap_or_default(),
                    band,
                    stacked: false,
                    key: SeriesRef::of("firms", "all", &m, Read::Level(1.0)),
                });
            }
            backlog.push(Panel {
                title: Some(format!(
                    "{label}: jobs not finished at the end of the period"
                )),
                y_title: "jobs waiting, blocked or running".into(),
                unit: Unit::Plain,
                log: false,
                body: Body::Lines(series),
                observed: Vec::new(),
            });
        }
        spec.panels = completion;
        spec.panels.extend(backlog);
        spec.cols = 2;
        if self.compare() {
            spec.legend = self.run_legend(banded_any);
        } else {
            spec.legend
                .push(LegendItem::Heading("Completed: where the job ran".into()));
            for (gk, g, label, style) in &shown {
                spec.legend.push(LegendItem::Line {
                    label: label.clone(),
                    style: *style,
                    band: *gk != "all"
                        && kinds.iter().any(|(k, _)| self.banded(0, gk, g, &metric(k))),
                });
            }
            spec.legend.push(LegendItem::Heading("Not finished".into()));
            spec.legend.push(LegendItem::Line {
                label: "all firms' jobs".into(),
                style: backlog_style,
                band: kinds
                    .iter()
                    .any(|(k, _)| self.banded(0, "firms", "all", &format!("backlog_{k}_end"))),
            });
        }
        if !hidden.is_empty() {
            spec.notes.insert(
                0,
                format!("Not shown (no job completed there): {}.", hidden.join(", ")),
            );
        }
        spec.notes.insert(
            0,
            "A median is over the jobs that completed in the period (within about 6%); gaps: none \
             completed. Jobs still waiting, blocked or running are not in it: read it with the \
             backlog below, which a short median can hide."
                .into(),
        );
        self.finish_legend(&mut spec);
        spec
    }
}

/// A run's line width in a comparison's per-firm panels, where the dash is the metric's: runs
/// past the six colours and markers [`run_style`] cycles through are drawn heavier.
fn run_width(r: usize) -> f64 {
    1.6 + 1.2 * (r / 6) as f64
}

/// The dashes that tell metrics apart in a comparison's per-firm panels, where colour is the run's.
const METRIC_DASHES: [Dash; 5] = [
    Dash::Solid,
    Dash::Dashed,
    Dash::Dotted,
    Dash::DotDashed,
    Dash::LongDashed,
];

fn grid_cols(n: usize) -> usize {
    match n {
        0..=3 => n.max(1),
        4 => 2,
        _ => 3,
    }
}

/// The policy marks, the key and a note on the rules not marked. Rules are identified by name and
/// dates across runs; a rule only some runs have says which.
#[allow(clippy::type_complexity)]
fn timeline(
    runs: &[RunView],
    names: &[String],
    start: NaiveDate,
    stop: NaiveDate,
) -> Result<(Vec<Mark>, Vec<KeyItem>, Option<String>), ChartError> {
    // (name, from, until) -> (summary, runs that have it)
    let mut rules: BTreeMap<(String, NaiveDate, Option<NaiveDate>), (String, Vec<usize>)> =
        BTreeMap::new();
    for (i, r) in runs.iter().enumerate() {
        for p in &r.manifest.policies {
            let from = parse_date(r, &format!("policies.{}.from", p.name), &p.from)?;
            let until = match &p.until {
                Some(u) => Some(parse_date(r, &format!("policies.{}.until", p.name), u)?),
                None => None,
            };
            let e = rules
                .entry((p.name.clone(), from, until))
                .or_insert_with(|| (p.summary.clone(), Vec::new()));
            if !e.1.contains(&i) {
                e.1.push(i);
            }
        }
    }
    let inside = |d: NaiveDate| d > start && d < stop;
    let mut marked: Vec<(
        NaiveDate,
        &String,
        NaiveDate,
        Option<NaiveDate>,
        &String,
        &Vec<usize>,
    )> = Vec::new();
    let mut throughout = 0;
    for ((name, from, until), (summary, who)) in &rules {
        let starts = inside(*from);
        let ends = until.is_some_and(inside);
        if starts || ends {
            let first = if starts { *from } else { until.expect("ends") };
            marked.push((first, name, *from, *until, summary, who));
        } else if *from <= start && until.is_none_or(|u| u >= stop) {
            throughout += 1;
        }
    }
    marked.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let day = |d: NaiveDate| (d - start).num_days() as f64;
    let mut marks = Vec::new();
    let mut key = Vec::new();
    for (i, (_, name, from, until, summary, who)) in marked.into_iter().enumerate() {
        let label = (i + 1).to_string();
        // Dates and name first: a long line is cut at the end, in the summary.
        let dates = match (inside(from), until) {
            (true, Some(u)) => format!("{from} to {u}"),
            (true, None) => from.to_string(),
            (false, u) => format!("until {}", u.expect("ends inside")),
        };
        if inside(from) {
            marks.push(Mark {
                x: day(from),
                label: label.clone(),
                end: false,
            });
        }
        if let Some(u) = until.filter(|u| inside(*u)) {
            marks.push(Mark {
                x: day(u),
                label: format!("{label} end"),
                end: true,
            });
        }
        let only = if who.len() < runs.len() {
            let only: Vec<&str> = who.iter().map(|&r| names[r].as_str()).collect();
            format!(" [only in {}]", only.join(", "))
        } else {
            String::new()
        };
        let text = format!("{dates}  {name}{only}: {summary}");
        key.push(KeyItem { label, text });
    }
    let note = (throughout > 0).then(|| {
        format!(
            "{throughout} other rule{} in force for the whole horizon {} not marked (see the \
             policy table).",
            if throughout == 1 { "" } else { "s" },
            if throughout == 1 { "is" } else { "are" },
        )
    });
    Ok((marks, key, note))
}
