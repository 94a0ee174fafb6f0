//! Paints a [`Layout`] into PDF bytes with krilla.
//!
//! krilla embeds the used glyphs of each font as a subset (a letter is ~30 KB instead of
//! ~400 KB with whole fonts), writes ToUnicode maps from the text we pass alongside the
//! glyphs (so copy/paste and text extraction give the Cyrillic back), and derives the
//! document and instance ids from a hash of the content. With no creation date set, the
//! bytes depend on the layout alone: that is what the delivery proof's SHA-256 relies on.

use krilla::error::KrillaError;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::{Document, SerializeSettings};

use super::LetterError;
use super::fonts::{MM_PER_PT, face};
use super::geometry::{PAGE_HEIGHT_MM, PAGE_WIDTH_MM};
use super::layout::{Layout, Page};

/// Millimetres to PDF points.
fn pt(mm: f32) -> f32 {
    mm / MM_PER_PT
}

pub fn paint(layout: &Layout) -> Result<Vec<u8>, LetterError> {
    let settings = SerializeSettings {
        // Nothing is tagged, so an empty structure tree would only add bytes.
        enable_tagging: false,
        ..SerializeSettings::default()
    };
    let mut document = Document::new_with(settings);
    let size = PageSettings::from_wh(pt(PAGE_WIDTH_MM), pt(PAGE_HEIGHT_MM))
        .ok_or_else(|| LetterError::Pdf("invalid page size".into()))?;
    for page in &layout.pages {
        let mut pdf_page = document.start_page_with(size.clone());
        paint_page(&mut pdf_page.surface(), page);
        pdf_page.finish();
    }
    // Fixed metadata only: no creation or modification date, which would change the bytes
    // on every render.
    document.set_metadata(
        Metadata::new()
            .title(layout.title.clone())
            .language("ru".into())
            .creator("Vestnik".into())
            .producer("Vestnik letters (krilla)".into()),
    );
    document
        .finish()
        .map_err(|e| LetterError::Pdf(describe(&e)))
}

fn paint_page(surface: &mut krilla::surface::Surface, page: &Page) {
    surface.set_fill(Some(Fill::default()));
    surface.set_stroke(None);
    for text in &page.texts {
        let face = face(text.bold);
        let glyphs = face.glyphs(&text.text, text.size_pt, text.word_spacing_mm);
        let origin = Point::from_xy(pt(text.x_mm), pt(text.baseline_mm));
        surface.draw_glyphs(
            origin,
            &glyphs,
            face.pdf.clone(),
            &text.text,
            text.size_pt,
            false,
        );
    }
    // All borders of a page as one path: one stroke operation instead of one per segment.
    let mut widths: Vec<f32> = page.rules.iter().map(|r| r.width_pt).collect();
    widths.sort_by(f32::total_cmp);
    widths.dedup();
    for width in widths {
        let mut path = PathBuilder::new();
        for rule in page.rules.iter().filter(|r| r.width_pt == width) {
            path.move_to(pt(rule.x1_mm), pt(rule.y1_mm));
            path.line_to(pt(rule.x2_mm), pt(rule.y2_mm));
        }
        if let Some(path) = path.finish() {
            surface.set_fill(None);
            surface.set_stroke(Some(Stroke {
                width,
                ..Stroke::default()
            }));
            surface.draw_path(&path);
        }
    }
}

fn describe(error: &KrillaError) -> String {
    match error {
        KrillaError::Font(_, reason) => format!("embedding the font failed: {reason}"),
        other => format!("{other:?}"),
    }
}
