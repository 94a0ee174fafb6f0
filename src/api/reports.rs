//! `/v1/reports/compliance` (JSON or CSV) and the auditors' page at `/ui/compliance`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::NaiveDate;
use chrono_tz::Tz;

use super::auth::require;
use super::{ApiError, AppState};
use crate::auth::{Principal, Role};
use crate::intents::IntentKind;
use crate::reports::{ComplianceReport, Period};
use crate::validation::FieldErrors;

/// The longest period one report covers: a year of deadlines, with a leap day.
const MAX_DAYS: i64 = 366;

enum Format {
    Json,
    Csv,
}

struct ReportQuery {
    period: Period,
    kind: Option<IntentKind>,
    format: Format,
}

fn parse(query: &HashMap<String, String>, headers: &HeaderMap) -> Result<ReportQuery, ApiError> {
    let mut errors = FieldErrors::default();
    for key in query.keys() {
        if !["from", "to", "kind", "tz", "format"].contains(&key.as_str()) {
            errors.push(
                key.clone(),
                "unknown parameter; use from, to, kind, tz, format",
            );
        }
    }
    let mut day = |name: &str| match query.get(name) {
        None => {
            errors.push(name, "required, a date like 2026-11-01");
            None
        }
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map_err(|_| errors.push(name, "must be a date like 2026-11-01"))
            .ok(),
    };
    let (from, to) = (day("from"), day("to"));
    if let (Some(from), Some(to)) = (from, to) {
        if to < from {
            errors.push("to", "must not be before from");
        } else if (to - from).num_days() >= MAX_DAYS {
            errors.push("to", format!("a report covers at most {MAX_DAYS} days"));
        }
    }
    let kind = query.get("kind").and_then(|k| {
        IntentKind::parse(k)
            .ok_or_else(|| errors.push("kind", "unknown kind"))
            .ok()
    });
    let tz = match query.get("tz") {
        None => Some(chrono_tz::Europe::Moscow),
        Some(t) => t
            .parse::<Tz>()
            .map_err(|_| errors.push("tz", "must be an IANA time zone like Europe/Moscow"))
            .ok(),
    };
    let wants_csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    let format = match query.get("format").map(String::as_str) {
        Some("csv") => Some(Format::Csv),
        Some("json") => Some(Format::Json),
        None if wants_csv => Some(Format::Csv),
        None => Some(Format::Json),
        Some(_) => {
            errors.push("format", "must be json or csv");
            None
        }
    };
    match (from, to, tz, format) {
        (Some(from), Some(to), Some(tz), Some(format)) if errors.is_empty() => Ok(ReportQuery {
            period: Period { from, to, tz },
            kind,
            format,
        }),
        _ => Err(ApiError::Invalid(errors.into_vec())),
    }
}

/// Verdict counts and rates of the recipients whose deadline falls in the period.
#[utoipa::path(get, path = "/v1/reports/compliance", tag = "deadlines",
    description = "Verdict counts and rates of the recipients whose deadline falls in the period, by kind, customer type and channel, and the on-time rate by week (auditor, admin).",
    params(("from" = String, Query, description = "First day, YYYY-MM-DD"),
           ("to" = String, Query, description = "Last day, YYYY-MM-DD; at most 366 days after from"),
           ("kind" = Option<String>, Query, description = "Only this kind"),
           ("tz" = Option<String>, Query, description = "IANA zone of the days (default Europe/Moscow)"),
           ("format" = Option<String>, Query, description = "json (default) or csv")),
    responses((status = 200, description = "The report", body = Object, content_type = "application/json"),
              (status = 422, description = "A bad parameter, each named")),
    security(("bearer" = [])))]
pub async fn compliance(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    require(&principal, &[Role::Auditor, Role::Admin], "read reports")?;
    let query = parse(&query, &headers)?;
    let kind = query.kind.map(IntentKind::as_str);
    let report = ComplianceReport::build(&state.db, query.period, kind, state.clock.now()).await?;
    Ok(match query.format {
        Format::Json => axum::Json(report.to_json()).into_response(),
        Format::Csv => {
            let name = format!(
                "attachment; filename=\"compliance-{}-{}.csv\"",
                query.period.from, query.period.to
            );
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (header::CONTENT_DISPOSITION, name),
                ],
                report.to_csv()?,
            )
                .into_response()
        }
    })
}

/// The page itself holds no data: its script asks the API with the auditor's token.
#[utoipa::path(get, path = "/ui/compliance", tag = "operations",
    description = "The compliance report as a page for auditors (its data comes from the API with the token typed in).",
    responses((status = 200, description = "An HTML page", content_type = "text/html", body = String)))]
pub async fn page() -> Html<&'static str> {
    Html(include_str!("../../assets/ui/compliance.html"))
}
