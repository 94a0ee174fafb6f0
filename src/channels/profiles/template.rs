//! Templates keyed by their place in the profile, `${SECRET}` substitution, JSON-pointer
//! lookups and code/status value sets.

use std::collections::{BTreeMap, HashMap};

use handlebars::{Handlebars, handlebars_helper};
use serde_json::Value;

use super::profile::{CodeValue, Condition};
use super::{BuildError, ProfileError};

handlebars_helper!(json_helper: |v: Json| serde_json::to_string(v).unwrap_or_default());
handlebars_helper!(urlencode_helper: |s: str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>());

pub(super) struct Templates {
    profile: String,
    hb: Handlebars<'static>,
    env: HashMap<String, String>,
    /// Only the secrets the profile references.
    used: BTreeMap<String, String>,
}

impl Templates {
    pub fn new(profile: &str, env: &HashMap<String, String>) -> Self {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        hb.register_helper("json", Box::new(json_helper));
        hb.register_helper("urlencode", Box::new(urlencode_helper));
        Templates {
            profile: profile.to_owned(),
            hb,
            env: env.clone(),
            used: BTreeMap::new(),
        }
    }

    pub fn error(&self, key: &str, message: impl Into<String>) -> ProfileError {
        ProfileError {
            profile: self.profile.clone(),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// Registers `source` under `key`, its `${NAME}`s becoming `{{secret.NAME}}`.
    pub fn add(&mut self, key: &str, source: &str) -> Result<(), ProfileError> {
        let source = self.substitute(key, source, |name, _| format!("{{{{secret.{name}}}}}"))?;
        self.hb
            .register_template_string(key, source)
            .map_err(|e| self.error(key, format!("bad template: {e}")))
    }

    /// Resolves `${NAME}`s in a plain (non-template) string such as a webhook secret.
    pub fn resolve(&mut self, key: &str, source: &str) -> Result<String, ProfileError> {
        self.substitute(key, source, |_, value| value.to_owned())
    }

    fn substitute(
        &mut self,
        key: &str,
        source: &str,
        mut replace: impl FnMut(&str, &str) -> String,
    ) -> Result<String, ProfileError> {
        let mut out = String::with_capacity(source.len());
        let mut rest = source;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| self.error(key, "unclosed ${ in secret reference"))?;
            let name = &after[..end];
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(self.error(
                    key,
                    format!("${{{name}}} is not a secret name (A-Z, 0-9, _)"),
                ));
            }
            let value = self
                .env
                .get(name)
                .ok_or_else(|| self.error(key, format!("secret ${{{name}}} is not set")))?;
            out.push_str(&replace(name, value));
            self.used.insert(name.to_owned(), value.clone());
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    pub fn render(&self, key: &str, ctx: &Value) -> Result<String, BuildError> {
        self.hb.render(key, ctx).map_err(|e| BuildError::Render {
            key: key.to_owned(),
            message: e.reason().to_string(),
        })
    }

    pub fn secrets_json(&self) -> Value {
        Value::Object(
            self.used
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }
}

/// A JSON pointer path: must start with `/` (or be empty for the whole document).
pub(super) fn check_pointer(t: &Templates, key: &str, path: &str) -> Result<(), ProfileError> {
    if path.is_empty() || path.starts_with('/') {
        Ok(())
    } else {
        Err(t.error(
            key,
            format!("`{path}` is not a JSON pointer (it must start with /)"),
        ))
    }
}

/// A scalar as text: strings as they are, numbers and booleans printed; null, arrays and
/// objects are not scalars.
pub(super) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(super) fn lookup<'v>(doc: &'v Value, pointer: &str) -> Option<&'v Value> {
    doc.pointer(pointer).filter(|v| !v.is_null())
}

/// Whether `cond` holds in `doc`, its path already rendered.
pub(super) fn holds(cond: &Condition, path: &str, doc: &Value) -> bool {
    let found = lookup(doc, path);
    if let Some(exists) = cond.exists
        && found.is_some() != exists
    {
        return false;
    }
    match &cond.equals {
        None => true,
        Some(expected) => {
            let expected = match expected {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            found.and_then(scalar_text).is_some_and(|v| v == expected)
        }
    }
}

#[derive(Debug, Clone)]
enum CodeMatch {
    Exact(String),
    Range(i64, i64),
    /// `"3.*"`: `3` itself and every `3.…`.
    Family(String),
    /// `"fail*"`: anything starting with `fail`.
    Prefix(String),
}

/// A set of code values: exact texts, inclusive integer ranges (`"105..=108"`), families
/// (`"3.*"`) and prefixes (`"fail*"`).
#[derive(Debug, Clone, Default)]
pub(super) struct CodeSet(Vec<CodeMatch>);

impl CodeSet {
    pub fn new(values: &[CodeValue]) -> Result<Self, String> {
        let mut set = Vec::new();
        for v in values {
            set.push(match v {
                CodeValue::Int(i) => CodeMatch::Exact(i.to_string()),
                CodeValue::Text(s) => match s.split_once("..=") {
                    Some((lo, hi)) => {
                        let parse = |x: &str| {
                            x.trim()
                                .parse::<i64>()
                                .map_err(|_| format!("`{s}`: a range needs integer ends"))
                        };
                        let (lo, hi) = (parse(lo)?, parse(hi)?);
                        if lo > hi {
                            return Err(format!("`{s}`: empty range"));
                        }
                        CodeMatch::Range(lo, hi)
                    }
                    None => match (s.strip_suffix(".*"), s.strip_suffix('*')) {
                        (Some(family), _) if !family.is_empty() => {
                            CodeMatch::Family(family.to_owned())
                        }
                        (_, Some(prefix)) if !prefix.is_empty() => {
                            CodeMatch::Prefix(prefix.to_owned())
                        }
                        (_, Some(_)) => return Err(format!("`{s}`: a pattern needs a prefix")),
                        _ => CodeMatch::Exact(s.clone()),
                    },
                },
            });
        }
        Ok(CodeSet(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, value: &str) -> bool {
        self.best_match(value).is_some()
    }

    /// How specifically the set matches `value`, if it does: an exact value beats any
    /// pattern, a longer pattern a shorter one, and a range comes last.
    pub fn best_match(&self, value: &str) -> Option<usize> {
        let value = value.trim();
        let number = value.parse::<i64>().ok();
        self.0
            .iter()
            .filter_map(|m| match m {
                CodeMatch::Exact(e) => (e == value).then_some(usize::MAX),
                CodeMatch::Range(lo, hi) => number
                    .is_some_and(|n| (*lo..=*hi).contains(&n))
                    .then_some(0),
                CodeMatch::Family(f) => (value == f
                    || value
                        .strip_prefix(f.as_str())
                        .is_some_and(|r| r.starts_with('.')))
                .then_some(f.len() + 1),
                CodeMatch::Prefix(p) => value.starts_with(p.as_str()).then_some(p.len()),
            })
            .max()
    }
}

/// At most `max` characters of a response body, for error messages.
/// The start of a provider's answer for an error message, with phone numbers masked:
/// providers echo the number back (SMS.ru keys its answer by it).
pub(super) fn snippet(body: &[u8], max: usize) -> String {
    let text = crate::pii::mask_free_text(&String::from_utf8_lossy(body));
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}
