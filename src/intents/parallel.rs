//! A big intent's recipients read on every core. A body of 100,000 recipients is ~20 MB
//! of JSON and ~0.3–0.45 s of one core's work to deserialise and validate, all of intake's
//! own CPU before the inserts (README "Performance"), while the other core waits. The
//! recipients do not depend on each other, so they are first split out as JSON text (a
//! scan that builds nothing) and then read in chunks by rayon.
//!
//! The outcome is the one-thread reading's: the same recipients in the same order and the
//! same faults in the same order. A body whose parts do not deserialise gets `None`, and
//! the caller reads it again on one thread to name the offending field by its path (so a
//! bad body costs that reading twice). One difference: serde_json's nesting limit (128)
//! counts from each recipient rather than from the body, so a recipient nested 126–127
//! deep is refused as an invalid field (`422`) instead of as malformed JSON (`400`); no
//! field of a recipient may nest that deep, so nothing more is accepted.

use rayon::prelude::*;
use serde_json::value::RawValue;

use super::{IntentKind, RawIntent, parse_recipient};
use crate::recipients::{RawRecipient, Recipient};
use crate::validation::FieldErrors;

/// Fewer recipients than this per chunk are read faster than they are handed out.
const MIN_PER_CHUNK: usize = 1_000;

impl RawIntent {
    /// The intent in `body`, its recipients deserialised on every core; `None` when any
    /// part of it does not deserialise.
    pub fn from_slice_in_parallel(body: &[u8]) -> Option<RawIntent> {
        let unread: RawIntent<&RawValue> = serde_json::from_slice(body).ok()?;
        let recipients = match unread.recipients {
            None => None,
            Some(texts) => Some(
                texts
                    .par_iter()
                    .with_min_len(MIN_PER_CHUNK)
                    .map(|text| serde_json::from_str::<RawRecipient>(text.get()).ok())
                    .collect::<Option<Vec<_>>>()?,
            ),
        };
        Some(RawIntent {
            kind: unread.kind,
            external_id: unread.external_id,
            event: unread.event,
            recipients,
            accept_late: unread.accept_late,
            callback_url: unread.callback_url,
        })
    }
}

/// Every recipient checked as `parse_recipient` checks one, in chunks on every core; the
/// valid ones are returned in order and the faults are added to `errors` in order.
pub(super) fn parse_recipients(
    kind: Option<IntentKind>,
    raw: Vec<RawRecipient>,
    errors: &mut FieldErrors,
) -> Vec<Recipient> {
    let chunks: Vec<(Vec<Recipient>, FieldErrors)> = raw
        .into_par_iter()
        .enumerate()
        .with_min_len(MIN_PER_CHUNK)
        .fold(
            || (Vec::new(), FieldErrors::default()),
            |(mut valid, mut faults), (i, raw)| {
                let path = format!("recipients[{i}]");
                valid.extend(parse_recipient(kind, raw, &path, &mut faults));
                (valid, faults)
            },
        )
        .collect();
    let mut recipients = Vec::with_capacity(chunks.iter().map(|(valid, _)| valid.len()).sum());
    for (valid, faults) in chunks {
        recipients.extend(valid);
        errors.extend(faults);
    }
    recipients
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn recipient(i: usize) -> serde_json::Value {
        json!({
            "account_number": format!("{:012}", i),
            "customer_type": "individual",
            "name": "Иванов Иван Иванович",
            "time_zone": "Europe/Moscow",
            "contacts": {"phone": format!("+7916{:07}", i)},
            "channels": ["sms"],
        })
    }

    fn body(recipients: Vec<serde_json::Value>) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "kind": "planned_outage",
            "external_id": "outage-1",
            "event": {},
            "recipients": recipients,
        }))
        .unwrap()
    }

    /// The parallel reading must be the one-thread reading, faults and their order too:
    /// bad recipients in several chunks, the first one in the last chunk.
    #[test]
    fn reads_as_one_thread_reads() {
        let n = 5 * MIN_PER_CHUNK + 17;
        let bad = [n - 3, 7, 2 * MIN_PER_CHUNK + 1, 4 * MIN_PER_CHUNK];
        let recipients = (0..n)
            .map(|i| {
                let mut r = recipient(i);
                if bad.contains(&i) {
                    r["customer_type"] = json!("company");
                    r["contacts"]["phone"] = json!("not a phone");
                }
                r
            })
            .collect();
        let body = body(recipients);

        let parallel = RawIntent::from_slice_in_parallel(&body).expect("deserialises");
        let one_thread: RawIntent = serde_json::from_slice(&body).unwrap();
        let (mut faults_p, mut faults_1) = (FieldErrors::default(), FieldErrors::default());
        let kind = Some(IntentKind::PlannedOutage);
        let read_p = parse_recipients(kind, parallel.recipients.unwrap(), &mut faults_p);
        let read_1: Vec<Recipient> = one_thread
            .recipients
            .unwrap()
            .into_iter()
            .enumerate()
            .filter_map(|(i, raw)| {
                parse_recipient(kind, raw, &format!("recipients[{i}]"), &mut faults_1)
            })
            .collect();

        assert_eq!(read_p.len(), n - bad.len());
        assert_eq!(read_p, read_1);
        assert_eq!(read_p[8].account_number, format!("{:012}", 9));
        let fields = |f: FieldErrors| {
            f.into_vec()
                .into_iter()
                .map(|e| (e.field, e.reason))
                .collect::<Vec<_>>()
        };
        let (faults_p, faults_1) = (fields(faults_p), fields(faults_1));
        assert_eq!(faults_p, faults_1);
        let bad_paths: Vec<&str> = faults_p.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(bad_paths.first(), Some(&"recipients[7].customer_type"));
        assert!(
            bad_paths
                .last()
                .unwrap()
                .starts_with(&format!("recipients[{}]", n - 3))
        );
    }

    /// A recipient that does not deserialise (an unknown field) sends the caller back to
    /// the one-thread reading, which names it.
    #[test]
    fn a_recipient_that_does_not_deserialise_gives_none() {
        let mut recipients: Vec<_> = (0..3 * MIN_PER_CHUNK).map(recipient).collect();
        recipients[2 * MIN_PER_CHUNK + 5]["nickname"] = json!("x");
        assert!(RawIntent::from_slice_in_parallel(&body(recipients)).is_none());
        assert!(RawIntent::from_slice_in_parallel(b"{\"kind\": \"planned_outage\"} x").is_none());
        let ok: Vec<_> = (0..3).map(recipient).collect();
        assert!(RawIntent::from_slice_in_parallel(&body(ok)).is_some());
    }
}
