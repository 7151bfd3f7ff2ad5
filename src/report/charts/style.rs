//! The look of the charts: the bundled font, colours, dash patterns, markers and ticks (numbers
//! are written by [`crate::report::format`], as the report's tables write them).
//!
//! Colours are the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies);
//! every series also has its own dash pattern and marker shape, so that the charts still read when
//! printed in greyscale. The heatmap uses viridis, whose lightness rises monotonically.

use std::sync::OnceLock;

use plotters::style::{FontStyle, RGBColor};

/// The font family the charts draw with. The name is also what SVG files ask the viewer for, so it
/// is a CSS font list: DejaVu Sans where the reader has it, any sans-serif otherwise.
pub(super) const FAMILY: &str = "DejaVu Sans, sans-serif";

pub(super) static REGULAR: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
pub(super) static BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

/// Registers the bundled font with plotters, once per process. Charts never look for system fonts,
/// so they render the same on a machine with no font packages.
pub(super) fn register_fonts() -> Result<(), ()> {
    static DONE: OnceLock<Result<(), ()>> = OnceLock::new();
    *DONE.get_or_init(|| {
        // "sans-serif" too: plotters' own defaults ask for it.
        for family in [FAMILY, "sans-serif"] {
            plotters::style::register_font(family, FontStyle::Normal, REGULAR).map_err(|_| ())?;
            plotters::style::register_font(family, FontStyle::Bold, BOLD).map_err(|_| ())?;
        }
        Ok(())
    })
}

/// Okabe-Ito colours.
pub(super) mod okabe_ito {
    use plotters::style::RGBColor;
    pub const BLACK: RGBColor = RGBColor(0, 0, 0);
    pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
    pub const SKY_BLUE: RGBColor = RGBColor(86, 180, 233);
    pub const BLUISH_GREEN: RGBColor = RGBColor(0, 158, 115);
    pub const BLUE: RGBColor = RGBColor(0, 114, 178);
    pub const VERMILLION: RGBColor = RGBColor(213, 94, 0);
    pub const REDDISH_PURPLE: RGBColor = RGBColor(204, 121, 167);
}

/// Text and furniture greys.
pub(super) const INK: RGBColor = RGBColor(20, 20, 20);
pub(super) const MUTED: RGBColor = RGBColor(85, 85, 85);
pub(super) const FAINT: RGBColor = RGBColor(120, 120, 120);
pub(super) const GRID: RGBColor = RGBColor(222, 222, 222);
pub(super) const POLICY: RGBColor = RGBColor(90, 90, 90);

/// Observations held out of the inputs: Okabe-Ito yellow diamonds, outlined black (no series
/// uses yellow, so they read on any curve; tests find them by this fill).
pub(super) const OBSERVED_FILL: RGBColor = RGBColor(240, 228, 66);
/// Observations that are also inputs: hollow diamonds and ranges in this grey (used for nothing
/// else).
pub(super) const OBSERVED_INPUT: RGBColor = RGBColor(140, 140, 140);

/// A dash pattern: lengths of alternating drawn and skipped stretches, in design pixels.
/// Empty: solid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Dash {
    Solid,
    Dashed,
    Dotted,
    DotDashed,
    LongDashed,
}

impl Dash {
    pub(super) fn pattern(self) -> &'static [f64] {
        match self {
            Dash::Solid => &[],
            Dash::Dashed => &[11.0, 6.0],
            Dash::Dotted => &[2.5, 4.5],
            Dash::DotDashed => &[11.0, 4.5, 2.5, 4.5],
            Dash::LongDashed => &[22.0, 7.0],
        }
    }
}

/// A marker shape, drawn on every few points of a line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Marker {
    None,
    Circle,
    Square,
    TriangleUp,
    Diamond,
    TriangleDown,
    Cross,
}

/// How one series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Style {
    pub color: RGBColor,
    pub dash: Dash,
    pub marker: Marker,
    /// Line width in design pixels.
    pub width: f64,
}

const SERIES_COLORS: [RGBColor; 6] = [
    okabe_ito::BLUE,
    okabe_ito::VERMILLION,
    okabe_ito::BLUISH_GREEN,
    okabe_ito::ORANGE,
    okabe_ito::REDDISH_PURPLE,
    okabe_ito::SKY_BLUE,
];
const DASHES: [Dash; 5] = [
    Dash::Solid,
    Dash::Dashed,
    Dash::DotDashed,
    Dash::LongDashed,
    Dash::Dotted,
];
const MARKERS: [Marker; 6] = [
    Marker::Circle,
    Marker::Square,
    Marker::TriangleUp,
    Marker::Diamond,
    Marker::TriangleDown,
    Marker::Cross,
];

/// The style of the `i`-th member of a set (jurisdictions in a fixed order, firms, ...).
pub(super) fn series_style(i: usize) -> Style {
    Style {
        color: SERIES_COLORS[i % SERIES_COLORS.len()],
        dash: DASHES[i % DASHES.len()],
        marker: MARKERS[i % MARKERS.len()],
        width: 2.6,
    }
}

/// The style of a total drawn with its parts: black, solid, heavier, no marker.
pub(super) fn total_style() -> Style {
    Style {
        color: okabe_ito::BLACK,
        dash: Dash::Solid,
        marker: Marker::None,
        width: 3.2,
    }
}

/// The style of the `i`-th run when runs are overlaid: the first (the baseline) black and solid,
/// what-ifs in colour, each with its own dash and marker.
pub(super) fn run_style(i: usize) -> Style {
    const COLORS: [RGBColor; 6] = [
        okabe_ito::BLACK,
        okabe_ito::VERMILLION,
        okabe_ito::BLUE,
        okabe_ito::BLUISH_GREEN,
        okabe_ito::REDDISH_PURPLE,
        okabe_ito::ORANGE,
    ];
    const RUN_DASHES: [Dash; 5] = [
        Dash::Solid,
        Dash::Dashed,
        Dash::DotDashed,
        Dash::LongDashed,
        Dash::Dotted,
    ];
    const RUN_MARKERS: [Marker; 6] = [
        Marker::Circle,
        Marker::TriangleUp,
        Marker::Square,
        Marker::Diamond,
        Marker::TriangleDown,
        Marker::Cross,
    ];
    Style {
        color: COLORS[i % COLORS.len()],
        dash: RUN_DASHES[i % RUN_DASHES.len()],
        marker: RUN_MARKERS[i % RUN_MARKERS.len()],
        width: 2.6,
    }
}

/// Viridis at `t` in 0..=1 (piecewise linear between 9 samples of the matplotlib map).
pub(super) fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let f = t * (STOPS.len() - 1) as f64;
    let i = (f.floor() as usize).min(STOPS.len() - 2);
    let u = f - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// How values on an axis are written: the one number format of tables and axes.
pub(super) use crate::report::format::Unit;

/// About `target` "nice" tick values (1, 2, 2.5 or 5 times a power of ten) covering `lo..hi`;
/// returns (ticks, axis bottom, axis top).
pub(super) fn linear_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64, f64) {
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
    let raw = (hi - lo) / target.max(1) as f64;
    let p = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * p);
    let first = (lo / step).floor() as i64;
    let last = (hi / step - 1e-9).ceil() as i64;
    let ticks: Vec<f64> = (first..=last).map(|k| k as f64 * step).collect();
    let (a, b) = (ticks[0], *ticks.last().expect("at least one tick"));
    (ticks, a, b)
}

/// Ticks for a log axis covering `lo..hi` (both > 0). The axis ends on the nearest 1, 2 or 5
/// times a power of ten outside the data; ticks are 1-2-5 per decade over up to three decades,
/// powers of ten (and the ends) beyond. Returns (ticks, axis bottom, axis top).
pub(super) fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, f64, f64) {
    let lo = lo.max(1e-9);
    let hi = hi.max(lo * 1.0001);
    let d0 = lo.log10().floor() as i32;
    let d1 = hi.log10().ceil() as i32;
    let candidates: Vec<f64> = (d0..=d1)
        .flat_map(|d| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(d)))
        .collect();
    let bottom = candidates
        .iter()
        .rev()
        .find(|t| **t <= lo * 1.0001)
        .copied()
        .unwrap_or(candidates[0]);
    let top = candidates
        .iter()
        .find(|t| **t >= hi * 0.9999)
        .copied()
        .unwrap_or(*candidates.last().expect("candidates"));
    let decades = top.log10() - bottom.log10();
    let mut ticks: Vec<f64> = candidates
        .into_iter()
        .filter(|t| *t >= bottom * 0.9999 && *t <= top * 1.0001)
        .filter(|t| {
            let is_power = (t.log10() - t.log10().round()).abs() < 1e-9;
            decades <= 3.0 || is_power || *t == bottom || *t == top
        })
        .collect();
    // Ends that crowd a power of ten (less than a third of a decade apart) give way to it.
    if decades > 3.0 {
        let n = ticks.len();
        if n > 2 && (ticks[1].log10() - ticks[0].log10()) < 0.34 {
            ticks.remove(0);
        }
        let n = ticks.len();
        if n > 2 && (ticks[n - 1].log10() - ticks[n - 2].log10()) < 0.34 {
            ticks.remove(n - 1);
        }
    }
    (ticks, bottom, top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice() {
        let (t, lo, hi) = linear_ticks(0.0, 93_000.0, 5);
        assert_eq!(t, vec![0.0, 20e3, 40e3, 60e3, 80e3, 100e3]);
        assert_eq!((lo, hi), (0.0, 100e3));
        let (t, lo, hi) = log_ticks(0.4, 70.0);
        assert_eq!(lo, 0.2);
        assert_eq!(hi, 100.0);
        assert!(t.contains(&1.0) && t.contains(&50.0));
        let (t, lo, hi) = log_ticks(0.04, 130.0);
        assert_eq!((lo, hi), (0.02, 200.0));
        assert_eq!(t, vec![0.02, 0.1, 1.0, 10.0, 100.0]);
    }

    #[test]
    fn viridis_ends() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
    }
}
