//! `POST /v1/receipts/{profile}`: delivery reports from gateways.
//!
//! Authenticated by the profile (HMAC or a secret token), not by a bearer token: a forged or
//! unsigned report gets 401 and never reaches storage. Idempotent, out-of-order safe (the
//! first final status wins), and patient with a report that outruns our record of the send.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::{info, warn};

use super::{ApiError, AppState};
use crate::channels::profiles::WebhookError;
use crate::storage::ReceiptOutcome;

#[utoipa::path(post, path = "/v1/receipts/{profile}", tag = "receipts",
    description = "A gateway's delivery report in its own format, authenticated by its profile \
                   (a signature or a secret), not by a bearer token.",
    params(("profile" = String, Path, description = "The gateway profile, e.g. `smsru`")),
    request_body(content((String = "application/json"), (String = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "Recorded; the body is what the provider expects", body = String, content_type = "text/plain"),
        (status = 400, description = "A report the profile cannot read"),
        (status = 401, description = "Unsigned or forged"),
        (status = 404, description = "No such profile, or a report about a message we do not know (yet)"),
        (status = 413, description = "Body over `server.body_limit_bytes`"),
    ))]
pub async fn receive(
    State(state): State<AppState>,
    Path(profile): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = super::bytes_body(body, state.settings.server.body_limit_bytes)?;
    let Some(sms) = state
        .providers
        .iter()
        .find(|s| s.profile().name() == profile)
    else {
        return Err(ApiError::NotFound("receipt profile"));
    };
    let profile = sms.profile();
    if let Err(e) = profile.verify_webhook(query.as_deref(), &headers, &body) {
        warn!(profile = profile.name(), error = %e, "delivery report rejected");
        return Err(match e {
            WebhookError::Unauthenticated(_) => ApiError::Unauthorized,
            WebhookError::Malformed(why) => ApiError::BadRequest(why),
            WebhookError::NotConfigured(_) => ApiError::NotFound("receipt profile"),
        });
    }
    let receipts = profile
        .parse_webhook(&body)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // One wait for the whole report: N early receipts must not take N times as long.
    let give_up = Instant::now() + Duration::from_millis(state.settings.sms.early_receipt_wait_ms);
    // One after another: a body may carry several reports about one message, and the
    // first final status wins in the order the provider wrote them. Reports from other
    // requests still share each commit.
    let mut outcomes = Vec::with_capacity(receipts.len());
    for receipt in &receipts {
        outcomes.push(loop {
            match state.receipts.record(sms.name(), receipt).await? {
                // The provider may report before our record of its answer commits.
                ReceiptOutcome::UnknownMessage if Instant::now() < give_up => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                outcome => break outcome,
            }
        });
    }
    let mut unknown = 0;
    for (receipt, outcome) in receipts.iter().zip(outcomes) {
        match outcome {
            ReceiptOutcome::UnknownMessage => unknown += 1,
            ReceiptOutcome::Recorded { applied, .. } => {
                info!(
                    gateway = sms.name(),
                    status = receipt.status.as_str(),
                    applied,
                    "delivery report recorded"
                )
            }
            ReceiptOutcome::Duplicate => {}
        }
    }
    // Any unknown id: not OK, so the provider posts the report again (the known ones are
    // recorded already and idempotent); a 200 would lose the unknown ones for good.
    if unknown > 0 {
        return Err(ApiError::NotFound("message for this report"));
    }
    let reply = profile.webhook_reply();
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK),
        reply.body,
    )
        .into_response();
    if let Ok(content_type) = HeaderValue::from_str(&reply.content_type) {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    Ok(response)
}
