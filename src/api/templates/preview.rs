//! Looking at a template before it goes live: validate a draft, preview it (with the
//! kind's sample or supplied data; a letter also as its PDF), diff two versions.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{EDITORS, key, rules};
use crate::api::auth::require;
use crate::api::json_body;
use crate::api::{ApiError, AppState};
use crate::auth::Principal;
use crate::letters::{self, Letter, RecipientBlock, Sender, Signatory};
use crate::templates::check::{self, Candidate, SmsReport};
use crate::templates::sample::{RawSample, Sample};
use crate::templates::set::{Parts, TemplateChannel, TemplateKey};
use crate::templates::{Rendered, render_one};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    parts: Parts,
    #[serde(default)]
    supplementary: bool,
}

/// `POST …/validate`: every problem of a draft, by part, line and column; `200` either
/// way (`valid` says which), so an editor can show them as the operator types.
#[utoipa::path(post, path = "/v1/templates/{kind}/{channel}/validate", tag = "templates",
    description = "Check a draft: `valid` and every problem.",
    params(("kind" = String, Path, description = "planned_outage, debt_warning, tariff_change, meter_visit or appeal_reply"), ("channel" = String, Path, description = "sms, email, letter or fax")),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, description = "The verdict on the draft", body = Object),
              (status = 400, description = "Malformed JSON or an unknown field"),
              (status = 404, description = "No such kind or channel"),
              (status = 413, description = "Body over `server.body_limit_bytes`"),
              (status = 415, description = "Not application/json"),
              (status = 422, description = "The request's fields are invalid")),
    security(("bearer" = [])))]
pub async fn validate(
    State(state): State<AppState>,
    principal: Principal,
    Path((kind, channel)): Path<(String, String)>,
    request: Result<Json<ValidateRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, EDITORS, "validate templates")?;
    let key = key(&kind, &channel)?;
    let request = json_body(request, state.settings.server.body_limit_bytes)?;
    let report = check::check(
        &Candidate {
            kind: key.kind,
            channel: key.channel,
            parts: &request.parts,
            supplementary: request.supplementary,
        },
        &rules(&state, key.kind),
    );
    Ok(Json(json!({
        "valid": report.is_valid(),
        "errors": report.errors,
        "warnings": report.warnings,
        "sms": report.sms,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// A draft; otherwise `version`, otherwise the active version.
    parts: Option<Parts>,
    version: Option<i64>,
    /// `{"event": …, "recipient": …}` as in an intent; the kind's sample otherwise.
    data: Option<RawSample>,
}

#[derive(Debug, Deserialize)]
pub struct PreviewQuery {
    /// `pdf`: the letter typeset as mail and fax send it.
    format: Option<String>,
}

/// `POST …/preview[?format=pdf]`: the rendered message; for SMS its encoding and parts.
#[utoipa::path(post, path = "/v1/templates/{kind}/{channel}/preview", tag = "templates",
    description = "Render a draft, a version or the active one with the kind's sample or the given data (SMS: encoding and parts; `format=pdf` for a letter).",
    params(("kind" = String, Path, description = "planned_outage, debt_warning, tariff_change, meter_visit or appeal_reply"), ("channel" = String, Path, description = "sms, email, letter or fax"), ("format" = Option<String>, Query, description = "json (default) or pdf")),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, description = "The rendering", body = Object),
              (status = 400, description = "Malformed JSON, an unknown field or a bad query"),
              (status = 404, description = "No such kind, channel or version"),
              (status = 413, description = "Body over `server.body_limit_bytes`"),
              (status = 415, description = "Not application/json"),
              (status = 422, description = "The template or the data do not render")),
    security(("bearer" = [])))]
pub async fn preview(
    State(state): State<AppState>,
    principal: Principal,
    Path((kind, channel)): Path<(String, String)>,
    query: Result<Query<PreviewQuery>, QueryRejection>,
    request: Result<Json<PreviewRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    require(&principal, EDITORS, "preview templates")?;
    let key = key(&kind, &channel)?;
    let request = json_body(request, state.settings.server.body_limit_bytes)?;
    let parts = match (request.parts, request.version) {
        (Some(parts), _) => parts,
        (None, version) => stored_parts(&state, &key, version).await?,
    };
    let sample = match request.data {
        Some(raw) => {
            Sample::parse(key.kind, raw).map_err(|errors| ApiError::Invalid(errors.into_vec()))?
        }
        None => Sample::of(key.kind),
    };
    let org = &state.settings.organization;
    let context = sample.context(org, key.channel.delivery());
    let rendered = render_one(key.channel, &parts, &state.templates.partials, &context).map_err(
        |(part, why)| {
            ApiError::Invalid(vec![crate::validation::FieldError {
                field: format!("parts.{part}"),
                reason: format!("does not render: {why}"),
            }])
        },
    )?;
    let max_parts = state.rulebook.plans.sms_max_parts(key.kind);
    match (rendered, query.format.as_deref()) {
        (Rendered::Letter { text }, Some("pdf")) => {
            let pdf = typeset(&state, &sample, &text)?;
            Ok(([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response())
        }
        (_, Some(other)) if other != "json" => {
            Err(ApiError::Invalid(vec![crate::validation::FieldError {
                field: "format".into(),
                reason: format!("'{other}' is not a format: use json, or pdf for a letter"),
            }]))
        }
        (Rendered::Sms { text }, _) => Ok(Json(json!({
            "text": text,
            "sms": SmsReport::of(&text, max_parts),
        }))
        .into_response()),
        (
            Rendered::Email {
                subject,
                text,
                html,
            },
            _,
        ) => Ok(Json(json!({"subject": subject, "text": text, "html": html})).into_response()),
        (Rendered::Letter { text }, _) => Ok(Json(json!({"body": text})).into_response()),
        (Rendered::Pdf { .. }, _) => Err(anyhow::anyhow!("a template rendered a PDF").into()),
    }
}

async fn stored_parts(
    state: &AppState,
    key: &TemplateKey,
    version: Option<i64>,
) -> Result<Parts, ApiError> {
    let version = match version {
        Some(v) => v,
        None => {
            let active = state.db.active_versions().await?;
            match (active.get(key), key.channel) {
                (Some(v), _) => *v,
                // A fax without a text of its own sends the letter.
                (None, TemplateChannel::Fax) => {
                    let letter = TemplateKey::new(key.kind, TemplateChannel::Letter);
                    return Box::pin(stored_parts(state, &letter, None)).await;
                }
                (None, _) => return Err(ApiError::NotFound("active template version")),
            }
        }
    };
    let row = state
        .db
        .template_version(key, version)
        .await?
        .ok_or(ApiError::NotFound("template version"))?;
    Ok(row.parts()?)
}

/// The letter as the sample's recipient would get it by mail.
fn typeset(state: &AppState, sample: &Sample, body: &str) -> Result<Vec<u8>, ApiError> {
    let org = &state.settings.organization;
    let settings = &state.settings.letters;
    let recipient = sample.recipient();
    let (address, postcode) = recipient
        .contacts
        .postal_address
        .as_ref()
        .map(|a| (a.address.clone(), a.postcode.clone()))
        .unwrap_or_else(|| ("(адрес получателя)".into(), String::new()));
    let letter = Letter {
        sender: Sender::of(org),
        outgoing_number: format!("{}ПРОСМОТР", settings.number_prefix),
        date: state
            .clock
            .now()
            .with_timezone(&recipient.time_zone)
            .date_naive(),
        recipient: RecipientBlock {
            name: recipient.name.clone(),
            address,
            postcode,
        },
        body: body.to_owned(),
        signatory: Signatory {
            position: settings.signatory_position.clone(),
            name: settings.signatory_name.clone(),
        },
        executor: letters::Executor::from_event(sample.event()),
    };
    letters::render(&letter, &settings.geometry).map_err(|e| {
        ApiError::Invalid(vec![crate::validation::FieldError {
            field: "parts.body".into(),
            reason: format!("the letter cannot be typeset: {e}"),
        }])
    })
}

#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: i64,
    to: i64,
}

/// `GET …/diff?from=A&to=B`: a unified diff of each part.
#[utoipa::path(get, path = "/v1/templates/{kind}/{channel}/diff", tag = "templates",
    description = "A unified diff of two versions.",
    params(("kind" = String, Path, description = "planned_outage, debt_warning, tariff_change, meter_visit or appeal_reply"), ("channel" = String, Path, description = "sms, email, letter or fax"), ("from" = i64, Query, description = "A version"), ("to" = i64, Query, description = "Another version")),
    responses((status = 200, description = "The diff", body = Object),
              (status = 400, description = "from or to missing or not a number"),
              (status = 404, description = "No such kind, channel or version")),
    security(("bearer" = [])))]
pub async fn diff(
    State(state): State<AppState>,
    principal: Principal,
    Path((kind, channel)): Path<(String, String)>,
    query: Result<Query<DiffQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    require(&principal, EDITORS, "read templates")?;
    let key = key(&kind, &channel)?;
    let from = stored_parts(&state, &key, Some(query.from)).await?;
    let to = stored_parts(&state, &key, Some(query.to)).await?;
    let mut parts = serde_json::Map::new();
    for part in key.channel.parts() {
        let old = from.get(*part).map(String::as_str).unwrap_or("");
        let new = to.get(*part).map(String::as_str).unwrap_or("");
        let unified = similar::TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .header(
                &format!("v{}/{part}", query.from),
                &format!("v{}/{part}", query.to),
            )
            .to_string();
        parts.insert((*part).to_owned(), Value::String(unified));
    }
    Ok(Json(
        json!({"from": query.from, "to": query.to, "parts": parts}),
    ))
}
