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
                // Keyed: each message finds its own result in the whole answer.
                None => self
                    .ctxs
                    .iter()
                    .map(|ctx| send.classify_send(t, ctx, status, body))
                    .collect(),
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
        let mut names = std::collections::HashSet::new();
        for m in messages {
            let ctx = match self.context(&Message::Sms(*m), "") {
                Ok(ctx) => ctx,
                Err(e) => {
                    refused.push(Some(SendOutcome::Permanent(e.to_string())));
                    continue;
                }
            };
            if spec.item_name.is_some()
                && !names.insert(self.inner.templates.render("send_batch.item_name", &ctx)?)
            {
                refused.push(Some(SendOutcome::Transient(
                    "another message to this number is in the same request".into(),
                )));
                continue;
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

/// Load-time checks of `[send_batch]`: SMS only, on a JSON `[send]` made of `fields`.
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
        key: format!("send_batch.{key}"),
        message: message.to_owned(),
    };
    if kind != Kind::Sms {
        return Err(err("max", "only SMS profiles send in batches"));
    }
    if spec.max < 2 {
        return Err(err("max", "a batch carries at least 2 messages"));
    }
    if file.send.fields.is_none() {
        return Err(err(
            "max",
            "a batch is made of [send]'s `fields`: give [send] its fields",
        ));
    }
    match file.send.format {
        BodyFormat::Json => {
            if spec.item_name.is_some() || spec.item_value.is_some() || !spec.omit.is_empty() {
                return Err(err(
                    "item_name",
                    "item_name, item_value and omit shape a form batch; [send] is JSON",
                ));
            }
            match &spec.items {
                Some(items) if !items.is_empty() => {}
                _ => {
                    return Err(err(
                        "items",
                        "name the body's key for the array of messages",
                    ));
                }
            }
            match &spec.results {
                Some(r) if r.is_empty() || r.starts_with('/') => {}
                Some(_) => {
                    return Err(err(
                        "results",
                        "a JSON pointer starts with / (or is empty for the whole answer)",
                    ));
                }
                None => {
                    return Err(err(
                        "results",
                        "give the JSON pointer to the array of results",
                    ));
                }
            }
        }
        BodyFormat::Form => {
            if spec.items.is_some() || spec.results.is_some() {
                return Err(err(
                    "items",
                    "items and results shape a JSON batch; [send] is a form: give item_name \
                     and item_value",
                ));
            }
            if spec.item_name.is_none() {
                return Err(err("item_name", "name each message's field"));
            }
            if spec.item_value.is_none() {
                return Err(err("item_value", "give each message's field its value"));
            }
            let fields = file.send.fields.as_ref().expect("checked above");
            if let Some(name) = spec.omit.iter().find(|n| !fields.contains_key(n.as_str())) {
                return Err(err(
                    "omit",
                    &format!("[send] has no field {name:?} to leave out"),
                ));
            }
        }
        _ => {
            return Err(err(
                "max",
                "a batch goes as JSON or as a form: give [send] format = \"json\" or \"form\"",
            ));
        }
    }
    Ok(())
}
