//! Precompiled letters at intake: a PDF the caller typeset itself is checked as a print
//! house would before the intent is accepted, each problem reported on the recipient's
//! `letter_pdf` field with its code; an accepted one is kept in the documents store,
//! where dispatch takes it from.

use crate::documents::Documents;
use crate::intents::NewIntent;
use crate::letters::check::validate::{Expected, Rules, validate};
use crate::recipients::Channel;
use crate::validation::FieldErrors;

pub fn check_and_keep(
    intent: &NewIntent,
    rules: &Rules,
    documents: &Documents,
) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::default();
    for (i, recipient) in intent.recipients.iter().enumerate() {
        let Some(pdf) = &recipient.letter_pdf else {
            continue;
        };
        let field = format!("recipients[{i}].letter_pdf");
        // The envelope window matters only on paper; a fax has none.
        let postal = recipient.contacts.postal_address.as_ref();
        let expected = match postal {
            Some(address) if recipient.channels.contains(&Channel::Mail) => Some(Expected {
                name: &recipient.name,
                postcode: &address.postcode,
                address: &address.address,
            }),
            _ => None,
        };
        match validate(pdf, rules, expected.as_ref()) {
            Ok(_) => {
                if let Err(e) = documents.store(pdf, "pdf") {
                    errors.push(field, format!("could not be kept: {e:#}"));
                }
            }
            Err(problems) => {
                for problem in problems {
                    let code = serde_json::to_value(problem.code)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    errors.push(field.clone(), format!("{code}: {}", problem.message));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
