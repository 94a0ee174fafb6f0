//! `/v1/compliance/…`: deadline compliance as it stands.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::require;
use super::{ApiError, AppState};
use crate::auth::{Principal, Role};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtRiskQuery {
    /// Look this far ahead (hours); overdue recipients are always included.
    #[param(minimum = 0, maximum = 8784)]
    within_hours: Option<i64>,
    /// At most this many recipients, soonest deadline first (1-1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Recipients whose legal deadline is near (or past) with no delivered legal notice.
#[utoipa::path(get, path = "/v1/compliance/at-risk", tag = "deadlines",
    params(AtRiskQuery),
    responses(
        (status = 200, description = "Recipients at risk, soonest first", body = super::schemas::AtRiskView),
        (status = 400, description = "within_hours or limit out of range"),
    ),
    security(("bearer" = [])))]
pub async fn at_risk(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<AtRiskQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    require(
        &principal,
        &[Role::Ingest, Role::Auditor, Role::Admin],
        "read compliance",
    )?;
    let within = query.within_hours.unwrap_or(48);
    let limit = query.limit.unwrap_or(100);
    if !(0..=24 * 366).contains(&within) {
        return Err(ApiError::BadRequest(
            "within_hours must be between 0 and 8784 (a year)".into(),
        ));
    }
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 1000".into(),
        ));
    }
    let now = state.clock.now();
    let until = (now + chrono::Duration::hours(within)).timestamp_millis();
    let client = (principal.role == Role::Ingest).then_some(principal.client.as_str());
    let rows = state.db.at_risk(until, client, limit).await?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let deadline =
                DateTime::<Utc>::from_timestamp_millis(r.deadline_at).unwrap_or_default();
            json!({
                "intent_id": r.intent_id,
                "external_id": r.external_id,
                "kind": r.kind,
                "recipient_id": r.recipient_idx,
                "account_number": r.account_number,
                "customer_type": r.customer_type,
                "deadline": deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "overdue": deadline < now,
                "hours_left": (deadline - now).num_minutes() as f64 / 60.0,
                // Handed over but not confirmed: the notice may be there, we cannot prove it yet.
                "legal_notices_sent_unconfirmed": r.legal_sent,
            })
        })
        .collect();
    Ok(Json(
        json!({ "as_of": now.to_rfc3339(), "within_hours": within, "recipients": items }),
    ))
}
