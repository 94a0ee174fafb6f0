//! `POST /v1/deadlines`: the legal deadline for one notice, with its explanation.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use chrono_tz::Tz;
use serde::Deserialize;

use super::auth::require;
use super::{ApiError, AppState};
use crate::auth::{Principal, Role};
use crate::deadlines::{AppealVariant, Deadline, DeadlineQuery, EventMoment};
use crate::intents::IntentKind;
use crate::recipients::CustomerType;
use crate::validation::FieldError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineRequest {
    kind: IntentKind,
    customer_type: CustomerType,
    /// `YYYY-MM-DD`, local `YYYY-MM-DDTHH:MM:SS`, or RFC 3339; for `appeal_reply` the registration.
    event: EventMoment,
    time_zone: String,
    account_number: Option<String>,
    /// ISO 3166-2 (`RU-TA`): the region whose own days off count.
    region: Option<String>,
    #[serde(default)]
    appeal: AppealVariant,
}

#[utoipa::path(post, path = "/v1/deadlines", tag = "deadlines",
    request_body(content = super::schemas::DeadlineRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The deadline, its rule and the days counted", body = super::schemas::DeadlineView),
        (status = 400, description = "Malformed JSON"),
        (status = 413, description = "Body over `server.body_limit_bytes`"),
        (status = 415, description = "Not `application/json`"),
        (status = 422, description = "An unknown field, a field of the wrong type, an invalid time zone or event"),
    ),
    security(("bearer" = [])))]
pub async fn compute(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<DeadlineRequest>, JsonRejection>,
) -> Result<Json<Deadline>, ApiError> {
    require(
        &principal,
        &[Role::Ingest, Role::Auditor, Role::Operator, Role::Admin],
        "compute deadlines",
    )?;
    let request = super::json_body(body, state.settings.server.body_limit_bytes)?;
    let invalid = |field: &str, reason: String| {
        ApiError::Invalid(vec![FieldError {
            field: field.into(),
            reason,
        }])
    };
    let tz: Tz = request.time_zone.parse().map_err(|_| {
        invalid(
            "time_zone",
            format!("'{}' is not an IANA time zone", request.time_zone),
        )
    })?;
    if let Some(region) = request.region.as_deref()
        && !crate::calendar::is_region_code(region)
    {
        return Err(invalid("region", crate::recipients::REGION_FORMAT.into()));
    }
    let query = DeadlineQuery {
        kind: request.kind,
        customer_type: request.customer_type,
        account_number: request.account_number.as_deref(),
        event: request.event,
        tz,
        region: request.region.as_deref(),
        appeal: request.appeal,
    };
    state
        .rulebook
        .deadline(&query)
        .map(Json)
        .map_err(|e| invalid("event", e.to_string()))
}
