//! Several SMS in one request (`[send_batch]`), for providers with a bulk endpoint.
//!
//! One request instead of one per message is what lets a worker hand a provider thousands
//! of messages a second without thousands of HTTP exchanges. The cost is that a request
//! that fails in transit leaves every message in it in doubt; the provider's client id
//! (our message id) de-duplicates the resend where the API has one.

use serde_json::Value;

use super::{
    BuildError, HttpRequest, Kind, Message, Profile, ProfileError, SendOutcome, SmsMessage,
};

/// A batch, built: the request (when any message could go) and what reads its answer.
#[derive(Debug)]
pub struct SendBatch {
    request: Option<HttpRequest>,
    /// Each message's template variables, for those in the request, in order.
    ctxs: Vec<Value>,
    /// Per message given: why it is not in the request (a bad number; a number already in
    /// it, where the answer is read by number), or `None` when it is.
    refused: Vec<Option<SendOutcome>>,
}

impl SendBatch {
    /// The request to put on the wire; `None` when every message was refused.
    pub fn request(&self) -> Option<&HttpRequest> {
        self.request.as_ref()
    }

    /// One outcome per message given, in order: the refused ones permanent, the others as
    /// the provider answered (`Err` is a transport failure: the request may have arrived).
    pub fn outcomes(
        &self,
        profile: &Profile,
        answer: Result<(u16, &[u8]), &str>,
    ) -> Vec<SendOutcome> {
        let t = &profile.inner.templates;
        let send = &profile.inner.send;
        let mut sent = match (answer, &profile.inner.file.send_batch) {
            _ if self.ctxs.is_empty() => Vec::new(),
            (Err(why), _) => vec![SendOutcome::Transient(why.to_owned()); self.ctxs.len()],
            (Ok((status, body)), Some(spec)) => match &spec.results {
                Some(results) => send.classify_batch(t, &self.ctxs, results, status, body),
                None => self.read_by_number(profile, status, body),
            },
            (Ok(_), None) => vec![
                SendOutcome::Permanent(format!(
                    "profile {} has no [send_batch]",
                    profile.name()
                ));
                self.ctxs.len()
            ],
        }
        .into_iter();
        self.refused
            .iter()
            .map(|refused| match refused {
                Some(outcome) => outcome.clone(),
                None => sent.next().unwrap_or_else(|| {
                    SendOutcome::Transient("the provider's answer was cut short".into())
                }),
            })
            .collect()
    }
}

impl SendBatch {
    /// Each message's own result in an answer keyed by number: what `[send.response]`
    /// reads from the whole answer with the message's variables. A refusal read for a
    /// message the answer has no entry for is the request's or a guess: the provider may
    /// hold that message, so it is sent again rather than failed.
    fn read_by_number(&self, profile: &Profile, status: u16, body: &[u8]) -> Vec<SendOutcome> {
        let t = &profile.inner.templates;
        let doc: Option<Value> = serde_json::from_slice(body).ok();
        let success = (200..300).contains(&status);
        self.ctxs
            .iter()
            .map(|ctx| {
                match profile
                    .inner
                    .send
                    .classify_parsed(t, ctx, status, doc.as_ref(), body)
                {
                    SendOutcome::Permanent(why) => {
                        let entry = t.render("send_batch.entry", ctx).unwrap_or_default();
                        match &doc {
                            Some(doc) if success && doc.pointer(&entry).is_none() => {
                                // The pointer holds the number (`/sms/7916…`).
                                SendOutcome::Transient(format!(
                                    "the answer has nothing at {}: {why}",
                                    crate::pii::mask_digit_runs(&entry)
                                ))
                            }
                            _ => SendOutcome::Permanent(why),
                        }
                    }
                    other => other,
                }
            })
            .collect()
    }
}

impl Profile {
    /// How many messages one request may carry: `[send_batch] max`, or 1 without it.
    pub fn batch_max(&self) -> usize {
        self.inner
            .file
            .send_batch
            .as_ref()
            .map_or(1, |b| b.max.max(1))
    }

    /// Whether a batch's answer is read per message by number rather than in order (a form
    /// `[send_batch]`), so that two messages to one number must not share a request.
    pub fn batch_answers_by_number(&self) -> bool {
        self.inner
            .file
            .send_batch
            .as_ref()
            .is_some_and(|b| b.results.is_none())
    }

    /// What two messages in one batch must not share where the answer is read by number:
    /// the number's digits, as `to_digits` has them (`None` for an unusable number, which
    /// is refused on its own, or where batches are read in order).
    pub fn batch_key(&self, to: &str) -> Option<String> {
        if !self.batch_answers_by_number() {
            return None;
        }
        self.number_forms(to).ok().map(|(_, digits, _)| digits)
    }

    /// The request that sends `messages` together (`[send_batch]`); a message that cannot
    /// be sent (a bad number) is left out and reported by [`SendBatch::outcomes`], as is
    /// one whose `item_name` repeats in a batch read by number (it waits for a retry).
    pub fn build_send_batch(&self, messages: &[SmsMessage<'_>]) -> Result<SendBatch, BuildError> {
        let spec = self
            .inner
            .file
            .send_batch
            .as_ref()
            .ok_or_else(|| BuildError::Render {
                key: "send_batch".into(),
                message: format!("profile {} has no [send_batch]", self.name()),
            })?;
        let mut ctxs = Vec::with_capacity(messages.len());
        let mut refused = Vec::with_capacity(messages.len());
        // Form: each message's field name, rendered once for the request and to keep a
        // number from repeating in it.
        let mut names = Vec::new();
        let mut named = std::collections::HashSet::new();
        for m in messages {
            let ctx = match self.context(&Message::Sms(*m), "") {
                Ok(ctx) => ctx,
                Err(e) => {
                    refused.push(Some(SendOutcome::Permanent(e.to_string())));
                    continue;
                }
            };
            if spec.item_name.is_some() {
                let name = self.inner.templates.render("send_batch.item_name", &ctx)?;
                if !named.insert(name.clone()) {
                    refused.push(Some(SendOutcome::Transient(
                        "another message to this number is in the same request".into(),
                    )));
                    continue;
                }
                names.push(name);
            }
            ctxs.push(ctx);
            refused.push(None);
        }
        let request = if ctxs.is_empty() {
            None
        } else {
            Some(super::request::build_batch(
                &self.inner.templates,
                &self.inner.file.send,
                spec,
                &self.batch_context(),
                &ctxs,
                &names,
            )?)
        };
        Ok(SendBatch {
            request,
            ctxs,
            refused,
        })
    }
}

impl Profile {
    /// Renders `[send_batch]` for `sample` and a second message to another number: a form
    /// batch must name each message's field apart (`item_name`) and may keep only `[send]`
    /// fields that read the same for every message (the others go in `omit`).
    pub(super) fn check_batch(&self, sample: SmsMessage<'_>) -> Result<(), BuildError> {
        let Some(spec) = &self.inner.file.send_batch else {
            return Ok(());
        };
        let other = SmsMessage {
            message_id: "0190a1b2-c3d4-7e5f-8a9b-000000000002",
            to: "+79990000002",
            text: "Второй текст",
            ..sample
        };
        let batch = self.build_send_batch(&[sample, other])?;
        if spec.item_name.is_none() {
            return Ok(());
        }
        let t = &self.inner.templates;
        let render = |key: &str| -> Result<Vec<String>, BuildError> {
            batch.ctxs.iter().map(|ctx| t.render(key, ctx)).collect()
        };
        render("send_batch.entry")?;
        let names = render("send_batch.item_name")?;
        if names.len() < 2 || names[0] == names[1] {
            return Err(BuildError::Render {
                key: "send_batch.item_name".into(),
                message: "each message's field needs a name of its own, e.g. \
                          \"to[{{to_digits}}]\""
                    .into(),
            });
        }
        for (name, value) in self.inner.file.send.fields.iter().flatten() {
            if spec.omit.contains(name) || !value.is_str() {
                continue;
            }
            let values = render(&format!("send.fields.{name}"))?;
            if values[0] != values[1] {
                return Err(BuildError::Render {
                    key: "send_batch.omit".into(),
                    message: format!("[send] field {name:?} differs per message: list it in omit"),
                });
            }
        }
        Ok(())
    }

    /// What `[send_batch] url` sees: no message's own variables, since it serves many.
    fn batch_context(&self) -> Value {
        serde_json::json!({
            "message_id": "",
            "sender": self.inner.file.sender.as_deref().unwrap_or_default(),
            "base_url": self.inner.base_url,
            "callback_url": self.inner.callback_url,
            "provider_message_id": "",
            "secret": self.inner.templates.secrets_json(),
        })
    }
}

/// Load-time checks of `[send_batch]`: SMS only, made of `[send]`'s fields, in the shape
/// `[send]`'s format calls for (JSON: `items`, `results`; form: `item_name`, `item_value`,
/// `entry`, `omit`). What needs a rendered message is checked by [`Profile::check_batch`].
pub(super) fn check(
    profile: &str,
    kind: Kind,
    file: &super::ProfileFile,
) -> Result<(), ProfileError> {
    use super::profile::BodyFormat;
    let Some(spec) = &file.send_batch else {
        return Ok(());
    };
    let err = |key: &str, message: &str| ProfileError {
        profile: profile.to_owned(),
        key: key.to_owned(),
        message: message.to_owned(),
    };
    if kind != Kind::Sms {
        return Err(err("send_batch", "only SMS profiles send in batches"));
    }
    if spec.max < 2 {
        return Err(err("send_batch.max", "a batch carries at least 2 messages"));
    }
    let Some(fields) = &file.send.fields else {
        return Err(err(
            "send.fields",
            "a batch is made of [send]'s `fields`: give [send] its fields",
        ));
    };
    let json = [
        ("items", spec.items.is_some()),
        ("results", spec.results.is_some()),
    ];
    let form = [
        ("item_name", spec.item_name.is_some()),
        ("item_value", spec.item_value.is_some()),
        ("entry", spec.entry.is_some()),
        ("omit", !spec.omit.is_empty()),
    ];
    let (needed, foreign) = match file.send.format {
        BodyFormat::Json => (&json[..], &form[..]),
        BodyFormat::Form => (&form[..3], &json[..]),
        _ => {
            return Err(err(
                "send.format",
                "a batch goes as JSON or as a form: give [send] format = \"json\" or \"form\"",
            ));
        }
    };
    if let Some((key, _)) = foreign.iter().find(|(_, given)| *given) {
        return Err(err(
            &format!("send_batch.{key}"),
            "not for a batch in [send]'s format: JSON takes items and results, a form \
             item_name, item_value, entry and omit",
        ));
    }
    if let Some((key, _)) = needed.iter().find(|(_, given)| !*given) {
        return Err(err(&format!("send_batch.{key}"), "missing"));
    }
    if spec.items.as_deref() == Some("") {
        return Err(err(
            "send_batch.items",
            "name the body's key for the array of messages",
        ));
    }
    for (key, pointer) in [("results", &spec.results), ("entry", &spec.entry)] {
        if pointer
            .as_deref()
            .is_some_and(|p| !p.is_empty() && !p.starts_with('/'))
        {
            return Err(err(
                &format!("send_batch.{key}"),
                "a JSON pointer starts with / (or is empty for the whole answer)",
            ));
        }
    }
    if let Some(name) = spec.omit.iter().find(|n| !fields.contains_key(n.as_str())) {
        return Err(err(
            "send_batch.omit",
            &format!("[send] has no field {name:?} to leave out"),
        ));
    }
    Ok(())
}
