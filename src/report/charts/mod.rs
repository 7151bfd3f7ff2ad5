//! Charts of a run, or of several runs overlaid (a baseline and its what-ifs), as SVG (for print)
//! and PNG (1600 x 900, for slides).
//!
//! [`render`] is a pure function: same runs in, same bytes out (no timestamps, fixed order). It
//! draws with a font bundled in the binary (DejaVu Sans, `assets/fonts/`), so it needs no system
//! fonts.
//!
//! # The charts
//!
//! | name | what it shows |
//! |---|---|
//! | `throughput-compute` | effective compute per period (`compute_pflop_days`): all sites and each jurisdiction |
//! | `throughput-tokens` | tokens served against tokens demanded (all firms), and the unserved share |
//! | `cost-spend` | spend per period (`cost_usd`): all sites and each jurisdiction |
//! | `cost-unit` | `usd_per_pflop_day` and `usd_per_million_tokens`, all sites |
//! | `compute-share` | each firm's compute at home and abroad |
//! | `sites` | utilisation per site and period, as a heatmap |
//! | `training` | median time from arrival to completion, by jurisdiction where jobs ran, in days |
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

mod draw;
mod spec;
mod style;

use super::view::RunView;

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
    style::register_fonts().map_err(|()| ChartError::Font)?;
    let specs = spec::build(runs)?;
    specs
        .iter()
        .map(|s| {
            let svg = draw::svg(s).map_err(|message| ChartError::Draw {
                chart: s.name.to_string(),
                message,
            })?;
            let chart = || s.name.to_string();
            let png = draw::png(s).map_err(|f| match f {
                draw::PngFailure::Draw(message) => ChartError::Draw {
                    chart: chart(),
                    message,
                },
                draw::PngFailure::Encode(message) => ChartError::Encode {
                    chart: chart(),
                    message,
                },
            })?;
            Ok(Chart {
                name: s.name.to_string(),
                title: s.title.clone(),
                svg,
                png,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
