//! Reading a provider's answer to a send or a status request.
//!
//! Order: an HTTP status in `transient_http` is transient; a body that is not JSON is
//! transient after a 2xx (the provider may or may not have taken the message: retrying
//! risks a duplicate, which the client id bounds where the API has one) and permanent
//! otherwise; a 2xx whose `accept_if` conditions all hold succeeded; anything else is an
//! error whose code decides (`permanent_codes`, `transient_codes`, else `unknown_error`).

use serde_json::Value;

use super::profile::{ResponseSpec, Retry, StatusPath};
use super::receipt::{self, ReportPaths};
use super::template::{CodeSet, Templates, check_pointer, holds, lookup, scalar_text, snippet};
use super::tracking::parse_tracking_number;
use super::{BuildError, PollOutcome, Profile, ProfileError, SendOutcome};

pub(super) struct Compiled {
    prefix: String,
    spec: ResponseSpec,
    /// The template keys of the status paths, in order.
    status_keys: Vec<String>,
    /// Report field name → template key.
    report_keys: Vec<(String, String)>,
    permanent: CodeSet,
    transient: CodeSet,
    transient_http: CodeSet,
}

impl Compiled {
    pub fn new(
        t: &mut Templates,
        section: &str,
        spec: &ResponseSpec,
        is_send: bool,
    ) -> Result<Self, ProfileError> {
        let prefix = format!("{section}.response");
        let mut paths: Vec<(String, &str)> = Vec::new();
        for (i, c) in spec.accept_if.iter().enumerate() {
            let key = format!("{prefix}.accept_if.{i}");
            if c.equals.is_none() && c.exists.is_none() {
                return Err(t.error(&key, "a condition needs `equals` or `exists`"));
            }
            paths.push((format!("{key}.path"), &c.path));
        }
        let missing =
            |key: &str| t.error(&format!("{prefix}.{key}"), "missing: where to read it from");
        let unused = |key: &str| {
            t.error(
                &format!("{prefix}.{key}"),
                format!("not used in [{section}]"),
            )
        };
        let mut status_keys = Vec::new();
        let mut report_keys = Vec::new();
        let report_paths = spec
            .report
            .as_ref()
            .map(receipt::field_paths)
            .unwrap_or_default();
        if is_send {
            match &spec.message_id {
                Some(p) => paths.push((format!("{prefix}.message_id"), p)),
                None => return Err(missing("message_id")),
            }
            if let Some(p) = &spec.tracking_number {
                paths.push((format!("{prefix}.tracking_number"), p));
            }
            for (key, present) in [
                ("status", spec.status.is_some()),
                ("time", spec.time.is_some()),
                ("report", spec.report.is_some()),
            ] {
                if present {
                    return Err(unused(key));
                }
            }
        } else {
            match &spec.status {
                Some(StatusPath::One(p)) => {
                    status_keys.push(format!("{prefix}.status"));
                    paths.push((format!("{prefix}.status"), p));
                }
                Some(StatusPath::Joined(ps)) if !ps.is_empty() => {
                    for (i, p) in ps.iter().enumerate() {
                        status_keys.push(format!("{prefix}.status.{i}"));
                        paths.push((format!("{prefix}.status.{i}"), p));
                    }
                }
                _ => return Err(missing("status")),
            }
            for (key, present) in [
                ("message_id", spec.message_id.is_some()),
                ("tracking_number", spec.tracking_number.is_some()),
            ] {
                if present {
                    return Err(unused(key));
                }
            }
            if let Some(p) = &spec.time {
                paths.push((format!("{prefix}.time"), p));
            }
            for (name, path) in &report_paths {
                let key = format!("{prefix}.report.{name}");
                report_keys.push((name.clone(), key.clone()));
                paths.push((key, path));
            }
        }
        for (i, p) in spec.error_code.iter().enumerate() {
            paths.push((format!("{prefix}.error_code.{i}"), p));
        }
        for (i, p) in spec.error_text.iter().enumerate() {
            paths.push((format!("{prefix}.error_text.{i}"), p));
        }
        for (key, path) in &paths {
            check_pointer(t, key, path)?;
            t.add(key, path)?;
        }
        let set = |key: &str, values| {
            CodeSet::new(values).map_err(|m| t.error(&format!("{prefix}.{key}"), m))
        };
        Ok(Compiled {
            status_keys,
            report_keys,
            permanent: set("permanent_codes", &spec.permanent_codes)?,
            transient: set("transient_codes", &spec.transient_codes)?,
            transient_http: set("transient_http", &spec.transient_http)?,
            spec: spec.clone(),
            prefix,
        })
    }

    /// Renders every path once (a load-time check).
    pub fn check_paths(&self, t: &Templates, ctx: &Value) -> Result<(), BuildError> {
        self.read(t, ctx, "message_id", &Value::Null)?;
        self.read(t, ctx, "tracking_number", &Value::Null)?;
        self.read(t, ctx, "time", &Value::Null)?;
        self.report_paths(t, ctx)?;
        self.conditions_hold(t, ctx, &Value::Null)?;
        self.error_detail(t, ctx, &Value::Null)?;
        Ok(())
    }

    fn read(
        &self,
        t: &Templates,
        ctx: &Value,
        field: &str,
        doc: &Value,
    ) -> Result<Option<Value>, BuildError> {
        let present = match field {
            "message_id" => self.spec.message_id.is_some(),
            "tracking_number" => self.spec.tracking_number.is_some(),
            _ => self.spec.time.is_some(),
        };
        if !present {
            return Ok(None);
        }
        let path = t.render(&format!("{}.{field}", self.prefix), ctx)?;
        Ok(lookup(doc, &path).cloned())
    }

    /// The status and report paths, rendered.
    fn report_paths(&self, t: &Templates, ctx: &Value) -> Result<ReportPaths, BuildError> {
        let mut status = Vec::new();
        for key in &self.status_keys {
            status.push(t.render(key, ctx)?);
        }
        let time = match &self.spec.time {
            Some(_) => Some(t.render(&format!("{}.time", self.prefix), ctx)?),
            None => None,
        };
        let mut fields = std::collections::BTreeMap::new();
        for (name, key) in &self.report_keys {
            fields.insert(name.clone(), t.render(key, ctx)?);
        }
        Ok(ReportPaths {
            status,
            time,
            time_format: self.spec.time_format,
            fields,
        })
    }

    fn conditions_hold(&self, t: &Templates, ctx: &Value, doc: &Value) -> Result<bool, BuildError> {
        for (i, c) in self.spec.accept_if.iter().enumerate() {
            let path = t.render(&format!("{}.accept_if.{i}.path", self.prefix), ctx)?;
            if !holds(c, &path, doc) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The first error code and the first error text found.
    fn error_detail(
        &self,
        t: &Templates,
        ctx: &Value,
        doc: &Value,
    ) -> Result<(Option<String>, Option<String>), BuildError> {
        let first = |kind: &str, n: usize| -> Result<Option<String>, BuildError> {
            for i in 0..n {
                let path = t.render(&format!("{}.{kind}.{i}", self.prefix), ctx)?;
                if let Some(v) = lookup(doc, &path).and_then(scalar_text) {
                    return Ok(Some(v));
                }
            }
            Ok(None)
        };
        Ok((
            first("error_code", self.spec.error_code.len())?,
            first("error_text", self.spec.error_text.len())?,
        ))
    }

    /// The parsed body of a successful response, or why it failed and whether retrying may help.
    fn verdict(
        &self,
        t: &Templates,
        ctx: &Value,
        status: u16,
        body: &[u8],
    ) -> Result<Value, (Retry, String)> {
        let doc: Option<Value> = serde_json::from_slice(body).ok();
        self.judge(t, ctx, status, doc.as_ref(), &|| snippet(body, 200))?;
        Ok(doc.expect("judge refuses an answer that is not JSON"))
    }

    /// [`Self::verdict`] on an answer already parsed (`None`: not JSON); `raw` quotes it
    /// in error messages.
    fn judge(
        &self,
        t: &Templates,
        ctx: &Value,
        status: u16,
        doc: Option<&Value>,
        raw: &dyn Fn() -> String,
    ) -> Result<(), (Retry, String)> {
        let render_failed = |e: BuildError| (Retry::Permanent, e.to_string());
        let detail = |doc: &Value| -> Result<String, (Retry, String)> {
            let (code, text) = self.error_detail(t, ctx, doc).map_err(render_failed)?;
            // A provider may quote the number or address it refused.
            let code = code.map(|c| crate::pii::mask_free_text(&c));
            let text = text.map(|x| crate::pii::mask_free_text(&x));
            Ok(match (code, text) {
                (Some(c), Some(x)) => format!("provider error {c}: {x}"),
                (Some(c), None) => format!("provider error {c}"),
                (None, Some(x)) => format!("provider error: {x}"),
                (None, None) => format!("unexpected answer: {}", raw()),
            })
        };
        if self.transient_http.matches(&status.to_string()) {
            let why = doc.map(&detail).transpose()?.unwrap_or_else(raw);
            return Err((Retry::Transient, format!("HTTP {status}: {why}")));
        }
        let success = (200..300).contains(&status);
        let Some(doc) = doc else {
            let retry = if success {
                Retry::Transient
            } else {
                Retry::Permanent
            };
            return Err((retry, format!("HTTP {status}, body is not JSON: {}", raw())));
        };
        if success && self.conditions_hold(t, ctx, doc).map_err(render_failed)? {
            return Ok(());
        }
        let (code, _) = self.error_detail(t, ctx, doc).map_err(render_failed)?;
        let retry = match code {
            Some(c) if self.permanent.matches(&c) => Retry::Permanent,
            Some(c) if self.transient.matches(&c) => Retry::Transient,
            _ => self.spec.unknown_error,
        };
        let why = detail(doc)?;
        Err((
            retry,
            if success {
                why
            } else {
                format!("HTTP {status}: {why}")
            },
        ))
    }

    pub fn classify_send(
        &self,
        t: &Templates,
        ctx: &Value,
        status: u16,
        body: &[u8],
    ) -> SendOutcome {
        let doc: Option<Value> = serde_json::from_slice(body).ok();
        self.classify_parsed(t, ctx, status, doc.as_ref(), body)
    }

    /// [`Self::classify_send`] on an answer already parsed (`None`: not JSON), so that a
    /// batch answered by number is parsed once, not once per message in it.
    pub fn classify_parsed(
        &self,
        t: &Templates,
        ctx: &Value,
        status: u16,
        doc: Option<&Value>,
        body: &[u8],
    ) -> SendOutcome {
        let verdict = self.judge(t, ctx, status, doc, &|| snippet(body, 200));
        self.send_outcome(
            t,
            ctx,
            verdict.map(|()| doc.expect("judge refuses an answer that is not JSON")),
        )
    }

    /// What a judged answer to a send means for the message.
    fn send_outcome(
        &self,
        t: &Templates,
        ctx: &Value,
        verdict: Result<&Value, (Retry, String)>,
    ) -> SendOutcome {
        let doc = match verdict {
            Ok(doc) => doc,
            Err((Retry::Transient, why)) => return SendOutcome::Transient(why),
            Err((Retry::Permanent, why)) => return SendOutcome::Permanent(why),
        };
        let text = |field| {
            self.read(t, ctx, field, doc)
                .map(|v| v.as_ref().and_then(scalar_text).filter(|s| !s.is_empty()))
        };
        // Accepted is accepted: a retry would send the customer a second copy. Without the
        // provider's id no report can be matched; that is the cost.
        let provider_message_id = match text("message_id") {
            Ok(id) => id.unwrap_or_default(),
            Err(e) => return SendOutcome::Permanent(e.to_string()),
        };
        let tracking_number = match text("tracking_number") {
            Ok(None) => None,
            Ok(Some(n)) => match parse_tracking_number(&n) {
                Ok(n) => Some(n.to_string()),
                // Permanent: the provider has the letter and answered this number for it;
                // with our client id a resend gets the same answer, without one it posts a
                // second letter. An operator reconciles with the provider (its id is here).
                Err(e) => {
                    return SendOutcome::Permanent(format!(
                        "provider accepted the letter as {provider_message_id} but its \
                         tracking number is invalid: {e}"
                    ));
                }
            },
            Err(e) => return SendOutcome::Permanent(e.to_string()),
        };
        SendOutcome::Accepted {
            provider_message_id,
            tracking_number,
        }
    }

    /// Reads the answer to a `[send_batch]` request: one outcome per context, in order.
    /// A failure of the request as a whole (transport status, an error document, no
    /// result array of the right length) is every message's outcome.
    pub fn classify_batch(
        &self,
        t: &Templates,
        ctxs: &[Value],
        results: &str,
        status: u16,
        body: &[u8],
    ) -> Vec<SendOutcome> {
        let all = |outcome: SendOutcome| vec![outcome; ctxs.len()];
        let Some(first) = ctxs.first() else {
            return Vec::new();
        };
        let mut doc = match self.verdict_of_request(t, first, status, body) {
            Ok(doc) => doc,
            Err((Retry::Transient, why)) => return all(SendOutcome::Transient(why)),
            Err((Retry::Permanent, why)) => return all(SendOutcome::Permanent(why)),
        };
        let items = match doc.pointer_mut(results).map(Value::take) {
            Some(Value::Array(items)) if items.len() == ctxs.len() => items,
            // The provider may hold some of the messages: resend them all (its client id
            // de-duplicates where it has one).
            found => {
                return all(SendOutcome::Transient(format!(
                    "the answer has {} results at {results} for {} messages: {}",
                    match found {
                        Some(Value::Array(items)) => items.len(),
                        _ => 0,
                    },
                    ctxs.len(),
                    snippet(body, 200)
                )));
            }
        };
        ctxs.iter()
            .zip(items)
            .map(|(ctx, item)| {
                let verdict = self.judge(t, ctx, status, Some(&item), &|| {
                    snippet(item.to_string().as_bytes(), 200)
                });
                self.send_outcome(t, ctx, verdict.map(|()| &item))
            })
            .collect()
    }

    /// A batch's answer before its results are read: the HTTP status and, for a 2xx, a
    /// JSON body; a non-2xx JSON body is read for its error code as a single answer is.
    fn verdict_of_request(
        &self,
        t: &Templates,
        ctx: &Value,
        status: u16,
        body: &[u8],
    ) -> Result<Value, (Retry, String)> {
        if (200..300).contains(&status) {
            return serde_json::from_slice(body).map_err(|_| {
                (
                    Retry::Transient,
                    format!("HTTP {status}, body is not JSON: {}", snippet(body, 200)),
                )
            });
        }
        match self.verdict(t, ctx, status, body) {
            // A non-2xx never succeeds; `verdict` only lets 2xx through.
            Ok(_) => Err((Retry::Transient, format!("HTTP {status}"))),
            Err(e) => Err(e),
        }
    }

    pub fn classify_poll(
        &self,
        profile: &Profile,
        ctx: &Value,
        id: &str,
        status: u16,
        body: &[u8],
    ) -> PollOutcome {
        let t = &profile.inner.templates;
        let doc = match self.verdict(t, ctx, status, body) {
            Ok(doc) => doc,
            Err((Retry::Transient, why)) => return PollOutcome::Transient(why),
            Err((Retry::Permanent, why)) => return PollOutcome::Permanent(why),
        };
        let paths = match self.report_paths(t, ctx) {
            Ok(p) => p,
            Err(e) => return PollOutcome::Permanent(e.to_string()),
        };
        if receipt::status_value(&doc, &paths.status).is_none() {
            return PollOutcome::Transient(format!(
                "no status in the answer: {}",
                snippet(body, 200)
            ));
        }
        match receipt::read(
            &profile.inner.statuses,
            id.to_owned(),
            &doc,
            &paths,
            String::from_utf8_lossy(body).into_owned(),
        ) {
            Ok(r) => PollOutcome::Status(r),
            Err(why) => PollOutcome::Permanent(format!("unreadable report: {why}")),
        }
    }
}
