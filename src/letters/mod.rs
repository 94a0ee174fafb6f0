//! Paper letters: one [`Letter`] becomes one A4 PDF business letter in Russian.
//!
//! The layout follows Russian business-letter practice (GOST R 7.0.97): the sender block
//! and the outgoing number top left, the addressee in the envelope window top right, the
//! title centred in bold, justified body text with a first-line indent, the signature
//! line (position left, name right), and the executor's name and phone small at the
//! bottom of the last page. Pages are numbered "Страница N из M" when there is more than
//! one.
//!
//! Output is deterministic — same input, same bytes — because the PDF's SHA-256 goes into
//! the delivery proof: no creation date, and document ids derived from the content
//! (krilla hashes the document for them).
//!
//! The steps are separate so that each can be tested on its own:
//! - [`markup`] parses the body's Markdown subset into blocks;
//! - [`layout()`] places every piece of text in millimetres (exposed, so that tests and
//!   the print-house checks can look at positions without parsing a PDF), with
//!   `requisites` (sender, window, signature), `table` and `wrap` (line breaking) as
//!   helpers and `geometry` holding the configurable margins and window;
//! - `pdf` paints a [`Layout`] with krilla, which embeds a subset of the PT Serif font
//!   (`fonts`; OFL, `assets/fonts/`) with ToUnicode maps so that text extraction gives
//!   the Cyrillic back.
//!
//! [`check`] validates a PDF as a print house would (page size, margins, fonts, the
//! envelope window) — letters that arrive precompiled, and our own in tests.
//!
//! Rendering is CPU-bound (about 8 ms for a one-page letter in a release build): call
//! [`render`] from `spawn_blocking` or a worker thread, not directly on the async runtime.

pub mod check;
mod fonts;
mod geometry;
mod layout;
pub mod markup;
mod pdf;
mod requisites;
mod table;
mod wrap;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

pub use geometry::{Geometry, PAGE_HEIGHT_MM, PAGE_WIDTH_MM, PRINTABLE_INSET_MM, Window};
pub use layout::{Layout, Page, Role, Rule, TextBox, layout};

/// A letter to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Letter {
    /// Organisation block, top left.
    pub sender: Sender,
    /// Printed as "Исх. № {number} от {date}".
    pub outgoing_number: String,
    pub date: chrono::NaiveDate,
    /// Goes in the envelope window.
    pub recipient: RecipientBlock,
    /// Markdown subset (see [`markup`]); the first `# ` heading is the title.
    pub body: String,
    /// Signature line at the end.
    pub signatory: Signatory,
    /// "Исп. {name}, тел. {phone}" small at the bottom of the last page (appeal replies).
    pub executor: Option<Executor>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sender {
    pub name: String,
    pub address: String,
    pub phone: String,
    pub email: String,
    pub website: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecipientBlock {
    /// Addressee: a person ("Иванову И. И.") or an organisation; may hold several lines.
    pub name: String,
    /// Postal address; wrapped to the window, explicit newlines kept.
    pub address: String,
    /// Postal index, printed on its own line after the address (Russian order). May be
    /// empty when the address already carries it.
    pub postcode: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Signatory {
    pub position: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Executor {
    pub name: String,
    pub phone: String,
}

impl Sender {
    /// The organisation as every letter's sender block.
    pub fn of(org: &crate::settings::Organization) -> Sender {
        Sender {
            name: org.name.clone(),
            address: org.address.clone(),
            phone: phone(&org.phone),
            email: org.email.clone(),
            website: org.website.clone(),
        }
    }
}

impl Executor {
    /// The executor an appeal reply's event names (`executor.full_name`, `.phone`).
    pub fn from_event(event: &serde_json::Value) -> Option<Executor> {
        let executor = event.get("executor")?;
        Some(Executor {
            name: executor.get("full_name")?.as_str()?.to_owned(),
            phone: phone(executor.get("phone")?.as_str()?),
        })
    }
}

/// A phone as letters print it; kept as given when it does not parse.
pub fn phone(number: &str) -> String {
    crate::templates::helpers::phone_ru(number).unwrap_or_else(|_| number.to_owned())
}

/// Why a letter could not be rendered. Every variant is a property of the input (or of the
/// geometry setting), so retrying the same letter will fail the same way.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LetterError {
    #[error("invalid letter geometry: {reason}")]
    InvalidGeometry { reason: String },
    #[error("required field `{field}` is empty")]
    EmptyField { field: &'static str },
    #[error("letter body has no text (only blank lines or a title)")]
    EmptyBody,
    #[error(
        "character {} ({ch:?}) in `{field}` has no glyph in the embedded {} font",
        format_codepoint(*ch),
        fonts::FAMILY
    )]
    UnsupportedCharacter { field: String, ch: char },
    #[error(
        "sender block and outgoing number reach {bottom_mm:.1} mm from the top, below \
         {limit_mm:.1} mm, leaving page 1 no room for the body; shorten the sender's details"
    )]
    SenderDoesNotFit { bottom_mm: f32, limit_mm: f32 },
    #[error(
        "recipient block needs {lines} lines ({height_mm:.1} mm at {size_pt} pt) but the envelope \
         window holds {available_mm:.1} mm; shorten the name or address"
    )]
    RecipientDoesNotFit {
        lines: usize,
        size_pt: f32,
        height_mm: f32,
        available_mm: f32,
    },
    #[error(
        "table {table}, row {row} is {height_mm:.1} mm tall, more than a page's text area \
         ({page_mm:.1} mm); split the cell text"
    )]
    TableRowTooTall {
        table: usize,
        row: usize,
        height_mm: f32,
        page_mm: f32,
    },
    #[error("PDF serialisation failed: {0}")]
    Pdf(String),
}

fn format_codepoint(ch: char) -> String {
    format!("U+{:04X}", u32::from(ch))
}

/// Renders `letter` as a PDF. Same input, same bytes.
pub fn render(letter: &Letter, geometry: &Geometry) -> Result<Vec<u8>, LetterError> {
    Ok(render_counted(letter, geometry)?.0)
}

/// As [`render`], with the number of pages (print houses and fax providers bill by it).
pub fn render_counted(letter: &Letter, geometry: &Geometry) -> Result<(Vec<u8>, u32), LetterError> {
    let layout = layout(letter, geometry)?;
    let pages = layout.pages.len() as u32;
    Ok((pdf::paint(&layout)?, pages))
}
