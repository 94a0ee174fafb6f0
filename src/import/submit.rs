//! Sending the batches: one intent per batch, through the public API like any upstream
//! system, each with an idempotency key of its own so that a re-run after a crash replays
//! the batches already accepted instead of creating them again.

use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use serde::Deserialize;
use serde_json::Value;

use super::columns;
use crate::pii;

/// Attempts per batch for failures that a retry can cure (refused connection, 5xx, 429).
const ATTEMPTS: u32 = 6;

/// What one batch holds: each row's line in the file and its recipient as JSON.
pub type Rows = Vec<(u64, String)>;

pub struct Submitter {
    pub http: reqwest::Client,
    pub url: String,
    pub token: String,
    /// `{"kind":…,"accept_late":…,"event":…` — the part every batch shares.
    pub head: String,
    pub external_id_prefix: String,
    /// The file's SHA-256: with the batch number, the idempotency key.
    pub file_sha256: String,
    pub skip_bad: bool,
    /// The CSV's name, for messages.
    pub file: String,
}

#[derive(Deserialize)]
struct Accepted {
    id: String,
}

#[derive(Deserialize, Default)]
struct Problem {
    #[serde(default)]
    detail: String,
    #[serde(default)]
    errors: Vec<FieldProblem>,
}

#[derive(Deserialize)]
struct FieldProblem {
    field: String,
    reason: String,
}

impl Submitter {
    /// Submits batch `number` and returns its intent id; `None` when `--skip-bad` dropped
    /// every row of it. Rows the server refuses (a deadline already past, no legal
    /// channel) are reported by line; with `--skip-bad` they are dropped and the rest sent
    /// again.
    pub async fn submit(
        &self,
        number: u64,
        rows: &mut Rows,
        bar: &ProgressBar,
    ) -> anyhow::Result<Option<String>> {
        // After the server refused some rows the smaller batch gets a key of its own (the
        // round counts the refusals): a re-run is refused the same way and replays it, and
        // a re-run that is refused differently gets a 409 rather than a duplicate.
        let (mut attempt, mut round) = (0, 0);
        loop {
            if rows.is_empty() {
                return Ok(None);
            }
            let key = match round {
                0 => format!("import:{}:{number}", self.file_sha256),
                r => format!("import:{}:{number}:{r}", self.file_sha256),
            };
            attempt += 1;
            let response = self
                .http
                .post(&self.url)
                .bearer_auth(&self.token)
                .header("content-type", "application/json")
                .header("idempotency-key", &key)
                .body(self.body(number, rows))
                .send()
                .await;
            let retry_why = match response {
                Err(e) if e.is_builder() => return Err(e).context("building the request"),
                // With its cause: "connection refused", not only "error sending request".
                Err(e) => format!("{:#}", anyhow::Error::from(e)),
                Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => {
                    format!("the server answered {}", r.status())
                }
                Ok(r) if r.status().as_u16() == 202 => {
                    let accepted: Accepted = r.json().await.context("reading the 202 answer")?;
                    return Ok(Some(accepted.id));
                }
                Ok(r) => {
                    let status = r.status();
                    let problem: Problem = r.json().await.unwrap_or_default();
                    self.refused(number, status, problem, rows, bar)?;
                    (attempt, round) = (0, round + 1);
                    continue;
                }
            };
            if attempt >= ATTEMPTS {
                bail!("batch {number}: giving up after {attempt} attempts: {retry_why}");
            }
            let pause = Duration::from_secs(1 << (attempt - 1));
            bar.suspend(|| {
                eprintln!(
                    "batch {number}: {retry_why}; retrying in {}s",
                    pause.as_secs()
                )
            });
            tokio::time::sleep(pause).await;
        }
    }

    /// A `4xx`: rows to drop (with `--skip-bad`) or the reason to stop.
    fn refused(
        &self,
        number: u64,
        status: reqwest::StatusCode,
        problem: Problem,
        rows: &mut Rows,
        bar: &ProgressBar,
    ) -> anyhow::Result<()> {
        let detail = pii::mask_free_text(&problem.detail);
        match status.as_u16() {
            401 | 403 => bail!("the server refused the token ({status}): {detail}"),
            409 => bail!(
                "batch {number} was imported before with different content ({detail}); \
                 did the event file, --kind or --batch change since the first run?"
            ),
            413 => bail!(
                "batch {number} is too large for the server ({detail}); use a smaller --batch"
            ),
            422 => {}
            _ => bail!("batch {number}: the server answered {status}: {detail}"),
        }
        let mut bad: Vec<(usize, String)> = Vec::new();
        let mut other = Vec::new();
        for e in problem.errors {
            let reason = pii::mask_free_text(&e.reason);
            match recipient_index(&e.field).filter(|(i, _)| *i < rows.len()) {
                Some((i, rest)) => bad.push((i, format!("{}: {reason}", columns::column_of(rest)))),
                None => other.push(format!("{}: {reason}", e.field)),
            }
        }
        bar.suspend(|| {
            for (i, why) in &bad {
                eprintln!(
                    "{}:{}: {why} (refused by the server)",
                    self.file, rows[*i].0
                );
            }
        });
        if !other.is_empty() || bad.is_empty() {
            bail!(
                "batch {number} was refused: {detail}\n  {}",
                other.join("\n  ")
            );
        }
        if !self.skip_bad {
            bail!(
                "batch {number} was refused for the rows above; nothing of it was stored (--skip-bad leaves such rows out)"
            );
        }
        let mut drop: Vec<usize> = bad.into_iter().map(|(i, _)| i).collect();
        drop.sort_unstable();
        drop.dedup();
        for i in drop.into_iter().rev() {
            rows.remove(i);
        }
        Ok(())
    }

    fn body(&self, number: u64, rows: &Rows) -> String {
        let external_id = Value::from(format!("{}-{number:05}", self.external_id_prefix));
        let size: usize = rows.iter().map(|(_, r)| r.len() + 1).sum();
        let mut body = String::with_capacity(self.head.len() + size + 64);
        body.push_str(&self.head);
        body.push_str(",\"external_id\":");
        body.push_str(&external_id.to_string());
        body.push_str(",\"recipients\":[");
        for (i, (_, recipient)) in rows.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(recipient);
        }
        body.push_str("]}");
        body
    }
}

/// `recipients[12].contacts.phone` → (12, `row.contacts.phone`-style rest for column names).
fn recipient_index(field: &str) -> Option<(usize, &str)> {
    let rest = field.strip_prefix("recipients[")?;
    let (index, rest) = rest.split_once(']')?;
    Some((index.parse().ok()?, rest.strip_prefix('.').unwrap_or(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_field_paths_map_back_to_rows() {
        assert_eq!(
            recipient_index("recipients[12].contacts.phone"),
            Some((12, "contacts.phone"))
        );
        assert_eq!(recipient_index("event.starts_at"), None);
        assert_eq!(columns::column_of("contacts.phone"), "phone");
    }
}
