//! Building the HTTP request of `[send]` or `[poll]`.

use std::fmt;

use base64::Engine;
use serde_json::Value;

use super::profile::{AuthSpec, BodyFormat, Method, RequestSpec};
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
            if spec.format == BodyFormat::Query {
                return Err(t.error(
                    &format!("{section}.template"),
                    "a query has fields, not a template",
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

pub(super) fn build(
    t: &Templates,
    section: &str,
    spec: &RequestSpec,
    ctx: &Value,
) -> Result<HttpRequest, BuildError> {
    let mut url = t.render(&format!("{section}.url"), ctx)?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(BuildError::Render {
            key: format!("{section}.url"),
            message: "the URL must start with http:// or https://".into(),
        });
    }
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
    let mut body = Vec::new();
    let mut content_type = None;
    if spec.template.is_some() {
        body = t.render(&format!("{section}.template"), ctx)?.into_bytes();
        content_type = Some(match spec.format {
            BodyFormat::Json => "application/json",
            _ => "application/x-www-form-urlencoded",
        });
    } else if let Some(fields) = &spec.fields {
        match spec.format {
            BodyFormat::Json => {
                let mut object = serde_json::Map::new();
                for (name, value) in fields {
                    if let Some(v) =
                        render_json(t, &format!("{section}.fields.{name}"), value, ctx)?
                    {
                        object.insert(name.clone(), v);
                    }
                }
                body = serde_json::to_vec(&Value::Object(object)).expect("JSON values serialise");
                content_type = Some("application/json");
            }
            BodyFormat::Form | BodyFormat::Query => {
                let mut pairs = Vec::new();
                for (name, value) in fields {
                    let text = match value {
                        toml::Value::String(_) => {
                            t.render(&format!("{section}.fields.{name}"), ctx)?
                        }
                        other => other.to_string(),
                    };
                    if !text.is_empty() {
                        pairs.push((name.clone(), text));
                    }
                }
                if spec.format == BodyFormat::Form {
                    body = encode(&pairs).into_bytes();
                    content_type = Some("application/x-www-form-urlencoded");
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
        headers.push(("Content-Type".into(), ct.into()));
    }
    Ok(HttpRequest {
        method: spec.method,
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
