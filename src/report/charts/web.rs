//! The charts as data for an interactive page (`capsim serve`): the same specs the static charts
//! draw (panels, series with their bands, stacked layers, heatmaps, observations, policy marks and
//! their key, notes), as JSON-ready structs. The page draws them; nothing here knows of HTTP.
//!
//! Time is in days from [`WebChart::x_start`], as the static charts place it; a period's value is
//! drawn at the middle of `x0..x1`. Values are as the static chart reads them (flows per day,
//! stocks and ratios as summarised); stacked layers are given layer by layer, not summed.

use serde::Serialize;

use super::observed::Observed;
use super::spec::{self, Body, LegendItem, Series, Spec};
use super::style::{Dash, Style, Unit};
use super::ChartError;
use crate::report::observed::Held;
use crate::report::view::RunView;

/// One chart.
#[derive(Clone, Debug, Serialize)]
pub struct WebChart {
    /// File stem of the static chart, e.g. `throughput-compute`.
    pub name: String,
    /// Title.
    pub title: String,
    /// Subtitle (what the bands are, the runs drawn).
    pub subtitle: String,
    /// The data's source line.
    pub source: String,
    /// Day 0 of the time axis (ISO date).
    pub x_start: String,
    /// Length of the time axis, days.
    pub x_days: f64,
    /// Columns of the panel grid.
    pub cols: usize,
    /// Whether all line panels share one y range.
    pub shared_y: bool,
    /// The panels, in reading order.
    pub panels: Vec<WebPanel>,
    /// Policy rules starting (or ending) inside the horizon.
    pub marks: Vec<WebMark>,
    /// The key of the marks.
    pub key: Vec<WebKey>,
    /// Notes under the chart.
    pub notes: Vec<String>,
}

/// One panel: curves, or a heatmap.
#[derive(Clone, Debug, Serialize)]
pub struct WebPanel {
    /// Panel title, if any.
    pub title: Option<String>,
    /// Y axis title, with its unit.
    pub y_title: String,
    /// How values read: `plain` (k/M/B/T), `usd` or `percent` (a fraction).
    pub unit: &'static str,
    /// Log y axis.
    pub log: bool,
    /// Curves (empty for a heatmap).
    pub series: Vec<WebSeries>,
    /// Heatmap rows (None for curves).
    pub heatmap: Option<Vec<WebHeatRow>>,
    /// Observations of what the curves measure.
    pub observed: Vec<WebObserved>,
}

/// One curve or stacked layer.
#[derive(Clone, Debug, Serialize)]
pub struct WebSeries {
    /// Legend label.
    pub label: String,
    /// Colour, `#rrggbb`.
    pub color: String,
    /// `solid`, `dashed`, `dotted`, `dot-dashed` or `long-dashed`.
    pub dash: &'static str,
    /// Draw the p05-p95 band.
    pub band: bool,
    /// Stacked on the panel's earlier stacked series.
    pub stacked: bool,
    /// The summary series drawn (`kind/group/metric`), if it is one.
    pub series: Option<String>,
    /// One point per period.
    pub points: Vec<WebPoint>,
}

/// One period of a curve.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct WebPoint {
    /// Period start, days from the chart's start.
    pub x0: f64,
    /// Period end.
    pub x1: f64,
    /// Mean across replications.
    pub mean: Option<f64>,
    /// 5th percentile.
    pub lo: Option<f64>,
    /// 95th percentile.
    pub hi: Option<f64>,
}

/// One heatmap row.
#[derive(Clone, Debug, Serialize)]
pub struct WebHeatRow {
    /// Row group label (first row of a group).
    pub label: Option<String>,
    /// Row sub-label (the run, when runs are compared).
    pub sub: Option<String>,
    /// Cells: (x0, x1, value in 0..=1).
    pub cells: Vec<(f64, f64, Option<f64>)>,
}

/// An observation drawn beside a curve.
#[derive(Clone, Debug, Serialize)]
pub struct WebObserved {
    /// Where it is drawn, days from the chart's start.
    pub x: f64,
    /// The window it covers.
    pub span: Option<(f64, f64)>,
    /// Observed value, in the curve's units.
    pub value: f64,
    /// Low end of the source's range.
    pub low: f64,
    /// High end.
    pub high: f64,
    /// Also an input of the scenario (not scored).
    pub input: bool,
    /// The colour of the curve it measures, `#rrggbb`, where its panel draws several series
    /// (None: the panel's one series).
    pub color: Option<String>,
}

/// A numbered vertical line: a rule starts (or ends) here.
#[derive(Clone, Debug, Serialize)]
pub struct WebMark {
    /// Days from the chart's start.
    pub x: f64,
    /// Its number in the key.
    pub label: String,
    /// The rule ends here (rather than starts).
    pub end: bool,
}

/// A line of the marks' key.
#[derive(Clone, Debug, Serialize)]
pub struct WebKey {
    /// The mark's number.
    pub label: String,
    /// The rule and its date.
    pub text: String,
}

/// Every chart of `runs` (the first the reference, as [`super::render_observed`] draws them),
/// with `held` observations attached, as data.
pub fn charts(runs: &[RunView], held: &[Held]) -> Result<Vec<WebChart>, ChartError> {
    let mut specs = spec::build(runs)?;
    super::observed::attach(&mut specs, held);
    Ok(specs.iter().map(chart).collect())
}

fn chart(s: &Spec) -> WebChart {
    let label_of = |style: &Style, series: &Series| -> String {
        s.legend
            .iter()
            .find_map(|l| match l {
                LegendItem::Line {
                    label, style: st, ..
                } if st == style => Some(label.clone()),
                _ => None,
            })
            // A stacked layer: the swatch of its colour, as the static legend names it.
            .or_else(|| {
                s.legend.iter().find_map(|l| match l {
                    LegendItem::Swatch { label, color }
                        if series.stacked && *color == style.color =>
                    {
                        Some(label.clone())
                    }
                    _ => None,
                })
            })
            .or_else(|| {
                series
                    .key
                    .as_ref()
                    .map(|k| format!("{} {}", k.group, k.metric))
            })
            .unwrap_or_default()
    };
    WebChart {
        name: s.name.to_string(),
        title: s.title.clone(),
        subtitle: s.subtitle.clone(),
        source: s.source.clone(),
        x_start: s.x_start.to_string(),
        x_days: s.x_days,
        cols: s.cols,
        shared_y: s.shared_y,
        panels: s
            .panels
            .iter()
            .map(|p| {
                let (series, heatmap) = match &p.body {
                    Body::Lines(lines) => (
                        lines
                            .iter()
                            .map(|l| WebSeries {
                                label: label_of(&l.style, l),
                                color: hex(&l.style),
                                dash: dash(l.style.dash),
                                band: l.band,
                                stacked: l.stacked,
                                series: l
                                    .key
                                    .as_ref()
                                    .map(|k| format!("{}/{}/{}", k.kind, k.group, k.metric)),
                                points: l
                                    .points
                                    .iter()
                                    .map(|pt| WebPoint {
                                        x0: pt.x0,
                                        x1: pt.x1,
                                        mean: pt.v.map(|v| v.mean),
                                        lo: pt.v.map(|v| v.lo),
                                        hi: pt.v.map(|v| v.hi),
                                    })
                                    .collect(),
                            })
                            .collect(),
                        None,
                    ),
                    Body::Heatmap(rows) => (
                        Vec::new(),
                        Some(
                            rows.iter()
                                .map(|r| WebHeatRow {
                                    label: r.label.clone(),
                                    sub: r.sub.clone(),
                                    cells: r.cells.clone(),
                                })
                                .collect(),
                        ),
                    ),
                };
                WebPanel {
                    title: p.title.clone(),
                    y_title: p.y_title.clone(),
                    unit: match p.unit {
                        Unit::Plain => "plain",
                        Unit::Usd => "usd",
                        Unit::Percent => "percent",
                    },
                    log: p.log,
                    series,
                    heatmap,
                    observed: p.observed.iter().map(observed).collect(),
                }
            })
            .collect(),
        marks: s
            .marks
            .iter()
            .map(|m| WebMark {
                x: m.x,
                label: m.label.clone(),
                end: m.end,
            })
            .collect(),
        key: s
            .key
            .iter()
            .map(|k| WebKey {
                label: k.label.clone(),
                text: k.text.clone(),
            })
            .collect(),
        notes: s.notes.clone(),
    }
}

fn observed(o: &Observed) -> WebObserved {
    WebObserved {
        x: o.x,
        span: o.span,
        value: o.value,
        low: o.low,
        high: o.high,
        input: o.input,
        color: o.color.map(|c| rgb(&c)),
    }
}

fn hex(style: &Style) -> String {
    rgb(&style.color)
}

fn rgb(c: &plotters::style::RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn dash(d: Dash) -> &'static str {
    match d {
        Dash::Solid => "solid",
        Dash::Dashed => "dashed",
        Dash::Dotted => "dotted",
        Dash::DotDashed => "dot-dashed",
        Dash::LongDashed => "long-dashed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::{execute, RunOptions};
    use crate::metrics::PeriodKind;

    /// The page gets the same charts as the static report: same names and titles, same number of
    /// panels and curves, the policy marks, and a label for every curve.
    #[test]
    fn web_charts_are_the_static_charts_as_data() {
        let sc = crate::scenario::baseline().unwrap();
        let result = execute(
            &sc,
            RunOptions {
                seed: sc.seed,
                replications: 2,
                period: PeriodKind::Quarter,
                threads: Some(1),
            },
        )
        .unwrap();
        let view = RunView::from_run(&sc, &result);
        let specs = spec::build(std::slice::from_ref(&view)).unwrap();
        let web = charts(std::slice::from_ref(&view), &[]).unwrap();
        assert_eq!(web.len(), specs.len());
        for (w, s) in web.iter().zip(&specs) {
            assert_eq!(w.name, s.name);
            assert_eq!(w.title, s.title);
            assert_eq!(w.panels.len(), s.panels.len());
            assert_eq!(w.marks.len(), s.marks.len());
            for (wp, sp) in w.panels.iter().zip(&s.panels) {
                if let Body::Lines(lines) = &sp.body {
                    assert_eq!(wp.series.len(), lines.len());
                    for (ws, l) in wp.series.iter().zip(lines) {
                        assert!(!ws.label.is_empty(), "{}: a curve without a label", w.name);
                        assert_eq!(ws.points.len(), l.points.len());
                        assert!(ws.color.starts_with('#') && ws.color.len() == 7);
                    }
                } else {
                    assert!(wp.heatmap.is_some());
                }
            }
        }
        // Stacked layers read as the static legend's words, not metric names.
        let share = web.iter().find(|c| c.name == "compute-share").unwrap();
        let labels: Vec<&str> = share.panels[0]
            .series
            .iter()
            .map(|x| x.label.as_str())
            .collect();
        assert!(
            labels.iter().all(|l| !l.contains("pflop_days")),
            "{labels:?}"
        );
        let compute = web.iter().find(|c| c.name == "throughput-compute").unwrap();
        assert!(
            compute.panels[0].series[0]
                .points
                .iter()
                .any(|p| p.mean.is_some_and(|m| m > 0.0)),
            "useful compute is drawn"
        );
        assert!(!compute.marks.is_empty(), "the baseline's rules are marked");
        assert!(serde_json::to_string(&web).unwrap().contains("\"x_start\""));
    }
}
