//! A bundle as a ZIP: `bundle.json`, `certificate.pdf`, and the files the JSON names
//! (`content/…` the exact bytes sent, `receipts/…` raw reports, `evidence/…` scans).
//! Every entry carries the fixed DOS epoch (1980-01-01) and fixed permissions, so the same
//! bundle always gives the same bytes.

use std::io::{Cursor, Write};

use ::zip::write::SimpleFileOptions;
use ::zip::{CompressionMethod, DateTime, ZipWriter};

use super::Bundle;

pub fn pack(bundle: &Bundle, certificate: &[u8]) -> anyhow::Result<Vec<u8>> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let mut json = serde_json::to_vec_pretty(&bundle.json)?;
    json.push(b'\n');
    let files = [
        ("bundle.json", json.as_slice()),
        ("certificate.pdf", certificate),
    ]
    .into_iter()
    .chain(
        bundle
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.bytes.as_slice())),
    );
    for (path, bytes) in files {
        zip.start_file(path, options)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}
