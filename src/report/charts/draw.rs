//! Draws a chart `Spec` with plotters: the same code for the SVG and the PNG backend.
//!
//! Layout is done in design pixels on a 1600 x 900 page; a `Canvas` scales to the backend. The PNG
//! is drawn at twice that size and halved (a 2 x 2 box filter), because plotters' bitmap backend
//! does not anti-alias lines and polygons. Axes, ticks and legends are drawn here rather than with
//! plotters' mesh, to control tick placement (calendar months, 1-2-5 log ticks) and number formats.

use chrono::{Datelike, Months, NaiveDate};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontDesc, FontFamily, FontStyle, FontTransform, RGBAColor};

use super::observed::Observed;
use super::spec::{Body, HeatRow, KeyItem, LegendItem, Panel, Series, Spec, Val};
use super::style::{
    linear_ticks, log_ticks, okabe_ito, viridis, Marker, Style, Unit, FAINT, FAMILY, GRID, INK,
    MUTED, OBSERVED_FILL, OBSERVED_INPUT, POLICY,
};

/// Page size in design pixels (and in SVG and PNG pixels).
pub const WIDTH: u32 = 1600;
pub const HEIGHT: u32 = 900;
/// The PNG's resolution: 200 dots per inch, in pixels per metre (its `pHYs` chunk).
pub const PIXELS_PER_METRE: u32 = 7874;
/// The PNG is drawn at this multiple and shrunk.
const SUPERSAMPLE: u32 = 2;

pub(super) type R = Result<(), String>;

pub(super) fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Something drawn on a chart page: a run chart's `Spec`, or a sweep chart.
pub(super) trait Drawing {
    /// Draws the whole page on `cv` (design pixels).
    fn draw_on<DB: DrawingBackend>(&self, cv: &Canvas<'_, DB>) -> R;
}

impl Drawing for Spec {
    fn draw_on<DB: DrawingBackend>(&self, cv: &Canvas<'_, DB>) -> R {
        draw(self, cv)
    }
}

/// The chart as an SVG document.
pub(super) fn svg(spec: &impl Drawing) -> Result<String, String> {
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        spec.draw_on(&Canvas {
            area: &area,
            scale: 1.0,
            raster: false,
        })?;
        area.present().map_err(err)?;
    }
    Ok(out)
}

/// Text escaped for XML character data and attribute values.
fn xml_escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The SVG document `svg` (as [`svg`] makes it) as an image to assistive technology: `role="img"`
/// on its root, labelled by a `<title>` and described by a `<desc>` (ids from the chart's `name`,
/// so that several charts inlined in one page keep them distinct).
pub(super) fn accessible(svg: String, name: &str, title: &str, desc: &str) -> String {
    let Some(start) = svg.find("<svg") else {
        return svg;
    };
    let Some(end) = svg[start..].find('>').map(|i| start + i) else {
        return svg;
    };
    let id: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut out = String::with_capacity(svg.len() + title.len() + desc.len() + 200);
    out.push_str(&svg[..end]);
    out.push_str(&format!(
        " role=\"img\" aria-labelledby=\"{id}-title {id}-desc\">\n<title id=\"{id}-title\">{}</title>\n<desc id=\"{id}-desc\">{}</desc>",
        xml_escape(title),
        xml_escape(desc)
    ));
    out.push_str(&svg[end + 1..]);
    out
}

/// Why a PNG could not be made.
pub(super) enum PngFailure {
    Draw(String),
    Encode(String),
}

/// The chart as PNG bytes (RGB, 8 bits).
pub(super) fn png(spec: &impl Drawing) -> Result<Vec<u8>, PngFailure> {
    let (w, h) = (WIDTH * SUPERSAMPLE, HEIGHT * SUPERSAMPLE);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        spec.draw_on(&Canvas {
            area: &area,
            scale: SUPERSAMPLE as f64,
            raster: true,
        })
        .map_err(PngFailure::Draw)?;
        area.present()
            .map_err(|e| PngFailure::Draw(e.to_string()))?;
    }
    let small = shrink(&buf, w, h, SUPERSAMPLE);
    encode_png(&small, WIDTH, HEIGHT).map_err(PngFailure::Encode)
}

/// Averages `k x k` blocks of an RGB buffer.
fn shrink(buf: &[u8], w: u32, h: u32, k: u32) -> Vec<u8> {
    let (w, h, k) = (w as usize, h as usize, k as usize);
    let (sw, sh) = (w / k, h / k);
    let n = (k * k) as u32;
    let mut out = Vec::with_capacity(sw * sh * 3);
    let mut sums = vec![0u32; sw * 3];
    for y in 0..sh {
        sums.fill(0);
        for row in buf[y * k * w * 3..(y + 1) * k * w * 3].chunks_exact(w * 3) {
            for (i, px) in row[..sw * k * 3].chunks_exact(3).enumerate() {
                let o = (i / k) * 3;
                sums[o] += px[0] as u32;
                sums[o + 1] += px[1] as u32;
                sums[o + 2] += px[2] as u32;
            }
        }
        out.extend(sums.iter().map(|s| ((s + n / 2) / n) as u8));
    }
    out
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        // 200 dpi: the 1600 x 900 image prints 8 x 4.5 inches (a report's full text width).
        enc.set_pixel_dims(Some(png::PixelDimensions {
            xppu: PIXELS_PER_METRE,
            yppu: PIXELS_PER_METRE,
            unit: png::Unit::Meter,
        }));
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(rgb).map_err(err)?;
        writer.finish().map_err(err)?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Text metrics

/// plotters' text size is the font's line height (ascent - descent) for the bitmap backend
/// (ab_glyph), but 1.24 em for SVG; DejaVu Sans' line height is 1.164 em. These factors make an
/// `em` mean the same on both.
const RASTER_SIZE_PER_EM: f64 = 1.164;
const SVG_SIZE_PER_EM: f64 = 1.24;
/// Where the baseline falls below a top-anchored text's anchor, in em.
const RASTER_BASELINE_EM: f64 = RASTER_SIZE_PER_EM / 2.0;
const SVG_BASELINE_EM: f64 = 0.76;
/// Half of DejaVu Sans' cap height, in em: the visual centre of a line of capitals and digits.
pub(super) const HALF_CAP_EM: f64 = 0.365;

fn font_style(bold: bool) -> FontStyle {
    if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    }
}

/// Width of `text` at `em` design pixels.
pub(super) fn text_w(text: &str, em: f64, bold: bool) -> f64 {
    // Measured at a large size, then scaled, to avoid rounding to whole pixels.
    const REF: f64 = 100.0;
    FontDesc::new(
        FontFamily::Name(FAMILY),
        REF * RASTER_SIZE_PER_EM,
        font_style(bold),
    )
    .box_size(text)
    .map(|(w, _)| w as f64 * em / REF)
    .unwrap_or(text.chars().count() as f64 * em * 0.6)
}

/// The width of the widest of `texts` (0 for none), in design pixels.
pub(super) fn widest<S: AsRef<str>>(
    texts: impl IntoIterator<Item = S>,
    em: f64,
    bold: bool,
) -> f64 {
    texts
        .into_iter()
        .map(|t| text_w(t.as_ref(), em, bold))
        .fold(0.0, f64::max)
}

/// `text`, shortened with an ellipsis to fit `max_w`.
pub(super) fn fit(text: &str, em: f64, bold: bool, max_w: f64) -> String {
    if text_w(text, em, bold) <= max_w {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let cut = |n: usize| chars[..n].iter().collect::<String>().trim_end().to_string() + "\u{2026}";
    // Widths grow with the prefix: binary search for the longest prefix that fits, so a long
    // label costs O(log n) measurements, not n.
    match longest_fitting(chars.len(), |n| text_w(&cut(n), em, bold) <= max_w) {
        0 => String::new(),
        n => cut(n),
    }
}

/// The largest `n` in `1..=len` with `fits(n)`, taking `fits` as monotone (true up to some `n`,
/// false after), or 0 if none fits; O(log len) calls.
fn longest_fitting(len: usize, fits: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len); // fits(lo) is taken as true (or lo = 0); the answer is in lo..=hi
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// `text` broken into lines no wider than `max_w`, at spaces; a word wider than a line on its own
/// (a long field path) is broken after a `.`, `=`, `-`, `_` or `/`, or anywhere if it has none.
pub(super) fn wrap(text: &str, em: f64, bold: bool, max_w: f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let candidate = if cur.is_empty() {
            word.to_string()
        } else {
            format!("{cur} {word}")
        };
        if !cur.is_empty() && text_w(&candidate, em, bold) > max_w {
            lines.push(std::mem::take(&mut cur));
            cur = word.to_string();
        } else {
            cur = candidate;
        }
        if text_w(&cur, em, bold) > max_w {
            let mut pieces = break_word(&cur, em, bold, max_w);
            cur = pieces.pop().unwrap_or_default();
            lines.extend(pieces);
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// A word too wide for `max_w`, cut into pieces that fit, preferably after punctuation.
fn break_word(word: &str, em: f64, bold: bool, max_w: f64) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let piece = |end: usize| chars[start..end].iter().collect::<String>();
        // The longest prefix that fits (at least one character).
        let rest = chars.len() - start;
        let mut end =
            start + longest_fitting(rest, |n| text_w(&piece(start + n), em, bold) <= max_w).max(1);
        if end < chars.len() {
            if let Some(b) = (start + 1..end)
                .rev()
                .find(|&i| matches!(chars[i - 1], '.' | '=' | '-' | '_' | '/'))
            {
                end = b;
            }
        }
        pieces.push(piece(end));
        start = end;
    }
    pieces
}

// ---------------------------------------------------------------------------------------------
// Canvas: design-pixel drawing primitives over a plotters drawing area

pub(super) struct Canvas<'a, DB: DrawingBackend> {
    area: &'a DrawingArea<DB, Shift>,
    /// Device pixels per design pixel.
    scale: f64,
    /// Bitmap backend (thick lines drawn as segments with round joins; text metrics differ).
    raster: bool,
}

pub(super) fn rgba(c: RGBColor, alpha: f64) -> RGBAColor {
    RGBAColor(c.0, c.1, c.2, alpha)
}

impl<DB: DrawingBackend> Canvas<'_, DB> {
    fn px(&self, x: f64, y: f64) -> (i32, i32) {
        (
            (x * self.scale).round() as i32,
            (y * self.scale).round() as i32,
        )
    }

    fn font(&self, em: f64, bold: bool) -> FontDesc<'static> {
        let per_em = if self.raster {
            RASTER_SIZE_PER_EM
        } else {
            SVG_SIZE_PER_EM
        };
        FontDesc::new(
            FontFamily::Name(FAMILY),
            em * per_em * self.scale,
            font_style(bold),
        )
    }

    fn baseline_em(&self) -> f64 {
        if self.raster {
            RASTER_BASELINE_EM
        } else {
            SVG_BASELINE_EM
        }
    }

    /// Horizontal text with its baseline at `baseline`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn text(
        &self,
        text: &str,
        x: f64,
        baseline: f64,
        em: f64,
        bold: bool,
        color: RGBColor,
        h: HPos,
    ) -> R {
        let style = self
            .font(em, bold)
            .color(&color)
            .pos(Pos::new(h, VPos::Top));
        let y = baseline - self.baseline_em() * em;
        self.area
            .draw_text(text, &style, self.px(x, y))
            .map_err(err)
    }

    /// Text reading upwards, centred on (`x`, `y`).
    pub(super) fn vtext(
        &self,
        text: &str,
        x: f64,
        y: f64,
        em: f64,
        bold: bool,
        color: RGBColor,
    ) -> R {
        let style = self
            .font(em, bold)
            .transform(FontTransform::Rotate270)
            .color(&color)
            .pos(Pos::new(HPos::Center, VPos::Top));
        // After the rotation, "down" in the text is +x: put the caps' centre line on `x`.
        let ax = x + HALF_CAP_EM * em - self.baseline_em() * em;
        self.area
            .draw_text(text, &style, self.px(ax, y))
            .map_err(err)
    }

    pub(super) fn rect(&self, x0: f64, y0: f64, x1: f64, y1: f64, color: RGBAColor) -> R {
        let (a, b) = (self.px(x0, y0), self.px(x1, y1));
        if b.0 < a.0 || b.1 < a.1 {
            return Ok(());
        }
        self.area
            .draw(&Rectangle::new([a, b], color.filled()))
            .map_err(err)
    }

    pub(super) fn frame(
        &self,
        x0: f64,
        y0: f64,
        x1: f64,
        y1: f64,
        color: RGBColor,
        width: f64,
    ) -> R {
        self.line(
            &[(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)],
            rgba(color, 1.0),
            width,
            &[],
        )
    }

    pub(super) fn polygon(&self, pts: &[(f64, f64)], color: RGBAColor) -> R {
        if pts.len() < 3 {
            return Ok(());
        }
        let dev: Vec<(i32, i32)> = pts.iter().map(|&(x, y)| self.px(x, y)).collect();
        self.area
            .draw(&Polygon::new(dev, color.filled()))
            .map_err(err)
    }

    /// A polyline with a dash pattern (design pixels; empty: solid).
    pub(super) fn line(&self, pts: &[(f64, f64)], color: RGBAColor, width: f64, dash: &[f64]) -> R {
        if pts.len() < 2 {
            return Ok(());
        }
        let pieces = if dash.is_empty() {
            vec![pts.to_vec()]
        } else {
            dash_pieces(pts, dash)
        };
        let w = (width * self.scale).round().max(1.0) as u32;
        let style = ShapeStyle {
            color,
            filled: false,
            stroke_width: w,
        };
        for piece in pieces {
            let mut dev: Vec<(i32, i32)> = piece.iter().map(|&(x, y)| self.px(x, y)).collect();
            dev.dedup();
            if dev.len() < 2 {
                if let Some(&p) = dev.first() {
                    if self.raster && w > 2 {
                        self.area
                            .draw(&Circle::new(p, w / 2, color.filled()))
                            .map_err(err)?;
                    }
                }
                continue;
            }
            if self.raster && w > 2 {
                // plotters turns a thick polyline into one polygon with mitred joins, which
                // spikes at sharp turns; draw segments with round joins instead.
                for seg in dev.windows(2) {
                    self.area
                        .draw(&PathElement::new(vec![seg[0], seg[1]], style))
                        .map_err(err)?;
                }
                for &p in &dev {
                    self.area
                        .draw(&Circle::new(p, w / 2, color.filled()))
                        .map_err(err)?;
                }
            } else {
                self.area.draw(&PathElement::new(dev, style)).map_err(err)?;
            }
        }
        Ok(())
    }

    pub(super) fn marker(&self, m: Marker, x: f64, y: f64, r: f64, color: RGBColor) -> R {
        // A white halo keeps markers visible on bands and other lines.
        self.marker_shape(m, x, y, r + 1.4, WHITE)?;
        self.marker_shape(m, x, y, r, color)
    }

    fn marker_shape(&self, m: Marker, x: f64, y: f64, r: f64, color: RGBColor) -> R {
        let c = rgba(color, 1.0);
        match m {
            Marker::None => Ok(()),
            Marker::Circle => {
                let (cx, cy) = self.px(x, y);
                let rr = (r * self.scale).round().max(1.0) as u32;
                self.area
                    .draw(&Circle::new((cx, cy), rr, c.filled()))
                    .map_err(err)
            }
            Marker::Square => {
                let r = r * 0.88;
                self.polygon(
                    &[
                        (x - r, y - r),
                        (x + r, y - r),
                        (x + r, y + r),
                        (x - r, y + r),
                    ],
                    c,
                )
            }
            Marker::Diamond => {
                let r = r * 1.25;
                self.polygon(&[(x, y - r), (x + r, y), (x, y + r), (x - r, y)], c)
            }
            Marker::TriangleUp => {
                let r = r * 1.3;
                self.polygon(
                    &[
                        (x, y - r),
                        (x + r * 0.95, y + r * 0.7),
                        (x - r * 0.95, y + r * 0.7),
                    ],
                    c,
                )
            }
            Marker::TriangleDown => {
                let r = r * 1.3;
                self.polygon(
                    &[
                        (x, y + r),
                        (x + r * 0.95, y - r * 0.7),
                        (x - r * 0.95, y - r * 0.7),
                    ],
                    c,
                )
            }
            Marker::Cross => {
                let w = r * 0.55;
                self.line(&[(x - r, y - r), (x + r, y + r)], c, w, &[])?;
                self.line(&[(x - r, y + r), (x + r, y - r)], c, w, &[])
            }
        }
    }

    /// Diagonal hatching inside a rectangle.
    fn hatch(&self, x0: f64, y0: f64, x1: f64, y1: f64, spacing: f64, color: RGBColor) -> R {
        // Lines x - y = c, clipped to the rectangle.
        let mut c = x0 - y1 + spacing / 2.0;
        while c < x1 - y0 {
            let xa = x0.max(y0 + c);
            let xb = x1.min(y1 + c);
            if xb > xa {
                self.line(&[(xa, xa - c), (xb, xb - c)], rgba(color, 1.0), 1.0, &[])?;
            }
            c += spacing;
        }
        Ok(())
    }
}

/// Splits a polyline into its drawn stretches under a dash pattern.
fn dash_pieces(pts: &[(f64, f64)], pattern: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(f64, f64)> = vec![pts[0]];
    let mut k = 0; // index into pattern; even: drawn
    let mut left = pattern[0];
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        let mut t = 0.0;
        while len - t > left {
            t += left;
            let p = (a.0 + (b.0 - a.0) * t / len, a.1 + (b.1 - a.1) * t / len);
            if k % 2 == 0 {
                cur.push(p);
                out.push(std::mem::take(&mut cur));
            } else {
                cur = vec![p];
            }
            k = (k + 1) % pattern.len();
            left = pattern[k];
        }
        left -= len - t;
        if k % 2 == 0 {
            cur.push(b);
        }
    }
    if k % 2 == 0 && cur.len() > 1 {
        out.push(cur);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Layout

pub(super) const MARGIN_L: f64 = 32.0;
const MARGIN_R: f64 = 30.0;
const MARGIN_T: f64 = 20.0;
const MARGIN_B: f64 = 14.0;

const EM_TITLE: f64 = 27.0;
const EM_SUBTITLE: f64 = 16.0;
pub(super) const EM_PANEL_TITLE: f64 = 16.5;
pub(super) const EM_AXIS_TITLE: f64 = 15.0;
pub(super) const EM_TICK: f64 = 14.5;
pub(super) const EM_LEGEND: f64 = 15.0;
const EM_KEY: f64 = 14.0;
pub(super) const EM_NOTE: f64 = 13.0;
const EM_MARK: f64 = 12.5;

const KEY_ROW: f64 = 21.0;
const HATCH_SPACING: f64 = 3.5;
const HATCH_ALPHA: f64 = 0.3;
const NOTE_ROW: f64 = 18.0;
const LEGEND_ROW: f64 = 27.0;
const MARK_ROW: f64 = 21.0;

/// Where a panel's data goes, and how values map onto it.
struct Plot {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    days: f64,
    lo: f64,
    hi: f64,
    log: bool,
}

impl Plot {
    fn fx(&self, day: f64) -> f64 {
        self.x0 + (self.x1 - self.x0) * (day / self.days).clamp(0.0, 1.0)
    }
    fn fy(&self, v: f64) -> f64 {
        let t = if self.log {
            let v = v.max(self.lo);
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        self.y1 - (self.y1 - self.y0) * t.clamp(0.0, 1.0)
    }
    /// Whether `v` lies on the y axis (not cut at an edge).
    fn holds(&self, v: f64) -> bool {
        let eps = 1e-9;
        if self.log {
            v > 0.0 && v >= self.lo * (1.0 - eps) && v <= self.hi * (1.0 + eps)
        } else {
            let span = (self.hi - self.lo).abs().max(f64::MIN_POSITIVE);
            v >= self.lo - eps * span && v <= self.hi + eps * span
        }
    }
}

/// The y range of line panels: (min, max) of everything drawn, stacks and observations included
/// (an observation off the scale is drawn at the top edge, so it does not stretch the axis).
fn data_range(panels: &[&Panel]) -> Option<(f64, f64)> {
    let mut range = series_range(panels);
    for p in panels {
        for o in p.observed.iter().filter(|o| !o.off_scale) {
            for x in [o.low, o.value, o.axis_high] {
                if p.log && x <= 0.0 {
                    continue;
                }
                range = Some(match range {
                    Some((lo, hi)) => (lo.min(x), hi.max(x)),
                    None => (x, x),
                });
            }
        }
    }
    range
}

/// The y range of the curves and layers of line panels alone: (min, max) of what they draw.
pub(super) fn series_range(panels: &[&Panel]) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    let mut seen = false;
    for p in panels {
        let Body::Lines(series) = &p.body else {
            continue;
        };
        let n = series.iter().map(|s| s.points.len()).max().unwrap_or(0);
        let mut base = vec![0.0; n];
        for s in series {
            for (i, pt) in s.points.iter().enumerate() {
                let Some(v) = pt.v else { continue };
                let off = if s.stacked { base[i] } else { 0.0 };
                let mut vals = vec![v.mean + off];
                if s.band {
                    vals.extend([v.lo + off, v.hi + off]);
                }
                for x in vals {
                    if p.log && x <= 0.0 {
                        continue;
                    }
                    seen = true;
                    lo = lo.min(x);
                    hi = hi.max(x);
                }
                if s.stacked {
                    base[i] += v.mean;
                }
            }
        }
    }
    seen.then_some((lo, hi))
}

/// Month ticks on the time axis, as many as fit in `width` design pixels.
pub(super) fn month_ticks(start: NaiveDate, days: f64, width: f64) -> Vec<(f64, String)> {
    let first = NaiveDate::from_ymd_opt(start.year(), start.month(), 1).unwrap_or(start);
    for step in [1u32, 2, 3, 6, 12, 24, 60] {
        let mut ticks = Vec::new();
        let mut d = first;
        loop {
            let x = (d - start).num_days() as f64;
            if x > days + 0.5 {
                break;
            }
            let idx = d.year() as i64 * 12 + d.month0() as i64;
            if x >= -0.5 && idx.rem_euclid(step as i64) == 0 {
                ticks.push((x, format!("{:04}-{:02}", d.year(), d.month())));
            }
            match d.checked_add_months(Months::new(1)) {
                Some(n) => d = n,
                None => break,
            }
        }
        if ticks.len() as f64 * 84.0 <= width || step == 60 {
            return ticks;
        }
    }
    Vec::new()
}

/// What a chart page has around its panels.
pub(super) struct Page<'a> {
    pub title: &'a str,
    pub subtitle: &'a str,
    pub legend: &'a [LegendItem],
    pub key: &'a [KeyItem],
    pub notes: &'a [String],
    pub source: &'a str,
}

/// The region left for panels: (left, top, right, bottom), design pixels.
pub(super) type Region = (f64, f64, f64, f64);

/// Draws a page's white ground, header (title, subtitle), footer (key, notes, source, bottom up)
/// and legend column; returns the region left for the panels.
pub(super) fn draw_page<DB: DrawingBackend>(
    cv: &Canvas<'_, DB>,
    page: &Page<'_>,
) -> Result<Region, String> {
    let w = WIDTH as f64;
    let h = HEIGHT as f64;
    if !cv.raster {
        // (The bitmap starts white.)
        cv.area.fill(&WHITE).map_err(err)?;
    }

    // Header.
    let content_w = w - MARGIN_L - MARGIN_R;
    cv.text(
        &fit(page.title, EM_TITLE, true, content_w),
        MARGIN_L,
        MARGIN_T + EM_TITLE,
        EM_TITLE,
        true,
        INK,
        HPos::Left,
    )?;
    cv.text(
        &fit(page.subtitle, EM_SUBTITLE, false, content_w),
        MARGIN_L,
        MARGIN_T + EM_TITLE + 27.0,
        EM_SUBTITLE,
        false,
        MUTED,
        HPos::Left,
    )?;
    let region_top = MARGIN_T + EM_TITLE + 46.0;

    // Footer: policy key, notes, source, bottom up.
    let key_cols = if page.key.len() > 5 { 2 } else { 1 };
    let key_rows = page.key.len().div_ceil(key_cols);
    let note_lines: Vec<String> = page
        .notes
        .iter()
        .flat_map(|n| wrap(n, EM_NOTE, false, content_w))
        .collect();
    let footer_h = key_rows as f64 * KEY_ROW + note_lines.len() as f64 * NOTE_ROW + NOTE_ROW + 6.0;
    let footer_top = h - MARGIN_B - footer_h;
    let mut y = footer_top + 4.0;
    let col_w = content_w / key_cols as f64;
    for (i, item) in page.key.iter().enumerate() {
        let (c, r) = (i / key_rows, i % key_rows);
        let x = MARGIN_L + c as f64 * col_w;
        let by = y + r as f64 * KEY_ROW;
        let bw = mark_box(cv, &item.label, x, by + 1.0)?;
        cv.text(
            &fit(&item.text, EM_KEY, false, col_w - bw - 22.0),
            x + bw + 8.0,
            by + 15.0,
            EM_KEY,
            false,
            INK,
            HPos::Left,
        )?;
    }
    y += key_rows as f64 * KEY_ROW;
    for line in &note_lines {
        cv.text(line, MARGIN_L, y + 14.0, EM_NOTE, false, MUTED, HPos::Left)?;
        y += NOTE_ROW;
    }
    cv.text(
        &fit(page.source, EM_NOTE * 0.95, false, content_w),
        MARGIN_L,
        y + 15.0,
        EM_NOTE * 0.95,
        false,
        FAINT,
        HPos::Left,
    )?;

    // Legend column.
    let legend_w = legend_width(page.legend);
    let legend_x = w - MARGIN_R - legend_w;
    let region = (MARGIN_L, region_top, legend_x - 30.0, footer_top - 16.0);
    draw_legend(cv, page.legend, legend_x, region.1 + 8.0, legend_w)?;
    Ok(region)
}

/// The chart's page: header, grid of panels, legend column, footer.
fn draw<DB: DrawingBackend>(spec: &Spec, cv: &Canvas<'_, DB>) -> R {
    let region = draw_page(
        cv,
        &Page {
            title: &spec.title,
            subtitle: &spec.subtitle,
            legend: &spec.legend,
            key: &spec.key,
            notes: &spec.notes,
            source: &spec.source,
        },
    )?;

    // Panels.
    let n = spec.panels.len().max(1);
    let cols = spec.cols.clamp(1, n);
    let rows = n.div_ceil(cols);
    let gap_x = 34.0;
    let gap_y = 22.0;
    let titled = spec.panels.iter().any(|p| p.title.is_some());
    let title_h = if titled { 25.0 } else { 0.0 };
    let shared = if spec.shared_y {
        data_range(&spec.panels.iter().collect::<Vec<_>>())
    } else {
        None
    };
    // A y title shared by all panels is drawn once, at the left of the grid.
    let common_title = (n > 1
        && !spec.panels[0].y_title.is_empty()
        && spec.panels.windows(2).all(|w| w[0].y_title == w[1].y_title))
    .then(|| spec.panels[0].y_title.as_str());
    let grid_x0 = region.0 + if common_title.is_some() { 26.0 } else { 0.0 };
    let pw = (region.2 - grid_x0 - gap_x * (cols - 1) as f64) / cols as f64;
    let row_h_guess = (region.3 - region.1) / rows as f64;

    // First pass, horizontal: each panel's y scale decides its plot's left edge.
    struct Layout {
        x0: f64,
        x1: f64,
        plot_x0: f64,
        plot_x1: f64,
        y_title: bool,
    }
    let mut layouts = Vec::new();
    let mut yaxes = Vec::new();
    let mut tick_labels = Vec::new();
    for (i, p) in spec.panels.iter().enumerate() {
        let x0 = grid_x0 + (i % cols) as f64 * (pw + gap_x);
        let yaxis = y_axis(p, shared, row_h_guess - title_h - 40.0);
        // Log ticks span decades: each is written on its own (0.5, 1, 10), not aligned.
        let labels = if p.log {
            yaxis.0.iter().map(|t| p.unit.format(*t)).collect()
        } else {
            p.unit.format_ticks(&yaxis.0)
        };
        let y_title = !p.y_title.is_empty() && common_title.is_none();
        let left = match &p.body {
            Body::Lines(_) => {
                let tick_w = widest(&labels, EM_TICK, false);
                let title_w = if y_title { 24.0 } else { 0.0 };
                title_w + tick_w + 10.0
            }
            Body::Heatmap(rows) => heat_label_width(rows) + 10.0,
        };
        layouts.push(Layout {
            x0,
            x1: x0 + pw,
            plot_x0: x0 + left,
            plot_x1: x0 + pw - 4.0,
            y_title,
        });
        yaxes.push(yaxis);
        tick_labels.push(labels);
    }
    // Panels in a column share their plot's left edge, so that time axes line up.
    for c in 0..cols {
        let left = layouts
            .iter()
            .skip(c)
            .step_by(cols)
            .map(|l| l.plot_x0 - l.x0)
            .fold(0.0, f64::max);
        for l in layouts.iter_mut().skip(c).step_by(cols) {
            l.plot_x0 = l.x0 + left;
        }
    }

    // Policy label levels, staggered so that close dates do not collide (computed on the
    // narrowest panel, used for all so that panels line up). The labels sit above the first
    // row of panels only; the lines run through every panel.
    let narrowest = layouts
        .iter()
        .map(|l| l.plot_x1 - l.plot_x0)
        .fold(f64::INFINITY, f64::min);
    let levels = mark_levels(spec, narrowest);
    let strip_h = match levels.iter().max() {
        Some(m) => (*m + 1) as f64 * MARK_ROW + 2.0,
        None => 0.0,
    };

    // Second pass, vertical: every row's plot gets the same height.
    let ph = (region.3 - region.1 - strip_h - gap_y * (rows - 1) as f64) / rows as f64;
    let mut plots_y = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, (((p, l), (ticks, lo, hi)), labels)) in spec
        .panels
        .iter()
        .zip(&layouts)
        .zip(&yaxes)
        .zip(&tick_labels)
        .enumerate()
    {
        let r = i / cols;
        let y0 = region.1 + r as f64 * (ph + gap_y) + if r > 0 { strip_h } else { 0.0 };
        let strip = if r == 0 { strip_h } else { 0.0 };
        let plot = Plot {
            x0: l.plot_x0,
            y0: y0 + title_h + strip + 8.0,
            x1: l.plot_x1,
            y1: y0 + strip + ph - 28.0,
            days: spec.x_days.max(1.0),
            lo: *lo,
            hi: *hi,
            log: p.log,
        };
        plots_y = (plots_y.0.min(plot.y0), plots_y.1.max(plot.y1));
        if let Some(t) = &p.title {
            cv.text(
                &fit(t, EM_PANEL_TITLE, true, l.x1 - l.x0),
                l.x0,
                y0 + EM_PANEL_TITLE,
                EM_PANEL_TITLE,
                true,
                INK,
                HPos::Left,
            )?;
        }
        let marks = Marks {
            levels: &levels,
            labels: r == 0,
        };
        match &p.body {
            Body::Lines(series) => {
                let axis = YAxis {
                    ticks,
                    labels,
                    title: l.y_title.then_some(p.y_title.as_str()),
                    title_x: l.x0 + 9.0,
                };
                draw_lines_panel(cv, spec, series, &plot, &axis, &marks)?;
                draw_observed(cv, &p.observed, p.unit, &plot)?
            }
            Body::Heatmap(rows) => draw_heatmap(cv, spec, rows, &plot, &marks)?,
        }
    }
    if let Some(title) = common_title {
        cv.vtext(
            &fit(title, EM_AXIS_TITLE, false, plots_y.1 - plots_y.0 + 40.0),
            region.0 + 9.0,
            (plots_y.0 + plots_y.1) / 2.0,
            EM_AXIS_TITLE,
            false,
            INK,
        )?;
    }
    Ok(())
}

/// Which policy labels a panel draws.
struct Marks<'a> {
    /// Stagger level of each mark's label.
    levels: &'a [usize],
    /// Whether this panel draws the labels (the first row does) or only the lines.
    labels: bool,
}

/// The y axis of a panel: (ticks, bottom, top).
fn y_axis(p: &Panel, shared: Option<(f64, f64)>, plot_h: f64) -> (Vec<f64>, f64, f64) {
    if let Body::Heatmap(_) = p.body {
        return (Vec::new(), 0.0, 1.0);
    }
    let range = shared.or_else(|| data_range(&[p]));
    let target = ((plot_h / 70.0).round() as usize).clamp(3, 6);
    match (range, p.log) {
        (Some((lo, hi)), true) => log_ticks(lo, hi),
        (Some((lo, hi)), false) => {
            let hi = if p.unit == Unit::Percent && hi <= 0.0 {
                0.01
            } else {
                hi
            };
            linear_ticks(lo.min(0.0), hi.max(lo.min(0.0) + 1e-9), target)
        }
        (None, true) => log_ticks(1.0, 10.0),
        (None, false) => linear_ticks(0.0, 1.0, target),
    }
}

/// A policy mark's number box; returns its width.
fn mark_box<DB: DrawingBackend>(
    cv: &Canvas<'_, DB>,
    label: &str,
    x: f64,
    y: f64,
) -> Result<f64, String> {
    let bw = text_w(label, EM_MARK, true) + 10.0;
    let bh = 17.0;
    cv.rect(x, y, x + bw, y + bh, rgba(WHITE, 1.0))?;
    cv.frame(x, y, x + bw, y + bh, POLICY, 1.0)?;
    cv.text(
        label,
        x + bw / 2.0,
        y + bh / 2.0 + HALF_CAP_EM * EM_MARK,
        EM_MARK,
        true,
        INK,
        HPos::Center,
    )?;
    Ok(bw)
}

/// Stagger levels for the marks' labels at a plot width.
pub(super) fn mark_levels(spec: &Spec, width: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..spec.marks.len()).collect();
    order.sort_by(|&a, &b| spec.marks[a].x.total_cmp(&spec.marks[b].x));
    let mut right_edges: Vec<f64> = Vec::new();
    let mut levels = vec![0; spec.marks.len()];
    for i in order {
        let m = &spec.marks[i];
        let x = width * (m.x / spec.x_days.max(1.0));
        let bw = text_w(&m.label, EM_MARK, true) + 10.0;
        let left = x - bw / 2.0;
        let level = right_edges
            .iter()
            .position(|&r| r + 3.0 < left)
            .unwrap_or(right_edges.len());
        if level == right_edges.len() {
            right_edges.push(x + bw / 2.0);
        } else {
            right_edges[level] = x + bw / 2.0;
        }
        levels[i] = level;
    }
    levels
}

/// Vertical policy lines over a plot, with their numbered labels in the strip above it.
fn draw_marks<DB: DrawingBackend>(
    cv: &Canvas<'_, DB>,
    spec: &Spec,
    plot: &Plot,
    marks: &Marks<'_>,
    on_heatmap: bool,
) -> R {
    for (m, &level) in spec.marks.iter().zip(marks.levels) {
        let x = plot.fx(m.x);
        let box_bottom = if marks.labels {
            plot.y0 - 6.0 - level as f64 * MARK_ROW
        } else {
            plot.y0
        };
        let dash: &[f64] = if m.end { &[5.0, 4.0] } else { &[] };
        if on_heatmap {
            cv.line(&[(x, plot.y0), (x, plot.y1)], rgba(WHITE, 0.9), 4.0, &[])?;
            cv.line(&[(x, plot.y0), (x, plot.y1)], rgba(INK, 1.0), 1.6, dash)?;
            cv.line(
                &[(x, box_bottom), (x, plot.y0)],
                rgba(POLICY, 1.0),
                1.2,
                &[],
            )?;
        } else {
            cv.line(
                &[(x, box_bottom), (x, plot.y1)],
                rgba(POLICY, 0.9),
                1.3,
                dash,
            )?;
        }
        if marks.labels {
            let bw = text_w(&m.label, EM_MARK, true) + 10.0;
            mark_box(cv, &m.label, x - bw / 2.0, box_bottom - 17.0)?;
        }
    }
    Ok(())
}

/// The time axis under a plot.
fn draw_time_axis<DB: DrawingBackend>(cv: &Canvas<'_, DB>, spec: &Spec, plot: &Plot) -> R {
    cv.line(
        &[(plot.x0, plot.y1), (plot.x1, plot.y1)],
        rgba(MUTED, 1.0),
        1.2,
        &[],
    )?;
    for (day, label) in month_ticks(spec.x_start, spec.x_days, plot.x1 - plot.x0) {
        let x = plot.fx(day);
        cv.line(
            &[(x, plot.y1), (x, plot.y1 + 5.0)],
            rgba(MUTED, 1.0),
            1.2,
            &[],
        )?;
        cv.text(
            &label,
            x,
            plot.y1 + 21.0,
            EM_TICK,
            false,
            MUTED,
            HPos::Center,
        )?;
    }
    Ok(())
}

/// Index ranges of consecutive items that have a value (`has`): the pieces of a broken line.
pub(super) fn runs_of<T>(items: &[T], has: impl Fn(&T) -> bool) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, item) in items.iter().enumerate() {
        match (has(item), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..items.len());
    }
    out
}

/// Horizontal grid lines across `x0..x1` with their labels to the left: (y in pixels, label).
pub(super) fn y_grid<'a, DB: DrawingBackend>(
    cv: &Canvas<'_, DB>,
    x0: f64,
    x1: f64,
    rows: impl Iterator<Item = (f64, &'a str)>,
) -> R {
    for (y, label) in rows {
        cv.line(&[(x0, y), (x1, y)], rgba(GRID, 1.0), 1.0, &[])?;
        cv.text(
            label,
            x0 - 8.0,
            y + HALF_CAP_EM * EM_TICK,
            EM_TICK,
            false,
            MUTED,
            HPos::Right,
        )?;
    }
    Ok(())
}

/// Vertical lines every `spacing` design pixels between two polylines over the same x values.
fn vertical_hatch<DB: DrawingBackend>(
    cv: &Canvas<'_, DB>,
    upper: &[(f64, f64)],
    lower: &[(f64, f64)],
    spacing: f64,
    color: RGBAColor,
) -> R {
    let (Some(first), Some(last)) = (upper.first(), upper.last()) else {
        return Ok(());
    };
    let at = |line: &[(f64, f64)], x: f64| -> f64 {
        let i = line
            .partition_point(|p| p.0 < x)
            .clamp(1, line.len().max(2) - 1);
        if line.len() < 2 {
            return line[0].1;
        }
        let (a, b) = (line[i - 1], line[i]);
        if b.0 == a.0 {
            a.1
        } else {
            a.1 + (b.1 - a.1) * ((x - a.0) / (b.0 - a.0)).clamp(0.0, 1.0)
        }
    };
    let mut x = (first.0 / spacing).ceil() * spacing;
    while x <= last.0 {
        let (ya, yb) = (at(upper, x), at(lower, x));
        if (yb - ya).abs() >= 1.0 {
            cv.line(&[(x, ya), (x, yb)], color, 1.0, &[])?;
        }
        x += spacing;
    }
    Ok(())
}

/// A line panel's y axis: ticks, their labels, the title (if drawn here) and where.
struct YAxis<'a> {
    ticks: &'a [f64],
    labels: &'a [String],
    title: Option<&'a str>,
    title_x: f64,
}

fn draw_lines_panel<DB: DrawingBackend>(
    cv: &Canvas<'_, DB>,
    spec: &Spec,
    series: &[Series],
    plot: &Plot,
    axis: &YAxis<'_>,
    marks: &Marks<'_>,
) -> R {
    // Grid and y ticks.
    let rows = axis.ticks.iter().zip(axis.labels);
    y_grid(
        cv,
        plot.x0,
        plot.x1,
        rows.map(|(&t, l)| (plot.fy(t), l.as_str())),
    )?;
    if let Some(title) = axis.title {
        cv.vtext(
            &fit(title, EM_AXIS_TITLE, false, plot.y1 - plot.y0 + 20.0),
            axis.title_x,
            (plot.y0 + plot.y1) / 2.0,
            EM_AXIS_TITLE,
            false,
            INK,
        )?;
    }
    draw_marks(cv, spec, plot, marks, false)?;

    // Stacked layers: fills first, then each layer's band on its top edge.
    let n = series.iter().map(|s| s.points.len()).max().unwrap_or(0);
    let mut base = vec![0.0; n];
    let mut stacked_tops: Vec<(Style, Vec<(f64, f64)>)> = Vec::new();
    for s in series.iter().filter(|s| s.stacked) {
        let below = base.clone();
        for (i, p) in s.points.iter().enumerate() {
            if let Some(v) = p.v {
                base[i] += v.mean;
            }
        }
        for run in runs_of(&s.points, |p| p.v.is_some()) {
            // (x, below, value) per point of the run.
            let at = |f: fn(&Val) -> f64| -> Vec<(f64, f64)> {
                run.clone()
                    .map(|i| {
                        let p = &s.points[i];
                        (
                            plot.fx(p.x()),
                            plot.fy(below[i] + p.v.as_ref().map_or(0.0, f)),
                        )
                    })
                    .collect()
            };
            let top = at(|v| v.mean);
            let bottom = at(|_| 0.0);
            let mut poly = top.clone();
            poly.extend(bottom.iter().rev());
            cv.polygon(&poly, rgba(s.style.color, 0.85))?;
            if s.band {
                // Vertical hatching between the part's p05 and p95 edges: it marks the band
                // without tinting the layers' colours.
                let (hi, lo) = (at(|v| v.hi), at(|v| v.lo));
                vertical_hatch(cv, &hi, &lo, HATCH_SPACING, rgba(INK, HATCH_ALPHA))?;
            }
            stacked_tops.push((s.style, top));
        }
    }
    for (style, top) in &stacked_tops {
        let dark = RGBColor(
            (style.color.0 as f64 * 0.6) as u8,
            (style.color.1 as f64 * 0.6) as u8,
            (style.color.2 as f64 * 0.6) as u8,
        );
        cv.line(top, rgba(dark, 1.0), style.width, &[])?;
    }

    // Bands of the curves, all before any line so no band hides a line.
    for s in series.iter().filter(|s| !s.stacked && s.band) {
        for run in runs_of(&s.points, |p| p.v.is_some()) {
            let run = &s.points[run];
            let mut poly: Vec<(f64, f64)> = run
                .iter()
                .map(|p| (plot.fx(p.x()), plot.fy(p.v.map_or(0.0, |v| v.hi))))
                .collect();
            for p in run.iter().rev() {
                poly.push((plot.fx(p.x()), plot.fy(p.v.map_or(0.0, |v| v.lo))));
            }
            cv.polygon(&poly, rgba(s.style.color, 0.17))?;
        }
    }
    let curves: Vec<&Series> = series.iter().filter(|s| !s.stacked).collect();
    for s in &curves {
        for run in runs_of(&s.points, |p| p.v.is_some()) {
            let pts: Vec<(f64, f64)> = s.points[run]
                .iter()
                .map(|p| (plot.fx(p.x()), plot.fy(p.v.map_or(0.0, |v| v.mean))))
                .collect();
            if pts.len() == 1 {
                cv.marker(
                    if s.style.marker == Marker::None {
                        Marker::Circle
                    } else {
                        s.style.marker
                    },
                    pts[0].0,
                    pts[0].1,
                    3.0,
                    s.style.color,
                )?;
            }
            cv.line(
                &pts,
                rgba(s.style.color, 1.0),
                s.style.width,
                s.style.dash.pattern(),
            )?;
        }
    }
    // Markers on every few points, staggered between series.
    let slots = ((plot.x1 - plot.x0) / 80.0).clamp(4.0, 14.0) as usize;
    let k = n.div_ceil(slots).max(1);
    for (j, s) in curves.iter().enumerate() {
        if s.style.marker == Marker::None {
            continue;
        }
        let phase = (j * k / curves.len().max(1)) % k;
        for (i, p) in s.points.iter().enumerate() {
            if let (Some(v), true) = (p.v, i % k == phase) {
                cv.marker(
                    s.style.marker,
                    plot.fx(p.x()),
                    plot.fy(v.mean),
                    4.2,
                    s.style.color,
                )?;
            }
        }
    }
    if series.is_empty()
        || series
            .iter()
            .all(|s| s.points.iter().all(|p| p.v.is_none()))
    {
        cv.text(
            "no data",
            (plot.x0 + plot.x1) / 2.0,
            (plot.y0 + plot.y1) / 2.0,
            EM_LEGEND,
            false,
            FAINT,
            HPos::Center,
        )?;
    }
    draw_time_axis(cv, spec, plot)
}

/// An observation's diamond at (`x`, `y`): yellow outlined black, or (an input) hollow grey.
fn observed_marker<DB: DrawingBackend>(cv: &Canvas<'_, DB>, x: f64, y: f64, input: bool) -> R {
    let (ink, fill) = observed_colors(input);
    let diamond = |r: f64| [(x, y - r), (x + r, y), (x, y + r), (x - r, y)];
    cv.polygon(&diamond(OBSERVED_R + 3.0), rgba(WHITE, 1.0))?;
    cv.polygon(&diamond(OBSERVED_R + 1.6), rgba(ink, 1.0))?;
    cv.polygon(&diamond(OBSERVED_R), rgba(fill, 1.0))
}

/// (outline and range, fill) of an observation.
fn observed_colors(input: bool) -> (RGBColor, RGBColor) {
    if input {
        (OBSERVED_INPUT, WHITE)
    } else {
        (okabe_ito::BLACK, OBSERVED_FILL)
    }
}

/// Half the diagonal of an observation's diamond, design pixels.
const OBSERVED_R: f64 = 6.5;
/// Width of an observation's range bars.
const OBSERVED_BAR: f64 = 1.8;

/// A bar from `a` to `b` with caps across it at the ends in `caps` (first, last), over a white
/// halo so that it reads over bands and curves.
fn capped_bar<DB: DrawingBackend>(
    cv: &Canvas<'_, DB>,
    a: (f64, f64),
    b: (f64, f64),
    caps: (bool, bool),
    color: RGBAColor,
) -> R {
    let vertical = a.0 == b.0;
    let cap = |p: (f64, f64)| -> [(f64, f64); 2] {
        if vertical {
            [(p.0 - 5.0, p.1), (p.0 + 5.0, p.1)]
        } else {
            [(p.0, p.1 - 5.0), (p.0, p.1 + 5.0)]
        }
    };
    for (c, w) in [
        (rgba(WHITE, 0.9), OBSERVED_BAR + 2.6),
        (color, OBSERVED_BAR),
    ] {
        cv.line(&[a, b], c, w, &[])?;
        for (end, on) in [(a, caps.0), (b, caps.1)] {
            if on {
                cv.line(&cap(end), c, w, &[])?;
            }
        }
    }
    Ok(())
}

/// A panel's observations, over its curves: the window as a horizontal bar, the range as a
/// vertical one, the diamond at the value; one off the scale as an arrow at the top edge with its
/// value beside it (labels that would overlap drop a row).
fn draw_observed<DB: DrawingBackend>(
    cv: &Canvas<'_, DB>,
    observed: &[Observed],
    unit: Unit,
    plot: &Plot,
) -> R {
    // Held-out figures last, on top: they are what the model is tested on.
    let mut order: Vec<&Observed> = observed.iter().collect();
    order.sort_by_key(|o| !o.input);
    let mut label_rows: Vec<f64> = Vec::new();
    for o in order {
        let (ink, fill) = observed_colors(o.input);
        // Bars in the colour of the curve measured, where the panel draws several.
        let bars = match (o.color, o.input) {
            (Some(c), false) => rgba(c, 1.0),
            (Some(c), true) => rgba(c, 0.55),
            (None, _) => rgba(ink, 1.0),
        };
        let x = plot.fx(o.x);
        if o.off_scale {
            let (top, h, w) = (plot.y0 + 1.0, 13.0, 8.0);
            let arrow = |grow: f64| {
                [
                    (x, top - grow),
                    (x + w + grow, top + h + grow * 0.6),
                    (x - w - grow, top + h + grow * 0.6),
                ]
            };
            cv.polygon(&arrow(2.6), rgba(WHITE, 1.0))?;
            cv.polygon(&arrow(1.4), rgba(ink, 1.0))?;
            cv.polygon(&arrow(0.0), rgba(fill, 1.0))?;
            let label = format!("{} off scale", unit.format(o.value));
            let left = x + w + 5.0;
            let row = label_rows
                .iter()
                .position(|&r| r + 6.0 < left)
                .unwrap_or(label_rows.len());
            let right = left + text_w(&label, EM_NOTE, true);
            if row == label_rows.len() {
                label_rows.push(right);
            } else {
                label_rows[row] = right;
            }
            cv.text(
                &label,
                left,
                top + 11.0 + row as f64 * 16.0,
                EM_NOTE,
                true,
                INK,
                HPos::Left,
            )?;
            continue;
        }
        let y = plot.fy(o.value);
        if let Some((a, b)) = o.span {
            capped_bar(cv, (plot.fx(a), y), (plot.fx(b), y), (true, true), bars)?;
        }
        if o.high > o.low {
            let (y_lo, y_hi) = (plot.fy(o.low), plot.fy(o.high));
            // An end cut at the plot's edge has no cap: the range runs on.
            let caps = (plot.holds(o.low), plot.holds(o.high));
            capped_bar(cv, (x, y_lo), (x, y_hi), caps, bars)?;
        }
        observed_marker(cv, x, y, o.input)?;
    }
    Ok(())
}

fn heat_label_width(rows: &[HeatRow]) -> f64 {
    let label = widest(
        rows.iter().filter_map(|r| r.label.as_deref()),
        EM_TICK,
        false,
    );
    let sub = widest(rows.iter().filter_map(|r| r.sub.as_deref()), EM_NOTE, false);
    if sub > 0.0 {
        label + 12.0 + sub
    } else {
        label
    }
}

fn draw_heatmap<DB: DrawingBackend>(
    cv: &Canvas<'_, DB>,
    spec: &Spec,
    rows: &[HeatRow],
    plot: &Plot,
    marks: &Marks<'_>,
) -> R {
    let groups = rows.iter().filter(|r| r.label.is_some()).count().max(1);
    let grouped = rows.iter().any(|r| r.sub.is_some());
    let group_gap = if grouped { 8.0 } else { 3.0 };
    let row_gap = if grouped { 1.0 } else { 0.0 };
    let n = rows.len().max(1) as f64;
    let avail =
        plot.y1 - plot.y0 - group_gap * (groups as f64 - 1.0) - row_gap * (n - groups as f64);
    let rh = avail / n;
    let sub_w = widest(rows.iter().filter_map(|r| r.sub.as_deref()), EM_NOTE, false);
    let label_right = if grouped {
        plot.x0 - 10.0 - sub_w - 12.0
    } else {
        plot.x0 - 10.0
    };
    let mut y = plot.y0;
    let mut group_start = y;
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            y += if row.label.is_some() {
                group_gap
            } else {
                row_gap
            };
        }
        if row.label.is_some() {
            group_start = y;
        }
        for (k, &(x0, x1, v)) in row.cells.iter().enumerate() {
            // Each cell reaches a pixel into the next, which paints over it: no hairline seams
            // where an SVG viewer anti-aliases two abutting edges.
            let overlap = if k + 1 < row.cells.len() { 1.0 } else { 0.0 };
            let (a, b) = (plot.fx(x0), plot.fx(x1) + overlap);
            match v {
                Some(v) => cv.rect(a, y, b, y + rh, rgba(viridis(v), 1.0))?,
                None => cv.hatch(a, y, b, y + rh, 7.0, RGBColor(170, 170, 170))?,
            }
        }
        if let Some(sub) = &row.sub {
            cv.text(
                sub,
                plot.x0 - 10.0,
                y + rh / 2.0 + HALF_CAP_EM * EM_NOTE,
                EM_NOTE,
                false,
                MUTED,
                HPos::Right,
            )?;
        }
        // The group label is centred on its rows, drawn at the group's last row.
        let last_in_group = rows.get(i + 1).is_none_or(|r| r.label.is_some());
        if last_in_group {
            if let Some(label) = rows[..=i].iter().rev().find_map(|r| r.label.as_deref()) {
                cv.text(
                    label,
                    label_right,
                    (group_start + y + rh) / 2.0 + HALF_CAP_EM * EM_TICK,
                    EM_TICK,
                    false,
                    INK,
                    HPos::Right,
                )?;
            }
        }
        y += rh;
    }
    draw_marks(cv, spec, plot, marks, true)?;
    draw_time_axis(cv, spec, plot)
}

fn legend_width(items: &[LegendItem]) -> f64 {
    let widest = items
        .iter()
        .map(|it| match it {
            LegendItem::Heading(t) => text_w(t, EM_LEGEND, true),
            LegendItem::Line { label, .. } | LegendItem::Swatch { label, .. } => {
                text_w(label, EM_LEGEND, false) + 58.0
            }
            LegendItem::ColorBar { title } => text_w(title, EM_LEGEND, true).max(110.0),
            LegendItem::Missing(t) => text_w(t, EM_LEGEND, false) + 40.0,
            LegendItem::Observed { label, .. } => text_w(label, EM_LEGEND, false) + 58.0,
            LegendItem::Band(_) | LegendItem::HatchBand(_) | LegendItem::Policy(_) => 0.0,
        })
        .fold(0.0, f64::max);
    widest.clamp(210.0, 330.0)
}

fn draw_legend<DB: DrawingBackend>(
    cv: &Canvas<'_, DB>,
    items: &[LegendItem],
    x: f64,
    top: f64,
    width: f64,
) -> R {
    let mut y = top;
    let sample_w = 46.0;
    let text_x = x + sample_w + 10.0;
    let text_max = width - sample_w - 10.0;
    for item in items {
        match item {
            LegendItem::Heading(t) => {
                for (k, line) in wrap(t, EM_LEGEND, true, width).iter().enumerate() {
                    if k > 0 {
                        y += 19.0;
                    }
                    cv.text(line, x, y + 16.0, EM_LEGEND, true, INK, HPos::Left)?;
                }
                y += LEGEND_ROW;
            }
            LegendItem::Line { label, style, band } => {
                let cy = y + 11.0;
                if *band {
                    cv.rect(x, cy - 8.0, x + sample_w, cy + 8.0, rgba(style.color, 0.17))?;
                }
                cv.line(
                    &[(x, cy), (x + sample_w, cy)],
                    rgba(style.color, 1.0),
                    style.width,
                    style.dash.pattern(),
                )?;
                if style.marker != Marker::None {
                    cv.marker(style.marker, x + sample_w / 2.0, cy, 4.2, style.color)?;
                }
                for (k, line) in wrap(label, EM_LEGEND, false, text_max).iter().enumerate() {
                    cv.text(
                        line,
                        text_x,
                        cy + HALF_CAP_EM * EM_LEGEND + k as f64 * 19.0,
                        EM_LEGEND,
                        false,
                        INK,
                        HPos::Left,
                    )?;
                    if k > 0 {
                        y += 19.0;
                    }
                }
                y += LEGEND_ROW;
            }
            LegendItem::Swatch { label, color } => {
                let cy = y + 11.0;
                cv.rect(
                    x + 8.0,
                    cy - 9.0,
                    x + sample_w - 8.0,
                    cy + 9.0,
                    rgba(*color, 0.85),
                )?;
                cv.text(
                    &fit(label, EM_LEGEND, false, text_max),
                    text_x,
                    cy + HALF_CAP_EM * EM_LEGEND,
                    EM_LEGEND,
                    false,
                    INK,
                    HPos::Left,
                )?;
                y += LEGEND_ROW;
            }
            LegendItem::Band(label) => {
                y += 6.0;
                let cy = y + 11.0;
                cv.rect(x, cy - 8.0, x + sample_w, cy + 8.0, rgba(INK, 0.17))?;
                cv.line(&[(x, cy), (x + sample_w, cy)], rgba(INK, 1.0), 2.0, &[])?;
                let lines = wrap(label, EM_NOTE, false, text_max);
                for (k, line) in lines.iter().enumerate() {
                    cv.text(
                        line,
                        text_x,
                        cy + HALF_CAP_EM * EM_NOTE + k as f64 * 17.0
                            - (lines.len() - 1) as f64 * 8.5,
                        EM_NOTE,
                        false,
                        MUTED,
                        HPos::Left,
                    )?;
                }
                y += LEGEND_ROW + (lines.len().saturating_sub(1)) as f64 * 17.0;
            }
            LegendItem::HatchBand(label) => {
                y += 6.0;
                let cy = y + 11.0;
                let upper = [(x, cy - 8.0), (x + sample_w, cy - 8.0)];
                let lower = [(x, cy + 8.0), (x + sample_w, cy + 8.0)];
                vertical_hatch(cv, &upper, &lower, HATCH_SPACING, rgba(INK, HATCH_ALPHA))?;
                let lines = wrap(label, EM_NOTE, false, text_max);
                for (k, line) in lines.iter().enumerate() {
                    let base = cy + HALF_CAP_EM * EM_NOTE + k as f64 * 17.0
                        - (lines.len() - 1) as f64 * 8.5;
                    cv.text(line, text_x, base, EM_NOTE, false, MUTED, HPos::Left)?;
                }
                y += LEGEND_ROW + (lines.len().saturating_sub(1)) as f64 * 17.0;
            }
            LegendItem::Policy(label) => {
                y += 6.0;
                let cy = y + 11.0;
                let bw = text_w("1", EM_MARK, true) + 10.0;
                let bx = x + sample_w / 2.0 - bw / 2.0;
                cv.line(
                    &[
                        (x + sample_w / 2.0, cy - 2.0),
                        (x + sample_w / 2.0, cy + 22.0),
                    ],
                    rgba(POLICY, 1.0),
                    1.3,
                    &[],
                )?;
                mark_box(cv, "1", bx, cy - 14.0)?;
                let lines = wrap(label, EM_NOTE, false, text_max);
                for (k, line) in lines.iter().enumerate() {
                    cv.text(
                        line,
                        text_x,
                        cy + HALF_CAP_EM * EM_NOTE + k as f64 * 17.0,
                        EM_NOTE,
                        false,
                        MUTED,
                        HPos::Left,
                    )?;
                }
                y += LEGEND_ROW + 8.0 + (lines.len().saturating_sub(1)) as f64 * 17.0;
            }
            LegendItem::ColorBar { title } => {
                cv.text(
                    &fit(title, EM_LEGEND, true, width),
                    x,
                    y + 16.0,
                    EM_LEGEND,
                    true,
                    INK,
                    HPos::Left,
                )?;
                let (bx0, bx1) = (x, x + 26.0);
                let (by0, by1) = (y + 30.0, y + 260.0);
                let steps = 115;
                for i in 0..steps {
                    let t0 = i as f64 / steps as f64;
                    let t1 = (i + 1) as f64 / steps as f64;
                    let ya = by1 - (by1 - by0) * t1;
                    let yb = by1 - (by1 - by0) * t0;
                    cv.rect(bx0, ya, bx1, yb + 0.6, rgba(viridis((t0 + t1) / 2.0), 1.0))?;
                }
                cv.frame(bx0, by0, bx1, by1, MUTED, 1.0)?;
                for k in 0..=4 {
                    let t = k as f64 / 4.0;
                    let ty = by1 - (by1 - by0) * t;
                    cv.line(&[(bx1, ty), (bx1 + 5.0, ty)], rgba(MUTED, 1.0), 1.0, &[])?;
                    cv.text(
                        &Unit::Percent.format(t),
                        bx1 + 9.0,
                        ty + HALF_CAP_EM * EM_TICK,
                        EM_TICK,
                        false,
                        INK,
                        HPos::Left,
                    )?;
                }
                y = by1 + 18.0;
            }
            LegendItem::Observed { label, input } => {
                let cy = y + 11.0;
                let (ink, _) = observed_colors(*input);
                let mx = x + sample_w / 2.0;
                let bar = rgba(ink, 1.0);
                capped_bar(cv, (mx, cy - 10.0), (mx, cy + 10.0), (true, true), bar)?;
                observed_marker(cv, mx, cy, *input)?;
                cv.text(
                    &fit(label, EM_LEGEND, false, text_max),
                    text_x,
                    cy + HALF_CAP_EM * EM_LEGEND,
                    EM_LEGEND,
                    false,
                    INK,
                    HPos::Left,
                )?;
                y += LEGEND_ROW;
            }
            LegendItem::Missing(label) => {
                let cy = y + 11.0;
                cv.hatch(
                    x,
                    cy - 9.0,
                    x + 26.0,
                    cy + 9.0,
                    7.0,
                    RGBColor(170, 170, 170),
                )?;
                cv.frame(x, cy - 9.0, x + 26.0, cy + 9.0, MUTED, 1.0)?;
                cv.text(
                    &fit(label, EM_LEGEND, false, width - 36.0),
                    x + 36.0,
                    cy + HALF_CAP_EM * EM_LEGEND,
                    EM_LEGEND,
                    false,
                    INK,
                    HPos::Left,
                )?;
                y += LEGEND_ROW;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashes_cover_the_pattern() {
        let pieces = dash_pieces(&[(0.0, 0.0), (30.0, 0.0)], &[10.0, 5.0]);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0], vec![(0.0, 0.0), (10.0, 0.0)]);
        assert_eq!(pieces[1], vec![(15.0, 0.0), (25.0, 0.0)]);
    }

    #[test]
    fn month_ticks_fit() {
        let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        let days = 1095.0;
        let wide = month_ticks(start, days, 1200.0);
        assert_eq!(wide.first().map(|t| t.1.as_str()), Some("2025-01"));
        assert!(wide.len() * 84 <= 1200);
        assert!(wide.iter().any(|t| t.1 == "2025-07"));
        let narrow = month_ticks(start, days, 300.0);
        assert!(narrow.len() <= 3, "{narrow:?}");
    }

    #[test]
    fn fitting_a_long_label_is_fast_and_keeps_the_longest_prefix() {
        crate::report::charts::style::register_fonts().unwrap();
        // Measuring every prefix (the old way) took minutes for 100,000 characters.
        let long = "policy-".repeat(15_000);
        let t = std::time::Instant::now();
        let s = fit(&long, 12.0, false, 200.0);
        assert!(t.elapsed().as_secs_f64() < 5.0, "{:?}", t.elapsed());
        assert!(
            s.ends_with('\u{2026}') && text_w(&s, 12.0, false) <= 200.0,
            "{s}"
        );
        // One more character no longer fits.
        let n = s.chars().count() - 1;
        let longer: String = long.chars().take(n + 1).collect::<String>() + "\u{2026}";
        assert!(text_w(&longer, 12.0, false) > 200.0, "{longer}");
        assert_eq!(fit("short", 12.0, false, 200.0), "short");
        assert_eq!(fit("wide", 12.0, false, 1.0), "");
        let pieces = wrap(&"x".repeat(20_000), 12.0, false, 200.0);
        assert!(pieces.len() > 1 && pieces.concat() == "x".repeat(20_000));
    }

    #[test]
    fn long_words_break_at_punctuation() {
        crate::report::charts::style::register_fonts().unwrap();
        let path = "policy.us-offshore-lease-ban-cn.from";
        let lines = wrap(&format!("One line per value of {path}"), 15.0, true, 250.0);
        assert!(lines.len() >= 2, "{lines:?}");
        assert!(
            lines.iter().all(|l| text_w(l, 15.0, true) <= 250.0),
            "{lines:?}"
        );
        assert_eq!(
            lines.concat().replace(' ', ""),
            format!("Onelineper value of{path}").replace(' ', "")
        );
        // Breaks come after punctuation where there is some.
        let pieces = break_word(path, 15.0, false, 200.0);
        assert!(pieces.len() >= 2, "{pieces:?}");
        assert!(
            pieces[..pieces.len() - 1]
                .iter()
                .all(|p| p.ends_with(['.', '-'])),
            "{pieces:?}"
        );
        // Short text is untouched.
        assert_eq!(wrap("a b", 15.0, false, 500.0), ["a b"]);
    }

    #[test]
    fn shrink_averages() {
        let buf = vec![0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255];
        assert_eq!(shrink(&buf, 2, 2, 2), vec![128, 128, 128]);
    }
}
