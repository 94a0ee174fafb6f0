//! Preflight of a precompiled PDF letter, as the hybrid-mail print house (or the fax
//! gateway) would do it, before we pay for sending it.
//!
//! Upstream systems learn every fault in one round trip: all problems are collected, each
//! with a code for machines and a message, in millimetres, for the person fixing the
//! template. Positions in messages are measured from the page's top-left corner as it is
//! printed (after `/Rotate`), like the window position in [`Rules`].

use std::collections::{BTreeMap, HashSet};

use lopdf::{Document, LoadOptions};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::content::{MAX_CONTENT_BYTES, Mark, MarkKind, page_marks};
use super::fonts::{self, FontCache, resolve};
use super::geometry::Rect;
use super::page::{Frame, check_margins, check_size, inherited};
use super::window;

/// What the print house accepts, in millimetres. Defaults: A4 portrait ± 2 mm, at most 10
/// pages, a 10 mm unprintable margin, and a right-hand DL/C5 window.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    pub page_width_mm: f64,
    pub page_height_mm: f64,
    pub tolerance_mm: f64,
    pub max_pages: usize,
    /// Nothing may be printed closer than this to any edge.
    pub printable_margin_mm: f64,
    /// The envelope window, on page 1.
    pub window: Window,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            page_width_mm: 210.0,
            page_height_mm: 297.0,
            tolerance_mm: 2.0,
            max_pages: 10,
            printable_margin_mm: 10.0,
            window: Window::default(),
        }
    }
}

/// The envelope window on page 1, measured from the page's top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Window {
    pub left_mm: f64,
    pub top_mm: f64,
    pub width_mm: f64,
    pub height_mm: f64,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            left_mm: 110.0,
            top_mm: 45.0,
            width_mm: 90.0,
            height_mm: 45.0,
        }
    }
}

/// The recipient the letter is addressed to; the window must show them and nothing else.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub name: &'a str,
    pub postcode: &'a str,
    pub address: &'a str,
}

/// A letter that passed: its page count and the SHA-256 (hex) of the exact bytes checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub pages: usize,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub code: ProblemCode,
    /// 1-based; `None` for problems of the whole file.
    pub page: Option<usize>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    Unreadable,
    Encrypted,
    NoPages,
    TooManyPages,
    PageSize,
    Orientation,
    FontNotEmbedded,
    OutsidePrintableArea,
    AddressNotInWindow,
    WindowNotClear,
}

impl Problem {
    pub(crate) fn new(
        code: ProblemCode,
        page: Option<usize>,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            code,
            page,
            message: message.into(),
        }
    }
}

/// Measurements within this of a limit pass: generators round coordinates.
pub(crate) const SLACK_MM: f64 = 0.5;

/// Checks `pdf` against `rules` and, when `expected` is given, checks that page 1's window
/// shows that recipient and nothing else. Returns every problem found.
pub fn validate(
    pdf: &[u8],
    rules: &Rules,
    expected: Option<&Expected>,
) -> Result<Report, Vec<Problem>> {
    let sha256 = hex::encode(Sha256::digest(pdf));
    let doc = load(pdf).map_err(|p| vec![p])?;
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(vec![Problem::new(
            ProblemCode::NoPages,
            None,
            "the PDF has no pages",
        )]);
    }
    let mut problems = Vec::new();
    if pages.len() > rules.max_pages {
        let message = format!(
            "the letter has {} pages; at most {} are accepted",
            pages.len(),
            rules.max_pages
        );
        problems.push(Problem::new(ProblemCode::TooManyPages, None, message));
    }

    let mut font_cache = FontCache::default();
    // BaseFont → the pages whose resources declare it, to report each font once.
    let mut unembedded: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, page_id) in pages.values().enumerate() {
        let no = index + 1;
        let Ok(page) = doc.get_dictionary(*page_id) else {
            problems.push(Problem::new(
                ProblemCode::Unreadable,
                Some(no),
                format!("page {no} cannot be read"),
            ));
            continue;
        };
        let resources =
            inherited(&doc, page, b"Resources").and_then(|o| resolve(&doc, o).as_dict().ok());
        if let Some(resources) = resources {
            let mut names = Vec::new();
            fonts::unembedded(&doc, resources, 0, &mut HashSet::new(), &mut names);
            for name in names {
                let on = unembedded.entry(name).or_default();
                if on.last() != Some(&no) {
                    on.push(no);
                }
            }
        }
        let Some(frame) = Frame::of(&doc, page) else {
            let message = format!("page {no} has no usable /MediaBox, so its size is unknown");
            problems.push(Problem::new(ProblemCode::PageSize, Some(no), message));
            continue;
        };
        problems.extend(check_size(no, frame.size_mm(), rules));

        let content = match doc.get_page_content_with_limit(*page_id, MAX_CONTENT_BYTES) {
            Ok(content) => content,
            Err(e) => {
                let message = format!("page {no}: the content cannot be decompressed ({e})");
                problems.push(Problem::new(ProblemCode::Unreadable, Some(no), message));
                continue;
            }
        };
        let found = page_marks(&doc, &content, resources, frame.page, &mut font_cache);
        for what in found.unreadable {
            let message = format!("page {no}: {what}, so the page could not be fully checked");
            problems.push(Problem::new(ProblemCode::Unreadable, Some(no), message));
        }
        let on_paper: Vec<Mark> = found
            .marks
            .into_iter()
            .map(|m| Mark {
                rect: frame.to_display_mm(&m.rect),
                kind: m.kind,
            })
            .collect();
        check_margins(no, &on_paper, frame.size_mm(), rules, &mut problems);
        if let (1, Some(expected)) = (no, expected) {
            window::check(&on_paper, &rules.window, expected, &mut problems);
        }
    }
    for (name, on) in unembedded {
        let list = on
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let pages = if on.len() == 1 { "page" } else { "pages" };
        let message = format!(
            "font «{name}» is not embedded ({pages} {list}); the print house would \
             substitute another font, so every font must be embedded when the PDF is produced"
        );
        problems.push(Problem::new(
            ProblemCode::FontNotEmbedded,
            Some(on[0]),
            message,
        ));
    }

    if problems.is_empty() {
        return Ok(Report {
            pages: pages.len(),
            sha256,
        });
    }
    // Whole-file problems first, then page by page; stable, so each page keeps check order.
    problems.sort_by_key(|p| p.page);
    Err(problems)
}

/// Print houses refuse encrypted PDFs even when they open without a password (their
/// imposition tools need to rewrite them), so any encryption is a problem of its own.
fn load(pdf: &[u8]) -> Result<Document, Problem> {
    let encrypted = || {
        Problem::new(
            ProblemCode::Encrypted,
            None,
            "the PDF is encrypted; send it unprotected",
        )
    };
    match Document::load_mem_with_options(
        pdf,
        LoadOptions::with_max_decompressed_size(MAX_CONTENT_BYTES),
    ) {
        Ok(doc) if doc.is_encrypted() || doc.was_encrypted() => Err(encrypted()),
        Ok(doc) => Ok(doc),
        Err(lopdf::Error::Decryption(_) | lopdf::Error::InvalidPassword) => Err(encrypted()),
        Err(e) => Err(Problem::new(
            ProblemCode::Unreadable,
            None,
            format!("not a readable PDF: {e}"),
        )),
    }
}

pub(crate) fn describe(kind: &MarkKind) -> String {
    match kind {
        MarkKind::Text(text) => {
            let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let short: String = text.chars().take(40).collect();
            let more = if short.len() < text.len() { "…" } else { "" };
            format!("text «{short}{more}»")
        }
        MarkKind::Path => "a drawn path".into(),
        MarkKind::Image => "an image".into(),
        MarkKind::Shading => "a shading".into(),
    }
}

/// `x 3–48.2 mm, y 20–24.3 mm`, from the top-left corner.
pub(crate) fn extent(r: &Rect) -> String {
    format!(
        "x {}–{} mm, y {}–{} mm",
        mm(r.x0),
        mm(r.x1),
        mm(r.y0),
        mm(r.y1)
    )
}

/// One decimal, without a trailing `.0`: `210`, `215.9`.
pub(crate) fn mm(v: f64) -> String {
    let s = format!("{:.1}", v);
    let s = s.strip_suffix(".0").unwrap_or(&s);
    if s == "-0" { "0".into() } else { s.into() }
}
