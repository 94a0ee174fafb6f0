//! The documents store: letter PDFs as sent and return-receipt scans as received, each
//! kept once under its SHA-256 (`<dir>/<first two hex digits>/<sha256>.<ext>`). Proofs
//! name documents by hash, so a stored copy can be checked against the ledger by anyone.

use std::path::PathBuf;

use anyhow::Context;
use sha2::{Digest, Sha256};

/// The extensions documents are kept under: letters, and scans as PDF or images.
const EXTENSIONS: [&str; 4] = ["pdf", "jpg", "png", "bin"];

#[derive(Debug, Clone)]
pub struct Documents {
    dir: PathBuf,
}

impl Documents {
    pub fn new(dir: PathBuf) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create documents directory {}", dir.display()))?;
        Ok(Self { dir })
    }

    /// Where the document with this hash and extension lives (whether or not it exists).
    pub fn path(&self, sha256: &str, ext: &str) -> PathBuf {
        self.dir
            .join(sha256.get(..2).unwrap_or("00"))
            .join(format!("{sha256}.{ext}"))
    }

    /// Keeps `bytes`; returns their SHA-256. Storing the same bytes again is a no-op.
    pub fn store(&self, bytes: &[u8], ext: &str) -> anyhow::Result<String> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let path = self.path(&sha256, ext);
        if !path.exists() {
            std::fs::create_dir_all(path.parent().expect("sharded path has a parent"))?;
            crate::channels::outbox::write_atomically(&path, bytes)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(sha256)
    }

    /// The stored document with this hash, whatever its extension, and that extension.
    pub fn find(&self, sha256: &str) -> Option<(Vec<u8>, &'static str)> {
        EXTENSIONS
            .iter()
            .find_map(|ext| Some((std::fs::read(self.path(sha256, ext)).ok()?, *ext)))
    }

    /// Deletes the document with this hash (any extension); whether one was there.
    pub fn remove(&self, sha256: &str) -> anyhow::Result<bool> {
        let mut removed = false;
        for ext in EXTENSIONS {
            let path = self.path(sha256, ext);
            match std::fs::remove_file(&path) {
                Ok(()) => removed = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
            }
        }
        Ok(removed)
    }

    pub fn read(&self, sha256: &str, ext: &str) -> anyhow::Result<Vec<u8>> {
        let path = self.path(sha256, ext);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    }
}
