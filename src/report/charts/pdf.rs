//! PDF charts: a chart's SVG drawing, rendered to a one-page PDF of the PNG's print size (8 x 4.5
//! inches) with its text kept as text (selectable, searchable) in the bundled DejaVu Sans, subset
//! and embedded. The one home of usvg (which reads the SVG and lays out its text) and krilla
//! (which writes the PDF; with krilla-svg, its SVG renderer).
//!
//! The font database holds the bundled DejaVu Sans (regular and bold, the bytes the PNGs are drawn
//! with) and nothing else: no system font is looked for, so a chart's PDF is the same on any
//! machine. The PDF carries the chart's title as its document title and no date or random id, so
//! the same chart gives the same bytes.

use std::sync::{Arc, OnceLock};

use krilla::geom::Size;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::{Document, SerializeSettings};
use krilla_svg::{SurfaceExt, SvgSettings};
use usvg::fontdb;

use super::draw::{HEIGHT, WIDTH};
use super::style;

/// The page: the PNG's print size, 8 x 4.5 inches (at 72 points per inch).
const PAGE_W_PT: f32 = 8.0 * 72.0;
const PAGE_H_PT: f32 = PAGE_W_PT * HEIGHT as f32 / WIDTH as f32;

/// The family every text of the charts resolves to.
const FONT: &str = "DejaVu Sans";

/// The font database: the bundled DejaVu Sans only, built once per process.
fn fonts() -> Arc<fontdb::Database> {
    static DB: OnceLock<Arc<fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = fontdb::Database::new();
        db.load_font_data(style::REGULAR.to_vec());
        db.load_font_data(style::BOLD.to_vec());
        // Generic families (the SVG asks for "DejaVu Sans, sans-serif") resolve to it too.
        db.set_sans_serif_family(FONT);
        db.set_serif_family(FONT);
        db.set_monospace_family(FONT);
        Arc::new(db)
    })
    .clone()
}

/// `svg` (a chart's SVG document, titled `title`) as a one-page PDF; Err: what usvg or krilla
/// said.
pub(super) fn pdf(svg: &str, title: &str) -> Result<Vec<u8>, String> {
    let options = usvg::Options {
        font_family: FONT.to_string(),
        fontdb: fonts(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| format!("reading the SVG: {e}"))?;
    let size = Size::from_wh(PAGE_W_PT, PAGE_H_PT).expect("a positive page size");
    let mut document = Document::new_with(SerializeSettings {
        // The title goes in the document information dictionary; XMP would repeat it.
        xmp_metadata: false,
        ..SerializeSettings::default()
    });
    document.set_metadata(Metadata::new().title(title.to_string()));
    let mut page = document.start_page_with(PageSettings::new(size));
    let mut surface = page.surface();
    let drawn = surface.draw_svg(&tree, size, SvgSettings::default());
    surface.finish();
    page.finish();
    drawn.ok_or("drawing the SVG failed")?;
    document
        .finish()
        .map_err(|e| format!("writing the PDF: {e:?}"))
}
