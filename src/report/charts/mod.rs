//! Charts of a run, or of several runs overlaid (a baseline and its what-ifs), and of a sweep, as
//! SVG (for the web and print), PNG (1600 x 900, for slides) and PDF (one 8 x 4.5 inch page, for
//! documents: the SVG drawing rendered by `pdf.rs`, its text kept as text).
//!
//! [`render`] and [`render_sweep`] are pure functions: same input, same bytes out (no timestamps,
//! fixed order). They draw with a font bundled in the binary (DejaVu Sans, `assets/fonts/`), so
//! they need no system fonts.
//!
//! # The charts
//!
//! | name | what it shows |
//! |---|---|
//! | `throughput-compute` | useful (net) compute per day (`compute_pflop_days`): all sites and each jurisdiction; and in a panel of its own the compute failures rolled back (`lost_pflop_days`), titled with its share of all compute done (runs compared: each run's share in a note) |
//! | `throughput-tokens` | tokens served against tokens demanded per day (all firms), and the unserved share |
//! | `cost-spend` | what the sites cost per day, stacked by who paid: firms at home (`cost_home_usd`), abroad (`cost_abroad_usd`), no one (`cost_unpaid_usd`), under the sites' total (`cost_usd`); and each jurisdiction's `cost_usd` |
//! | `cost-unit` | firms' spend per useful (net) PFLOP-day (`usd_per_pflop_day`) and per million tokens (`usd_per_million_tokens`), all firms |
//! | `compute-share` | each firm's compute per day at home and abroad |
//! | `sites` | utilisation per site and period, as a heatmap |
//! | `training` | median days from arrival to completion of pre-training and of fine-tuning (`completion_hours_p50_<kind>`, log scale), each above its backlog: the firms' jobs not finished at period end (`backlog_<kind>_end`) |
//!
//! Flows (compute, tokens, spend) are drawn as rates per day: each period's total divided by its
//! length in days (`spec::period_days`, from the period starts and the manifest's end date), so
//! a partial first or last period or a short month draws at the height of its daily rate and
//! does not read as a drop. Compute per day is labelled PFLOP/s (1 PFLOP-day per day is 1 PFLOP/s
//! sustained), the unit cluster capacity is quoted in. Stocks (backlog), ratios and times are
//! drawn as summarised.
//!
//! With one run, a chart draws that run's groups together: one curve per jurisdiction, with the
//! all-sites total in a panel of its own above (drawn with its parts, its band would cover them);
//! `compute-share` stacks each firm's home and abroad compute, one panel per firm. With several
//! runs, the runs are overlaid on the same axes, one colour, dash and marker per run (the first,
//! the baseline, black and solid), legend names the scenario names. So that no panel holds runs x
//! groups curves, a chart split by group then gets one panel per group (the total first), and
//! `compute-share` one panel per firm for abroad and one for at home (stacked areas do not
//! overlay); `sites` gets one row per run under each site. Groups that are zero (or, on the log
//! axis of `training`, empty) in every run are left out and named in a note.
//!
//! Every curve with more than one replication carries its 5th-95th percentile band (on stacked
//! layers, hatching around the layer's top edge). Every chart marks the rules that start or end
//! inside the horizon with numbered vertical lines (labels staggered when dates crowd), keyed
//! under the chart; rules in force throughout are counted in a note, not drawn. Colours are
//! Okabe-Ito, plus a dash pattern and marker per series for greyscale; the heatmap uses viridis.
//!
//! # Observations
//!
//! [`render_observed`] (what `capsim run` calls, with the scenario's observations held against the
//! run) also draws each observation on the panel whose curve measures the same quantity: the
//! summary series its metric over its group reads (`tokens_per_day` of `national` on tokens
//! served, `compute_pflop_days` of `jurisdiction:CN` on China's useful compute, ...), converted to
//! the curve's units (a total over a window as a daily rate over the whole reporting periods
//! compared, as `observations.csv` compares it). A yellow diamond outlined black (an input of the
//! scenario: hollow, grey) at its date or the middle of its window, with the window as a
//! horizontal bar and the source's range as a vertical one; in the legend "observed (held out)" and
//! "observed (input)", only on charts that draw some. Observations of what no curve draws (chips
//! per chip type, stacked layers, the heatmap, context figures) and those outside the horizon are
//! in the report's table and `observations.csv` only. An axis takes in observations up to 3x above
//! its curves; beyond, a panel of positive curves goes to a log axis, any other draws the
//! observation as an arrow at its top edge labelled with its value. The mapping and the scale rule
//! are in `observed.rs`. `capsim compare` draws none (its runs are read back from folders).
//!
//! # Sweep charts
//!
//! [`render_sweep`] draws a whole (or merged) sweep from its manifest and per-point statistics
//! (`sweep.csv`); `capsim sweep` and `capsim merge` write them to `charts/` beside `sweep.csv`.
//!
//! | name | what it shows |
//! |---|---|
//! | `sweep-<k>-<path>-<theme>` | for axis `k` (1-based, in `--vary` order; `<path>` its field path with `.` and `_` as `-`), a panel per headline number of one theme: the mean at each of the axis's values, with markers and the 5th-95th percentile band; the scenario as written (point 0) as a dashed reference line labelled "as written", with its own faint band |
//! | `tornado-<theme>` | one-at-a-time sweeps and grids of one axis only: a panel per headline number of one theme, a bar per axis from the lowest to the highest mean over its values (the part below the as-written mean blue, above vermillion), longest on top, each end labelled with the value that gave it, around a line at the as-written mean and its faint 5th-95th percentile band (the noise to compare swings against) |
//!
//! The headline numbers are drawn by theme, so that a chart holds a handful of panels wide enough
//! for calendar ticks and whole words: `compute` (compute, compute lost, share abroad, costs),
//! `service` (tokens served and share served, jobs completed, median completion times),
//! `backlog` (jobs left, waiting or blocked at the end, their mean age, evictions), `firms`
//! (each firm's share of its compute abroad) and `other` (numbers the chart table does not
//! know). A theme with more than eight numbers (many firms) is split evenly into parts
//! `<theme>-1`, `<theme>-2`, ...; a theme with nothing to draw has no chart.
//!
//! The x axis of an axis chart follows the axis's value labels: all dates give a calendar axis,
//! all numbers a linear one, anything else (words, or a mix) evenly spaced categories in the order
//! given, whose points are not joined by lines. Which points an axis chart shows: under
//! one-at-a-time, the points that set only that axis; under a grid of one axis, every point but
//! point 0; under a grid of several axes, a series per combination of the other axes' values
//! (legend `b.y=3, c.z=x`), or, above five combinations, only the slice where each other axis
//! sits at its middle value (said in a note). A grid of several axes has no tornado: each of its
//! points moves several fields at once, so a bar per axis would mix in the others' effects.
//!
//! Headline numbers with no value at any point, or zero at every point, get no panel and are
//! named in a note. Value axes carry units (PFLOP-days, USD, % for shares, hours, jobs, tokens)
//! with k/M/B/T prefixes. The value axes of axis charts always start at 0 (every headline number
//! is a quantity), and each panel writes beside its title how far its means spread (`spread
//! 1.4%` of the scenario as written; `pts` for shares); the tornado's axes span the swings, and a
//! panel whose axis leaves 0 out says `axis not from 0` and carries a break mark.

mod draw;
mod observed;
mod pdf;
mod spec;
mod style;
mod sweep;
pub mod web;

use super::observed::Held;
use super::sweep::SweepManifest;
use super::view::RunView;
use crate::experiment::sweep::PointStat;
use rayon::prelude::*;

pub use draw::{HEIGHT, WIDTH};

/// One rendered chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chart {
    /// File stem, e.g. `throughput-compute`.
    pub name: String,
    /// The chart's title, as drawn.
    pub title: String,
    /// The chart as an SVG document.
    pub svg: String,
    /// The chart as a PNG image ([`WIDTH`] x [`HEIGHT`], RGB).
    pub png: Vec<u8>,
    /// The chart as a one-page PDF (8 x 4.5 inches), rendered from [`Chart::svg`].
    pub pdf: Vec<u8>,
}

/// Why charts could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// No run was given.
    #[error("no runs to chart\n  help: give at least one run")]
    NoRuns,
    /// A run has no reporting periods.
    #[error("run '{scenario}' has no periods to chart\n  help: check that its horizon is at least one day long")]
    NoPeriods {
        /// The run's scenario.
        scenario: String,
    },
    /// Runs compared on one chart report over periods of different lengths, so their per-period
    /// totals are not comparable.
    #[error("cannot overlay '{first}' (per {first_period}) and '{other}' (per {other_period})\n  help: run both with the same --period")]
    MixedPeriods {
        /// The first run's scenario.
        first: String,
        /// Its period.
        first_period: String,
        /// The run that differs.
        other: String,
        /// Its period.
        other_period: String,
    },
    /// A date in a run's manifest is not an ISO date.
    #[error("run '{scenario}': {field} is '{value}', not an ISO date (YYYY-MM-DD)\n  help: re-run `capsim run` with this version of capsim")]
    BadDate {
        /// The run's scenario.
        scenario: String,
        /// The manifest field.
        field: String,
        /// What it holds.
        value: String,
    },
    /// A sweep's manifest does not hold together (a damaged or hand-edited folder).
    #[error("sweep of '{scenario}': {message}\n  help: re-run `capsim sweep` (or `capsim merge`) with this version of capsim")]
    BadSweep {
        /// The sweep's scenario.
        scenario: String,
        /// What does not fit.
        message: String,
    },
    /// The bundled font did not load (a broken build).
    #[error("the bundled chart font does not load\n  help: rebuild capsim from a clean checkout (assets/fonts/)")]
    Font,
    /// plotters failed to draw.
    #[error("chart '{chart}': drawing failed: {message}")]
    Draw {
        /// The chart.
        chart: String,
        /// plotters' message.
        message: String,
    },
    /// The SVG could not be rendered as PDF.
    #[error("chart '{chart}': PDF rendering failed: {message}")]
    Pdf {
        /// The chart.
        chart: String,
        /// What failed.
        message: String,
    },
    /// The PNG encoder failed.
    #[error("chart '{chart}': PNG encoding failed: {message}")]
    Encode {
        /// The chart.
        chart: String,
        /// The encoder's message.
        message: String,
    },
}

/// Every chart for one run, or for several runs overlaid (the first is drawn as the reference,
/// black and solid), in the fixed order of the table in the module docs.
pub fn render(runs: &[RunView]) -> Result<Vec<Chart>, ChartError> {
    render_observed(runs, &[])
}

/// [`render`], with the observations `held` (see [`super::observed::hold`]) drawn on the panels
/// whose curves measure them (see [the module docs](self#observations)).
pub fn render_observed(runs: &[RunView], held: &[Held]) -> Result<Vec<Chart>, ChartError> {
    style::register_fonts().map_err(|()| ChartError::Font)?;
    let mut specs = spec::build(runs)?;
    observed::attach(&mut specs, held);
    // One chart per task: each is pure, and `collect` keeps chart order, so the bytes do not
    // depend on the threads.
    specs
        .par_iter()
        .map(|s| {
            let desc = [s.subtitle.as_str(), s.source.as_str()]
                .iter()
                .filter(|t| !t.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            finish(s.name, &s.title, &desc, s)
        })
        .collect()
}

/// Every chart of a whole sweep from its manifest and per-point statistics: per axis, in axis
/// order, one per theme (`sweep-<k>-<path>-<theme>`), then a `tornado-<theme>` per theme where the
/// design allows one (see [the table](self#sweep-charts)).
pub fn render_sweep(
    manifest: &SweepManifest,
    stats: &[PointStat],
) -> Result<Vec<Chart>, ChartError> {
    style::register_fonts().map_err(|()| ChartError::Font)?;
    let specs = sweep::build(manifest, stats)?;
    specs
        .par_iter()
        .map(|s| finish(s.name(), s.title(), "A capsim sweep chart.", s))
        .collect()
}

/// How the sweep charts title a headline number (`compute_pflop_days` -> `Net useful compute`,
/// `offshore_share.<firm>` -> `<firm>: compute abroad`), for pages that name them alike.
pub fn headline_title(name: &str) -> String {
    sweep::metric_info(name).title
}

/// Draws a chart as SVG, PNG and PDF (from the SVG); the SVG is an image to assistive
/// technology, named by `title` and described by `desc`, and the PDF is titled `title`.
fn finish(
    name: &str,
    title: &str,
    desc: &str,
    drawing: &impl draw::Drawing,
) -> Result<Chart, ChartError> {
    let chart = || name.to_string();
    let svg = draw::svg(drawing).map_err(|message| ChartError::Draw {
        chart: chart(),
        message,
    })?;
    let svg = draw::accessible(svg, name, title, desc);
    let png = draw::png(drawing).map_err(|f| match f {
        draw::PngFailure::Draw(message) => ChartError::Draw {
            chart: chart(),
            message,
        },
        draw::PngFailure::Encode(message) => ChartError::Encode {
            chart: chart(),
            message,
        },
    })?;
    let pdf = pdf::pdf(&svg, title).map_err(|message| ChartError::Pdf {
        chart: chart(),
        message,
    })?;
    Ok(Chart {
        name: chart(),
        title: title.to_string(),
        svg,
        png,
        pdf,
    })
}

#[cfg(test)]
mod tests;
