//! One streaming pass over the recipients CSV: each row checked by intake's own parser,
//! the file hashed on the way. Both the check and the submission read the file this way,
//! so memory stays bounded by one row (plus the batch being built) however long it is.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::Context;
use csv::StringRecord;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::columns::{self, Columns};
use crate::intents::{IntentKind, parse_recipient};
use crate::recipients::RawRecipient;
use crate::validation::FieldErrors;

/// One data row, judged.
pub enum Row {
    /// The recipient as the intake request will carry it.
    Good { line: u64, recipient: Value },
    /// Every fault of the row, as `column: reason` texts with PII masked.
    Bad { line: u64, problems: Vec<String> },
}

/// A reader that hashes what passes through it: the file's SHA-256 names the import
/// (idempotency keys) without reading the file a third time.
struct Hashing<R> {
    inner: R,
    sha: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }
}

pub struct Scan {
    reader: csv::Reader<Hashing<File>>,
    columns: Columns,
    kind: IntentKind,
    record: StringRecord,
    /// Cells in the header: every row must have as many.
    width: usize,
}

impl Scan {
    /// Opens the file and reads its header; a bad header is every problem with it.
    pub fn open(path: &Path, delimiter: u8, kind: IntentKind) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let hashing = Hashing {
            inner: file,
            sha: Sha256::new(),
        };
        // Flexible: a row with a missing or extra cell is reported by its line like any
        // other bad row, instead of stopping the read. csv-core drops a UTF-8 BOM.
        // Records end at '\n' only: with the default CRLF terminator a record of a CRLF
        // file (Excel's) starts before the '\n' and its line number is one short. The '\r'
        // left at the end of the last cell is trimmed with the cell.
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .terminator(csv::Terminator::Any(b'\n'))
            .flexible(true)
            .from_reader(hashing);
        let header = reader.headers().map_err(|e| read_error(path, &e))?.clone();
        let columns = Columns::from_header(&header, kind).map_err(|problems| {
            anyhow::anyhow!(
                "{}: line 1 (header):\n  {}",
                path.display(),
                problems.join("\n  ")
            )
        })?;
        Ok(Self {
            reader,
            columns,
            kind,
            record: StringRecord::new(),
            width: header.len(),
        })
    }

    /// Bytes read so far, for progress.
    pub fn byte_offset(&self) -> u64 {
        self.reader.position().byte()
    }

    /// The next row, or `None` at the end of the file. Only I/O errors are errors.
    pub fn next_row(&mut self) -> anyhow::Result<Option<Row>> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return Ok(None),
                // A blank line, or one of only delimiters (spreadsheets export empty rows so).
                Ok(true) if self.record.iter().all(|c| c.trim().is_empty()) => continue,
                Ok(true) => {
                    let line = self.record.position().map_or(0, |p| p.line());
                    if self.record.len() != self.width {
                        let problem = format!(
                            "has {} cells, the header has {} (a stray delimiter or quote?)",
                            self.record.len(),
                            self.width
                        );
                        return Ok(Some(Row::Bad {
                            line,
                            problems: vec![problem],
                        }));
                    }
                    return Ok(Some(self.check(line)));
                }
                Err(e) => match e.kind() {
                    csv::ErrorKind::Utf8 { pos, .. } => {
                        return Ok(Some(Row::Bad {
                            line: pos.as_ref().map_or(0, |p| p.line()),
                            problems: vec![
                                "is not valid UTF-8 (save the file as CSV UTF-8)".into(),
                            ],
                        }));
                    }
                    _ => return Err(anyhow::anyhow!("reading the CSV: {e}")),
                },
            }
        }
    }

    /// The row through intake's parser; its field paths named back as columns.
    fn check(&self, line: u64) -> Row {
        let recipient = self.columns.recipient(&self.record);
        let mut errors = FieldErrors::default();
        // The value was built in RawRecipient's shape: deserialising it cannot fail on
        // structure, and every field fault is collected by the parser below.
        let parsed = RawRecipient::deserialize(&recipient)
            .map_err(|e| errors.push("row", e.to_string()))
            .ok()
            .and_then(|raw| parse_recipient(Some(self.kind), raw, "row", &mut errors));
        if parsed.is_some() {
            return Row::Good { line, recipient };
        }
        let problems = errors
            .into_vec()
            .into_iter()
            .map(|e| {
                let column = columns::column_of(&e.field);
                match self.columns.quote(&self.record, column) {
                    Some(value) => format!("{column} ({value}): {}", e.reason),
                    None => format!("{column}: {}", e.reason),
                }
            })
            .collect();
        Row::Bad { line, problems }
    }

    /// The SHA-256 of the whole file, once every row has been read.
    pub fn finish(self) -> String {
        hex::encode(self.reader.into_inner().sha.finalize())
    }
}

fn read_error(path: &Path, e: &csv::Error) -> anyhow::Error {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => anyhow::anyhow!(
            "{}: the header is not valid UTF-8 (save the file as CSV UTF-8)",
            path.display()
        ),
        _ => anyhow::anyhow!("{}: {e}", path.display()),
    }
}
