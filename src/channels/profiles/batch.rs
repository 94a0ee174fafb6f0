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
    /// Per message given: why it cannot be sent (a bad number), or `None` when it is in the
    /// request.
    refused: Vec<Option<String>>,
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
        let mut sent = match (answer, &profile.inner.file.send_batch) {
            _ if self.ctxs.is_empty() => Vec::new(),
            (Err(why), _) => vec![SendOutcome::Transient(why.to_owned()); self.ctxs.len()],
            (Ok((status, body)), Some(spec)) => profile.inner.send.classify_batch(
                &profile.inner.templates,
                &self.ctxs,
                &spec.results,
                status,
                body,
            ),
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
                Some(why) => SendOutcome::Permanent(why.clone()),
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

    /// The request that sends `messages` together (`[send_batch]`); a message that cannot
    /// be sent (a bad number) is left out and reported by [`SendBatch::outcomes`].
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
        for m in messages {
            match self.context(&Message::Sms(*m), "") {
                Ok(ctx) => {
                    ctxs.push(ctx);
                    refused.push(None);
                }
                Err(e) => refused.push(Some(e.to_string())),
            }
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
    if file.send.format != super::profile::BodyFormat::Json || file.send.fields.is_none() {
        return Err(err(
            "items",
            "a batch is made of [send]'s JSON fields: give [send] format = \"json\" and `fields`",
        ));
    }
    if spec.max < 2 {
        return Err(err("max", "a batch carries at least 2 messages"));
    }
    if spec.items.is_empty() {
        return Err(err(
            "items",
            "name the body's key for the array of messages",
        ));
    }
    if !spec.results.is_empty() && !spec.results.starts_with('/') {
        return Err(err(
            "results",
            "a JSON pointer starts with / (or is empty for the whole answer)",
        ));
    }
    Ok(())
}
