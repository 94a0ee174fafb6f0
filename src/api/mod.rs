//! The HTTP API (v1, JSON): thin handlers that parse, call the domain and storage, answer.
//! `/health` says the process is alive; `/ready` that it can take and deliver intents.

mod auth;
mod compliance;
mod deadlines;
mod intents;
mod letters;
mod problem;
mod proofs;
mod ready;
mod receipts;
mod reference;
mod reports;
mod schemas;
mod templates;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::{IntoResponse, Json};
use axum::{Extension, Router};
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use intents::Accepted;
pub use problem::{ApiError, bytes_body, json_body};

use crate::channels::profiles::ProfileGateway;
use crate::clock::Clock;
use crate::deadlines::Rulebook;
use crate::settings::Settings;
use crate::storage::Db;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub rulebook: Arc<Rulebook>,
    /// The SMS provider, when SMS goes to one: its profile authenticates receipts.
    /// The HTTP gateways whose delivery reports `/v1/receipts/{profile}` takes.
    pub providers: Vec<ProfileGateway>,
    /// Where return-receipt scans that come with reports are kept.
    pub documents: crate::documents::Documents,
    /// The time intake and compliance plan by.
    pub clock: Clock,
    /// The worker of this process, if it runs one (`serve`), for `/ready`.
    pub worker: crate::worker::Presence,
    /// The default template set (`templates/`): the partials every version renders with.
    pub templates: Arc<crate::templates::TemplateSet>,
    /// What `/metrics` exports; the dispatcher of this process counts into the same.
    pub metrics: crate::metrics::Metrics,
    /// Every gateway, for their circuit breakers' state in `/metrics`.
    pub gateways: crate::channels::Gateways,
    /// Where `/v1/receipts/{profile}` records reports: in group commits.
    pub receipts: crate::receipts::Recorder,
}

/// Every route, each registered with `routes!` from its handler's `#[utoipa::path]`, so a
/// route cannot be served without being in `/openapi.json`. Handlers of one path with
/// different methods go in one `routes!`.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let body_limit = state.settings.server.body_limit_bytes;
    let (routes, doc) = OpenApiRouter::with_openapi(reference::ApiDoc::openapi())
        .routes(routes!(intents::create, intents::list))
        .routes(routes!(intents::get))
        .routes(routes!(proofs::intent))
        .routes(routes!(proofs::recipient))
        .routes(routes!(deadlines::compute))
        .routes(routes!(compliance::at_risk))
        .routes(routes!(receipts::receive))
        .routes(routes!(health))
        .routes(routes!(ready::ready))
        .routes(routes!(metrics))
        .routes(routes!(reference::openapi_json))
        .routes(routes!(reference::docs))
        .routes(routes!(reports::compliance))
        .routes(routes!(reports::page))
        .routes(routes!(templates::list))
        .routes(routes!(templates::import))
        .routes(routes!(templates::get))
        .routes(routes!(templates::create_version))
        .routes(routes!(templates::get_version))
        .routes(routes!(templates::validate))
        .routes(routes!(templates::preview))
        .routes(routes!(templates::diff))
        .routes(routes!(templates::activate))
        .routes(routes!(templates::rollback))
        .merge(crate::ui::router())
        .split_for_parts();
    routes
        .layer(Extension(reference::Reference::new(doc)))
        .fallback(|| async { ApiError::NotFound("route") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                // The path, not the query: query strings may carry external ids of people.
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(axum::middleware::map_request(plausible_request_id))
        .with_state(state)
}

/// An incoming `X-Request-Id` is kept when it is 1–128 visible ASCII characters; anything
/// else is dropped and a fresh id generated instead. The id goes into every log line of
/// the request and of the delivery jobs it creates, so it must not be a way to write
/// arbitrary text (or megabytes) into the logs.
async fn plausible_request_id(mut req: Request<axum::body::Body>) -> Request<axum::body::Body> {
    let plausible = req
        .headers()
        .get("x-request-id")
        .map(|v| v.as_bytes())
        .is_none_or(|id| (1..=128).contains(&id.len()) && id.iter().all(|b| b.is_ascii_graphic()));
    if !plausible {
        req.headers_mut().remove("x-request-id");
    }
    req
}

/// Prometheus metrics; no token, like `/health` (put it behind the scraper's network).
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Prometheus text exposition format 0.0.4", body = String,
     content_type = "text/plain; version=0.0.4"),
    (status = 503, description = "The database does not answer"),
))]
async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let text = state
        .metrics
        .scrape(&state.db, &state.gateways, state.clock.now_ms())
        .await
        .map_err(|e| {
            tracing::warn!(error = format!("{e:#}"), "metrics: database unreachable");
            ApiError::Unavailable("the database")
        })?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        text,
    ))
}

/// Liveness plus a database round trip.
#[utoipa::path(get, path = "/health", tag = "operations", responses(
    (status = 200, description = "Alive, and the database answers", body = schemas::Health),
    (status = 503, description = "The database does not answer", body = schemas::Health),
))]
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": state.db.backend_name()})),
        ),
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                "health check: database unreachable"
            );
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": "unreachable"})),
            )
        }
    }
}
