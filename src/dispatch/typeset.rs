//! Letters for mail and fax become PDFs before they reach a gateway: typeset off the async
//! runtime (it is CPU work), and each PDF kept by its SHA-256 in the documents store, the
//! copy a delivery proof points to.

use std::sync::Arc;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde_json::Value;

use super::{CachedIntent, Dispatcher};
use crate::channels::{Destination, Outgoing};
use crate::documents::Documents;
use crate::intents::IntentKind;
use crate::letters::{self, Executor, Letter, RecipientBlock, Sender, Signatory};
use crate::settings::{Letters, Organization};
use crate::storage::Claimed;
use crate::templates::Rendered;

impl Dispatcher {
    /// Turns every letter of `batch` into its PDF; a letter that cannot be typeset is
    /// returned with the reason (it is the same on every try).
    pub(super) async fn typeset<'a>(
        &self,
        intent: &CachedIntent,
        batch: Vec<(Outgoing, &'a Claimed, Tz)>,
    ) -> Vec<(Result<Outgoing, String>, &'a Claimed)> {
        let org = self.org.clone();
        let letters = self.letters.clone();
        let documents = self.documents.clone();
        let executor = (intent.kind == IntentKind::AppealReply)
            .then(|| executor(&intent.event))
            .flatten();
        let number_base = format!("{}{}", letters.number_prefix, intent.external_id);
        let today = self.clock.now();
        let (jobs, claims): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|(outgoing, claimed, tz)| {
                let number = format!("{number_base}/{}", claimed.recipient_idx + 1);
                (
                    (outgoing, number, today.with_timezone(&tz).date_naive()),
                    claimed,
                )
            })
            .unzip();
        let typeset = tokio::task::spawn_blocking(move || {
            jobs.into_iter()
                .map(|(outgoing, number, date)| {
                    to_pdf(
                        outgoing,
                        &org,
                        &letters,
                        &documents,
                        number,
                        date,
                        executor.clone(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .await;
        let results = match typeset {
            Ok(results) => results,
            Err(e) => vec![Err(format!("typesetting crashed: {e}")); claims.len()],
        };
        results.into_iter().zip(claims).collect()
    }
}

fn to_pdf(
    mut outgoing: Outgoing,
    org: &Organization,
    settings: &Letters,
    documents: &Documents,
    outgoing_number: String,
    date: NaiveDate,
    executor: Option<Executor>,
) -> Result<Outgoing, String> {
    let Rendered::Letter { text } = &outgoing.content else {
        return Ok(outgoing);
    };
    let recipient = match &outgoing.to {
        Destination::Postal { name, address } => RecipientBlock {
            name: name.clone(),
            address: address.address.clone(),
            postcode: address.postcode.clone(),
        },
        Destination::Fax { number, name } => RecipientBlock {
            name: name.clone(),
            address: format!("факс {}", phone(number)),
            postcode: String::new(),
        },
        _ => return Err("a letter goes by mail or fax".into()),
    };
    let letter = Letter {
        sender: Sender {
            name: org.name.clone(),
            address: org.address.clone(),
            phone: phone(&org.phone),
            email: org.email.clone(),
            website: org.website.clone(),
        },
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
    let (pdf, pages) =
        letters::render_counted(&letter, &settings.geometry).map_err(|e| e.to_string())?;
    documents
        .store(&pdf, "pdf")
        .map_err(|e| format!("cannot keep the letter's PDF: {e:#}"))?;
    outgoing.content = Rendered::Pdf {
        pdf: Arc::new(pdf),
        pages,
    };
    Ok(outgoing)
}

/// The executor line of an appeal reply ("Исп. …, тел. …").
fn executor(event: &Value) -> Option<Executor> {
    let executor = event.get("executor")?;
    Some(Executor {
        name: executor.get("full_name")?.as_str()?.to_owned(),
        phone: phone(executor.get("phone")?.as_str()?),
    })
}

/// A phone as letters print it; kept as given when it does not parse.
fn phone(number: &str) -> String {
    crate::templates::helpers::phone_ru(number).unwrap_or_else(|_| number.to_owned())
}
