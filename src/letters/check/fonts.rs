//! Fonts as the letter checks see them: whether a font travels inside the PDF, how far each
//! shown code advances, and which text it spells.
//!
//! Only what a print house's preflight needs: advances come from `/Widths` or a CIDFont's
//! `/W` and `/DW` (the font program itself is never parsed), and text from `/ToUnicode`,
//! else from the simple font's `/Encoding`, else WinAnsi.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use lopdf::{Dictionary, Document, Object, ObjectId};

use super::cmap::{MAX_CMAP_BYTES, parse_cmap, simple_byte_text, win_ansi};

/// How deep resource dictionaries are followed through forms, patterns and Type3 fonts.
const MAX_RESOURCE_DEPTH: usize = 16;

/// A resolved font: metrics and text decoding for one font dictionary.
#[derive(Debug)]
pub(crate) struct Font {
    /// Bytes per character code: 1 for simple fonts, 2 for Type0 (Identity-H and most CMaps).
    code_len: usize,
    widths: Widths,
    /// Glyph space → text space, horizontally (1/1000 except for Type3 `/FontMatrix`).
    pub width_scale: f64,
    /// Vertical counterpart, for the glyph box height (1 except for odd Type3 matrices).
    pub height_scale: f64,
    to_unicode: Option<HashMap<(usize, u32), String>>,
    /// Simple fonts: the text each byte stands for when `/ToUnicode` does not say.
    byte_text: Option<Vec<String>>,
}

#[derive(Debug)]
enum Widths {
    Simple {
        first: u32,
        widths: Vec<f64>,
        missing: f64,
    },
    /// CIDFont `/W` ranges `(first, last, width)`, sorted by `first`, and `/DW`.
    Cid {
        ranges: Vec<(u32, u32, f64)>,
        default: f64,
    },
}

/// One character code of a shown string.
pub(crate) struct Glyph {
    pub width: f64,
    /// Word spacing (`Tw`) applies only to the single-byte code 32.
    pub is_space: bool,
    pub text: String,
}

impl Font {
    /// For a `Tf` naming no font we can find: still place the text, at half an em a glyph.
    pub fn fallback() -> Font {
        Font {
            code_len: 1,
            widths: Widths::Simple {
                first: 0,
                widths: Vec::new(),
                missing: 500.0,
            },
            width_scale: 0.001,
            height_scale: 1.0,
            to_unicode: None,
            byte_text: Some((0..=255u8).map(win_ansi).map(String::from).collect()),
        }
    }

    pub fn load(doc: &Document, font: &Dictionary) -> Font {
        let subtype = name(doc, font, b"Subtype").unwrap_or_default();
        let to_unicode = dict_stream(doc, font, b"ToUnicode").and_then(|s| parse_cmap(&s));
        if subtype == "Type0" {
            let descendant = font
                .get(b"DescendantFonts")
                .ok()
                .and_then(|o| resolve(doc, o).as_array().ok())
                .and_then(|a| a.first())
                .and_then(|o| resolve(doc, o).as_dict().ok());
            let default = descendant
                .and_then(|d| d.get(b"DW").ok())
                .and_then(|o| number(resolve(doc, o)))
                .unwrap_or(1000.0);
            let ranges = descendant
                .and_then(|d| d.get(b"W").ok())
                .and_then(|o| resolve(doc, o).as_array().ok())
                .map(|w| cid_widths(doc, w))
                .unwrap_or_default();
            return Font {
                code_len: 2,
                widths: Widths::Cid { ranges, default },
                width_scale: 0.001,
                height_scale: 1.0,
                to_unicode,
                byte_text: None,
            };
        }

        let numbers = |key: &[u8]| -> Option<Vec<f64>> {
            let array = resolve(doc, font.get(key).ok()?).as_array().ok()?;
            Some(
                array
                    .iter()
                    .map(|o| number(resolve(doc, o)).unwrap_or(0.0))
                    .collect(),
            )
        };
        let first = font
            .get(b"FirstChar")
            .ok()
            .and_then(|o| number(resolve(doc, o)));
        let descriptor = font
            .get(b"FontDescriptor")
            .ok()
            .and_then(|o| resolve(doc, o).as_dict().ok());
        let missing = descriptor
            .and_then(|d| d.get(b"MissingWidth").ok())
            .and_then(|o| number(resolve(doc, o)));
        let (first, widths, missing) = match numbers(b"Widths") {
            Some(widths) => (first.unwrap_or(0.0) as u32, widths, missing.unwrap_or(0.0)),
            // A standard-14 font may omit /Widths; its real metrics live in AFM files we do
            // not carry, so assume an average glyph (Courier is monospaced at 600).
            None => {
                let base = name(doc, font, b"BaseFont").unwrap_or_default();
                let guess = if base.contains("Courier") {
                    600.0
                } else {
                    500.0
                };
                (0, Vec::new(), missing.unwrap_or(guess))
            }
        };
        let (width_scale, height_scale) = match numbers(b"FontMatrix") {
            Some(m) if subtype == "Type3" && m.len() == 6 => (m[0], (m[3] * 1000.0).abs()),
            _ => (0.001, 1.0),
        };
        // Also behind /ToUnicode, for the codes a partial map leaves out.
        let byte_text = Some(simple_byte_text(doc, font));
        Font {
            code_len: 1,
            widths: Widths::Simple {
                first,
                widths,
                missing,
            },
            width_scale,
            height_scale,
            to_unicode,
            byte_text,
        }
    }

    /// Splits a shown string into its character codes, with advance (glyph space) and text.
    pub fn glyphs(&self, bytes: &[u8]) -> Vec<Glyph> {
        bytes
            .chunks(self.code_len)
            .map(|chunk| {
                let code = chunk.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b));
                Glyph {
                    width: self.width(code),
                    is_space: chunk == [32],
                    text: self.text(chunk.len(), code),
                }
            })
            .collect()
    }

    fn width(&self, code: u32) -> f64 {
        match &self.widths {
            Widths::Simple {
                first,
                widths,
                missing,
            } => code
                .checked_sub(*first)
                .and_then(|i| widths.get(i as usize))
                .copied()
                .unwrap_or(*missing),
            Widths::Cid { ranges, default } => {
                let after = ranges.partition_point(|(lo, _, _)| *lo <= code);
                match after.checked_sub(1).map(|i| ranges[i]) {
                    Some((_, hi, w)) if code <= hi => w,
                    _ => *default,
                }
            }
        }
    }

    fn text(&self, len: usize, code: u32) -> String {
        if let Some(text) = self.to_unicode.as_ref().and_then(|m| m.get(&(len, code))) {
            return text.clone();
        }
        match (&self.byte_text, len) {
            (Some(table), 1) => table[code as usize].clone(),
            // A composite font without /ToUnicode: its codes name glyphs, not characters.
            _ => "\u{FFFD}".to_string(),
        }
    }
}

/// Fonts resolved once per document, keyed by object id (most fonts are indirect).
#[derive(Default)]
pub(crate) struct FontCache {
    by_id: HashMap<ObjectId, Rc<Font>>,
}

impl FontCache {
    pub fn get(&mut self, doc: &Document, font: &Object) -> Option<Rc<Font>> {
        if let Object::Reference(id) = font {
            if let Some(found) = self.by_id.get(id) {
                return Some(found.clone());
            }
            let loaded = Rc::new(Font::load(doc, doc.get_dictionary(*id).ok()?));
            self.by_id.insert(*id, loaded.clone());
            return Some(loaded);
        }
        Some(Rc::new(Font::load(doc, font.as_dict().ok()?)))
    }
}

/// The `/BaseFont` of every font reachable from `resources` (fonts, form XObjects, tiling
/// patterns, Type3 glyph resources) that is not embedded. `seen` spans the document so a
/// shared resource dictionary is walked once.
pub(crate) fn unembedded(
    doc: &Document,
    resources: &Dictionary,
    depth: usize,
    seen: &mut HashSet<ObjectId>,
    out: &mut Vec<String>,
) {
    // A hostile file can chain distinct forms without end; real ones nest a few deep.
    if depth > MAX_RESOURCE_DEPTH {
        return;
    }
    let entries = |key: &[u8]| -> Vec<&Object> {
        resources
            .get(key)
            .ok()
            .and_then(|o| resolve(doc, o).as_dict().ok())
            .map(|d| d.iter().map(|(_, v)| v).collect())
            .unwrap_or_default()
    };
    let first_visit = |seen: &mut HashSet<ObjectId>, o: &Object| match o {
        Object::Reference(id) => seen.insert(*id),
        _ => true,
    };
    for font in entries(b"Font") {
        if !first_visit(seen, font) {
            continue;
        }
        let Ok(dict) = resolve(doc, font).as_dict() else {
            continue;
        };
        if !is_embedded(doc, dict) {
            out.push(name(doc, dict, b"BaseFont").unwrap_or_else(|| "(unnamed font)".into()));
        }
        if let Some(inner) = dict
            .get(b"Resources")
            .ok()
            .and_then(|o| resolve(doc, o).as_dict().ok())
        {
            unembedded(doc, inner, depth + 1, seen, out);
        }
    }
    for holder in entries(b"XObject").into_iter().chain(entries(b"Pattern")) {
        if !first_visit(seen, holder) {
            continue;
        }
        let dict = match resolve(doc, holder) {
            Object::Stream(s) => &s.dict,
            Object::Dictionary(d) => d,
            _ => continue,
        };
        if let Some(inner) = dict
            .get(b"Resources")
            .ok()
            .and_then(|o| resolve(doc, o).as_dict().ok())
        {
            unembedded(doc, inner, depth + 1, seen, out);
        }
    }
}

/// A font is embedded when its descriptor carries a font program; Type3 glyphs are content
/// streams inside the PDF, so they always are.
fn is_embedded(doc: &Document, font: &Dictionary) -> bool {
    let subtype = name(doc, font, b"Subtype").unwrap_or_default();
    if subtype == "Type3" {
        return true;
    }
    let holder = if subtype == "Type0" {
        font.get(b"DescendantFonts")
            .ok()
            .and_then(|o| resolve(doc, o).as_array().ok())
            .and_then(|a| a.first())
            .and_then(|o| resolve(doc, o).as_dict().ok())
    } else {
        Some(font)
    };
    let descriptor = holder
        .and_then(|d| d.get(b"FontDescriptor").ok())
        .and_then(|o| resolve(doc, o).as_dict().ok());
    descriptor.is_some_and(|d| {
        [&b"FontFile"[..], b"FontFile2", b"FontFile3"]
            .iter()
            .any(|k| d.has(k))
    })
}

/// `/W` is a flat array mixing `c [w1 w2 …]` and `c_first c_last w`.
fn cid_widths(doc: &Document, w: &[Object]) -> Vec<(u32, u32, f64)> {
    let mut ranges = Vec::new();
    let mut i = 0;
    while i + 1 < w.len() {
        let Some(first) = number(resolve(doc, &w[i])) else {
            break;
        };
        let first = first as u32;
        match resolve(doc, &w[i + 1]) {
            Object::Array(list) => {
                for (k, o) in list.iter().enumerate() {
                    let cid = first + k as u32;
                    ranges.push((cid, cid, number(resolve(doc, o)).unwrap_or(0.0)));
                }
                i += 2;
            }
            last => {
                let (Some(last), Some(width)) = (
                    number(last),
                    w.get(i + 2).and_then(|o| number(resolve(doc, o))),
                ) else {
                    break;
                };
                ranges.push((first, last as u32, width));
                i += 3;
            }
        }
    }
    ranges.sort_by_key(|r| r.0);
    ranges
}

/// Follows references (a bounded number of them) to the object itself.
pub(crate) fn resolve<'a>(doc: &'a Document, object: &'a Object) -> &'a Object {
    doc.dereference(object).map(|(_, o)| o).unwrap_or(object)
}

pub(crate) fn number(object: &Object) -> Option<f64> {
    match object {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(f64::from(*r)),
        _ => None,
    }
}

pub(crate) fn name(doc: &Document, dict: &Dictionary, key: &[u8]) -> Option<String> {
    let n = resolve(doc, dict.get(key).ok()?).as_name().ok()?;
    Some(String::from_utf8_lossy(n).into_owned())
}

fn dict_stream(doc: &Document, dict: &Dictionary, key: &[u8]) -> Option<Vec<u8>> {
    let stream = resolve(doc, dict.get(key).ok()?).as_stream().ok()?;
    stream.get_plain_content_with_limit(MAX_CMAP_BYTES).ok()
}
