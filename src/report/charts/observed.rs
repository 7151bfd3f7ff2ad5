//! Observations on the charts: each of the scenario's observations (as [`crate::report::observed`]
//! holds them against the run) that measures what a curve of a panel draws is drawn on that panel,
//! as a diamond with the range the source gives.
//!
//! Which curve an observation belongs to is decided in one place, [`series_of`]: the summary series
//! (`summary.csv`'s group kind, group and metric) that its catalog metric over its group reads. A
//! curve that draws that series (its [`SeriesRef`]) takes the observation, in the curve's units
//! ([`on_axis`]: a flow drawn per day takes a total over the observation's window divided by the
//! window's days, as `observed` compares it; a rate per day as it is; a level times the curve's
//! factor). So a new chart of a catalog metric draws its observations with no change here, and a
//! new kind of group or reading is one arm of these two functions. Stacked layers take none (what
//! is drawn is the stack's top, not the layer's own value), nor do derived curves (the unserved
//! share) or the heatmap; nor do observations per chip (`chip:<id>`: `summary.csv` has no such
//! group), context figures, or observations outside the horizon or the chart's dates.
//!
//! The y axis takes in the observations where they lie at most [`EXTEND`] times above the top of
//! the curves (the curves keep at least a third of the panel's height); of a range that runs on
//! above that, the axis takes in the value, and the range is cut at the top edge (no cap on the
//! cut end). When a value lies further up, a
//! panel of positive curves with no stacked layers switches to a log axis, which takes every
//! observation in, so that both the curves and the observations read (tokens per day grow a
//! hundredfold over a horizon, and a slice of a market sits far below the market's figures); on
//! any other panel (stacked layers, a zero, a y axis shared by several panels) the axis stays as
//! above, and an observation whose value lies above it is drawn as an arrow at the top edge,
//! labelled with its value.

use chrono::NaiveDate;
use plotters::style::RGBColor;

use super::draw::series_range;
use super::spec::{Body, LegendItem, Panel, Read, SeriesRef, Spec};
use crate::metrics::catalog::Kind;
use crate::metrics::Members;
use crate::report::observed::Held;

/// An observation on a panel, in the panel's units.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Observed {
    /// Where it is drawn on the time axis (days from the chart's start): its date, or the middle
    /// of its window.
    pub x: f64,
    /// The window it covers (days from the chart's start), drawn as a horizontal bar.
    pub span: Option<(f64, f64)>,
    pub value: f64,
    pub low: f64,
    pub high: f64,
    /// How high the y axis must reach for it: its `high`, or its value where the range runs on
    /// far above the curves and is cut at the top edge.
    pub axis_high: f64,
    /// Also an input of the scenario: drawn hollow and grey ("observed (input)").
    pub input: bool,
    /// Above the panel's axis: drawn as an arrow at the top edge, labelled with its value.
    pub off_scale: bool,
    /// The colour of the curve it measures, where the panel draws curves of several series (its
    /// range bars take it, so that it reads which curve it is held against); None: black, or grey
    /// for an input.
    pub color: Option<RGBColor>,
}

/// How many times the curves' top an observation may reach before the axis stops following it.
pub(super) const EXTEND: f64 = 3.0;

/// How many times below the curves' top an observation may lie before a linear axis squashes it
/// onto zero (it would sit in the bottom hundredth of the panel): a log axis shows it instead.
pub(super) const SQUASH: f64 = 100.0;

/// The summary series an observation measures: (group kind, group, metric), as in `summary.csv`.
/// None for a context figure and for a group `summary.csv` does not have (`chip:<id>`).
pub(super) fn series_of(h: &Held) -> Option<(&'static str, String, &'static str)> {
    let t = h.obs.target.as_ref()?;
    let (kind, id) = h
        .obs
        .group
        .split_once(':')
        .unwrap_or((h.obs.group.as_str(), ""));
    let (kind, group) = match (kind, &t.members) {
        ("national", Members::Firms(_)) => ("firms", "all"),
        ("national", Members::Sites(_)) => ("all", "all"),
        ("firm", _) => ("firm", id),
        ("site", _) => ("site", id),
        ("jurisdiction", _) => ("jurisdiction", id),
        _ => return None,
    };
    Some((kind, group.to_string(), t.metric.name))
}

/// The observation's (low, value, high) in the units of a curve that reads its series with
/// `read`; None where they are not the same quantity (a flow on a curve of per-period totals).
pub(super) fn on_axis(h: &Held, read: Read) -> Option<(f64, f64, f64)> {
    let t = h.obs.target.as_ref()?;
    let o = &h.obs;
    // The curve draws the metric; a complement (vacancy) observes 1 - metric.
    let (low, value, high) = if t.complement {
        (1.0 - o.high, 1.0 - o.value, 1.0 - o.low)
    } else {
        (o.low, o.value, o.high)
    };
    // (times, over): the observation on the axis is `x * times / over`.
    let (times, over) = match (read, t.metric.kind) {
        // A rate per day already; a total over the window compared (whole reporting periods, as
        // `observed` compares it) as a daily rate.
        (Read::PerDay, Kind::Flow) if t.per_day => (1.0, 1.0),
        (Read::PerDay, Kind::Flow) => {
            let (a, b) = h.window?;
            let days = ((b - a).num_days() + 1) as f64;
            if days <= 0.0 {
                return None;
            }
            (1.0, days)
        }
        (Read::Level(k), kind) if kind != Kind::Flow && !t.per_day => (k, 1.0),
        _ => return None,
    };
    let f = |x: f64| x * times / over;
    Some((f(low), f(value), f(high)))
}

/// Where an observation goes on a time axis from `start`, `days` long: (x, window), or None when
/// it is outside the horizon (`observed` gave it no window) or the axis.
fn placement(h: &Held, start: NaiveDate, days: f64) -> Option<(f64, Option<(f64, f64)>)> {
    let (w0, w1) = h.window?;
    let t = h.obs.target.as_ref()?;
    let day = |d: NaiveDate| (d - start).num_days() as f64;
    let span = match h.obs.from {
        Some(f) => Some((day(f), day(h.obs.date) + 1.0)),
        // A total with no `from` is the reporting period's that holds its date.
        None if t.metric.kind == Kind::Flow && !t.per_day => Some((day(w0), day(w1) + 1.0)),
        None => None,
    };
    let x = span.map_or(day(h.obs.date) + 0.5, |(a, b)| (a + b) / 2.0);
    if !(0.0..=days).contains(&x) {
        return None;
    }
    Some((x, span.map(|(a, b)| (a.max(0.0), b.min(days)))))
}

/// Puts every observation in `held` on the panels of `specs` whose curves measure it, sets each
/// panel's scale for them (see the module docs), and adds the legend entries and a note to every
/// chart that draws any.
pub(super) fn attach(specs: &mut [Spec], held: &[Held]) {
    if held.is_empty() {
        return;
    }
    for spec in specs {
        attach_one(spec, held);
    }
}

fn attach_one(spec: &mut Spec, held: &[Held]) {
    let (start, days) = (spec.x_start, spec.x_days);
    for panel in &mut spec.panels {
        let Body::Lines(series) = &panel.body else {
            continue;
        };
        // Each series the curves draw, with the colour of the first curve that draws it.
        let mut keys: Vec<(&SeriesRef, RGBColor)> = Vec::new();
        for s in series.iter().filter(|s| !s.stacked) {
            if let Some(k) = &s.key {
                if !keys.iter().any(|(x, _)| x.same_series(k)) {
                    keys.push((k, s.style.color));
                }
            }
        }
        let several = keys.len() > 1;
        for h in held {
            let Some((kind, group, metric)) = series_of(h) else {
                continue;
            };
            let Some(&(key, color)) = keys
                .iter()
                .find(|(k, _)| k.kind == kind && k.group == group && k.metric == metric)
            else {
                continue;
            };
            let (Some((low, value, high)), Some((x, span))) =
                (on_axis(h, key.read), placement(h, start, days))
            else {
                continue;
            };
            panel.observed.push(Observed {
                x,
                span,
                value,
                low,
                high,
                axis_high: high,
                input: h.obs.used_as_input,
                off_scale: false,
                color: several.then_some(color),
            });
        }
    }
    let all: Vec<&Observed> = spec.panels.iter().flat_map(|p| &p.observed).collect();
    if all.is_empty() {
        return;
    }
    let (held_out, input) = (all.iter().any(|o| !o.input), all.iter().any(|o| o.input));
    let colored = all.iter().any(|o| o.color.is_some());
    let (logged, capped) = scale(spec);

    let at = spec
        .legend
        .iter()
        .position(|i| {
            matches!(
                i,
                LegendItem::Band(_)
                    | LegendItem::HatchBand(_)
                    | LegendItem::Policy(_)
                    | LegendItem::ColorBar { .. }
                    | LegendItem::Missing(_)
            )
        })
        .unwrap_or(spec.legend.len());
    let mut items = Vec::new();
    if spec
        .legend
        .iter()
        .any(|i| matches!(i, LegendItem::Heading(_)))
    {
        items.push(LegendItem::Heading("Observed".into()));
    }
    if held_out {
        items.push(LegendItem::Observed {
            label: "observed (held out)".into(),
            input: false,
        });
    }
    if input {
        items.push(LegendItem::Observed {
            label: "observed (input)".into(),
            input: true,
        });
    }
    spec.legend.splice(at..at, items);

    let mut note = "Diamonds: observed figures (the scenario's observations) on the curve that \
                    measures them, at their date or the middle of their window (horizontal bar), \
                    with the range the source gives (vertical bar); hollow grey: also an input of \
                    the scenario, not a test of the model. Every observation is listed, with its \
                    score, in report.html and observations.csv."
        .to_string();
    if colored {
        note.push_str(
            " Where a panel draws several curves, an observation's bars take the colour of the \
             curve it measures.",
        );
    }
    if logged {
        note.push_str(&format!(
            " Log scale: observations lie more than {EXTEND}x above the curves' top, or under \
             1/{SQUASH} of it."
        ));
    }
    if capped {
        note.push_str(&format!(
            " Arrows at the top edge: observations more than {EXTEND}x above the curves, off \
             the scale, labelled with their value."
        ));
    }
    spec.notes.push(note);
}

/// Sets each panel's scale for its observations: returns (some panel switched to a log axis, some
/// panel has observations off the scale).
fn scale(spec: &mut Spec) -> (bool, bool) {
    let shared = spec
        .shared_y
        .then(|| series_range(&spec.panels.iter().collect::<Vec<_>>()));
    let (mut logged, mut capped) = (false, false);
    for panel in &mut spec.panels {
        if panel.observed.is_empty() || panel.log {
            // A log axis takes every observation in.
            continue;
        }
        let range = match shared {
            Some(r) => r,
            None => series_range(&[&*panel]),
        };
        // No curve to squash: the axis follows the observations.
        let Some(top) = range.map(|r| r.1).filter(|t| *t > 0.0) else {
            continue;
        };
        let cap = EXTEND * top;
        let near = panel.observed.iter().all(|o| o.value <= cap);
        let squashed = (panel.observed.iter()).any(|o| o.value > 0.0 && o.value < top / SQUASH);
        if (!near || squashed) && shared.is_none() && loggable(panel) {
            panel.log = true;
            panel.y_title.push_str(" (log scale)");
            logged = true;
            continue;
        }
        // The axis takes in no more than the cap: a range that runs on above it is cut at the
        // top edge (the axis need only reach the value), a value above it is drawn off the scale.
        for o in &mut panel.observed {
            o.off_scale = o.value > cap;
            o.axis_high = if o.high <= cap { o.high } else { o.value };
            capped |= o.off_scale;
        }
    }
    (logged, capped)
}

/// Whether a panel reads on a log axis: curves only (no stacked layers), every value positive.
fn loggable(panel: &Panel) -> bool {
    let Body::Lines(series) = &panel.body else {
        return false;
    };
    series.iter().all(|s| !s.stacked)
        && series
            .iter()
            .flat_map(|s| &s.points)
            .filter_map(|p| p.v)
            .all(|v| v.mean > 0.0)
        && panel.observed.iter().all(|o| o.value > 0.0)
}
