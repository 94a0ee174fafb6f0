//! `GET /v1/intents/{id}/proof` and `GET /v1/intents/{id}/recipients/{rid}/proof`: the
//! proof bundle as JSON, a ZIP or a one-page PDF certificate. The format is chosen by
//! `?format=json|zip|pdf`, else by the `Accept` header (`application/zip`,
//! `application/pdf`), else JSON. Auditors and admins only.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::auth::require;
use super::{ApiError, AppState};
use crate::auth::{Principal, Role};
use crate::proofs::{self, Sources};
use crate::storage::ProofRows;
use crate::validation::FieldError;

/// An intent bundle lists every recipient; beyond this, ask per recipient.
pub const MAX_BUNDLE_RECIPIENTS: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Zip,
    Pdf,
}

#[utoipa::path(get, path = "/v1/intents/{id}/proof", tag = "proofs",
    description = "Proof of delivery for every recipient of an intent: the intent, deadlines and how they were computed, the content sent with hashes, every attempt and receipt, the ledger entries with their chain hashes, and the verdict (auditor, admin).",
    params(("id" = String, Path, description = "The intent's id"), ("format" = Option<String>, Query, description = "json (default), zip or pdf; or by the Accept header")),
    responses((status = 200, description = "The bundle: JSON, or a ZIP (`application/zip`) with the stored messages and PDFs, or the one-page PDF certificate (`application/pdf`)", body = Object),
              (status = 404, description = "No such intent or recipient"),
              (status = 422, description = "A bad format, or an intent too big for one bundle (use the per-recipient route)")),
    security(("bearer" = [])))]
pub async fn intent(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&principal, &[Role::Auditor, Role::Admin], "read proofs")?;
    let format = format(query.as_deref(), &headers)?;
    let rows = state
        .db
        .proof_rows(&id, 0, MAX_BUNDLE_RECIPIENTS)
        .await?
        .ok_or(ApiError::NotFound("intent"))?;
    if rows.intent.recipient_count > MAX_BUNDLE_RECIPIENTS {
        return Err(ApiError::Invalid(vec![FieldError {
            field: "id".into(),
            reason: format!(
                "the intent has {} recipients; a bundle covers at most {MAX_BUNDLE_RECIPIENTS}: \
                 ask for /v1/intents/{id}/recipients/{{rid}}/proof",
                rows.intent.recipient_count
            ),
        }]));
    }
    answer(&state, rows, format!("proof-{id}"), format).await
}

#[utoipa::path(get, path = "/v1/intents/{id}/recipients/{rid}/proof", tag = "proofs",
    description = "Proof of delivery for one recipient (auditor, admin).",
    params(("id" = String, Path, description = "The intent's id"), ("rid" = String, Path, description = "The recipient's index in the intent"), ("format" = Option<String>, Query, description = "json (default), zip or pdf; or by the Accept header")),
    responses((status = 200, description = "The bundle: JSON, or a ZIP (`application/zip`) with the stored messages and PDFs, or the one-page PDF certificate (`application/pdf`)", body = Object),
              (status = 404, description = "No such intent or recipient"),
              (status = 422, description = "A bad format, or an intent too big for one bundle (use the per-recipient route)")),
    security(("bearer" = [])))]
pub async fn recipient(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, rid)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&principal, &[Role::Auditor, Role::Admin], "read proofs")?;
    let format = format(query.as_deref(), &headers)?;
    let idx: i64 = rid.parse().ok().filter(|i| *i >= 0).ok_or_else(|| {
        ApiError::Invalid(vec![FieldError {
            field: "rid".into(),
            reason: "must be the recipient's index in the intent (0, 1, …)".into(),
        }])
    })?;
    let rows = state
        .db
        .proof_rows(&id, idx, idx + 1)
        .await?
        .ok_or(ApiError::NotFound("intent"))?;
    if rows.recipients.is_empty() {
        return Err(ApiError::NotFound("recipient"));
    }
    answer(&state, rows, format!("proof-{id}-{idx}"), format).await
}

async fn answer(
    state: &AppState,
    rows: ProofRows,
    name: String,
    format: Format,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let documents = state.documents.clone();
    let settings = state.settings.clone();
    // Reading stored letters and typesetting the certificate are blocking work.
    let (bytes, content_type, ext) = tokio::task::spawn_blocking(move || {
        let bundle = proofs::build(
            &Sources {
                intent: &rows.intent,
                recipients: &rows.recipients,
                messages: &rows.messages,
                receipts: &rows.receipts,
                entries: &rows.entries,
                head: rows.head,
                generated_at: now,
            },
            |sha256| documents.find(sha256),
        )?;
        let today = now.with_timezone(&chrono_tz::Europe::Moscow).date_naive();
        let certificate = || {
            proofs::certificate::render(&bundle, &settings.organization, &settings.letters, today)
        };
        anyhow::Ok(match format {
            Format::Json => {
                let mut json = serde_json::to_vec_pretty(&bundle.json)?;
                json.push(b'\n');
                (json, "application/json", "json")
            }
            Format::Pdf => (certificate()?, "application/pdf", "pdf"),
            Format::Zip => (
                proofs::archive::pack(&bundle, &certificate()?)?,
                "application/zip",
                "zip",
            ),
        })
    })
    .await
    .map_err(|e| anyhow::anyhow!("proof builder crashed: {e}"))??;
    let disposition = format!("attachment; filename=\"{name}.{ext}\"");
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if format != Format::Json {
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).map_err(anyhow::Error::from)?,
        );
    }
    Ok(response)
}

/// `?format=` if given (the only query parameter), else the `Accept` header.
fn format(query: Option<&str>, headers: &HeaderMap) -> Result<Format, ApiError> {
    let mut errors = Vec::new();
    let mut chosen = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match (key.as_ref(), value.as_ref()) {
            ("format", "json") => chosen = Some(Format::Json),
            ("format", "zip") => chosen = Some(Format::Zip),
            ("format", "pdf") => chosen = Some(Format::Pdf),
            ("format", other) => errors.push(FieldError {
                field: "format".into(),
                reason: format!("'{other}' is not one of json, zip, pdf"),
            }),
            (other, _) => errors.push(FieldError {
                field: other.to_owned(),
                reason: "unknown query parameter; the only one is format".into(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    if let Some(format) = chosen {
        return Ok(format);
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Ok(if accept.contains("application/zip") {
        Format::Zip
    } else if accept.contains("application/pdf") {
        Format::Pdf
    } else {
        Format::Json
    })
}
