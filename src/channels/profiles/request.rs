//! Building the HTTP request of `[send]` or `[poll]`.

use std::fmt;

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::profile::{AuthSpec, BodyFormat, Method, RequestSpec, SendBatchSpec};
use super::template::Templates;
use super::{BuildError, ProfileError};

/// One HTTP request, ready for any client. Its `Debug` shows no secret and no personal
/// data: the query's values, header values and the body are left out.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (path, query) = self.url.split_once('?').unwrap_or((&self.url, ""));
        let keys: Vec<String> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, _)| format!("{k}=…"))
            .collect();
        let headers: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &format!("{path}?{}", keys.join("&")))
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Registers the templates of one request section and checks its shape.
pub(super) fn register(
    t: &mut Templates,
    section: &str,
    spec: &RequestSpec,
) -> Result<(), ProfileError> {
    t.add(&format!("{section}.url"), &spec.url)?;
    for (name, value) in &spec.headers {
        t.add(&format!("{section}.headers.{name}"), value)?;
    }
    let auth = format!("{section}.auth");
    match &spec.auth {
        AuthSpec::None => {}
        AuthSpec::Basic { username, password } => {
            t.add(&format!("{auth}.username"), username)?;
            t.add(&format!("{auth}.password"), password)?;
        }
        AuthSpec::Bearer { token } => t.add(&format!("{auth}.token"), token)?,
        AuthSpec::Query { value, .. } | AuthSpec::Header { value, .. } => {
            t.add(&format!("{auth}.value"), value)?
        }
    }
    match (&spec.fields, &spec.template) {
        (Some(_), Some(_)) => {
            return Err(t.error(section, "give either `fields` or `template`, not both"));
        }
        (None, Some(template)) => {
            if matches!(spec.format, BodyFormat::Query | BodyFormat::Multipart) {
                return Err(t.error(
                    &format!("{section}.template"),
                    "a query or multipart body has fields, not a template",
                ));
            }
            t.add(&format!("{section}.template"), template)?;
        }
        (Some(fields), None) => {
            for (name, value) in fields {
                register_value(t, spec.format, &format!("{section}.fields.{name}"), value)?;
            }
        }
        (None, None) => {}
    }
    if let Some(file) = &spec.file {
        if spec.format != BodyFormat::Multipart {
            return Err(t.error(
                &format!("{section}.file"),
                "a file goes only in a multipart body",
            ));
        }
        t.add(&format!("{section}.file.filename"), &file.filename)?;
    }
    Ok(())
}

fn register_value(
    t: &mut Templates,
    format: BodyFormat,
    key: &str,
    value: &toml::Value,
) -> Result<(), ProfileError> {
    match value {
        toml::Value::String(s) => t.add(key, s),
        toml::Value::Table(table) if format == BodyFormat::Json => {
            for (name, v) in table {
                register_value(t, format, &format!("{key}.{name}"), v)?;
            }
            Ok(())
        }
        toml::Value::Array(items) if format == BodyFormat::Json => {
            for (i, v) in items.iter().enumerate() {
                register_value(t, format, &format!("{key}.{i}"), v)?;
            }
            Ok(())
        }
        toml::Value::Table(_) | toml::Value::Array(_) => Err(t.error(
            key,
            "form and query fields are flat: text, numbers or booleans",
        )),
        _ => Ok(()),
    }
}

/// The request of `section`; `file` is the document for a multipart `file` part.
pub(super) fn build(
    t: &Templates,
    section: &str,
    spec: &RequestSpec,
    ctx: &Value,
    file: Option<&[u8]>,
) -> Result<HttpRequest, BuildError> {
    let mut url = t.render(&format!("{section}.url"), ctx)?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(BuildError::Render {
            key: format!("{section}.url"),
            message: "the URL must start with http:// or https://".into(),
        });
    }
    let (mut headers, mut query) = auth_and_headers(t, section, spec, ctx)?;
    let mut body = Vec::new();
    let mut content_type: Option<String> = None;
    if spec.format == BodyFormat::Multipart {
        let mut parts = Vec::new();
        for (name, value) in spec.fields.iter().flatten() {
            let text = match value {
                toml::Value::String(_) => t.render(&format!("{section}.fields.{name}"), ctx)?,
                other => other.to_string(),
            };
            if !text.is_empty() {
                parts.push(Part {
                    name: name.clone(),
                    filename: None,
                    content_type: None,
                    data: text.into_bytes(),
                });
            }
        }
        if let Some(f) = &spec.file {
            let data = file.ok_or_else(|| BuildError::Render {
                key: format!("{section}.file"),
                message: "this message has no document".into(),
            })?;
            parts.push(Part {
                name: f.field.clone(),
                filename: Some(t.render(&format!("{section}.file.filename"), ctx)?),
                content_type: Some(f.content_type.clone()),
                data: data.to_vec(),
            });
        }
        let (boundary, encoded) = multipart(&parts);
        body = encoded;
        content_type = Some(format!("multipart/form-data; boundary={boundary}"));
    } else if spec.template.is_some() {
        body = t.render(&format!("{section}.template"), ctx)?.into_bytes();
        content_type = Some(
            match spec.format {
                BodyFormat::Json => "application/json",
                _ => "application/x-www-form-urlencoded",
            }
            .to_owned(),
        );
    } else if let Some(fields) = &spec.fields {
        match spec.format {
            BodyFormat::Json => {
                let object = json_object(t, section, fields, ctx)?;
                body = serde_json::to_vec(&object).expect("JSON values serialise");
                content_type = Some("application/json".to_owned());
            }
            BodyFormat::Form | BodyFormat::Query | BodyFormat::Multipart => {
                let pairs = form_pairs(t, section, fields, ctx, &[])?;
                if spec.format == BodyFormat::Form {
                    body = encode(&pairs).into_bytes();
                    content_type = Some("application/x-www-form-urlencoded".to_owned());
                } else {
                    query.extend(pairs);
                }
            }
        }
    }
    if !query.is_empty() {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&encode(&query));
    }
    if let Some(ct) = content_type
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".into(), ct));
    }
    Ok(HttpRequest {
        method: spec.method,
        url,
        headers,
        body,
    })
}

/// Names and values, in order (headers, query parameters).
type Pairs = Vec<(String, String)>;

/// The headers of `section` and the query parameters its auth adds.
fn auth_and_headers(
    t: &Templates,
    section: &str,
    spec: &RequestSpec,
    ctx: &Value,
) -> Result<(Pairs, Pairs), BuildError> {
    let mut headers = Vec::new();
    for name in spec.headers.keys() {
        headers.push((
            name.clone(),
            t.render(&format!("{section}.headers.{name}"), ctx)?,
        ));
    }
    let mut query: Vec<(String, String)> = Vec::new();
    let auth = format!("{section}.auth");
    match &spec.auth {
        AuthSpec::None => {}
        AuthSpec::Basic { .. } => {
            let user = t.render(&format!("{auth}.username"), ctx)?;
            let password = t.render(&format!("{auth}.password"), ctx)?;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            headers.push(("Authorization".into(), format!("Basic {token}")));
        }
        AuthSpec::Bearer { .. } => {
            let token = t.render(&format!("{auth}.token"), ctx)?;
            headers.push(("Authorization".into(), format!("Bearer {token}")));
        }
        AuthSpec::Query { name, .. } => {
            query.push((name.clone(), t.render(&format!("{auth}.value"), ctx)?))
        }
        AuthSpec::Header { name, .. } => {
            headers.push((name.clone(), t.render(&format!("{auth}.value"), ctx)?))
        }
    }
    Ok((headers, query))
}

/// The name–value pairs a form or query request's `fields` make of `ctx`, less `omit`; a
/// field that renders empty is left out.
fn form_pairs(
    t: &Templates,
    section: &str,
    fields: &toml::Table,
    ctx: &Value,
    omit: &[String],
) -> Result<Pairs, BuildError> {
    let mut pairs = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        if omit.contains(name) {
            continue;
        }
        let text = match value {
            toml::Value::String(_) => t.render(&format!("{section}.fields.{name}"), ctx)?,
            other => other.to_string(),
        };
        if !text.is_empty() {
            pairs.push((name.clone(), text));
        }
    }
    Ok(pairs)
}

/// The JSON object a `json` request's `fields` make of `ctx`.
fn json_object(
    t: &Templates,
    section: &str,
    fields: &toml::Table,
    ctx: &Value,
) -> Result<Value, BuildError> {
    let mut object = serde_json::Map::new();
    for (name, value) in fields {
        if let Some(v) = render_json(t, &format!("{section}.fields.{name}"), value, ctx)? {
            object.insert(name.clone(), v);
        }
    }
    Ok(Value::Object(object))
}

/// One `POST` of several messages (`[send_batch]`): its URL rendered with `url_ctx` (no
/// message's variables), `[send]`'s headers and auth as the first message renders them,
/// and a body in `[send]`'s format (checked at load): JSON `{"<items>": [each message's
/// fields]}`, or a form of `[send]`'s fields as the first message renders them, less
/// `omit`, then each message's `item_name=item_value` (`names`: the `item_name`s, rendered
/// by the caller).
pub(super) fn build_batch(
    t: &Templates,
    spec: &RequestSpec,
    batch: &SendBatchSpec,
    url_ctx: &Value,
    ctxs: &[Value],
    names: &[String],
) -> Result<HttpRequest, BuildError> {
    let first = ctxs.first().ok_or_else(|| BuildError::Render {
        key: "send_batch".into(),
        message: "a batch needs at least one message".into(),
    })?;
    let mut url = t.render("send_batch.url", url_ctx)?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(BuildError::Render {
            key: "send_batch.url".into(),
            message: "the URL must start with http:// or https://".into(),
        });
    }
    let (mut headers, query) = auth_and_headers(t, "send", spec, first)?;
    let empty = toml::Table::new();
    let fields = spec.fields.as_ref().unwrap_or(&empty);
    let (body, content_type) = match &batch.items {
        Some(key) => {
            let items = ctxs
                .iter()
                .map(|ctx| json_object(t, "send", fields, ctx))
                .collect::<Result<Vec<_>, _>>()?;
            let mut body = serde_json::Map::new();
            body.insert(key.clone(), Value::Array(items));
            let body = serde_json::to_vec(&Value::Object(body)).expect("JSON values serialise");
            (body, "application/json")
        }
        None => {
            let mut pairs = form_pairs(t, "send", fields, first, &batch.omit)?;
            for (ctx, name) in ctxs.iter().zip(names) {
                pairs.push((name.clone(), t.render("send_batch.item_value", ctx)?));
            }
            (
                encode(&pairs).into_bytes(),
                "application/x-www-form-urlencoded",
            )
        }
    };
    if !query.is_empty() {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&encode(&query));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".into(), content_type.into()));
    }
    Ok(HttpRequest {
        method: Method::Post,
        url,
        headers,
        body,
    })
}

fn render_json(
    t: &Templates,
    key: &str,
    value: &toml::Value,
    ctx: &Value,
) -> Result<Option<Value>, BuildError> {
    Ok(match value {
        toml::Value::String(_) => {
            let s = t.render(key, ctx)?;
            (!s.is_empty()).then_some(Value::String(s))
        }
        toml::Value::Integer(i) => Some(Value::from(*i)),
        toml::Value::Float(x) => Some(Value::from(*x)),
        toml::Value::Boolean(b) => Some(Value::Bool(*b)),
        toml::Value::Datetime(d) => Some(Value::String(d.to_string())),
        toml::Value::Array(items) => {
            let mut out = Vec::new();
            for (i, v) in items.iter().enumerate() {
                out.extend(render_json(t, &format!("{key}.{i}"), v, ctx)?);
            }
            Some(Value::Array(out))
        }
        toml::Value::Table(table) => {
            let mut out = serde_json::Map::new();
            for (name, v) in table {
                if let Some(v) = render_json(t, &format!("{key}.{name}"), v, ctx)? {
                    out.insert(name.clone(), v);
                }
            }
            Some(Value::Object(out))
        }
    })
}

fn encode(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// One part of a `multipart/form-data` body.
pub(super) struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// Encodes `parts` (RFC 7578) under a boundary derived from their contents and absent from
/// them; returns the boundary and the body.
pub(super) fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    let mut digest = Sha256::new();
    for p in parts {
        digest.update(&p.data);
    }
    let mut boundary = format!("vestnik-{}", &hex::encode(digest.finalize())[..32]);
    while parts.iter().any(|p| {
        p.data
            .windows(boundary.len())
            .any(|w| w == boundary.as_bytes())
    }) {
        boundary.push('x');
    }
    // Quotes and line breaks in names are percent-encoded, as browsers do.
    let quoted = |s: &str| {
        s.replace('"', "%22")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!(
            "Content-Disposition: form-data; name=\"{}\"",
            quoted(&p.name)
        );
        if let Some(f) = &p.filename {
            disposition.push_str(&format!("; filename=\"{}\"", quoted(f)));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = &p.content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&p.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (boundary, body)
}
