//! Proof bundles: everything that shows what was sent to whom, when, through which
//! gateway, what the gateway reported, which deadline applied and why — with the ledger
//! entries that record each fact and a [`Verdict`] per recipient.
//!
//! A bundle is built from rows already read ([`Sources`]); [`archive`] packs it as a ZIP
//! with the stored messages, letters and raw reports, and [`certificate`] prints the facts
//! on one A4 page in Russian. The README's "Proofs" section shows how an auditor checks a
//! bundle with `jq` and `sha256sum` alone.

pub mod archive;
pub mod certificate;
mod verdict;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

pub use verdict::{Attempted, Verdict, judge};

use crate::ledger::{DeadlineFact, Entry, Fact, Head, Row};
use crate::storage::{MessageRow, PURGED, ProofIntent, ProofMessage, ProofReceipt, RecipientRow};

/// The version of the bundle layout.
pub const FORMAT: &str = "vestnik-proof/1";

/// The rows one bundle is made from.
pub struct Sources<'a> {
    pub intent: &'a ProofIntent,
    pub recipients: &'a [RecipientRow],
    pub messages: &'a [ProofMessage],
    pub receipts: &'a [ProofReceipt],
    pub entries: &'a [Row],
    pub head: Head,
    pub generated_at: DateTime<Utc>,
}

/// A file of the bundle besides `bundle.json`: its path inside the ZIP and its bytes.
#[derive(Debug, Clone)]
pub struct File {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// A bundle: the JSON document and the files it names.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub json: Value,
    pub files: Vec<File>,
    /// Per recipient index, for the certificate.
    pub verdicts: BTreeMap<i64, Verdict>,
}

#[derive(Serialize)]
struct LedgerItem<'a> {
    seq: i64,
    hash: &'a str,
    entry: Value,
}

/// Builds the bundle. `documents` looks up a stored document (letter, scan) by SHA-256.
pub fn build(
    sources: &Sources<'_>,
    documents: impl Fn(&str) -> Option<(Vec<u8>, &'static str)>,
) -> anyhow::Result<Bundle> {
    let intent = sources.intent;
    let purged = intent.purged_at.is_some();
    let mut entries: Vec<(Entry, &Row)> = Vec::with_capacity(sources.entries.len());
    for row in sources.entries {
        entries.push((serde_json::from_str(&row.body)?, row));
    }
    let deadlines: Vec<(&DeadlineFact, i64)> = entries
        .iter()
        .filter_map(|(e, row)| match &e.fact {
            Fact::DeadlineComputed(d) => Some((d, row.seq)),
            _ => None,
        })
        .collect();
    let purge = entries.iter().find_map(|(e, row)| match &e.fact {
        Fact::PersonalDataPurged { parts, .. } => Some(json!({
            "at": iso(e.at), "parts": parts, "ledger_seq": row.seq,
        })),
        _ => None,
    });
    let mut files = Vec::new();
    let mut verdicts = BTreeMap::new();
    let mut recipients = Vec::with_capacity(sources.recipients.len());
    for r in sources.recipients {
        let mine: Vec<&ProofMessage> = sources
            .messages
            .iter()
            .filter(|m| m.row.recipient_idx == r.idx)
            .collect();
        let (verdict, reason) = judge(
            r.deadline_at,
            &mine
                .iter()
                .map(|m| Attempted {
                    status: &m.row.status,
                    legal_step: m.row.legal_step,
                    delivered_at: m.row.delivered_at,
                    sent_at: m.row.sent_at,
                    received_when_sent: m.row.received_when_sent,
                })
                .collect::<Vec<_>>(),
        );
        verdicts.insert(r.idx, verdict);
        let deadline = deadlines
            .iter()
            .find(|(d, _)| d.covers(r.idx))
            .map(|(d, seq)| {
                json!({
                    "at": d.deadline, "at_ms": d.deadline_at, "rule": d.rule, "summary": d.summary,
                    "event": d.event, "time_zone": d.time_zone, "region": d.region, "ledger_seq": seq,
                })
            });
        let mut messages = Vec::with_capacity(mine.len());
        for m in mine {
            messages.push(message_json(
                m,
                sources.receipts,
                purged,
                &documents,
                &mut files,
            ));
        }
        let details = &r.details.0;
        recipients.push(json!({
            "idx": r.idx,
            "account_number": r.account_number,
            "customer_type": r.customer_type,
            "time_zone": r.time_zone,
            "name": if purged { json!(PURGED) } else { details["name"].clone() },
            "contacts": if purged { json!(PURGED) } else { details["contacts"].clone() },
            "deadline": deadline,
            "deadline_at": r.deadline_at.map(iso),
            "verdict": verdict,
            "verdict_reason": reason,
            "messages": messages,
        }));
    }
    let ledger: Vec<LedgerItem> = entries
        .into_iter()
        .map(|(_, row)| {
            Ok(LedgerItem {
                seq: row.seq,
                hash: &row.hash,
                entry: serde_json::from_str(&row.body)?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let json = json!({
        "format": FORMAT,
        "generated_at": sources.generated_at.to_rfc3339(),
        "intent": {
            "id": intent.id,
            "client": intent.client,
            "external_id": intent.external_id,
            "kind": intent.kind,
            "request_sha256": intent.request_sha256,
            "accepted_at": iso(intent.created_at),
            "accept_late": intent.accept_late,
            "recipients": intent.recipient_count,
            "event": intent.event.0,
        },
        "purged": purge,
        "recipients": recipients,
        "ledger": {
            "canonical_form": "RFC 8785 (JCS): sorted keys, no spaces, UTF-8 — `jq -cS .entry`",
            "hash": "hex SHA-256 of the entry's canonical form; entry.prev is the hash of entry seq - 1",
            "entries": ledger,
            "head": {"seq": sources.head.seq, "hash": sources.head.hash},
        },
    });
    Ok(Bundle {
        json,
        files,
        verdicts,
    })
}

fn message_json(
    message: &ProofMessage,
    receipts: &[ProofReceipt],
    purged: bool,
    documents: &impl Fn(&str) -> Option<(Vec<u8>, &'static str)>,
    files: &mut Vec<File>,
) -> Value {
    let m = &message.row;
    let stored = match (&message.content, &m.content_sha256) {
        (Some(bytes), Some(_)) => Some((bytes.clone(), content_extension(m))),
        (None, Some(sha256)) if matches!(m.channel.as_str(), "mail" | "fax") => documents(sha256),
        _ => None,
    };
    let content = match (stored, &m.content_sha256) {
        (Some((bytes, ext)), _) => {
            let path = format!("content/{}.{ext}", m.id);
            files.push(File {
                path: path.clone(),
                bytes,
            });
            json!({ "file": path })
        }
        (None, Some(_)) if purged => json!({ "purged": true }),
        (None, Some(_)) => json!({ "missing": true }),
        (None, None) => Value::Null,
    };
    let receipts: Vec<Value> = receipts
        .iter()
        .filter(|r| r.message_id == m.id)
        .map(|r| {
            let raw = if r.raw == PURGED {
                json!({ "purged": true })
            } else {
                let path = format!("receipts/{}.raw", r.id);
                files.push(File {
                    path: path.clone(),
                    bytes: r.raw.clone().into_bytes(),
                });
                json!({ "file": path })
            };
            let evidence = r
                .evidence_sha256
                .as_ref()
                .map(|sha256| match documents(sha256) {
                    Some((bytes, ext)) => {
                        let path = format!("evidence/{sha256}.{ext}");
                        files.push(File {
                            path: path.clone(),
                            bytes,
                        });
                        json!({ "sha256": sha256, "file": path })
                    }
                    None => json!({ "sha256": sha256, "purged": purged }),
                });
            json!({
                "id": r.id, "status": r.status, "provider_status": r.provider_status,
                "provider_time": r.provider_time.map(iso), "received_at": iso(r.received_at),
                "raw_sha256": r.raw_sha256, "raw": raw, "reason": r.reason, "evidence": evidence,
            })
        })
        .collect();
    json!({
        "id": m.id,
        "channel": m.channel,
        "legal_step": m.legal_step,
        "received_when_sent": m.received_when_sent,
        "status": m.status,
        "attempts": m.attempts,
        "template": m.template,
        "gateway": m.gateway,
        "gateway_message_id": m.gateway_message_id,
        "content_sha256": m.content_sha256,
        "content": content,
        "sent_at": m.sent_at.map(iso),
        "delivered_at": m.delivered_at.map(iso),
        "last_error": m.last_error,
        "receipts": receipts,
    })
}

/// The stored bytes' file type: an `.eml`, the outbox's SMS `.json`, or an SMS text.
fn content_extension(m: &MessageRow) -> &'static str {
    match (m.channel.as_str(), m.gateway.as_deref()) {
        ("email", _) => "eml",
        ("sms", Some("outbox")) => "json",
        ("sms", _) => "txt",
        _ => "pdf",
    }
}

fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
