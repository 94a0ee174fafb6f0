//! `GET /ready`: whether this process can take intents *and* get them delivered, for a
//! load balancer or an orchestrator's readiness probe. No auth, and nothing personal in
//! the answer. `/health` stays a bare liveness check: a process that is alive but not
//! ready should be taken out of rotation, not restarted.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Map, Value, json};

use super::AppState;
use crate::queue::DELIVERY_QUEUE;

#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready: database, migrations and a worker", body = super::schemas::Ready),
        (status = 503, description = "Not ready; `errors` names each failed check"),
    ))]
pub async fn ready(State(state): State<AppState>) -> Response {
    let mut checks = Map::new();
    let mut errors = Vec::new();
    let mut fail = |check: &str, reason: String, checks: &mut Map<String, Value>| {
        checks.insert(check.into(), Value::from("not ready"));
        errors.push(json!({"field": check, "reason": reason}));
    };

    let database = state.db.ping().await;
    match &database {
        Ok(()) => {
            checks.insert("database".into(), state.db.backend_name().into());
        }
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "not ready: database unreachable");
            fail("database", "unreachable".into(), &mut checks);
        }
    }

    if database.is_ok() {
        match state.db.migration_drift().await {
            Ok((pending, unknown)) if pending.is_empty() && unknown.is_empty() => {
                checks.insert("migrations".into(), "current".into());
            }
            Ok((pending, unknown)) => {
                let mut why = Vec::new();
                if !pending.is_empty() {
                    why.push(format!("not applied: {pending:?} (run `vestnik migrate`)"));
                }
                if !unknown.is_empty() {
                    why.push(format!("applied but unknown to this release: {unknown:?}"));
                }
                fail("migrations", why.join("; "), &mut checks);
            }
            Err(e) => fail("migrations", format!("cannot be read: {e:#}"), &mut checks),
        }
    }

    // The worker of `serve` runs in this process; a separate `vestnik worker` is seen by
    // its apalis heartbeat, which counts as missed after two intervals.
    let heartbeat = state.settings.dispatch.heartbeat_secs.max(1);
    if state.worker.any() {
        checks.insert("worker".into(), "in process".into());
    } else if database.is_ok() {
        match state
            .db
            .live_workers(DELIVERY_QUEUE, 2 * heartbeat + 1)
            .await
        {
            Ok(n) if n > 0 => {
                checks.insert("worker".into(), format!("{n} heartbeating").into());
            }
            Ok(_) => fail(
                "worker",
                format!(
                    "none runs in this process, and none has sent a heartbeat in {}s",
                    2 * heartbeat + 1
                ),
                &mut checks,
            ),
            Err(e) => fail(
                "worker",
                format!("heartbeats cannot be read: {e:#}"),
                &mut checks,
            ),
        }
    } else {
        fail(
            "worker",
            "none runs in this process, and the database holding heartbeats is unreachable".into(),
            &mut checks,
        );
    }

    if errors.is_empty() {
        let mut body = Map::new();
        body.insert("status".into(), "ready".into());
        body.extend(checks);
        return (StatusCode::OK, Json(Value::Object(body))).into_response();
    }
    let names: Vec<&str> = errors.iter().filter_map(|e| e["field"].as_str()).collect();
    let body = json!({
        "type": "/problems/not-ready",
        "title": "Not ready",
        "status": 503,
        "detail": format!("not ready: {}", names.join(", ")),
        "checks": checks,
        "errors": errors,
    });
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}
