//! Places every piece of a letter on its page, in millimetres from the top-left corner.
//!
//! This is where the letter's look is decided; `pdf` only paints the result. Keeping the
//! positions as plain data makes the print-house rules testable without parsing a PDF:
//! "only the recipient block inside the window" and "nothing within 10 mm of an edge" are
//! checks on [`TextBox`] and [`Rule`] rectangles.

use super::fonts::{MM_PER_PT, face};
use super::geometry::{Geometry, PAGE_HEIGHT_MM, PAGE_WIDTH_MM, PRINTABLE_INSET_MM};
use super::markup::{self, Block, Inline, Span};
use super::requisites::{Input, recipient_block, sender_block, signature};
use super::table::table_block;
use super::wrap::{Line, wrap};
use super::{Letter, LetterError};

pub(super) const BODY_PT: f32 = 11.0;
pub(super) const TITLE_PT: f32 = 12.0;
const PAGE_NUMBER_PT: f32 = 9.0;
/// Line height as a multiple of the font size.
const LEADING: f32 = 1.25;
/// First-line indent of paragraphs (Russian practice: 1.25 cm).
const INDENT_MM: f32 = 12.5;
const BULLET_INDENT_MM: f32 = 7.0;
const PARAGRAPH_GAP_MM: f32 = 1.5;
/// Before and after a table: its borders need air that text lines do not.
const TABLE_GAP_MM: f32 = 3.0;
const HEADER_GAP_MM: f32 = 8.0;
const TITLE_GAP_MM: f32 = 5.0;

/// What a piece of text is, so checks can find e.g. all of the window content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Sender,
    Reference,
    Recipient,
    Title,
    Heading,
    Body,
    Table,
    Signatory,
    Executor,
    PageNumber,
}

/// One run of text in one style, positioned by its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct TextBox {
    pub role: Role,
    pub text: String,
    pub bold: bool,
    pub size_pt: f32,
    pub x_mm: f32,
    pub baseline_mm: f32,
    /// Advance width, justification included.
    pub width_mm: f32,
    /// Extra width per space (justified lines).
    pub word_spacing_mm: f32,
    /// Font ascent and descent around the baseline: the box every glyph stays inside.
    pub top_mm: f32,
    pub bottom_mm: f32,
}

/// A straight line (table borders).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub x1_mm: f32,
    pub y1_mm: f32,
    pub x2_mm: f32,
    pub y2_mm: f32,
    pub width_pt: f32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub texts: Vec<TextBox>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub pages: Vec<Page>,
    /// The title as plain text, for the PDF metadata.
    pub title: String,
}

pub(super) fn mm(size_pt: f32) -> f32 {
    size_pt * MM_PER_PT
}

pub(super) fn line_height(size_pt: f32) -> f32 {
    mm(size_pt) * LEADING
}

/// Baseline offset from the top of a line box, half-leading above and below the glyphs.
pub(super) fn baseline_offset(size_pt: f32) -> f32 {
    let f = face(false);
    (line_height(size_pt) - mm(size_pt) * (f.ascent + f.descent)) / 2.0 + mm(size_pt) * f.ascent
}

/// How far glyphs may reach below their line box (when ascent + descent > leading).
fn overshoot(size_pt: f32) -> f32 {
    let f = face(false);
    ((f.ascent + f.descent - LEADING) / 2.0).max(0.0) * mm(size_pt)
}

pub(super) fn plain(text: &str, bold: bool) -> Inline {
    vec![Span {
        text: text.to_owned(),
        bold,
    }]
}

/// The same text, all bold (title, headings, table header).
pub(super) fn bold(spans: &[Span]) -> Inline {
    spans
        .iter()
        .map(|s| Span {
            text: s.text.clone(),
            bold: true,
        })
        .collect()
}

/// Non-empty lines of a field, explicit line breaks kept.
pub(super) fn parts(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// The text flow: pages so far and the top of the next line box.
pub(super) struct Flow<'a> {
    pub g: &'a Geometry,
    pub pages: Vec<Page>,
    pub y: f32,
    /// Nothing placed since the page (or the body on page 1) began: no gap.
    pub fresh: bool,
}

impl Flow<'_> {
    pub(super) fn page(&mut self) -> &mut Page {
        self.pages.last_mut().expect("flow starts with a page")
    }

    pub(super) fn bottom(&self) -> f32 {
        self.g.content_bottom_mm() - overshoot(TITLE_PT)
    }

    pub(super) fn gap(&mut self, mm: f32) {
        if !self.fresh {
            self.y += mm;
        }
    }

    /// Starts a new page unless `height` mm still fit on this one (or a new page would not
    /// have more room).
    pub(super) fn ensure(&mut self, height: f32) {
        if self.y + height > self.bottom() + 1e-3 && self.y > self.g.margin_top_mm + 1e-3 {
            self.pages.push(Page::default());
            self.y = self.g.margin_top_mm;
            self.fresh = true;
        }
    }

    /// Puts `line` at the cursor, `x` mm from the left paper edge, and moves down a line.
    pub(super) fn line(&mut self, line: &Line, x: f32, size_pt: f32, role: Role) {
        let baseline = self.y + baseline_offset(size_pt);
        put(self.page(), line, x, baseline, size_pt, role);
        self.y += line_height(size_pt);
        self.fresh = false;
    }

    /// Lines flowing over pages, keeping at least two together at a page break.
    pub(super) fn lines(
        &mut self,
        lines: &[Line],
        x: f32,
        first_extra: f32,
        size_pt: f32,
        role: Role,
    ) {
        self.ensure(line_height(size_pt) * lines.len().min(2) as f32);
        for (i, line) in lines.iter().enumerate() {
            self.ensure(line_height(size_pt));
            self.line(
                line,
                if i == 0 { x + first_extra } else { x },
                size_pt,
                role,
            );
        }
    }
}

pub(super) fn put(page: &mut Page, line: &Line, x: f32, baseline: f32, size_pt: f32, role: Role) {
    for run in &line.runs {
        let f = face(run.bold);
        page.texts.push(TextBox {
            role,
            text: run.text.clone(),
            bold: run.bold,
            size_pt,
            x_mm: x + run.x,
            baseline_mm: baseline,
            width_mm: run.width,
            word_spacing_mm: line.word_spacing,
            top_mm: baseline - f.ascent * mm(size_pt),
            bottom_mm: baseline + f.descent * mm(size_pt),
        });
    }
}

/// Lays out `letter` on A4 pages.
pub fn layout(letter: &Letter, geometry: &Geometry) -> Result<Layout, LetterError> {
    geometry.validate()?;
    let input = Input::new(letter)?;
    let body = markup::parse(&input.body);
    if body.blocks.is_empty() {
        return Err(LetterError::EmptyBody);
    }
    let mut flow = Flow {
        g: geometry,
        pages: vec![Page::default()],
        y: geometry.margin_top_mm,
        fresh: true,
    };
    let sender_bottom = sender_block(&mut flow, &input)?;
    recipient_block(&mut flow, &input)?;
    flow.y = sender_bottom.max(geometry.window.bottom_mm()) + HEADER_GAP_MM;
    flow.fresh = true;

    let (x, width) = (geometry.content_left_mm(), geometry.content_width_mm());
    if let Some(title) = &body.title {
        let lines = wrap(&bold(title), TITLE_PT, width, width, false);
        flow.ensure(line_height(TITLE_PT) * lines.len() as f32 + 2.0 * line_height(BODY_PT));
        for line in &lines {
            flow.line(line, x + (width - line.width) / 2.0, TITLE_PT, Role::Title);
        }
        flow.y += TITLE_GAP_MM;
    }
    let mut tables = 0;
    let mut after_table = false;
    for block in &body.blocks {
        let is_table = matches!(block, Block::Table(_));
        flow.gap(if is_table || after_table {
            TABLE_GAP_MM
        } else {
            PARAGRAPH_GAP_MM
        });
        after_table = is_table;
        match block {
            Block::Paragraph(spans) => {
                let lines = wrap(spans, BODY_PT, width - INDENT_MM, width, true);
                flow.lines(&lines, x, INDENT_MM, BODY_PT, Role::Body);
            }
            Block::Heading(spans) => {
                flow.gap(PARAGRAPH_GAP_MM);
                let lines = wrap(&bold(spans), BODY_PT, width, width, false);
                // Keep the heading with two lines of what it heads.
                flow.ensure(line_height(BODY_PT) * (lines.len() + 2) as f32);
                flow.lines(&lines, x, 0.0, BODY_PT, Role::Heading);
            }
            Block::List(items) => {
                let text_x = x + INDENT_MM;
                for item in items {
                    let lines = wrap(item, BODY_PT, width - INDENT_MM, width - INDENT_MM, true);
                    // The bullet goes with the item's first line, so place it after the
                    // page-break decision for that line and before the item can flow on.
                    flow.ensure(line_height(BODY_PT) * lines.len().min(2) as f32);
                    let bullet = wrap(&plain("•", false), BODY_PT, INDENT_MM, INDENT_MM, false);
                    let baseline = flow.y + baseline_offset(BODY_PT);
                    put(
                        flow.page(),
                        &bullet[0],
                        x + BULLET_INDENT_MM,
                        baseline,
                        BODY_PT,
                        Role::Body,
                    );
                    flow.lines(&lines, text_x, 0.0, BODY_PT, Role::Body);
                }
            }
            Block::Table(table) => {
                tables += 1;
                table_block(&mut flow, table, tables)?;
            }
        }
    }
    signature(&mut flow, &input);
    number_pages(&mut flow.pages, geometry);
    let title = body
        .title
        .as_deref()
        .map(markup::plain)
        .unwrap_or_else(|| format!("Исх. № {}", input.number));
    Ok(Layout {
        pages: flow.pages,
        title,
    })
}

/// "Страница N из M" centred in the band between the text and the unprintable border.
fn number_pages(pages: &mut [Page], g: &Geometry) {
    let count = pages.len();
    if count < 2 {
        return;
    }
    let f = face(false);
    let band_top = g.content_bottom_mm();
    let band = PAGE_HEIGHT_MM - PRINTABLE_INSET_MM - band_top;
    let glyphs = (f.ascent + f.descent) * mm(PAGE_NUMBER_PT);
    let baseline = band_top + (band - glyphs) / 2.0 + f.ascent * mm(PAGE_NUMBER_PT);
    for (i, page) in pages.iter_mut().enumerate() {
        let label = format!("Страница {} из {count}", i + 1);
        let line = wrap(
            &plain(&label, false),
            PAGE_NUMBER_PT,
            PAGE_WIDTH_MM,
            PAGE_WIDTH_MM,
            false,
        )
        .remove(0);
        let x = g.content_left_mm() + (g.content_width_mm() - line.width) / 2.0;
        put(page, &line, x, baseline, PAGE_NUMBER_PT, Role::PageNumber);
    }
}
