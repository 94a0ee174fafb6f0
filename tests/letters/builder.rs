//! Test letters built with lopdf: pages of any size, text in an embedded DejaVu Sans subset
//! (Type0, Identity-H, with a generated /ToUnicode) or in non-embedded Helvetica, filled
//! rectangles, images and forms. Positions are in millimetres from the top-left corner.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat, dictionary};

pub const A4: (f64, f64) = (595.276, 841.89);
pub const US_LETTER: (f64, f64) = (612.0, 792.0);
const PT_PER_MM: f64 = 72.0 / 25.4;

/// DejaVu Sans cut to Latin and Cyrillic (pyftsubset, 17 KB), and its metrics.
pub struct DejaVu {
    data: Vec<u8>,
    gid: BTreeMap<char, u16>,
    /// Advance per glyph id, in 1/1000 em.
    widths: Vec<i64>,
}

pub static DEJAVU: LazyLock<DejaVu> = LazyLock::new(|| {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/DejaVuSans-LatinCyr.ttf"
    );
    let data = std::fs::read(path).expect("test font");
    let face = ttf_parser::Face::parse(&data, 0).expect("a TrueType font");
    let per_em = f64::from(face.units_per_em());
    let widths = (0..face.number_of_glyphs())
        .map(|g| {
            let advance = face.glyph_hor_advance(ttf_parser::GlyphId(g)).unwrap_or(0);
            (f64::from(advance) * 1000.0 / per_em).round() as i64
        })
        .collect();
    let gid = (' '..='\u{2116}')
        .filter_map(|c| face.glyph_index(c).map(|g| (c, g.0)))
        .collect();
    DejaVu { data, gid, widths }
});

impl DejaVu {
    /// The advance of `text`, in em.
    pub fn width_em(&self, text: &str) -> f64 {
        let gids = self.encode(text);
        gids.chunks(2)
            .map(|g| self.widths[usize::from(u16::from_be_bytes([g[0], g[1]]))] as f64 / 1000.0)
            .sum()
    }

    pub fn encode(&self, text: &str) -> Vec<u8> {
        text.chars()
            .flat_map(|c| {
                self.gid
                    .get(&c)
                    .copied()
                    .unwrap_or_else(|| panic!("{c:?} is not in the subset"))
                    .to_be_bytes()
            })
            .collect()
    }

    /// bfrange for runs of consecutive glyph ids and characters, bfchar for the rest.
    fn to_unicode(&self) -> Vec<u8> {
        let mut pairs: Vec<(u16, char)> = self.gid.iter().map(|(c, g)| (*g, *c)).collect();
        pairs.sort();
        let mut runs: Vec<(u16, u16, char)> = Vec::new();
        for (g, c) in pairs {
            match runs.last_mut() {
                Some((lo, hi, first))
                    if *hi + 1 == g && u32::from(*first) + u32::from(g - *lo) == u32::from(c) =>
                {
                    *hi = g
                }
                _ => runs.push((g, g, c)),
            }
        }
        let hex = |c: char| {
            c.encode_utf16(&mut [0; 2])
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect::<String>()
        };
        let (singles, ranges): (Vec<_>, Vec<_>) =
            runs.into_iter().partition(|(lo, hi, _)| lo == hi);
        let mut cmap = String::from(
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
             /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
             /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
             1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
        );
        for chunk in singles.chunks(100) {
            cmap += &format!("{} beginbfchar\n", chunk.len());
            for (g, _, c) in chunk {
                cmap += &format!("<{g:04X}> <{}>\n", hex(*c));
            }
            cmap += "endbfchar\n";
        }
        for chunk in ranges.chunks(100) {
            cmap += &format!("{} beginbfrange\n", chunk.len());
            for (lo, hi, c) in chunk {
                cmap += &format!("<{lo:04X}> <{hi:04X}> <{}>\n", hex(*c));
            }
            cmap += "endbfrange\n";
        }
        cmap += "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n";
        cmap.into_bytes()
    }

    fn add_to(&self, doc: &mut Document) -> ObjectId {
        let mut file = Stream::new(
            dictionary! { "Length1" => self.data.len() as i64 },
            self.data.clone(),
        );
        file.compress().unwrap();
        let file_id = doc.add_object(file);
        let descriptor = doc.add_object(dictionary! {
            "Type" => "FontDescriptor", "FontName" => "DejaVuSans", "Flags" => 32,
            "FontBBox" => vec![(-1021).into(), (-463).into(), 1793.into(), 1232.into()],
            "ItalicAngle" => 0, "Ascent" => 928, "Descent" => -236, "CapHeight" => 729, "StemV" => 80,
            "FontFile2" => file_id,
        });
        let widths: Vec<Object> = self.widths.iter().map(|w| Object::Integer(*w)).collect();
        let cid_font = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "CIDFontType2", "BaseFont" => "DejaVuSans",
            "CIDSystemInfo" => dictionary! {
                "Registry" => Object::string_literal("Adobe"),
                "Ordering" => Object::string_literal("Identity"),
                "Supplement" => 0,
            },
            "FontDescriptor" => descriptor, "DW" => 1000,
            "W" => vec![0.into(), widths.into()], "CIDToGIDMap" => "Identity",
        });
        let to_unicode = doc.add_object(Stream::new(dictionary! {}, self.to_unicode()));
        doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type0", "BaseFont" => "DejaVuSans", "Encoding" => "Identity-H",
            "DescendantFonts" => vec![cid_font.into()], "ToUnicode" => to_unicode,
        })
    }
}

fn op(operator: &str, operands: Vec<Object>) -> Operation {
    Operation::new(operator, operands)
}

fn n(v: f64) -> Object {
    Object::Real(v as f32)
}

/// Drawing on one page, in millimetres from its top-left corner (as printed unrotated).
pub struct Draw {
    height_pt: f64,
    pub ops: Vec<Operation>,
}

impl Draw {
    pub fn new(page: (f64, f64)) -> Draw {
        Draw {
            height_pt: page.1,
            ops: Vec::new(),
        }
    }

    fn at(&self, x_mm: f64, y_mm: f64) -> (Object, Object) {
        (n(x_mm * PT_PER_MM), n(self.height_pt - y_mm * PT_PER_MM))
    }

    /// A line of text in DejaVu (/F1), baseline `y_mm` below the top edge.
    pub fn text(&mut self, x_mm: f64, y_mm: f64, size: f64, text: &str) -> &mut Draw {
        let (x, y) = self.at(x_mm, y_mm);
        let shown = Object::String(DEJAVU.encode(text), StringFormat::Hexadecimal);
        self.ops.extend([
            op("BT", vec![]),
            op("Tf", vec!["F1".into(), n(size)]),
            op("Td", vec![x, y]),
            op("Tj", vec![shown]),
            op("ET", vec![]),
        ]);
        self
    }

    /// A line in Helvetica (/F2, WinAnsi, not embedded).
    pub fn helvetica(&mut self, x_mm: f64, y_mm: f64, size: f64, text: &str) -> &mut Draw {
        let (x, y) = self.at(x_mm, y_mm);
        self.ops.extend([
            op("BT", vec![]),
            op("Tf", vec!["F2".into(), n(size)]),
            op("Td", vec![x, y]),
            op("Tj", vec![Object::string_literal(text)]),
            op("ET", vec![]),
        ]);
        self
    }

    /// A filled rectangle, `y_mm` its top edge.
    pub fn rect(&mut self, x_mm: f64, y_mm: f64, w_mm: f64, h_mm: f64) -> &mut Draw {
        let (x, y) = self.at(x_mm, y_mm + h_mm);
        self.ops.extend([
            op("re", vec![x, y, n(w_mm * PT_PER_MM), n(h_mm * PT_PER_MM)]),
            op("f", vec![]),
        ]);
        self
    }

    /// XObject `/name` (image or form) scaled to the box, `y_mm` its top edge.
    pub fn place(&mut self, name: &str, x_mm: f64, y_mm: f64, w_mm: f64, h_mm: f64) -> &mut Draw {
        let (x, y) = self.at(x_mm, y_mm + h_mm);
        self.ops.extend([
            op("q", vec![]),
            op(
                "cm",
                vec![
                    n(w_mm * PT_PER_MM),
                    n(0.0),
                    n(0.0),
                    n(h_mm * PT_PER_MM),
                    x,
                    y,
                ],
            ),
            op("Do", vec![name.into()]),
            op("Q", vec![]),
        ]);
        self
    }

    /// Raw operations, for the cases the helpers do not cover.
    pub fn raw(&mut self, operator: &str, operands: Vec<Object>) -> &mut Draw {
        self.ops.push(op(operator, operands));
        self
    }
}

pub enum XObject {
    /// A 1 × 1 grey pixel, drawn over the unit square.
    Image,
    /// A form drawing `ops`, with its own resources when `helvetica` (declaring /F2 only).
    Form {
        matrix: [f64; 6],
        bbox: [f64; 4],
        ops: Vec<Operation>,
        helvetica: bool,
    },
}

pub struct Page {
    pub media_box: [f64; 4],
    pub crop_box: Option<[f64; 4]>,
    pub rotate: Option<i64>,
    pub ops: Vec<Operation>,
    /// Declare /F2 (Helvetica) in the page's resources.
    pub helvetica: bool,
    pub xobjects: Vec<(&'static str, XObject)>,
}

impl Page {
    pub fn new(size: (f64, f64), draw: &Draw) -> Page {
        Page {
            media_box: [0.0, 0.0, size.0, size.1],
            crop_box: None,
            rotate: None,
            ops: draw.ops.clone(),
            helvetica: false,
            xobjects: Vec::new(),
        }
    }
}

pub struct Letter {
    doc: Document,
    pages_id: ObjectId,
    kids: Vec<Object>,
    dejavu: Option<ObjectId>,
    helvetica: Option<ObjectId>,
    /// Set on the page-tree root and inherited by pages without their own.
    pub inherited_media_box: Option<[f64; 4]>,
}

impl Default for Letter {
    fn default() -> Self {
        let mut doc = Document::with_version("1.7");
        let pages_id = doc.new_object_id();
        Letter {
            doc,
            pages_id,
            kids: Vec::new(),
            dejavu: None,
            helvetica: None,
            inherited_media_box: None,
        }
    }
}

fn array(values: &[f64]) -> Object {
    Object::Array(values.iter().map(|v| n(*v)).collect())
}

impl Letter {
    fn fonts(&mut self, helvetica: bool) -> Dictionary {
        let dejavu = match self.dejavu {
            Some(id) => id,
            None => *self.dejavu.insert(DEJAVU.add_to(&mut self.doc)),
        };
        let mut fonts = dictionary! { "F1" => dejavu };
        if helvetica {
            let id = *self.helvetica.get_or_insert_with(|| {
                self.doc.add_object(dictionary! {
                    "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
                })
            });
            fonts.set("F2", id);
        }
        fonts
    }

    pub fn add(&mut self, page: Page) -> &mut Letter {
        let mut xobjects = Dictionary::new();
        for (name, x) in page.xobjects {
            let stream = match x {
                XObject::Image => Stream::new(
                    dictionary! {
                        "Type" => "XObject", "Subtype" => "Image", "Width" => 1, "Height" => 1,
                        "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
                    },
                    vec![128],
                ),
                XObject::Form {
                    matrix,
                    bbox,
                    ops,
                    helvetica,
                } => {
                    let mut dict = dictionary! {
                        "Type" => "XObject", "Subtype" => "Form", "Matrix" => array(&matrix), "BBox" => array(&bbox),
                    };
                    if helvetica {
                        let fonts = self.fonts(true);
                        dict.set("Resources", dictionary! { "Font" => fonts });
                    }
                    Stream::new(dict, Content { operations: ops }.encode().unwrap())
                }
            };
            xobjects.set(name, self.doc.add_object(stream));
        }
        let fonts = self.fonts(page.helvetica);
        let content = Stream::new(
            dictionary! {},
            Content {
                operations: page.ops,
            }
            .encode()
            .unwrap(),
        );
        let content_id = self.doc.add_object(content);
        let mut dict = dictionary! {
            "Type" => "Page", "Parent" => self.pages_id, "Contents" => content_id,
            "Resources" => dictionary! { "Font" => fonts, "XObject" => xobjects },
        };
        if self.inherited_media_box.is_none() {
            dict.set("MediaBox", array(&page.media_box));
        }
        if let Some(crop) = page.crop_box {
            dict.set("CropBox", array(&crop));
        }
        if let Some(rotate) = page.rotate {
            dict.set("Rotate", rotate);
        }
        let id = self.doc.add_object(dict);
        self.kids.push(id.into());
        self
    }

    pub fn document(mut self) -> Document {
        let mut pages = dictionary! { "Type" => "Pages", "Kids" => self.kids.clone(), "Count" => self.kids.len() as i64 };
        if let Some(media) = self.inherited_media_box {
            pages.set("MediaBox", array(&media));
        }
        self.doc.objects.insert(self.pages_id, pages.into());
        let catalog = self
            .doc
            .add_object(dictionary! { "Type" => "Catalog", "Pages" => self.pages_id });
        self.doc.trailer.set("Root", catalog);
        self.doc
    }

    pub fn bytes(self) -> Vec<u8> {
        let mut doc = self.document();
        doc.compress();
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }
}
