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

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::{IntoResponse, Json};
use axum::routing::{get, post};
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use intents::Accepted;
pub use problem::ApiError;

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
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let body_limit = state.settings.server.body_limit_bytes;
    Router::new()
        .route("/v1/intents", get(intents::list).post(intents::create))
        .route("/v1/intents/{id}", get(intents::get))
        .route("/v1/intents/{id}/proof", get(proofs::intent))
        .route(
            "/v1/intents/{id}/recipients/{rid}/proof",
            get(proofs::recipient),
        )
        .route("/v1/deadlines", post(deadlines::compute))
        .route("/v1/compliance/at-risk", get(compliance::at_risk))
        .route("/v1/receipts/{profile}", post(receipts::receive))
        .route("/health", get(health))
        .route("/ready", get(ready::ready))
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
        .with_state(state)
}

/// Liveness plus a database round trip.
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
