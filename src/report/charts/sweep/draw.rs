//! Draws sweep charts: the run charts' page (header, legend column, notes, source) around a grid
//! of panels with a value x axis (calendar, linear or categories) or tornado bars.

use plotters::prelude::{DrawingBackend, WHITE};
use plotters::style::text_anchor::HPos;

use super::super::draw::{
    draw_page, fit, month_ticks, rgba, runs_of, text_w, widest, wrap, y_grid, Canvas, Drawing,
    Page, Region, EM_AXIS_TITLE, EM_NOTE, EM_TICK, HALF_CAP_EM, R,
};
use super::super::style::{linear_ticks, Marker, Unit, FAINT, GRID, INK, MUTED};
use super::{
    grid_cols, AxisChart, AxisPanel, Bar, Stat, SweepSpec, Tornado, TornadoPanel, XAxis, XKind,
    ABOVE, BELOW,
};

impl Drawing for SweepSpec {
    fn draw_on<DB: DrawingBackend>(&self, cv: &Canvas<'_, DB>) -> R {
        match self {
            SweepSpec::Axis(c) => draw_axis_chart(cv, c),
            SweepSpec::Tornado(t) => draw_tornado(cv, t),
        }
    }
}

/// Panel titles are a little smaller than the run charts': sweep charts have up to a dozen.
const EM_TITLE: f64 = 15.0;
const TITLE_H: f64 = 24.0;
const GAP_X: f64 = 34.0;
const GAP_Y: f64 = 16.0;
/// Under each plot, for the x tick labels (one line; two for long category labels).
const X_TICKS_H: f64 = 26.0;
const X_TICKS_H2: f64 = 42.0;
/// Band opacity of the series (as the run charts) and of the faint reference band.
const BAND_ALPHA: f64 = 0.17;
const REF_BAND_ALPHA: f64 = 0.075;

/// A panel's box in the grid.
#[derive(Clone, Copy)]
struct Cell {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

fn cells(region: Region, n: usize) -> Vec<Cell> {
    let cols = grid_cols(n);
    let rows = n.div_ceil(cols).max(1);
    let w = (region.2 - region.0 - GAP_X * (cols - 1) as f64) / cols as f64;
    let h = (region.3 - region.1 - GAP_Y * (rows - 1) as f64) / rows as f64;
    (0..n)
        .map(|i| {
            let (c, r) = ((i % cols) as f64, (i / cols) as f64);
            let x0 = region.0 + c * (w + GAP_X);
            let y0 = region.1 + r * (h + GAP_Y);
            Cell {
                x0,
                y0,
                x1: x0 + w,
                y1: y0 + h,
            }
        })
        .collect()
}

fn no_data<DB: DrawingBackend>(cv: &Canvas<'_, DB>, region: Region, text: &str) -> R {
    cv.text(
        text,
        (region.0 + region.2) / 2.0,
        (region.1 + region.3) / 2.0,
        EM_AXIS_TITLE,
        false,
        FAINT,
        HPos::Center,
    )
}

/// A panel's title, and a remark at the right of the same line (in small grey type), which the
/// title gives way to.
fn panel_title<DB: DrawingBackend>(
    cv: &Canvas<'_, DB>,
    cell: &Cell,
    title: &str,
    remark: Option<&str>,
) -> R {
    let mut title_w = cell.x1 - cell.x0;
    if let Some(r) = remark {
        let r = fit(r, EM_NOTE, false, (cell.x1 - cell.x0) * 0.45);
        title_w -= text_w(&r, EM_NOTE, false) + 12.0;
        cv.text(
            &r,
            cell.x1 - 4.0,
            cell.y0 + EM_TITLE,
            EM_NOTE,
            false,
            MUTED,
            HPos::Right,
        )?;
    }
    cv.text(
        &fit(title, EM_TITLE, true, title_w),
        cell.x0,
        cell.y0 + EM_TITLE,
        EM_TITLE,
        true,
        INK,
        HPos::Left,
    )
}

/// Maps values onto a plot.
struct Plot {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    x_lo: f64,
    x_hi: f64,
    y_lo: f64,
    y_hi: f64,
}

impl Plot {
    fn fx(&self, x: f64) -> f64 {
        let t = if self.x_hi > self.x_lo {
            (x - self.x_lo) / (self.x_hi - self.x_lo)
        } else {
            0.5
        };
        self.x0 + (self.x1 - self.x0) * t.clamp(0.0, 1.0)
    }
    fn fy(&self, y: f64) -> f64 {
        let t = if self.y_hi > self.y_lo {
            (y - self.y_lo) / (self.y_hi - self.y_lo)
        } else {
            0.5
        };
        self.y1 - (self.y1 - self.y0) * t.clamp(0.0, 1.0)
    }
}

/// A value axis over `lo..hi`: (ticks, axis start, axis end). The axis always takes in 0: every
/// headline number is a quantity (a total, a share, a count, a time), and an axis cut above 0
/// makes a 1% difference fill the panel. How far the means spread is written in the panel's
/// corner instead ([`super::AxisPanel::spread`]). Equal ends are widened.
pub(super) fn value_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64, f64) {
    let (lo, hi) = widen(lo.min(0.0), hi.max(0.0));
    linear_ticks(lo, hi, target)
}

/// The y axis of an axis-chart panel: (ticks, axis start, axis end).
pub(super) fn panel_axis(p: &AxisPanel, target: usize) -> (Vec<f64>, f64, f64) {
    match min_max(&panel_values(p)) {
        Some((lo, hi)) => value_ticks(lo, hi, target),
        None => linear_ticks(0.0, 1.0, target),
    }
}

/// A range of one value made wide enough to draw: ±10%, or 0 to 1 around zero.
fn widen(lo: f64, hi: f64) -> (f64, f64) {
    if hi - lo > hi.abs().max(lo.abs()) * 1e-9 {
        (lo, hi)
    } else if lo == 0.0 {
        (0.0, 1.0)
    } else {
        let d = lo.abs() * 0.1;
        (lo - d, hi + d)
    }
}

/// Every value a panel draws, for its range.
fn panel_values(p: &AxisPanel) -> Vec<f64> {
    let mut v = Vec::new();
    let mut push = |s: &Stat, band: bool| {
        v.push(s.mean);
        if band {
            v.extend([s.lo, s.hi]);
        }
    };
    if let Some(b) = &p.baseline {
        push(b, p.baseline_band);
    }
    for s in &p.series {
        for (_, st) in &s.points {
            if let Some(st) = st {
                push(st, s.band);
            }
        }
    }
    v.retain(|x| x.is_finite());
    v
}

fn min_max(v: &[f64]) -> Option<(f64, f64)> {
    if v.is_empty() {
        return None;
    }
    Some((
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    ))
}

/// Nice ticks inside `lo..hi` on a horizontal axis `width` pixels long: as many as keep their
/// labels at least 14 pixels apart (at least one).
pub(super) fn fitting_ticks(lo: f64, hi: f64, width: f64, unit: Unit) -> Vec<(f64, String)> {
    let eps = (hi - lo).abs() * 1e-9;
    let mut best: Vec<(f64, String)> = Vec::new();
    for target in 1..=10 {
        let (ticks, _, _) = linear_ticks(lo, hi, target);
        let inside: Vec<f64> = ticks
            .into_iter()
            .filter(|t| *t >= lo - eps && *t <= hi + eps)
            .collect();
        if inside.len() <= best.len() {
            continue;
        }
        let labels = unit.format_ticks(&inside);
        let widest_label = widest(&labels, EM_TICK, false);
        let spacing = match inside.as_slice() {
            [a, b, ..] => width * (b - a) / (hi - lo),
            _ => f64::INFINITY,
        };
        if best.is_empty() || widest_label + 14.0 <= spacing {
            best = inside.into_iter().zip(labels).collect();
        }
    }
    best
}

/// Ticks of an axis chart's x axis, with labels, inside the axis range.
pub(super) fn x_ticks(x: &XAxis, width: f64) -> Vec<(f64, String)> {
    match x.kind {
        XKind::Category => x
            .values
            .iter()
            .enumerate()
            .filter(|(i, (xi, _))| *xi == *i as f64)
            .map(|(_, (xi, l))| (*xi, l.clone()))
            .collect(),
        XKind::Number => fitting_ticks(x.lo, x.hi, width, Unit::Plain),
        XKind::Date => {
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
            let start_day = x.lo.ceil();
            let Some(start) = epoch.checked_add_days(chrono::Days::new(start_day.max(0.0) as u64))
            else {
                return Vec::new();
            };
            let days = x.hi - start_day;
            // As `fitting_ticks`: a tick per label width plus a gap. `month_ticks` allows one
            // per 84 pixels (the run charts' rule), so it gets the width scaled to that.
            let label_w = text_w("2026-07", EM_TICK, false) + 14.0;
            let ticks: Vec<(f64, String)> = month_ticks(start, days, width * 84.0 / label_w)
                .into_iter()
                .map(|(d, l)| (start_day + d, l))
                .collect();
            if ticks.len() >= 2 {
                return ticks;
            }
            // Under two months: the swept dates themselves, as many as fit.
            let fit_n = ((width / 100.0).floor() as usize).max(1);
            let k = x.values.len().div_ceil(fit_n).max(1);
            x.values
                .iter()
                .step_by(k)
                .map(|(xi, l)| (*xi, l.clone()))
                .collect()
        }
    }
}

/// Where a panel's plot goes inside its cell, given the width of its y axis furniture.
fn axis_plot(cell: &Cell, left: f64, ticks_h: f64, x: &XAxis, lo: f64, hi: f64) -> Plot {
    Plot {
        x0: cell.x0 + left,
        y0: cell.y0 + TITLE_H + 6.0,
        x1: cell.x1 - 6.0,
        y1: cell.y1 - ticks_h,
        x_lo: x.lo,
        x_hi: x.hi,
        y_lo: lo,
        y_hi: hi,
    }
}

fn draw_axis_chart<DB: DrawingBackend>(cv: &Canvas<'_, DB>, c: &AxisChart) -> R {
    let region = draw_page(
        cv,
        &Page {
            title: &c.title,
            subtitle: &c.subtitle,
            legend: &c.legend,
            key: &[],
            notes: &c.notes,
            source: &c.source,
        },
    )?;
    // The x axis's title, once, under the grid.
    let x_title_h = 24.0;
    let grid = (region.0, region.1, region.2, region.3 - x_title_h);
    let kind = match c.x.kind {
        XKind::Date => "date",
        XKind::Number => "value",
        XKind::Category => "choice",
    };
    cv.text(
        &fit(
            &format!("{} ({kind} set at each point)", c.x.title),
            EM_AXIS_TITLE,
            false,
            grid.2 - grid.0,
        ),
        (grid.0 + grid.2) / 2.0,
        region.3 - 4.0,
        EM_AXIS_TITLE,
        false,
        INK,
        HPos::Center,
    )?;
    if c.panels.is_empty() {
        return no_data(cv, grid, "no headline number has a value at any point");
    }
    let cells = cells(grid, c.panels.len());
    let cols = grid_cols(c.panels.len());

    // Each panel's y axis, then a left edge shared down each column so x axes line up.
    let mut axes = Vec::new();
    for (p, cell) in c.panels.iter().zip(&cells) {
        let plot_h = cell.y1 - cell.y0 - TITLE_H - X_TICKS_H2 - 6.0;
        let target = ((plot_h / 45.0).round() as usize).clamp(2, 6);
        let (ticks, lo, hi) = panel_axis(p, target);
        let labels = p.metric.unit.format_ticks(&ticks);
        let tick_w = widest(&labels, EM_TICK, false);
        let title_w = if p.metric.unit_title.is_empty() {
            0.0
        } else {
            24.0
        };
        axes.push((ticks, labels, lo, hi, title_w + tick_w + 12.0));
    }
    let mut left = vec![0.0f64; cols];
    for (i, a) in axes.iter().enumerate() {
        left[i % cols] = left[i % cols].max(a.4);
    }
    // Category labels too wide for their slot take two lines.
    let slot_w = cells
        .iter()
        .enumerate()
        .map(|(i, cell)| cell.x1 - 6.0 - cell.x0 - left[i % cols])
        .fold(f64::INFINITY, f64::min)
        / c.x.values.len().max(1) as f64;
    let two_lines = c.x.kind == XKind::Category
        && c.x
            .values
            .iter()
            .any(|(_, l)| text_w(l, EM_TICK, false) > slot_w - 6.0);
    let ticks_h = if two_lines { X_TICKS_H2 } else { X_TICKS_H };

    for (i, ((p, cell), (ticks, labels, lo, hi, _))) in
        c.panels.iter().zip(&cells).zip(&axes).enumerate()
    {
        let plot = axis_plot(cell, left[i % cols], ticks_h, &c.x, *lo, *hi);
        panel_title(cv, cell, &p.metric.title, p.spread.as_deref())?;
        draw_axis_panel(cv, c, p, &plot, ticks, labels, cell)?;
    }
    Ok(())
}

fn draw_axis_panel<DB: DrawingBackend>(
    cv: &Canvas<'_, DB>,
    c: &AxisChart,
    p: &AxisPanel,
    plot: &Plot,
    ticks: &[f64],
    labels: &[String],
    cell: &Cell,
) -> R {
    // Grid and y ticks.
    let rows = ticks.iter().zip(labels);
    y_grid(
        cv,
        plot.x0,
        plot.x1,
        rows.map(|(&t, l)| (plot.fy(t), l.as_str())),
    )?;
    if !p.metric.unit_title.is_empty() {
        cv.vtext(
            &fit(
                &p.metric.unit_title,
                EM_NOTE,
                false,
                plot.y1 - plot.y0 + 10.0,
            ),
            cell.x0 + 8.0,
            (plot.y0 + plot.y1) / 2.0,
            EM_NOTE,
            false,
            MUTED,
        )?;
    }
    let categorical = c.x.kind == XKind::Category;
    let slot = if categorical {
        (plot.x1 - plot.x0) / c.x.values.len().max(1) as f64
    } else {
        0.0
    };
    let n_series = p.series.len().max(1);
    // Categories: series side by side within each slot.
    let dodge_step = (slot * 0.6 / n_series as f64).min(22.0);
    let offset = |i: usize| -> f64 {
        if categorical {
            (i as f64 - (n_series as f64 - 1.0) / 2.0) * dodge_step
        } else {
            0.0
        }
    };
    let half_box = if categorical {
        (dodge_step * 0.4).clamp(3.0, 9.0)
    } else {
        6.0
    };

    // The reference band, then the series bands, under every line.
    if let (Some(b), true) = (p.baseline, p.baseline_band) {
        cv.rect(
            plot.x0,
            plot.fy(b.hi),
            plot.x1,
            plot.fy(b.lo),
            rgba(INK, REF_BAND_ALPHA),
        )?;
    }
    // Lighter when several bands overlap, so that they do not add up to a dark smear.
    let band_alpha = if p.series.len() > 2 {
        BAND_ALPHA * 0.7
    } else {
        BAND_ALPHA
    };
    for (i, s) in p.series.iter().enumerate().filter(|(_, s)| s.band) {
        let color = rgba(s.style.color, band_alpha);
        for run in runs_of(&s.points, |(_, st)| st.is_some()) {
            let pts = &s.points[run];
            if categorical || pts.len() == 1 {
                for (x, st) in pts {
                    let st = st.expect("runs hold values");
                    let px = plot.fx(*x) + offset(i);
                    cv.rect(
                        px - half_box,
                        plot.fy(st.hi),
                        px + half_box,
                        plot.fy(st.lo),
                        color,
                    )?;
                }
                continue;
            }
            let mut poly: Vec<(f64, f64)> = pts
                .iter()
                .map(|(x, st)| (plot.fx(*x), plot.fy(st.map_or(0.0, |v| v.hi))))
                .collect();
            for (x, st) in pts.iter().rev() {
                poly.push((plot.fx(*x), plot.fy(st.map_or(0.0, |v| v.lo))));
            }
            cv.polygon(&poly, color)?;
        }
    }
    // The reference line.
    let base_y = p.baseline.map(|b| plot.fy(b.mean));
    if let Some(y) = base_y {
        let st = super::baseline_style();
        cv.line(
            &[(plot.x0, y), (plot.x1, y)],
            rgba(st.color, 0.9),
            st.width,
            st.dash.pattern(),
        )?;
    }
    // Lines (not between categories: their order is not a scale), then markers on top.
    if !categorical {
        for s in &p.series {
            for run in runs_of(&s.points, |(_, st)| st.is_some()) {
                let pts: Vec<(f64, f64)> = s.points[run]
                    .iter()
                    .map(|(x, st)| (plot.fx(*x), plot.fy(st.map_or(0.0, |v| v.mean))))
                    .collect();
                cv.line(
                    &pts,
                    rgba(s.style.color, 1.0),
                    s.style.width,
                    s.style.dash.pattern(),
                )?;
            }
        }
    }
    for (i, s) in p.series.iter().enumerate() {
        let n = s.points.len();
        let k = n.div_ceil(24).max(1);
        let marker = if s.style.marker == Marker::None {
            Marker::Circle
        } else {
            s.style.marker
        };
        for (j, (x, st)) in s.points.iter().enumerate() {
            if let (Some(st), true) = (st, j % k == 0 || j + 1 == n) {
                cv.marker(
                    marker,
                    plot.fx(*x) + offset(i),
                    plot.fy(st.mean),
                    4.2,
                    s.style.color,
                )?;
            }
        }
    }
    if let Some(y) = base_y {
        reference_label(cv, p, plot, y, &offset)?;
    }
    if p.series
        .iter()
        .all(|s| s.points.iter().all(|(_, st)| st.is_none()))
    {
        cv.text(
            "no value at these points",
            (plot.x0 + plot.x1) / 2.0,
            (plot.y0 + plot.y1) / 2.0,
            EM_NOTE,
            false,
            FAINT,
            HPos::Center,
        )?;
    }

    // The x axis.
    cv.line(
        &[(plot.x0, plot.y1), (plot.x1, plot.y1)],
        rgba(MUTED, 1.0),
        1.2,
        &[],
    )?;
    let ticks = x_ticks(&c.x, plot.x1 - plot.x0);
    let label_w = if categorical {
        (slot - 6.0).max(10.0)
    } else {
        f64::INFINITY
    };
    for (x, label) in ticks {
        let px = plot.fx(x);
        cv.line(
            &[(px, plot.y1), (px, plot.y1 + 5.0)],
            rgba(MUTED, 1.0),
            1.2,
            &[],
        )?;
        let lines = if text_w(&label, EM_TICK, false) > label_w {
            wrap(&label, EM_TICK, false, label_w)
        } else {
            vec![label]
        };
        for (k, line) in lines.iter().take(2).enumerate() {
            // A third line would not fit: the second gets an ellipsis instead.
            let line = if k == 1 && lines.len() > 2 {
                fit(&format!("{line}\u{2026}"), EM_TICK, false, label_w)
            } else {
                fit(line, EM_TICK, false, label_w)
            };
            cv.text(
                &line,
                px,
                plot.y1 + 20.0 + k as f64 * 16.0,
                EM_TICK,
                false,
                MUTED,
                HPos::Center,
            )?;
        }
    }
    Ok(())
}

/// "as written" beside the reference line, in whichever corner the data leave clearest.
fn reference_label<DB: DrawingBackend>(
    cv: &Canvas<'_, DB>,
    p: &AxisPanel,
    plot: &Plot,
    y: f64,
    offset: &dyn Fn(usize) -> f64,
) -> R {
    let text = "as written";
    let w = text_w(text, EM_NOTE, false) + 8.0;
    let h = 17.0;
    // What the label must not cover: the series' means and the segments between them, sampled.
    let mut dots: Vec<(f64, f64)> = Vec::new();
    for (i, s) in p.series.iter().enumerate() {
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter_map(|(x, st)| st.map(|v| (plot.fx(*x) + offset(i), plot.fy(v.mean))))
            .collect();
        dots.extend(&pts);
        for seg in pts.windows(2) {
            for k in 1..12 {
                let t = k as f64 / 12.0;
                dots.push((
                    seg[0].0 + (seg[1].0 - seg[0].0) * t,
                    seg[0].1 + (seg[1].1 - seg[0].1) * t,
                ));
            }
        }
    }
    let candidates = [
        (plot.x1 - 4.0 - w, y - 4.0 - h),
        (plot.x0 + 4.0, y - 4.0 - h),
        (plot.x1 - 4.0 - w, y + 4.0),
        (plot.x0 + 4.0, y + 4.0),
    ];
    let hits = |&(bx, by): &(f64, f64)| -> usize {
        if by < plot.y0 - 2.0 || by + h > plot.y1 + 2.0 {
            return usize::MAX;
        }
        dots.iter()
            .filter(|(dx, dy)| {
                *dx >= bx - 6.0 && *dx <= bx + w + 6.0 && *dy >= by - 6.0 && *dy <= by + h + 6.0
            })
            .count()
    };
    let best = candidates
        .iter()
        .min_by_key(|c| hits(c))
        .copied()
        .unwrap_or(candidates[0]);
    cv.rect(best.0, best.1, best.0 + w, best.1 + h, rgba(WHITE, 0.85))?;
    cv.text(
        text,
        best.0 + 4.0,
        best.1 + h / 2.0 + HALF_CAP_EM * EM_NOTE,
        EM_NOTE,
        false,
        INK,
        HPos::Left,
    )
}

// ---------------------------------------------------------------------------------------------
// Tornado

fn draw_tornado<DB: DrawingBackend>(cv: &Canvas<'_, DB>, t: &Tornado) -> R {
    let region = draw_page(
        cv,
        &Page {
            title: &t.title,
            subtitle: &t.subtitle,
            legend: &t.legend,
            key: &[],
            notes: &t.notes,
            source: &t.source,
        },
    )?;
    if t.panels.is_empty() {
        return no_data(cv, region, "no headline number has a value at any point");
    }
    for (p, cell) in t.panels.iter().zip(cells(region, t.panels.len())) {
        // Tick labels carry $ and %; other units go in the title unless it names them.
        let t_lower = p.metric.title.to_lowercase();
        let title = if p.metric.unit == Unit::Plain
            && !p.metric.unit_title.is_empty()
            && !t_lower.contains(&p.metric.unit_title.to_lowercase())
        {
            format!("{} ({})", p.metric.title, p.metric.unit_title)
        } else {
            p.metric.title.clone()
        };
        let broken = tornado_range(p).is_some_and(|r| r.2);
        panel_title(cv, &cell, &title, broken.then_some(BROKEN))?;
        draw_tornado_panel(cv, p, &cell)?;
    }
    Ok(())
}

/// The value range of a tornado panel: bar ends, and the reference with its band.
fn tornado_values(p: &TornadoPanel) -> Vec<f64> {
    let mut v: Vec<f64> = p.bars.iter().flat_map(|b| [b.low, b.high]).collect();
    if let Some(b) = p.baseline {
        v.push(b.mean);
        if p.baseline_band {
            v.extend([b.lo, b.hi]);
        }
    }
    v.retain(|x| x.is_finite());
    v
}

/// The labels at a bar's ends: the value that gave the lowest mean (unless the same value gave
/// both), and the one that gave the highest.
fn end_labels(bar: &Bar) -> (Option<String>, String) {
    if bar.values > 1 && bar.swing() == 0.0 {
        return (None, "same at every value".into());
    }
    let left = (bar.low_label != bar.high_label).then(|| bar.low_label.clone());
    (left, bar.high_label.clone())
}

/// Where a tornado's values go between `x0` and `x1`: as wide as possible while every bar's end
/// labels stay inside, but never less than half the width. Returns the plot's left and right.
fn tornado_span(
    bars: &[Bar],
    labels: &[(Option<String>, String)],
    lo: f64,
    hi: f64,
    x0: f64,
    x1: f64,
) -> (f64, f64) {
    let (mut ix0, mut ix1) = (x0, x1);
    let min_w = (x1 - x0) * 0.5;
    for _ in 0..8 {
        let f = |v: f64| ix0 + (ix1 - ix0) * (v - lo) / (hi - lo);
        let mut over_l: f64 = 0.0;
        let mut over_r: f64 = 0.0;
        for (bar, (left, right)) in bars.iter().zip(labels) {
            if let Some(l) = left {
                over_l = over_l.max(x0 - (f(bar.low) - 5.0 - text_w(l, EM_NOTE, false)));
            }
            over_r = over_r.max(f(bar.high) + 5.0 + text_w(right, EM_NOTE, false) - x1);
        }
        if over_l <= 0.5 && over_r <= 0.5 {
            break;
        }
        ix0 += over_l.max(0.0);
        ix1 -= over_r.max(0.0);
        if ix1 - ix0 < min_w {
            let mid = (ix0 + ix1) / 2.0;
            ix0 = (mid - min_w / 2.0).clamp(x0, x1 - min_w);
            ix1 = ix0 + min_w;
            break;
        }
    }
    (ix0, ix1)
}

/// What a tornado panel whose axis leaves 0 out says beside its title.
pub(super) const BROKEN: &str = "axis not from 0";

/// The value axis of a tornado panel: (start, end, whether it leaves 0 out). A tornado is about
/// swings, so its axis spans the bars and the reference, padded, not from 0; where that leaves 0
/// out the panel says so and its axis line carries a break mark.
pub(super) fn tornado_range(p: &TornadoPanel) -> Option<(f64, f64, bool)> {
    let (lo, hi) = min_max(&tornado_values(p))?;
    let (lo, hi) = if hi > lo {
        let pad = (hi - lo) * 0.04;
        (lo - pad, hi + pad)
    } else {
        widen(lo, hi)
    };
    Some((lo, hi, lo > 0.0 || hi < 0.0))
}

/// A break mark (a zig-zag) across a horizontal axis line at `x`.
fn axis_break<DB: DrawingBackend>(cv: &Canvas<'_, DB>, x: f64, y: f64) -> R {
    cv.rect(x - 6.0, y - 6.0, x + 6.0, y + 6.0, rgba(WHITE, 1.0))?;
    for dx in [-3.0, 3.0] {
        let zig = [
            (x + dx - 3.0, y + 6.0),
            (x + dx - 1.0, y + 2.0),
            (x + dx + 1.0, y - 2.0),
            (x + dx + 3.0, y - 6.0),
        ];
        cv.line(&zig, rgba(MUTED, 1.0), 1.4, &[])?;
    }
    Ok(())
}

fn draw_tornado_panel<DB: DrawingBackend>(cv: &Canvas<'_, DB>, p: &TornadoPanel, cell: &Cell) -> R {
    let (x0, x1) = (cell.x0 + 2.0, cell.x1 - 2.0);
    let (y0, y1) = (cell.y0 + TITLE_H + 4.0, cell.y1 - X_TICKS_H);
    let Some((lo, hi, broken)) = tornado_range(p) else {
        return cv.text(
            "no value",
            (x0 + x1) / 2.0,
            (y0 + y1) / 2.0,
            EM_NOTE,
            false,
            FAINT,
            HPos::Center,
        );
    };
    let labels: Vec<(Option<String>, String)> = p.bars.iter().map(end_labels).collect();
    let (ix0, ix1) = tornado_span(&p.bars, &labels, lo, hi, x0, x1);
    let plot = Plot {
        x0: ix0,
        y0,
        x1: ix1,
        y1,
        x_lo: lo,
        x_hi: hi,
        y_lo: 0.0,
        y_hi: 1.0,
    };
    // Grid and x ticks.
    for (t, label) in fitting_ticks(lo, hi, ix1 - ix0, p.metric.unit) {
        let x = plot.fx(t);
        cv.line(&[(x, y0), (x, y1)], rgba(GRID, 1.0), 1.0, &[])?;
        cv.line(&[(x, y1), (x, y1 + 5.0)], rgba(MUTED, 1.0), 1.2, &[])?;
        cv.text(&label, x, y1 + 20.0, EM_TICK, false, MUTED, HPos::Center)?;
    }
    if let (Some(b), true) = (p.baseline, p.baseline_band) {
        cv.rect(
            plot.fx(b.lo),
            y0,
            plot.fx(b.hi),
            y1,
            rgba(INK, REF_BAND_ALPHA),
        )?;
    }
    // A row per bar: the field's name, and its bar under it.
    let n = p.bars.len().max(1) as f64;
    let row_h = ((y1 - y0) / n).min(64.0);
    // Few bars: the stack sits in the middle of the plot.
    let y0_rows = y0 + ((y1 - y0) - row_h * n) / 2.0;
    let name_em = if row_h >= 34.0 { EM_NOTE } else { 11.0 };
    let name_h = name_em + 5.0;
    let bar_h = (row_h - name_h - 6.0).clamp(4.0, 24.0);
    for (k, bar) in p.bars.iter().enumerate() {
        let ry = y0_rows + k as f64 * row_h;
        let (by0, by1) = (ry + name_h + 1.0, ry + name_h + 1.0 + bar_h);
        let (bl, bh) = (plot.fx(bar.low), plot.fx(bar.high));
        if bh - bl < 2.0 {
            cv.line(&[(bl, by0), (bl, by1)], rgba(INK, 1.0), 2.0, &[])?;
        } else {
            match p.baseline {
                Some(b) => {
                    let m = plot.fx(b.mean);
                    if bl < m {
                        cv.rect(bl, by0, bh.min(m), by1, rgba(BELOW, 0.85))?;
                    }
                    if bh > m {
                        cv.rect(bl.max(m), by0, bh, by1, rgba(ABOVE, 0.85))?;
                    }
                }
                None => cv.rect(bl, by0, bh, by1, rgba(BELOW, 0.85))?,
            }
        }
    }
    if let Some(b) = p.baseline {
        let m = plot.fx(b.mean);
        cv.line(&[(m, y0), (m, y1)], rgba(INK, 1.0), 2.0, &[])?;
    }
    // Labels last, on a light backing, so that the reference line does not cross their letters:
    // the values at the bars' ends, and the fields' names.
    for (k, (bar, (left, right))) in p.bars.iter().zip(&labels).enumerate() {
        let ry = y0_rows + k as f64 * row_h;
        let cy = ry + name_h + 1.0 + bar_h / 2.0;
        let baseline = cy + HALF_CAP_EM * EM_NOTE;
        let (bl, bh) = (plot.fx(bar.low), plot.fx(bar.high));
        let backing = |x0: f64, x1: f64| cv.rect(x0, cy - 8.0, x1, cy + 8.0, rgba(WHITE, 0.8));
        if let Some(left) = left {
            let w = text_w(left, EM_NOTE, false);
            backing(bl - 6.0 - w, bl - 3.0)?;
            cv.text(left, bl - 5.0, baseline, EM_NOTE, false, MUTED, HPos::Right)?;
        }
        let w = text_w(right, EM_NOTE, false);
        backing(bh + 3.0, bh + 6.0 + w)?;
        cv.text(right, bh + 5.0, baseline, EM_NOTE, false, MUTED, HPos::Left)?;
        let name = fit(&bar.axis, name_em, false, x1 - x0);
        let w = text_w(&name, name_em, false);
        cv.rect(
            x0 - 1.0,
            ry + 1.0,
            x0 + w + 3.0,
            ry + name_h - 1.0,
            rgba(WHITE, 0.8),
        )?;
        cv.text(
            &name,
            x0,
            ry + name_em + 1.0,
            name_em,
            false,
            INK,
            HPos::Left,
        )?;
    }
    cv.line(&[(x0, y1), (x1, y1)], rgba(MUTED, 1.0), 1.2, &[])?;
    if broken {
        // At the end where 0 would be.
        axis_break(cv, if lo > 0.0 { x0 + 10.0 } else { x1 - 10.0 }, y1)?;
    }
    Ok(())
}
