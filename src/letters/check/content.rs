//! Where a page's marks land: a content-stream interpreter that tracks only geometry.
//!
//! A print house rejects a letter whose ink reaches the unprintable margin or clutters the
//! envelope window, so we need a bounding box for every mark: each text show, each painted
//! path, each image and shading. Boxes are conservative (a Bézier's control points, a
//! glyph as its full advance × 1 em), and clipped to the current clip path's bounding box,
//! since generators routinely clip oversized images to the page.

use std::rc::Rc;

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Object, ObjectId};

use super::fonts::{Font, FontCache, number, resolve};
use super::geometry::{IDENTITY, Matrix, Rect, apply, mul};

/// A form may draw a form: this deep and no deeper (also stops reference cycles).
const MAX_FORM_DEPTH: usize = 12;
/// Per decoded content stream, against decompression bombs.
pub(crate) const MAX_CONTENT_BYTES: usize = 64 << 20;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MarkKind {
    /// The text shown, decoded to Unicode as well as the font allows.
    Text(String),
    Path,
    Image,
    Shading,
}

/// Something that puts ink on paper, with its box in default user space (points).
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    pub kind: MarkKind,
    pub rect: Rect,
}

/// The marks of one page, and descriptions of any content that could not be read.
pub(crate) struct PageMarks {
    pub marks: Vec<Mark>,
    pub unreadable: Vec<String>,
}

pub(crate) fn page_marks(
    doc: &Document,
    content: &[u8],
    resources: Option<&Dictionary>,
    page_box: Rect,
    fonts: &mut FontCache,
) -> PageMarks {
    let mut interp = Interp {
        doc,
        fonts,
        out: PageMarks {
            marks: Vec::new(),
            unreadable: Vec::new(),
        },
        forms: Vec::new(),
    };
    let state = GState {
        ctm: IDENTITY,
        clip: page_box,
        line_width: 1.0,
        font: None,
        size: 0.0,
        char_spacing: 0.0,
        word_spacing: 0.0,
        h_scale: 1.0,
        leading: 0.0,
        rise: 0.0,
        invisible: false,
    };
    let ops = interp.decode(content, "the page content stream");
    interp.run(&ops, resources, state);
    interp.out
}

#[derive(Clone)]
struct GState {
    ctm: Matrix,
    /// Bounding box of the clip path, in user space.
    clip: Rect,
    line_width: f64,
    font: Option<Rc<Font>>,
    size: f64,
    char_spacing: f64,
    word_spacing: f64,
    h_scale: f64,
    leading: f64,
    rise: f64,
    /// Render modes 3 and 7 paint nothing (OCR layers under scanned pages use them).
    invisible: bool,
}

struct Interp<'d, 'f> {
    doc: &'d Document,
    fonts: &'f mut FontCache,
    out: PageMarks,
    /// Forms being drawn, innermost last.
    forms: Vec<Option<ObjectId>>,
}

impl<'d> Interp<'d, '_> {
    /// lopdf's lenient decoder silently drops everything after a syntax error, so a strict
    /// pass tells us whether part of the stream went unchecked.
    fn decode(&mut self, data: &[u8], what: &str) -> Vec<Operation> {
        match Content::decode(data) {
            Ok(c) => {
                if Content::decode_strict(data).is_err() {
                    let n = c.operations.len();
                    self.out
                        .unreadable
                        .push(format!("{what} is malformed after operation {n}"));
                }
                c.operations
            }
            Err(_) => {
                self.out.unreadable.push(format!("{what} cannot be parsed"));
                Vec::new()
            }
        }
    }

    fn mark(&mut self, kind: MarkKind, rect: Rect, gs: &GState) {
        let rect = rect.intersect(&gs.clip);
        if !rect.is_empty() {
            self.out.marks.push(Mark { kind, rect });
        }
    }

    fn run(&mut self, ops: &[Operation], resources: Option<&'d Dictionary>, mut gs: GState) {
        let mut stack: Vec<GState> = Vec::new();
        let (mut tm, mut tlm) = (IDENTITY, IDENTITY);
        let mut path: Option<Rect> = None;
        let mut pending_clip = false;
        for op in ops {
            let n = nums(&op.operands);
            match (op.operator.as_str(), n.as_slice()) {
                ("q", _) => stack.push(gs.clone()),
                ("Q", _) => gs = stack.pop().unwrap_or(gs),
                ("cm", [a, b, c, d, e, f]) => gs.ctm = mul(&[*a, *b, *c, *d, *e, *f], &gs.ctm),
                ("w", [w]) => gs.line_width = *w,

                // Path construction: points go to user space as they are added.
                ("m" | "l", [x, y]) => add(&mut path, &gs.ctm, &[(*x, *y)]),
                ("c", [x1, y1, x2, y2, x3, y3]) => {
                    add(&mut path, &gs.ctm, &[(*x1, *y1), (*x2, *y2), (*x3, *y3)])
                }
                ("v" | "y", [x1, y1, x2, y2]) => add(&mut path, &gs.ctm, &[(*x1, *y1), (*x2, *y2)]),
                ("re", [x, y, w, h]) => {
                    add(
                        &mut path,
                        &gs.ctm,
                        &[(*x, *y), (x + w, *y), (*x, y + h), (x + w, y + h)],
                    );
                }
                ("W" | "W*", _) => pending_clip = true,
                (paint @ ("S" | "s" | "f" | "F" | "f*" | "B" | "B*" | "b" | "b*" | "n"), _) => {
                    if let Some(p) = path.take() {
                        if paint != "n" {
                            let fills_only = matches!(paint, "f" | "F" | "f*");
                            // A stroke's ink reaches half the line width past the path.
                            let half = if fills_only {
                                0.0
                            } else {
                                gs.line_width.abs() / 2.0 * scale(&gs.ctm)
                            };
                            self.mark(MarkKind::Path, p.grow(half), &gs);
                        }
                        // The clip takes effect after the painting that ends its path.
                        if pending_clip {
                            gs.clip = gs.clip.intersect(&p);
                        }
                    }
                    pending_clip = false;
                }
                ("sh", _) => self.mark(MarkKind::Shading, gs.clip, &gs),
                ("BI", _) => self.mark(MarkKind::Image, unit_square(&gs.ctm), &gs),
                ("Do", _) => {
                    if let Some(Object::Name(name)) = op.operands.first() {
                        self.draw_xobject(resources, name, &gs);
                    }
                }

                // Text state lives in the graphics state; Tm and Tlm only inside BT … ET.
                ("BT", _) => (tm, tlm) = (IDENTITY, IDENTITY),
                ("Tf", [size]) => {
                    gs.size = *size;
                    gs.font = match op.operands.first() {
                        Some(Object::Name(name)) => lookup(self.doc, resources, b"Font", name)
                            .and_then(|f| self.fonts.get(self.doc, f)),
                        _ => None,
                    };
                }
                ("Tc", [v]) => gs.char_spacing = *v,
                ("Tw", [v]) => gs.word_spacing = *v,
                ("Tz", [v]) => gs.h_scale = v / 100.0,
                ("TL", [v]) => gs.leading = *v,
                ("Ts", [v]) => gs.rise = *v,
                ("Tr", [v]) => gs.invisible = matches!(*v as i64, 3 | 7),
                ("Tm", [a, b, c, d, e, f]) => {
                    (tm, tlm) = ([*a, *b, *c, *d, *e, *f], [*a, *b, *c, *d, *e, *f])
                }
                ("Td", [x, y]) => (tm, tlm) = next_line(&tlm, *x, *y),
                ("TD", [x, y]) => {
                    gs.leading = -y;
                    (tm, tlm) = next_line(&tlm, *x, *y);
                }
                ("T*", _) => (tm, tlm) = next_line(&tlm, 0.0, -gs.leading),
                ("Tj" | "TJ", _) => self.show(&op.operands, &gs, &mut tm),
                ("'", _) => {
                    (tm, tlm) = next_line(&tlm, 0.0, -gs.leading);
                    self.show(&op.operands, &gs, &mut tm);
                }
                ("\"", _) => {
                    if let [aw, ac, ..] = n.as_slice() {
                        (gs.word_spacing, gs.char_spacing) = (*aw, *ac);
                    }
                    (tm, tlm) = next_line(&tlm, 0.0, -gs.leading);
                    self.show(op.operands.get(2..).unwrap_or_default(), &gs, &mut tm);
                }
                _ => {}
            }
        }
    }

    /// One text show (`Tj`, `TJ`, `'`, `"`): a single box from the start of the first glyph
    /// to the end of the last, baseline − 0.2 em to baseline + 0.8 em; the text matrix then
    /// moves past it.
    fn show(&mut self, operands: &[Object], gs: &GState, tm: &mut Matrix) {
        let font = gs.font.clone().unwrap_or_else(|| Rc::new(Font::fallback()));
        let mut items: Vec<&Object> = Vec::new();
        for o in operands {
            match o {
                Object::Array(list) => items.extend(list),
                other => items.push(other),
            }
        }
        let (mut advance, mut text, mut glyphs) = (0.0, String::new(), 0);
        for item in items {
            match item {
                Object::String(bytes, _) => {
                    for g in font.glyphs(bytes) {
                        let spacing =
                            gs.char_spacing + if g.is_space { gs.word_spacing } else { 0.0 };
                        advance += (g.width * font.width_scale * gs.size + spacing) * gs.h_scale;
                        text.push_str(&g.text);
                        glyphs += 1;
                    }
                }
                other => {
                    let Some(adjust) = number(other) else {
                        continue;
                    };
                    advance -= adjust / 1000.0 * gs.size * gs.h_scale;
                    // Some generators space words by kerning instead of a space glyph.
                    if adjust < -200.0 && !text.is_empty() && !text.ends_with(char::is_whitespace) {
                        text.push(' ');
                    }
                }
            }
        }
        if glyphs > 0 && !gs.invisible {
            let (low, high) = (
                -0.2 * gs.size * font.height_scale,
                0.8 * gs.size * font.height_scale,
            );
            let text_space = Rect::around([(0.0, gs.rise + low), (advance, gs.rise + high)]);
            let rect = text_space.transform(&mul(tm, &gs.ctm));
            self.mark(MarkKind::Text(text), rect, gs);
        }
        *tm = mul(&[1.0, 0.0, 0.0, 1.0, advance, 0.0], tm);
    }

    /// An image is the unit square under the CTM; a form is drawn with its own matrix,
    /// clipped to its `/BBox`, with its own resources (or, as old files do, the page's).
    fn draw_xobject(&mut self, resources: Option<&'d Dictionary>, name: &[u8], gs: &GState) {
        let doc = self.doc;
        let Some(object) = lookup(doc, resources, b"XObject", name) else {
            return;
        };
        let id = doc.dereference(object).ok().and_then(|(id, _)| id);
        let Ok(stream) = resolve(doc, object).as_stream() else {
            return;
        };
        let subtype = stream
            .dict
            .get(b"Subtype")
            .and_then(Object::as_name)
            .unwrap_or_default();
        match subtype {
            b"Image" => self.mark(MarkKind::Image, unit_square(&gs.ctm), gs),
            b"Form" => {
                let label = String::from_utf8_lossy(name);
                if self.forms.len() >= MAX_FORM_DEPTH
                    || id.is_some_and(|id| self.forms.contains(&Some(id)))
                {
                    self.out
                        .unreadable
                        .push(format!("form /{label} nests too deeply or draws itself"));
                    return;
                }
                let matrix = numbers_of(doc, stream.dict.get(b"Matrix").ok()).unwrap_or_default();
                let matrix: Matrix = matrix.try_into().unwrap_or(IDENTITY);
                let mut inner = gs.clone();
                inner.ctm = mul(&matrix, &gs.ctm);
                let bbox: Option<[f64; 4]> =
                    numbers_of(doc, stream.dict.get(b"BBox").ok()).and_then(|b| b.try_into().ok());
                if let Some([x0, y0, x1, y1]) = bbox {
                    let bbox = Rect::around([(x0, y0), (x1, y1)]).transform(&inner.ctm);
                    inner.clip = inner.clip.intersect(&bbox);
                }
                let own = stream
                    .dict
                    .get(b"Resources")
                    .ok()
                    .and_then(|o| resolve(doc, o).as_dict().ok());
                let Ok(data) = stream.get_plain_content_with_limit(MAX_CONTENT_BYTES) else {
                    self.out
                        .unreadable
                        .push(format!("form /{label} cannot be decompressed"));
                    return;
                };
                let ops = self.decode(&data, &format!("form /{label}"));
                self.forms.push(id);
                self.run(&ops, own.or(resources), inner);
                self.forms.pop();
            }
            _ => {}
        }
    }
}

fn nums(operands: &[Object]) -> Vec<f64> {
    operands.iter().filter_map(number).collect()
}

fn numbers_of(doc: &Document, object: Option<&Object>) -> Option<Vec<f64>> {
    let array = resolve(doc, object?).as_array().ok()?;
    array.iter().map(|o| number(resolve(doc, o))).collect()
}

/// `/Resources /<category> /<name>`, unresolved so fonts can be cached by object id.
fn lookup<'d>(
    doc: &'d Document,
    resources: Option<&'d Dictionary>,
    category: &[u8],
    name: &[u8],
) -> Option<&'d Object> {
    let dict = resolve(doc, resources?.get(category).ok()?)
        .as_dict()
        .ok()?;
    dict.get(name).ok()
}

fn add(path: &mut Option<Rect>, ctm: &Matrix, points: &[(f64, f64)]) {
    let added = Rect::around(points.iter().map(|(x, y)| apply(ctm, *x, *y)));
    *path = Some(path.map_or(added, |p| p.union(&added)));
}

fn next_line(tlm: &Matrix, x: f64, y: f64) -> (Matrix, Matrix) {
    let moved = mul(&[1.0, 0.0, 0.0, 1.0, x, y], tlm);
    (moved, moved)
}

fn unit_square(ctm: &Matrix) -> Rect {
    Rect::around([(0.0, 0.0), (1.0, 1.0)]).transform(ctm)
}

/// How much the CTM scales lengths, on average (for line widths).
fn scale(m: &Matrix) -> f64 {
    (m[0] * m[3] - m[1] * m[2]).abs().sqrt()
}
