//! One delivery report (a webhook entry or a poll answer) read into a [`Receipt`]: the
//! status value mapped through `[statuses]`, and what `report` adds (reason, evidence,
//! pages, details).

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::Value;

use super::profile::{ReportFields, StatusMap, TimeFormat};
use super::template::{CodeSet, lookup, scalar_text};
use super::webhook::parse_time;
use super::{DeliveryStatus, RETURNED_UNCLAIMED_REASON, Receipt};

/// What a status value means, before it becomes a [`DeliveryStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Status(DeliveryStatus),
    /// Delivered by law: returned unclaimed after the storage period.
    DeliveredReturned,
}

impl Class {
    pub fn status(self) -> DeliveryStatus {
        match self {
            Class::Status(s) => s,
            Class::DeliveredReturned => DeliveryStatus::Delivered,
        }
    }
}

/// `[statuses]`, compiled.
pub(super) struct StatusTable {
    /// In tie-break order: on equally specific matches the first list wins.
    sets: Vec<(CodeSet, Class)>,
    otherwise: Class,
}

impl StatusTable {
    /// `Err((key, message))` names the offending list.
    pub fn new(map: &StatusMap) -> Result<Self, (String, String)> {
        let mut sets = Vec::new();
        for (key, values, class) in [
            (
                "delivered_returned",
                &map.delivered_returned,
                Class::DeliveredReturned,
            ),
            ("retry", &map.retry, Class::Status(DeliveryStatus::Retry)),
            (
                "delivered",
                &map.delivered,
                Class::Status(DeliveryStatus::Delivered),
            ),
            (
                "expired",
                &map.expired,
                Class::Status(DeliveryStatus::Expired),
            ),
            ("failed", &map.failed, Class::Status(DeliveryStatus::Failed)),
            (
                "pending",
                &map.pending,
                Class::Status(DeliveryStatus::Pending),
            ),
        ] {
            let set = CodeSet::new(values).map_err(|m| (format!("statuses.{key}"), m))?;
            sets.push((set, class));
        }
        Ok(StatusTable {
            sets,
            otherwise: Class::Status(map.otherwise.unwrap_or(DeliveryStatus::Pending)),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.sets.iter().all(|(set, _)| set.is_empty())
    }

    pub fn classify(&self, value: &str) -> Class {
        let mut best: Option<(usize, Class)> = None;
        for (set, class) in &self.sets {
            if let Some(score) = set.best_match(value)
                && best.is_none_or(|(s, _)| score > s)
            {
                best = Some((score, *class));
            }
        }
        best.map(|(_, c)| c).unwrap_or(self.otherwise)
    }
}

/// The paths of one report, already rendered.
pub(super) struct ReportPaths {
    pub status: Vec<String>,
    pub time: Option<String>,
    pub time_format: TimeFormat,
    /// `status_name`, `reason`, `evidence`, `pages_sent`, `pages_submitted` and
    /// `details.NAME` → path.
    pub fields: BTreeMap<String, String>,
}

/// Every path of `fields`, named as [`ReportPaths::fields`] names them.
pub(super) fn field_paths(fields: &ReportFields) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, path) in [
        ("status_name", &fields.status_name),
        ("reason", &fields.reason),
        ("evidence", &fields.evidence),
        ("pages_sent", &fields.pages_sent),
        ("pages_submitted", &fields.pages_submitted),
    ] {
        if let Some(p) = path {
            out.push((name.to_owned(), p.clone()));
        }
    }
    for (name, path) in &fields.details {
        out.push((format!("details.{name}"), path.clone()));
    }
    out
}

/// The status value at `paths`, joined with `.`; missing trailing values are left out.
pub(super) fn status_value(entry: &Value, paths: &[String]) -> Option<String> {
    let mut parts: Vec<Option<String>> = paths
        .iter()
        .map(|p| lookup(entry, p).and_then(scalar_text))
        .collect();
    while parts.last().is_some_and(Option::is_none) {
        parts.pop();
    }
    let first = parts.first()?.as_ref()?;
    if first.is_empty() {
        return None;
    }
    Some(
        parts
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// Reads one report. `Err` when it has no status value or its evidence is not base64.
pub(super) fn read(
    table: &StatusTable,
    provider_message_id: String,
    entry: &Value,
    paths: &ReportPaths,
    raw: String,
) -> Result<Receipt, String> {
    let code = status_value(entry, &paths.status)
        .ok_or_else(|| format!("no status at {}", paths.status.join(", ")))?;
    let class = table.classify(&code);
    let text = |field: &str| {
        paths
            .fields
            .get(field)
            .and_then(|p| lookup(entry, p))
            .and_then(scalar_text)
            .filter(|t| !t.is_empty())
    };
    let mut details = BTreeMap::new();
    let mut provider_status = code.clone();
    if let Some(name) = text("status_name") {
        details.insert("status_code".to_owned(), code.clone());
        provider_status = name;
    }
    let mut reason = text("reason");
    let mut evidence = None;
    if let Some(path) = paths.fields.get("evidence")
        && let Some(v) = lookup(entry, path)
    {
        let encoded = v
            .as_str()
            .ok_or_else(|| format!("evidence at {path} is not text"))?;
        let compact: String = encoded.split_ascii_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| format!("evidence at {path} is not base64: {e}"))?;
        evidence = Some(bytes);
    }
    let (sent, submitted) = (text("pages_sent"), text("pages_submitted"));
    for (key, value) in [("pages_sent", &sent), ("pages_submitted", &submitted)] {
        if let Some(v) = value {
            details.insert(key.to_owned(), v.clone());
        }
    }
    for field in paths.fields.keys() {
        if let Some(name) = field.strip_prefix("details.")
            && let Some(v) = text(field)
        {
            details.insert(name.to_owned(), v);
        }
    }
    let status = match class {
        Class::DeliveredReturned => {
            if let Some(r) = reason.take() {
                details.insert("provider_reason".to_owned(), r);
            }
            reason = Some(RETURNED_UNCLAIMED_REASON.to_owned());
            DeliveryStatus::Delivered
        }
        Class::Status(DeliveryStatus::Delivered) => {
            let count =
                |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<u32>().ok());
            match (count(&sent), count(&submitted)) {
                (Some(s), Some(t)) if s != t => {
                    reason = Some(format!("{s} of {t} pages sent"));
                    DeliveryStatus::Failed
                }
                _ => DeliveryStatus::Delivered,
            }
        }
        other => other.status(),
    };
    let provider_time = paths
        .time
        .as_deref()
        .and_then(|p| lookup(entry, p))
        .and_then(|v| parse_time(v, paths.time_format));
    Ok(Receipt {
        provider_message_id,
        status,
        provider_status,
        provider_time,
        reason,
        evidence,
        details,
        raw,
    })
}
