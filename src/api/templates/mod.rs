//! `/v1/templates…`: operators list, read, edit (a new version each time), validate,
//! preview, diff, activate and roll back templates. Role `operator` (or `admin`).

mod preview;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::info;

pub use preview::{__path_diff, __path_preview, __path_validate, diff, preview, validate};

use super::auth::require;
use super::{ApiError, AppState, json_body};
use crate::auth::{Principal, Role};
use crate::intents::IntentKind;
use crate::recipients::CustomerType;
use crate::storage::{TemplateVersionRow, previous_version};
use crate::templates::check::{self, Candidate, Rules, shape};
use crate::templates::set::{Parts, Template, TemplateChannel, TemplateKey};

const EDITORS: &[Role] = &[Role::Operator, Role::Admin];

/// A version's comment says why it was made, in a sentence or two.
const MAX_COMMENT: usize = 1000;

/// A template version as an operator writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    parts: Parts,
    #[serde(default)]
    supplementary: bool,
    #[serde(default)]
    comment: String,
}

/// `{kind}/{channel}` from the path; an unknown one is simply not a template.
fn key(kind: &str, channel: &str) -> Result<TemplateKey, ApiError> {
    match (IntentKind::parse(kind), TemplateChannel::parse(channel)) {
        (Some(kind), Some(channel)) => Ok(TemplateKey::new(kind, channel)),
        _ => Err(ApiError::NotFound("template")),
    }
}

/// The checks' inputs for `key` from the configuration.
fn rules<'a>(state: &'a AppState, kind: IntentKind) -> Rules<'a> {
    let plans = &state.rulebook.plans;
    let mut legal_channels: Vec<_> = [CustomerType::Individual, CustomerType::LegalEntity]
        .into_iter()
        .flat_map(|ct| plans.legal_channels(kind, ct).to_vec())
        .collect();
    legal_channels.dedup();
    Rules {
        org: &state.settings.organization,
        partials: &state.templates.partials,
        sms_max_parts: plans.sms_max_parts(kind),
        legal_channels,
    }
}

fn version_summary(row: &TemplateVersionRow) -> Value {
    json!({
        "version": row.version,
        "id": row.id,
        "supplementary": row.supplementary,
        "author": row.author,
        "comment": row.comment,
        "created_at": super::intents::rfc3339(row.created_at),
    })
}

/// `GET /v1/templates`: every kind × channel with its active and latest version.
#[utoipa::path(get, path = "/v1/templates", tag = "templates",
    description = "Every kind × channel with its active version (operator, admin).",
    responses((status = 200, description = "The templates", body = Object)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    require(&principal, EDITORS, "read templates")?;
    let active = state.db.active_versions().await?;
    let mut out = Vec::new();
    for kind in IntentKind::ALL {
        for channel in TemplateChannel::ALL {
            let key = TemplateKey::new(kind, channel);
            let versions = state.db.template_versions(&key).await?;
            let active_version = active.get(&key).copied();
            out.push(json!({
                "kind": kind.as_str(),
                "channel": channel.as_str(),
                "locale": key.locale,
                "active_version": active_version,
                "latest_version": versions.last().map(|v| v.version),
                "supplementary": versions.iter().find(|v| Some(v.version) == active_version).map(|v| v.supplementary),
                // Fax sends the letter until it is given a text of its own.
                "follows": (channel == TemplateChannel::Fax && active_version.is_none()).then_some("letter"),
            }));
        }
    }
    Ok(Json(json!({ "templates": out })))
}

/// `GET /v1/templates/{kind}/{channel}`: the active text, every version and the
/// activation history, and the kind's mandatory fields.
#[utoipa::path(get, path = "/v1/templates/{kind}/{channel}", tag = "templates",
    description = "One template: its active text, every version, the activation history and the kind's mandatory fields.",
    params(("kind" = String, Path, description = "planned_outage, debt_warning, tariff_change, meter_visit or appeal_reply"), ("channel" = String, Path, description = "sms, email, letter or fax")),
    responses((status = 200, description = "The template", body = Object),
              (status = 404, description = "No such kind or channel")),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path((kind, channel)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, EDITORS, "read templates")?;
    let key = key(&kind, &channel)?;
    let versions = state.db.template_versions(&key).await?;
    let activations = state.db.template_activations(&key).await?;
    let active = state.db.active_versions().await?.get(&key).copied();
    let current = versions.iter().find(|v| Some(v.version) == active);
    let mandatory: Vec<Value> = shape::mandatory(key.kind)
        .into_iter()
        .map(|m| json!({"path": m.path, "label": m.label}))
        .collect();
    Ok(Json(json!({
        "kind": key.kind.as_str(),
        "channel": key.channel.as_str(),
        "locale": key.locale,
        "parts": key.channel.parts(),
        "active_version": active,
        "rollback_to": previous_version(&activations),
        "active": current.map(|v| json!({"parts": v.parts().unwrap_or_default(), "supplementary": v.supplementary})),
        "versions": versions.iter().map(version_summary).collect::<Vec<_>>(),
        "activations": activations.iter().map(|a| json!({
            "version": a.version, "action": a.action, "actor": a.actor,
            "at": super::intents::rfc3339(a.created_at),
        })).collect::<Vec<_>>(),
        "mandatory_fields": mandatory,
    })))
}

/// `GET /v1/templates/{kind}/{channel}/versions/{version}`.
#[utoipa::path(get, path = "/v1/templates/{kind}/{channel}/versions/{version}", tag = "templates",
    description = "One version of a template.",
    params(("kind" = String, Path, description = "planned_outage, debt_warning, tariff_change, meter_visit or appeal_reply"), ("channel" = String, Path, description = "sms, email, letter or fax"), ("version" = i64, Path, description = "The version number, from 1")),
    responses((status = 200, description = "The version", body = Object),
              (status = 400, description = "The version is not a number"),
              (status = 404, description = "No such kind, channel or version")),
    security(("bearer" = [])))]
pub async fn get_version(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<(String, String, i64)>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    // A version that is not a number is a problem+json 400, like every other error.
    let Path((kind, channel, version)) = path.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    require(&principal, EDITORS, "read templates")?;
    let key = key(&kind, &channel)?;
    let row = state
        .db
        .template_version(&key, version)
        .await?
        .ok_or(ApiError::NotFound("template version"))?;
    let mut out = version_summary(&row);
    out["parts"] = serde_json::to_value(row.parts()?).map_err(anyhow::Error::from)?;
    out["label"] = json!(key.version_label(row.version));
    Ok(Json(out))
}

/// `POST /v1/templates/{kind}/{channel}/versions`: validates and stores a new version
/// (not yet active). `422` lists every problem by part, line and column.
#[utoipa::path(post, path = "/v1/templates/{kind}/{channel}/versions", tag = "templates",
    description = "A new version `{parts, supplementary, comment}`, validated first; not live until activated.",
    params(("kind" = String, Path, description = "planned_outage, debt_warning, tariff_change, meter_visit or appeal_reply"), ("channel" = String, Path, description = "sms, email, letter or fax")),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 201, description = "The new version", body = Object),
              (status = 400, description = "Malformed JSON or an unknown field"),
              (status = 404, description = "No such kind or channel"),
              (status = 413, description = "Body over `server.body_limit_bytes`"),
              (status = 415, description = "Not application/json"),
              (status = 422, description = "The template has problems: each as `parts.<part>` with line and column")),
    security(("bearer" = [])))]
pub async fn create_version(
    State(state): State<AppState>,
    principal: Principal,
    Path((kind, channel)): Path<(String, String)>,
    draft: Result<Json<Draft>, JsonRejection>,
) -> Result<Response, ApiError> {
    require(&principal, EDITORS, "edit templates")?;
    let key = key(&kind, &channel)?;
    let draft = json_body(draft, state.settings.server.body_limit_bytes)?;
    if draft.comment.chars().count() > MAX_COMMENT {
        return Err(ApiError::Invalid(vec![crate::validation::FieldError {
            field: "comment".into(),
            reason: format!("must be at most {MAX_COMMENT} characters"),
        }]));
    }
    let report = check::check(
        &Candidate {
            kind: key.kind,
            channel: key.channel,
            parts: &draft.parts,
            supplementary: draft.supplementary,
        },
        &rules(&state, key.kind),
    );
    if !report.is_valid() {
        return Err(ApiError::Invalid(
            report.errors.iter().map(|i| i.field_error()).collect(),
        ));
    }
    let template = Template {
        label: String::new(),
        parts: draft.parts,
        supplementary: draft.supplementary,
    };
    let version = state
        .db
        .create_template_version(&key, &template, &principal.client, draft.comment.trim())
        .await?;
    info!(template = %key.label(), version, author = %principal.client, "template version created");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "version": version,
            "label": key.version_label(version),
            "warnings": report.warnings,
            "sms": report.sms,
        })),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activate {
    version: i64,
}

/// `POST /v1/templates/{kind}/{channel}/activate` `{"version": N}`: dispatch uses it from
/// the next delivery job on, in every process.
#[utoipa::path(post, path = "/v1/templates/{kind}/{channel}/activate", tag = "templates",
    description = "Make `{version}` the live version.",
    params(("kind" = String, Path, description = "planned_outage, debt_warning, tariff_change, meter_visit or appeal_reply"), ("channel" = String, Path, description = "sms, email, letter or fax")),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, description = "Activated", body = Object),
              (status = 400, description = "Malformed JSON or an unknown field"),
              (status = 404, description = "No such kind, channel or version"),
              (status = 409, description = "That version is already active"),
              (status = 413, description = "Body over `server.body_limit_bytes`"),
              (status = 415, description = "Not application/json"),
              (status = 422, description = "The version field is missing or invalid")),
    security(("bearer" = [])))]
pub async fn activate(
    State(state): State<AppState>,
    principal: Principal,
    Path((kind, channel)): Path<(String, String)>,
    request: Result<Json<Activate>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, EDITORS, "activate templates")?;
    let key = key(&kind, &channel)?;
    let Activate { version } = json_body(request, state.settings.server.body_limit_bytes)?;
    if !state
        .db
        .activate_template(&key, version, &principal.client, "activate")
        .await?
    {
        return Err(ApiError::Invalid(vec![crate::validation::FieldError {
            field: "version".into(),
            reason: format!("{} has no version {version}", key.label()),
        }]));
    }
    info!(template = %key.label(), version, actor = %principal.client, "template activated");
    Ok(Json(
        json!({"active_version": version, "label": key.version_label(version)}),
    ))
}

/// `POST /v1/templates/{kind}/{channel}/rollback`: the version live before the last
/// activation is live again.
#[utoipa::path(post, path = "/v1/templates/{kind}/{channel}/rollback", tag = "templates",
    description = "Undo the last activation.",
    params(("kind" = String, Path, description = "planned_outage, debt_warning, tariff_change, meter_visit or appeal_reply"), ("channel" = String, Path, description = "sms, email, letter or fax")),
    responses((status = 200, description = "Rolled back", body = Object),
              (status = 404, description = "No such kind or channel"),
              (status = 409, description = "Nothing to roll back")),
    security(("bearer" = [])))]
pub async fn rollback(
    State(state): State<AppState>,
    principal: Principal,
    Path((kind, channel)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    require(&principal, EDITORS, "roll back templates")?;
    let key = key(&kind, &channel)?;
    let version = state
        .db
        .rollback_template(&key, &principal.client)
        .await?
        .ok_or_else(|| ApiError::Conflict(format!("{} has no earlier activation", key.label())))?;
    info!(template = %key.label(), version, actor = %principal.client, "template rolled back");
    Ok(Json(
        json!({"active_version": version, "label": key.version_label(version)}),
    ))
}

/// `POST /v1/templates/import`: a new (inactive) version of every template in
/// `templates/` that differs from the latest stored one, e.g. after a release.
#[utoipa::path(post, path = "/v1/templates/import", tag = "templates",
    description = "Re-import changed files from `templates/` as new inactive versions.",
    responses((status = 200, description = "What was imported", body = Object),
              (status = 409, description = "templates/ does not load")),
    security(("bearer" = [])))]
pub async fn import(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    require(&principal, EDITORS, "import templates")?;
    // Read again: the point is to pick up files changed since start-up.
    let set = crate::templates::TemplateSet::load_dir(&state.settings.templates.dir)
        .map_err(|e| ApiError::Conflict(format!("templates/ does not load: {e:#}")))?;
    let created = state.db.import_templates(&set, &principal.client).await?;
    Ok(Json(json!({
        "created": created.iter().map(|(k, v)| k.version_label(*v)).collect::<Vec<_>>(),
    })))
}
