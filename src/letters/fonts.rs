//! The embedded fonts: glyphs, advance widths, and which characters they can draw.
//!
//! Widths come from the font's own advance widths (hmtx), the same numbers the PDF viewer
//! uses, so a line that is measured to fit does fit. No shaping engine: Russian and Latin
//! text need none beyond kerning, and leaving kerning out keeps measurement and drawing
//! trivially consistent (and the build small).

use std::sync::OnceLock;

use krilla::text::{Font, GlyphId as PdfGlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::{GlyphMetrics, Metrics};
use skrifa::{FontRef, GlyphId, MetadataProvider, charmap::Charmap};

use super::LetterError;

/// Millimetres per PostScript point.
pub const MM_PER_PT: f32 = 25.4 / 72.0;
/// Name of the embedded family, for error messages.
pub const FAMILY: &str = "PT Serif";

static REGULAR_TTF: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/PTSerif-Regular.ttf"
));
static BOLD_TTF: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/PTSerif-Bold.ttf"
));

/// One embedded face with what layout needs from it, parsed once per process: parsing and
/// hashing 200 KB of font per letter would dominate the render time.
pub struct Face {
    /// Glyph and advance (em) of every code point below [`TABLE_LEN`], glyph 0 = missing:
    /// layout measures every character several times, and going through the cmap and hmtx
    /// each time made layout 20× slower (8-page letter: 875 → 43 ms in a debug build).
    table: Box<[(GlyphId, f32)]>,
    charmap: Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    units_per_em: f32,
    /// Above the baseline, in em.
    pub ascent: f32,
    /// Below the baseline, in em, positive.
    pub descent: f32,
    space: GlyphId,
    /// The same font for krilla, which subsets it into each PDF.
    pub pdf: Font,
}

/// Latin, Cyrillic, general punctuation, currency signs, letterlike symbols (№).
const TABLE_LEN: usize = 0x2200;

struct Faces {
    regular: Face,
    bold: Face,
}

pub fn face(bold: bool) -> &'static Face {
    static FACES: OnceLock<Faces> = OnceLock::new();
    let faces = FACES.get_or_init(|| Faces {
        regular: Face::load(REGULAR_TTF),
        bold: Face::load(BOLD_TTF),
    });
    if bold { &faces.bold } else { &faces.regular }
}

impl Face {
    fn load(data: &'static [u8]) -> Face {
        // The fonts are compiled in; if they do not parse, no letter can be rendered and the
        // tests fail first, so a panic with the reason is the honest outcome.
        let font = FontRef::new(data).expect("embedded PT Serif font parses");
        let metrics = Metrics::new(&font, Size::unscaled(), LocationRef::default());
        let units_per_em = f32::from(metrics.units_per_em);
        let charmap = font.charmap();
        let mut face = Face {
            table: Box::new([]),
            space: charmap.map(' ').expect("embedded font maps the space"),
            charmap,
            metrics: font.glyph_metrics(Size::unscaled(), LocationRef::default()),
            units_per_em,
            ascent: metrics.ascent / units_per_em,
            descent: -metrics.descent / units_per_em,
            pdf: Font::new(data.into(), 0).expect("krilla accepts the embedded font"),
        };
        face.table = (0..TABLE_LEN as u32)
            .map(|cp| {
                let glyph = char::from_u32(cp)
                    .and_then(|ch| face.lookup(ch))
                    .unwrap_or(GlyphId::NOTDEF);
                (glyph, face.advance_em(glyph))
            })
            .collect();
        face
    }

    /// The glyph for `ch`. Fixed-width spaces that a font may lack are drawn as a space:
    /// they matter for line breaking (which happens before), not for their exact width.
    fn lookup(&self, ch: char) -> Option<GlyphId> {
        match self.charmap.map(ch) {
            Some(glyph) if glyph != GlyphId::NOTDEF => Some(glyph),
            _ if ch.is_whitespace() => Some(self.space),
            _ => None,
        }
    }

    /// Glyph and advance in em, `None` if the font lacks the character.
    fn metric(&self, ch: char) -> Option<(GlyphId, f32)> {
        match self.table.get(ch as usize) {
            Some(&(glyph, _)) if glyph == GlyphId::NOTDEF => None,
            Some(&entry) => Some(entry),
            None => self.lookup(ch).map(|g| (g, self.advance_em(g))),
        }
    }

    pub fn glyph(&self, ch: char) -> Option<GlyphId> {
        self.metric(ch).map(|(glyph, _)| glyph)
    }

    fn advance_em(&self, glyph: GlyphId) -> f32 {
        self.metrics.advance_width(glyph).unwrap_or(0.0) / self.units_per_em
    }

    /// Width of `text` at `size_pt`, in millimetres.
    pub fn width(&self, text: &str, size_pt: f32) -> f32 {
        let em: f32 = text
            .chars()
            .filter_map(|c| self.metric(c))
            .map(|(_, advance)| advance)
            .sum();
        em * size_pt * MM_PER_PT
    }

    /// Glyphs for krilla, each space widened by `extra_space_mm` (justification). Advances
    /// are in em, as krilla wants them.
    pub fn glyphs(&self, text: &str, size_pt: f32, extra_space_mm: f32) -> Vec<KrillaGlyph> {
        let extra_em = extra_space_mm / (size_pt * MM_PER_PT);
        text.char_indices()
            .map(|(pos, ch)| {
                let (glyph, mut advance) = self.metric(ch).unwrap_or((GlyphId::NOTDEF, 0.0));
                if ch == ' ' {
                    advance += extra_em;
                }
                let range = pos..pos + ch.len_utf8();
                KrillaGlyph::new(
                    PdfGlyphId::new(glyph.to_u32()),
                    advance,
                    0.0,
                    0.0,
                    0.0,
                    range,
                    None,
                )
            })
            .collect()
    }
}

/// Normalises user text: tabs and odd whitespace become spaces, invisible characters
/// (soft hyphen, zero-width space/joiners, BOM) and other control characters go. Newlines
/// stay: they carry structure (paragraphs, address lines).
pub fn clean(text: &str) -> String {
    text.chars()
        .filter_map(|ch| match ch {
            '\n' => Some('\n'),
            '\r' => None,
            '\u{a0}' | '\u{202f}' => Some(ch),
            '\u{ad}' | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' => None,
            _ if ch.is_whitespace() => Some(' '),
            _ if ch.is_control() => None,
            _ => Some(ch),
        })
        .collect()
}

/// Fails if a character of `text` has no glyph in either face: a letter with empty boxes
/// in it must not reach a customer.
pub fn check_coverage(field: &str, text: &str) -> Result<(), LetterError> {
    let missing = text.chars().find(|&ch| {
        ch != '\n' && (face(false).glyph(ch).is_none() || face(true).glyph(ch).is_none())
    });
    match missing {
        Some(ch) => Err(LetterError::UnsupportedCharacter {
            field: field.to_owned(),
            ch,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fonts_cover_russian_text_and_the_rouble_sign() {
        for ch in "АБВЁЖЯабвёжя№₽«»—–•…\u{a0}".chars() {
            assert!(
                face(false).glyph(ch).is_some() && face(true).glyph(ch).is_some(),
                "{ch:?}"
            );
        }
        assert!(face(false).width("Ш", 10.0) > face(false).width("г", 10.0));
        assert!(
            check_coverage("body", "Привет 😀")
                .unwrap_err()
                .to_string()
                .contains("U+1F600")
        );
    }

    #[test]
    fn clean_removes_invisible_and_control_characters() {
        assert_eq!(clean("a\tb\u{ad}c\u{200b}d\r\ne\u{7}"), "a bcd\ne");
    }
}
