//! The outbox gateway: every message becomes a file `outbox/<channel>/<xx>/<message id>.<ext>`
//! — `.eml` for email, `.json` for SMS, `.pdf` for letters (mail and fax). `<xx>` is the id's last
//! two hex digits: 256 directories instead of one halves the cost of creating 100,000 files
//! (one directory's lock and inode search serialise every create).
//!
//! Files are written to a temporary name and renamed, so a reader never sees half a
//! message; a batch is made durable with one `syncfs` before it is recorded as sent (one
//! sync per file would cap dispatch near 2,000 messages/s). A crash between the sync and
//! the database commit rewrites the same files under the same names on retry.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Destination, Outgoing, SendResult};
use crate::recipients::Channel;
use crate::settings::Organization;
use crate::templates::Rendered;

#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
    fsync: bool,
}

impl Outbox {
    pub fn new(dir: PathBuf, fsync: bool) -> anyhow::Result<Self> {
        for channel in Channel::ALL {
            for shard in 0..=255u8 {
                let sub = dir.join(channel.as_str()).join(format!("{shard:02x}"));
                std::fs::create_dir_all(&sub)
                    .with_context(|| format!("cannot create outbox directory {}", sub.display()))?;
            }
        }
        Ok(Self { dir, fsync })
    }

    pub async fn send(&self, batch: Vec<Outgoing>, sender: &Organization) -> Vec<SendResult> {
        let outbox = self.clone();
        let sender = sender.clone();
        let n = batch.len();
        tokio::task::spawn_blocking(move || outbox.write_batch(&batch, &sender))
            .await
            .unwrap_or_else(|e| {
                vec![SendResult::Transient(format!("outbox writer crashed: {e}")); n]
            })
    }

    fn write_batch(&self, batch: &[Outgoing], sender: &Organization) -> Vec<SendResult> {
        let mut results: Vec<SendResult> =
            batch.iter().map(|m| self.write_one(m, sender)).collect();
        let accepted = |r: &SendResult| matches!(r, SendResult::Accepted { .. });
        if self.fsync
            && results.iter().any(accepted)
            && let Err(e) = sync_filesystem(&self.dir)
        {
            let why = format!("outbox sync failed: {e}");
            for r in results.iter_mut().filter(|r| accepted(r)) {
                *r = SendResult::Transient(why.clone());
            }
        }
        results
    }

    fn write_one(&self, message: &Outgoing, sender: &Organization) -> SendResult {
        let (bytes, extension) = match file_content(message, sender) {
            Ok(content) => content,
            Err(why) => return SendResult::Permanent(why),
        };
        let name = format!("{}.{extension}", message.message_id);
        let relative = format!(
            "{}/{}/{name}",
            message.channel.as_str(),
            shard(&message.message_id)
        );
        let path = self.dir.join(&relative);
        match write_atomically(&path, &bytes) {
            Ok(()) => SendResult::Accepted {
                gateway_message_id: relative,
                content_sha256: hex::encode(Sha256::digest(&bytes)),
                // What was handed over is the file itself; nothing answers.
                exchange: super::Exchange {
                    request_sha256: Some(hex::encode(Sha256::digest(&bytes))),
                    response_sha256: None,
                },
                content: bytes,
            },
            Err(e) => SendResult::Transient(format!("cannot write outbox file: {e}")),
        }
    }
}

/// The exact bytes of the file, and its extension.
fn file_content(
    message: &Outgoing,
    sender: &Organization,
) -> Result<(Vec<u8>, &'static str), String> {
    match (&message.content, &message.to) {
        (Rendered::Email { .. }, Destination::Email { .. }) => {
            Ok((super::email::build(message, sender)?.formatted(), "eml"))
        }
        (Rendered::Sms { text }, Destination::Phone(phone)) => {
            let sms = super::profiles::SmsText::analyze(text);
            let body = json!({
                "id": message.message_id,
                "to": phone,
                "text": text,
                "encoding": format!("{:?}", sms.encoding),
                "parts": sms.parts,
            });
            Ok((pretty(&body), "json"))
        }
        // The letter as the print house or the fax machine would get it.
        (Rendered::Pdf { pdf, .. }, Destination::Postal { .. } | Destination::Fax { .. }) => {
            Ok((pdf.to_vec(), "pdf"))
        }
        _ => Err(format!(
            "{:?} content cannot go to this destination",
            message.channel
        )),
    }
}

fn pretty(value: &serde_json::Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("JSON values serialise");
    bytes.push(b'\n');
    bytes
}

/// The id's last two hex digits: the random end of a UUIDv7, so files spread evenly.
fn shard(message_id: &str) -> &str {
    &message_id[message_id.len().saturating_sub(2)..]
}

pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// One `syncfs(2)` for the whole batch: data and the renames reach the disk together.
fn sync_filesystem(dir: &Path) -> std::io::Result<()> {
    let fd = std::fs::File::open(dir)?;
    rustix::fs::syncfs(&fd).map_err(std::io::Error::from)
}
