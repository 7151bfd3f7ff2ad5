//! What each chart shows, as plain data: panels of series (or a heatmap), the legend, the policy
//! marks and their key, notes. Built from the runs here; drawn by `draw`, which knows nothing of
//! metrics or scenarios.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use plotters::style::RGBColor;

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
}

/// One row of a heatmap.
#[derive(Clone, Debug)]
pub(super) struct HeatRow {
    /// Drawn at the first row of a group.
    pub label: Option<String>,
    /// Drawn on every row (the run, when runs are compared).
    pub sub: Option<String>,
    /// Cells: (x0, x1, value in 0..=1 or None).
    pub cells: Vec<(f64, f64, Option<f64>)>,
}

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
    Ok(vec![
        cx.throughput_compute(),
        cx.throughput_tokens(),
        cx.cost_spend(),
        cx.cost_unit(),
        cx.compute_share(),
        cx.sites(),
        cx.training(),
    ])
}

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
        scenario: run.manifest.scenario.clone(),
        field: field.to_string(),
        value: value.to_string(),
    })
}

/// Which groups a split chart shows: (group kind, group, label, style when runs are not compared).
type GroupSel = (&'static str, String, String, Style);

struct Ctx<'a> {
    runs: &'a [RunView],
    /// Legend names: the scenario names, made unique.
    names: Vec<String>,
    /// Each run's period spans on the shared time axis.
    spans: Vec<Vec<(f64, f64)>>,
    start: NaiveDate,
    days: f64,
    /// "month", "week" or "day".
    period: String,
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
                    first: first.manifest.scenario.clone(),
                    first_period: first.manifest.period.clone(),
                    other: r.manifest.scenario.clone(),
                    other_period: r.manifest.period.clone(),
                });
            }
            if r.periods.is_empty() {
                return Err(ChartError::NoPeriods {
                    scenario: r.manifest.scenario.clone(),
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

        let mut names: Vec<String> = Vec::new();
        for r in runs {
            let base = r.manifest.scenario.clone();
            let mut name = base.clone();
            let mut k = 2;
            while names.contains(&name) {
                name = format!("{base} #{k}");
                k += 1;
            }
            names.push(name);
        }

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
            format!("Scenario {}", names[0])
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
                    r.manifest.scenario,
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
            start,
            days: day(stop),
            period: first.manifest.period.clone(),
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

    fn per_period(&self) -> String {
        format!("per {}", self.period)
    }

    /// A run's series as points, values multiplied by `scale`.
    fn points(
        &self,
        r: usize,
        kind: &str,
        group: &str,
        metric: &str,
        scale: f64,
    ) -> Option<Vec<Pt>> {
        let s = self.runs[r].series(kind, group, metric)?;
        Some(
            s.iter()
                .zip(&self.spans[r])
                .map(|(b, &(x0, x1))| Pt {
                    x0,
                    x1,
                    v: b.map(|b| Val {
                        mean: b.mean * scale,
                        lo: b.p05 * scale,
                        hi: b.p95 * scale,
                    }),
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
        let mut v = vec![LegendItem::Heading("Scenario".into())];
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
        scale: f64,
        unit: Unit,
        y_title: &str,
        log: bool,
        empty_note: &str,
    ) {
        let mut shown = Vec::new();
        let mut hidden = Vec::new();
        for g in groups {
            let has = (0..self.runs.len()).any(|r| {
                self.points(r, g.0, &g.1, metric, scale).is_some_and(|p| {
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
                        .points(0, kind, group, metric, scale)
                        .unwrap_or_default(),
                    band,
                    stacked: false,
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
                            .points(r, kind, group, metric, scale)
                            .unwrap_or_default(),
                        band,
                        stacked: false,
                    });
                }
                spec.panels.push(Panel {
                    title: Some(label.clone()),
                    y_title: y_title.to_string(),
                    unit,
                    log,
                    body: Body::Lines(series),
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
            });
        }
    }

    fn throughput_compute(&self) -> Spec {
        let mut spec = self.spec(
            "throughput-compute",
            "Effective compute delivered, by jurisdiction of the data centre",
        );
        self.split(
            &mut spec,
            self.jurisdiction_groups(true),
            "compute_pflop_days",
            1.0,
            Unit::Plain,
            &format!("PFLOP-days {}", self.per_period()),
            false,
            "no compute in any period",
        );
        spec.notes.insert(
            0,
            "Effective compute: useful training and fine-tuning work (peak BF16 x MFU x productive \
             chip-time); 1 PFLOP-day = 8.64e19 FLOP."
                .into(),
        );
        self.finish_legend(&mut spec);
        spec
    }

    fn throughput_tokens(&self) -> Spec {
        let mut spec = self.spec(
            "throughput-tokens",
            "Inference tokens served against tokens demanded, all firms",
        );
        let y_title = format!("tokens {}", self.per_period());
        let get = |r: usize, m: &str| self.points(r, "firms", "all", m, 1.0).unwrap_or_default();
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
        });
        self.finish_legend(&mut spec);
        spec
    }

    fn cost_spend(&self) -> Spec {
        let mut spec = self.spec(
            "cost-spend",
            "Spend on compute, by jurisdiction of the data centre",
        );
        self.split(
            &mut spec,
            self.jurisdiction_groups(true),
            "cost_usd",
            1.0,
            Unit::Usd,
            &format!("USD {}", self.per_period()),
            false,
            "no spend in any period",
        );
        spec.notes.insert(
            0,
            "Leased sites: busy chip-hours x lease price, rule fees included; owned sites: \
             amortised capex on online chips plus electricity of busy chips."
                .into(),
        );
        self.finish_legend(&mut spec);
        spec
    }

    fn cost_unit(&self) -> Spec {
        let mut spec = self.spec("cost-unit", "Unit cost of compute, all sites");
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
                let band = self.banded(r, "all", "all", metric);
                banded_any |= band;
                series.push(Series {
                    style: run_style(r),
                    points: self
                        .points(r, "all", "all", metric, 1.0)
                        .unwrap_or_default(),
                    band,
                    stacked: false,
                });
            }
            spec.panels.push(Panel {
                title: Some(title.into()),
                y_title: y_title.into(),
                unit: Unit::Usd,
                log: false,
                body: Body::Lines(series),
            });
        }
        spec.legend = self.run_legend(banded_any);
        spec.notes.insert(
            0,
            "What users paid for training chip-hours per useful PFLOP-day, and for inference \
             chip-hours per million tokens served."
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
        let y_title = format!("PFLOP-days {}", self.per_period());
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
                            .points(0, "firm", firm, metric, 1.0)
                            .unwrap_or_default(),
                        band,
                        stacked: true,
                    });
                }
                spec.panels.push(Panel {
                    title: Some(format!("{firm} (home: {hq})")),
                    y_title: y_title.clone(),
                    unit: Unit::Plain,
                    log: false,
                    body: Body::Lines(series),
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
            spec.cols = 1;
        } else {
            let mut banded_any = false;
            for (metric, where_) in [
                ("compute_abroad_pflop_days", "abroad"),
                ("compute_home_pflop_days", "at home"),
            ] {
                for (firm, _) in &firms {
                    let mut series = Vec::new();
                    for r in 0..self.runs.len() {
                        let band = self.banded(r, "firm", firm, metric);
                        banded_any |= band;
                        series.push(Series {
                            style: run_style(r),
                            points: self
                                .points(r, "firm", firm, metric, 1.0)
                                .unwrap_or_default(),
                            band,
                            stacked: false,
                        });
                    }
                    spec.panels.push(Panel {
                        title: Some(format!("{firm}: {where_}")),
                        y_title: y_title.clone(),
                        unit: Unit::Plain,
                        log: false,
                        body: Body::Lines(series),
                    });
                }
            }
            spec.legend = self.run_legend(banded_any);
            spec.cols = firms.len().max(1);
        }
        if firms.is_empty() {
            spec.panels.push(Panel {
                title: None,
                y_title,
                unit: Unit::Plain,
                log: false,
                body: Body::Lines(Vec::new()),
            });
        }
        self.finish_legend(&mut spec);
        spec
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
        let mut rows = Vec::new();
        for (site, jur, chip) in &sites {
            for r in 0..self.runs.len() {
                let cells = match self.points(r, "site", site, "utilisation", 1.0) {
                    Some(p) => p
                        .iter()
                        .map(|p| (p.x0, p.x1, p.v.map(|v| v.mean)))
                        .collect(),
                    None => self.spans[r].iter().map(|&(a, b)| (a, b, None)).collect(),
                };
                rows.push(HeatRow {
                    label: (r == 0).then(|| format!("{site} ({jur}, {chip})")),
                    sub: self.compare().then(|| self.names[r].clone()),
                    cells,
                });
            }
        }
        spec.panels.push(Panel {
            title: None,
            y_title: String::new(),
            unit: Unit::Percent,
            log: false,
            body: Body::Heatmap(rows),
        });
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
        }
        note.push('.');
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
            "Time from job arrival to completion, by where the job ran",
        );
        self.split(
            &mut spec,
            self.jurisdiction_groups(false),
            "completion_hours_p50",
            1.0 / 24.0,
            Unit::Plain,
            "days, median job (log scale)",
            true,
            "no job completed there",
        );
        spec.shared_y = true;
        spec.notes.insert(
            0,
            "Median time from arrival to completion of the training and fine-tuning jobs that \
             completed in the period (within about 6%); gaps: none completed."
                .into(),
        );
        self.finish_legend(&mut spec);
        spec
    }
}

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
