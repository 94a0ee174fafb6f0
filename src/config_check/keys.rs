//! Unknown keys, every one of them, each named with the layer it came from.
//!
//! Settings deny unknown fields, but serde stops at the first one and figment cannot say
//! which file a key it rejected came from once layers merge. So the merged value is
//! checked again here: each unknown key found is noted and removed, and the check runs
//! until none is left.

use std::path::Path;

use crate::settings::Settings;

/// What checking the merged value found.
pub struct KeyReport {
    /// `server.lissten in config/local.toml`, one per unknown key.
    pub unknown: Vec<String>,
    /// Settings built from the value without its unknown keys, if the rest is valid.
    pub settings: Option<Settings>,
    /// The first fault other than an unknown key (a wrong type, a bad address).
    pub invalid: Option<String>,
}

/// At most this many unknown keys are looked for (each one costs a parse).
const MAX_UNKNOWN: usize = 100;

pub fn check(merged: &toml::Value, file: Option<&Path>) -> KeyReport {
    let file_value = file
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|text| text.parse::<toml::Table>().ok());
    let mut value = merged.clone();
    let mut unknown = Vec::new();
    loop {
        let error = match serde_path_to_error::deserialize::<_, Settings>(value.clone()) {
            Ok(settings) => {
                return KeyReport {
                    unknown,
                    settings: Some(settings),
                    invalid: None,
                };
            }
            Err(e) => e,
        };
        let path = error.path().to_string();
        // toml appends "in `section`" on a line of its own; the path says it already.
        let message = error.inner().to_string();
        let message = message.lines().next().unwrap_or_default().trim();
        if message.starts_with("unknown field") && unknown.len() < MAX_UNKNOWN {
            let origin = origin(&path, file, file_value.as_ref());
            unknown.push(format!("unknown key '{path}' {origin}: {message}"));
            if remove(&mut value, &path) {
                continue;
            }
        }
        let origin = origin(&path, file, file_value.as_ref());
        return KeyReport {
            unknown,
            settings: None,
            invalid: Some(format!("invalid value for '{path}' {origin}: {message}")),
        };
    }
}

/// Which layer set `path`: the file, an environment variable or the built-in defaults.
fn origin(path: &str, file: Option<&Path>, file_value: Option<&toml::Table>) -> String {
    if let (Some(file), Some(table)) = (file, file_value)
        && lookup(table, path)
    {
        return format!("in {}", file.display());
    }
    let wanted = path.replace('.', "__");
    std::env::vars()
        .map(|(name, _)| name)
        .find(|name| {
            name.get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("VESTNIK_"))
                && name[8..].eq_ignore_ascii_case(&wanted)
        })
        .map(|name| format!("from the environment variable {name}"))
        .unwrap_or_else(|| "in the built-in defaults".into())
}

/// `a.b[2].c` → `["a", "b", "2", "c"]`.
fn segments(path: &str) -> Vec<&str> {
    path.split(['.', '[', ']'])
        .filter(|s| !s.is_empty())
        .collect()
}

fn lookup(table: &toml::Table, path: &str) -> bool {
    let segments = segments(path);
    let Some(first) = segments.first() else {
        return false;
    };
    let mut at = table.get(*first);
    for segment in segments.into_iter().skip(1) {
        at = match at {
            Some(toml::Value::Table(t)) => t.get(segment),
            Some(toml::Value::Array(a)) => segment.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
    }
    at.is_some()
}

fn remove(value: &mut toml::Value, path: &str) -> bool {
    let segments = segments(path);
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut at = value;
    for segment in parents {
        at = match at {
            toml::Value::Table(t) => match t.get_mut(*segment) {
                Some(v) => v,
                None => return false,
            },
            toml::Value::Array(a) => match segment.parse::<usize>().ok().and_then(|i| a.get_mut(i))
            {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match at {
        toml::Value::Table(t) => t.remove(*last).is_some(),
        _ => false,
    }
}

/// The merged layers as plain TOML (what `config check` prints and inspects).
pub fn merged(figment: &figment::Figment) -> anyhow::Result<toml::Value> {
    let value: toml::Value = figment
        .extract()
        .map_err(|e| anyhow::anyhow!("the configuration cannot be read: {e}"))?;
    Ok(value)
}
