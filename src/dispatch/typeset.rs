//! Letters for mail and fax become PDFs before they reach a gateway: typeset off the async
//! runtime (it is CPU work), and each mail or fax PDF kept by its SHA-256 in the documents
//! store, the copy a delivery proof points to.

use std::sync::Arc;

use chrono::NaiveDate;
use chrono_tz::Tz;

use std::collections::HashMap;

use super::{CachedIntent, Dispatcher};
use crate::channels::{Destination, Outgoing, SendResult};
use crate::documents::Documents;
use crate::intents::IntentKind;
use crate::letters::{self, Executor, Letter, RecipientBlock, Sender, Signatory};
use crate::settings::{Letters, Organization};
use crate::storage::Claimed;
use crate::storage::{Outcome, RecipientRow};
use crate::templates::Rendered;

/// What every letter of a batch shares.
struct Shared {
    org: Organization,
    letters: Letters,
    documents: Documents,
    executor: Option<Executor>,
}

/// One letter to typeset.
struct Job {
    outgoing: Outgoing,
    outgoing_number: String,
    date: NaiveDate,
    /// The caller's own PDF (its SHA-256 in the documents store), if it sent one.
    precompiled: Option<String>,
}

impl Dispatcher {
    /// Typesets the letter rendered for each email of `batch` (in `letters`, by message
    /// id) and attaches it; an email whose letter cannot be typeset fails with the reason.
    pub(super) async fn attach_letters<'a>(
        &self,
        intent: &CachedIntent,
        batch: Vec<(Outgoing, &'a Claimed)>,
        letters: &mut Vec<(String, Rendered)>,
        recipients: &HashMap<i64, RecipientRow>,
        outcomes: &mut Vec<Outcome>,
    ) -> Vec<(Outgoing, &'a Claimed)> {
        let mut texts: HashMap<String, Rendered> = letters.drain(..).collect();
        let mut copies = Vec::new();
        for (outgoing, message) in &batch {
            if let Some(letter) = texts.remove(&outgoing.message_id) {
                let tz = recipients
                    .get(&message.recipient_idx)
                    .and_then(|r| r.time_zone.parse().ok())
                    .unwrap_or(chrono_tz::Europe::Moscow);
                let copy = Outgoing {
                    content: letter,
                    ..outgoing.clone()
                };
                copies.push((copy, *message, tz, None));
            }
        }
        let mut pdfs: HashMap<String, Result<Outgoing, SendResult>> = self
            .typeset(intent, copies)
            .await
            .into_iter()
            .map(|(result, message)| (message.id.clone(), result))
            .collect();
        let mut ready = Vec::with_capacity(batch.len());
        for (mut outgoing, message) in batch {
            match pdfs.remove(&message.id) {
                Some(Ok(Outgoing {
                    content: Rendered::Pdf { pdf, .. },
                    ..
                })) => {
                    outgoing.attachment = Some(pdf);
                    ready.push((outgoing, message));
                }
                Some(Ok(_)) => ready.push((outgoing, message)),
                Some(Err(why)) => outcomes.push(self.not_sent(message, why)),
                None => ready.push((outgoing, message)),
            }
        }
        ready
    }

    /// Turns every letter of `batch` into its PDF; a letter that cannot be typeset is
    /// returned with the reason: permanent when the letter itself cannot be made (it is the
    /// same on every try, a crash of the typesetter included), transient when the documents
    /// store failed.
    pub(super) async fn typeset<'a>(
        &self,
        intent: &CachedIntent,
        batch: Vec<(Outgoing, &'a Claimed, Tz, Option<String>)>,
    ) -> Vec<(Result<Outgoing, SendResult>, &'a Claimed)> {
        let shared = Shared {
            org: self.org.clone(),
            letters: self.letters.clone(),
            documents: self.documents.clone(),
            executor: (intent.kind == IntentKind::AppealReply)
                .then(|| Executor::from_event(&intent.event))
                .flatten(),
        };
        let number_base = format!("{}{}", shared.letters.number_prefix, intent.external_id);
        let today = self.clock.now();
        let (jobs, claims): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|(outgoing, claimed, tz, precompiled)| {
                let job = Job {
                    outgoing,
                    outgoing_number: format!("{number_base}/{}", claimed.recipient_idx + 1),
                    date: today.with_timezone(&tz).date_naive(),
                    precompiled,
                };
                (job, claimed)
            })
            .unzip();
        let typeset = tokio::task::spawn_blocking(move || {
            jobs.into_iter()
                .map(|job| to_pdf(job, &shared))
                .collect::<Vec<_>>()
        })
        .await;
        let results = match typeset {
            Ok(results) => results,
            Err(e) => {
                vec![Err(SendResult::Permanent(format!("typesetting crashed: {e}"))); claims.len()]
            }
        };
        results.into_iter().zip(claims).collect()
    }
}

fn to_pdf(job: Job, shared: &Shared) -> Result<Outgoing, SendResult> {
    let Job {
        mut outgoing,
        outgoing_number,
        date,
        precompiled,
    } = job;
    let (org, settings, documents) = (&shared.org, &shared.letters, &shared.documents);
    let executor = shared.executor.clone();
    let Rendered::Letter { text } = &outgoing.content else {
        return Ok(outgoing);
    };
    if let Some(sha256) = &precompiled {
        let pdf = documents
            .read(sha256, "pdf")
            .map_err(|e| SendResult::Transient(format!("the precompiled letter is gone: {e:#}")))?;
        let pages = lopdf::Document::load_mem(&pdf)
            .map_err(|e| {
                SendResult::Permanent(format!("the precompiled letter is unreadable: {e}"))
            })?
            .get_pages()
            .len() as u32;
        outgoing.content = Rendered::Pdf {
            pdf: Arc::new(pdf),
            pages,
        };
        return Ok(outgoing);
    }
    let recipient = match &outgoing.to {
        Destination::Postal { name, address } => RecipientBlock {
            name: name.clone(),
            address: address.address.clone(),
            postcode: address.postcode.clone(),
        },
        // A letter attached to an email: addressed as the email is.
        Destination::Email { address, name } => RecipientBlock {
            name: name.clone(),
            address: format!("эл. почта: {address}"),
            postcode: String::new(),
        },
        Destination::Fax { number, name } => RecipientBlock {
            name: name.clone(),
            address: format!("факс {}", letters::phone(number)),
            postcode: String::new(),
        },
        Destination::Phone(_) => {
            return Err(SendResult::Permanent("a letter does not go by SMS".into()));
        }
    };
    let letter = Letter {
        sender: Sender::of(org),
        outgoing_number,
        date,
        recipient,
        body: text.clone(),
        signatory: Signatory {
            position: settings.signatory_position.clone(),
            name: settings.signatory_name.clone(),
        },
        executor,
    };
    let (pdf, pages) = letters::render_counted(&letter, &settings.geometry)
        .map_err(|e| SendResult::Permanent(e.to_string()))?;
    // A letter attached to an email is kept inside the stored `.eml` (which the proof shows
    // and the purge clears); a separate copy would be referenced by nothing and outlive it.
    if !matches!(outgoing.to, Destination::Email { .. }) {
        documents
            .store(&pdf, "pdf")
            .map_err(|e| SendResult::Transient(format!("cannot keep the letter's PDF: {e:#}")))?;
    }
    outgoing.content = Rendered::Pdf {
        pdf: Arc::new(pdf),
        pages,
    };
    Ok(outgoing)
}
