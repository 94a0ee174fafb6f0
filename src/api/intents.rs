//! `/v1/intents`: accept notification intents and report their delivery.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tracing::info;

use super::auth::require;
use super::{ApiError, AppState};
use crate::auth::{Principal, Role};
use crate::intents::{IntentKind, NewIntent, RawIntent};
use crate::storage::{InsertOutcome, IntentRow, Submission};

/// What `202 Accepted` (and a replay of it) returns.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Accepted {
    pub id: String,
    pub external_id: String,
    pub kind: String,
    pub recipients: i64,
    pub messages: i64,
    pub accepted_at: String,
}

impl From<&IntentRow> for Accepted {
    fn from(row: &IntentRow) -> Self {
        Accepted {
            id: row.id.clone(),
            external_id: row.external_id.clone(),
            kind: row.kind.clone(),
            recipients: row.recipient_count,
            messages: row.message_count,
            accepted_at: rfc3339(row.created_at),
        }
    }
}

#[utoipa::path(post, path = "/v1/intents", tag = "intents",
    description = "Accept an intent. Idempotent: the key is `Idempotency-Key` if given, otherwise \
                   `external_id`, per client. The same key and body replay the original `202`; \
                   the same key with another body is a `409`.",
    request_body(content = super::schemas::IntentRequest, content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 visible ASCII characters")),
    responses(
        (status = 202, description = "Accepted: stored with its messages and delivery jobs", body = Accepted,
         headers(("Location" = String, description = "/v1/intents/{id}"),
                 ("Idempotent-Replayed" = String, description = "`true` on a replay"))),
        (status = 400, description = "Malformed JSON"),
        (status = 409, description = "The idempotency key was used with another body"),
        (status = 413, description = "Body over `server.body_limit_bytes`"),
        (status = 415, description = "Not `application/json`"),
        (status = 422, description = "Invalid fields, every one listed"),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut kind = None;
    let result = accept(&state, &principal, &headers, body, &mut kind).await;
    let kind = kind.map(IntentKind::as_str);
    match &result {
        Ok(response) if response.headers().contains_key("idempotent-replayed") => {}
        Ok(_) => state.metrics.intent_accepted(kind.unwrap_or("unknown")),
        Err(e) => state.metrics.intent_rejected(kind, e.status().as_u16()),
    }
    result
}

/// Intake proper; sets `kind` as soon as the body says it, for the metrics.
async fn accept(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    kind: &mut Option<IntentKind>,
) -> Result<Response, ApiError> {
    require(principal, &[Role::Ingest, Role::Admin], "create intents")?;
    let body = super::bytes_body(body, state.settings.server.body_limit_bytes)?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let idempotency_key = match headers.get("idempotency-key") {
        Some(v) => Some(parse_idempotency_key(v)?),
        None => None,
    };

    // Parsing 100,000 recipients is CPU work: keep it off the async threads.
    let (digest, intent) = tokio::task::spawn_blocking(move || {
        let digest = hex::encode(Sha256::digest(&body));
        parse_body(&body)
            .map(|intent| (digest, intent))
            .map_err(|e| (e, peek_kind(&body)))
    })
    .await
    .map_err(|e| anyhow::anyhow!("parser crashed: {e}"))?
    .map_err(|(e, peeked)| {
        *kind = peeked;
        e
    })?;
    *kind = Some(intent.kind);
    let mut intent = intent;
    if intent.callback_url.is_none() {
        intent.callback_url = principal.callback_url.clone();
    }
    if intent.callback_url.is_some() && state.settings.callbacks.secret.expose_secret().is_empty() {
        return Err(ApiError::Invalid(vec![crate::validation::FieldError {
            field: "callback_url".into(),
            reason: "this server has no callbacks.secret to sign callbacks with".into(),
        }]));
    }
    let key = idempotency_key.unwrap_or_else(|| format!("external_id:{}", intent.external_id));

    // A retry is answered as the original was, before planning: its deadline may have
    // passed since, and the original was accepted all the same.
    if let Some(row) = state.db.intent_by_key(&principal.client, &key).await? {
        return replay_or_conflict(row, &digest);
    }
    let rulebook = state.rulebook.clone();
    let now = state.clock.now();
    let rules = state.settings.letters.check.clone();
    let documents = state.documents.clone();
    let intent = tokio::task::spawn_blocking(move || {
        let mut intent = intent;
        intent
            .plan(&rulebook, now)
            .map_err(|errors| ApiError::Invalid(errors.into_vec()))?;
        super::letters::check_and_keep(&intent, &rules, &documents)
            .map_err(|errors| ApiError::Invalid(errors.into_vec()))?;
        Ok::<_, ApiError>(intent)
    })
    .await
    .map_err(|e| anyhow::anyhow!("planner crashed: {e}"))??;

    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok());
    let submission = Submission {
        client: &principal.client,
        idempotency_key: &key,
        request_sha256: &digest,
        request_id,
    };
    let batch = i64::from(state.settings.dispatch.batch_size);
    match state
        .db
        .insert_intent(intent, &submission, batch, now.timestamp_millis())
        .await?
    {
        InsertOutcome::Created(row) => {
            info!(intent_id = %row.id, kind = %row.kind, recipients = row.recipient_count, "intent accepted");
            Ok(accepted(&row, false))
        }
        // A concurrent request with the same key won the race.
        InsertOutcome::Existing(row) => replay_or_conflict(row, &digest),
    }
}

/// The original `202` for the same body, `409` for a different one under the same key.
fn replay_or_conflict(row: IntentRow, digest: &str) -> Result<Response, ApiError> {
    if row.request_sha256 == digest {
        Ok(accepted(&row, true))
    } else {
        Err(ApiError::Conflict(format!(
            "idempotency key already used for intent {} with a different request body",
            row.id
        )))
    }
}

/// The kind a rejected body names, if it names a known one (a metrics label must not
/// take arbitrary input).
fn peek_kind(body: &[u8]) -> Option<IntentKind> {
    #[derive(Deserialize)]
    struct Kind {
        kind: Option<String>,
    }
    let peeked: Kind = serde_json::from_slice(body).ok()?;
    IntentKind::parse(peeked.kind.as_deref()?)
}

fn parse_idempotency_key(value: &HeaderValue) -> Result<String, ApiError> {
    let key = value.to_str().unwrap_or_default().trim();
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::Invalid(vec![crate::validation::FieldError {
            field: "Idempotency-Key".into(),
            reason: "must be 1-255 visible ASCII characters".into(),
        }]));
    }
    Ok(key.to_owned())
}

fn parse_body(body: &[u8]) -> Result<NewIntent, ApiError> {
    let raw = match RawIntent::from_slice_in_parallel(body) {
        Some(raw) => raw,
        None => read_with_paths(body)?,
    };
    raw.parse()
        .map_err(|errors| ApiError::Invalid(errors.into_vec()))
}

/// The body read on one thread, tracking where it is, to name the field that does not
/// deserialise (the parallel reading only says that one does not).
fn read_with_paths(body: &[u8]) -> Result<RawIntent, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let raw: RawIntent = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            ApiError::MalformedJson(inner.to_string())
        } else {
            ApiError::Invalid(vec![crate::validation::FieldError {
                field: path,
                reason: inner.to_string(),
            }])
        }
    })?;
    de.end()
        .map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    Ok(raw)
}

fn accepted(row: &IntentRow, replayed: bool) -> Response {
    let mut response = (StatusCode::ACCEPTED, Json(Accepted::from(row))).into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/intents/{}", row.id)) {
        headers.insert(header::LOCATION, location);
    }
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// From 1.
    #[param(minimum = 1)]
    page: Option<i64>,
    /// 1-1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    per_page: Option<i64>,
}

const MAX_PER_PAGE: i64 = 1000;

#[utoipa::path(get, path = "/v1/intents/{id}", tag = "intents",
    description = "The intent, its status counts and a page of recipients, each with the status of \
                   every channel.",
    params(("id" = String, Path, description = "The intent's id"), Page),
    responses(
        (status = 200, description = "The intent", body = super::schemas::IntentView),
        (status = 400, description = "A bad page or per_page"),
        (status = 404, description = "No such intent visible to this token"),
    ),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(page) = page.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    require(
        &principal,
        &[Role::Ingest, Role::Auditor, Role::Admin],
        "read intents",
    )?;
    let row = visible(&state, &principal, &id).await?;
    let per_page = page.per_page.unwrap_or(100);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::BadRequest(format!(
            "per_page must be between 1 and {MAX_PER_PAGE}"
        )));
    }
    let page_no = page.page.unwrap_or(1);
    if page_no < 1 {
        return Err(ApiError::BadRequest("page starts at 1".into()));
    }
    // Saturating: `page` is anyone's number, and a page past the last is simply empty.
    let first = (page_no - 1)
        .saturating_mul(per_page)
        .min(row.recipient_count);
    let end = first.saturating_add(per_page).min(row.recipient_count);
    // Counts first: statuses only move forward, so a page read after them is never
    // behind them (a caller that sees nothing in flight sees final statuses below).
    let counts = state.db.status_counts(&id).await?;
    let recipients = state.db.recipients(&id, first, end).await?;
    let messages = state.db.messages(&id, first, end).await?;

    let mut listed = Vec::with_capacity(recipients.len());
    let mut messages = messages.into_iter().peekable();
    for r in recipients {
        let mut channels = Vec::new();
        while let Some(m) = messages.next_if(|m| m.recipient_idx == r.idx) {
            channels.push(serde_json::json!({
                "message_id": m.id,
                "channel": m.channel,
                "status": m.status,
                // Which legal-notice step this is (null: supplementary), and for a held or
                // waiting message, when it will start at the latest.
                "legal_step": m.legal_step,
                // Deemed received once sent: a contact the contract names (Decree 442).
                "received_when_sent": m.received_when_sent,
                "next_attempt_at": matches!(m.status.as_str(), "held" | "queued").then(|| rfc3339(m.next_attempt_at)),
                "attempts": m.attempts,
                "reason": m.last_error,
                "gateway": m.gateway,
                "gateway_message_id": m.gateway_message_id,
                "content_sha256": m.content_sha256,
                "template": m.template,
                // SMS: as the operator bills it (gsm7 / ucs2, parts).
                "sms_encoding": m.sms_encoding,
                "sms_parts": m.sms_parts,
                "sent_at": m.sent_at.map(rfc3339),
                "delivered_at": m.delivered_at.map(rfc3339),
                "updated_at": rfc3339(m.updated_at),
            }));
        }
        listed.push(serde_json::json!({
            "recipient_id": r.idx,
            "account_number": r.account_number,
            "customer_type": r.customer_type,
            "time_zone": r.time_zone,
            "region": r.details.0.get("region").filter(|v| !v.is_null()),
            "deadline": r.deadline_at.map(rfc3339),
            "channels": channels,
        }));
    }
    let status_counts: serde_json::Map<String, Value> = counts
        .into_iter()
        .map(|(s, n)| (s, Value::from(n)))
        .collect();
    let pages = (row.recipient_count + per_page - 1) / per_page;
    Ok(Json(serde_json::json!({
        "id": row.id,
        "external_id": row.external_id,
        "kind": row.kind,
        "event": row.event.0,
        "accept_late": row.accept_late,
        "accepted_at": rfc3339(row.created_at),
        "recipient_count": row.recipient_count,
        "message_count": row.message_count,
        "status_counts": status_counts,
        "page": page_no,
        "per_page": per_page,
        "pages": pages,
        "recipients": listed,
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ByExternalId {
    /// The caller's id of the event.
    #[param(required = true, min_length = 1, pattern = r"\S")]
    external_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/intents", tag = "intents",
    description = "Intents with this external id (an `ingest` token sees its own client's).",
    params(ByExternalId),
    responses(
        (status = 200, description = "The intents, possibly none", body = super::schemas::IntentList),
        (status = 400, description = "No external_id given"),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<ByExternalId>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    require(
        &principal,
        &[Role::Ingest, Role::Auditor, Role::Admin],
        "read intents",
    )?;
    let external_id = query
        .external_id
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest("give ?external_id=… to find intents".into()))?;
    let client = (principal.role == Role::Ingest).then_some(principal.client.as_str());
    let rows = state
        .db
        .intents_by_external_id(&external_id, client)
        .await?;
    let items: Vec<Accepted> = rows.iter().map(Accepted::from).collect();
    Ok(Json(serde_json::json!({ "intents": items })))
}

/// The intent, if this caller may see it: `ingest` tokens see only their client's intents,
/// and someone else's intent is "not found" rather than "forbidden" (no probing of ids).
async fn visible(state: &AppState, principal: &Principal, id: &str) -> Result<IntentRow, ApiError> {
    let row = state
        .db
        .intent(id)
        .await?
        .ok_or(ApiError::NotFound("intent"))?;
    if principal.role == Role::Ingest && row.client != principal.client {
        return Err(ApiError::NotFound("intent"));
    }
    Ok(row)
}

pub(super) fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
