//! `/ready` (can this process take and deliver intents?) next to `/health` (is it alive?).

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestDb, spawn_app, test_settings};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use vestnik::app::App;
use vestnik::storage::Db;

both_backends! {
    serve_is_ready_with_its_worker_in_process;
    an_api_without_a_worker_is_not_ready_until_one_heartbeats;
    a_pending_migration_or_a_lost_database_is_not_ready;
}

/// GET without a token: probes carry none.
async fn get(http: &reqwest::Client, base: &str, path: &str) -> (u16, String, Value) {
    let response = http.get(format!("{base}{path}")).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        content_type,
        response.json().await.unwrap_or(Value::Null),
    )
}

fn failed_checks(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn serve_is_ready_with_its_worker_in_process(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, _, body) = get(&app.http, &app.base, "/ready").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["migrations"], "current");
    assert_eq!(body["worker"], "in process");
    let (status, _, _) = get(&app.http, &app.base, "/health").await;
    assert_eq!(status, 200);
    app.stop().await;
}

async fn an_api_without_a_worker_is_not_ready_until_one_heartbeats(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::new(backend, dir.path()).await;
    let mut settings = test_settings(dir.path(), &test_db.url);
    settings.dispatch.heartbeat_secs = 1;
    // The API alone, as a router without `serve`'s worker.
    let api = App::build(settings.clone()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(axum::serve(listener, api.router()).into_future());
    let http = common::http_client();

    let (status, content_type, body) = get(&http, &base, "/ready").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(failed_checks(&body), ["worker"], "{body}");
    assert_eq!(body["detail"], "not ready: worker");
    assert_eq!(body["checks"]["migrations"], "current");
    // Alive all the same: a liveness probe must not restart it.
    let (status, _, _) = get(&http, &base, "/health").await;
    assert_eq!(status, 200);

    // A `vestnik worker` elsewhere, seen only through its heartbeat in the database.
    let worker = App::build(settings).await.unwrap();
    let stop = CancellationToken::new();
    let worker = tokio::spawn(worker.work(stop.clone().cancelled_owned()));
    let started = Instant::now();
    let body = loop {
        let (status, _, body) = get(&http, &base, "/ready").await;
        if status == 200 {
            break body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never ready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(body["worker"], "1 heartbeating", "{body}");
    stop.cancel();
    worker.await.unwrap().unwrap();
    server.abort();
}

async fn a_pending_migration_or_a_lost_database_is_not_ready(backend: Backend) {
    let app = spawn_app(backend).await;
    let newest = "SELECT MAX(version) FROM _vestnik_migrations";
    let forget = "DELETE FROM _vestnik_migrations WHERE version = (SELECT MAX(version) FROM _vestnik_migrations)";
    let version: i64 = match &app.db {
        Db::Sqlite(pool) => {
            let v = sqlx::query_scalar(newest).fetch_one(pool).await.unwrap();
            sqlx::query(forget).execute(pool).await.unwrap();
            v
        }
        Db::Postgres(pool) => {
            let v = sqlx::query_scalar(newest).fetch_one(pool).await.unwrap();
            sqlx::query(forget).execute(pool).await.unwrap();
            v
        }
    };
    let (status, _, body) = get(&app.http, &app.base, "/ready").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(failed_checks(&body), ["migrations"], "{body}");
    let reason = body["errors"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("not applied: [{version}]")),
        "{reason}"
    );

    // The pool closed under it: nothing can be reached, and /health agrees.
    match &app.db {
        Db::Sqlite(pool) => pool.close().await,
        Db::Postgres(pool) => pool.close().await,
    }
    let (status, _, body) = get(&app.http, &app.base, "/ready").await;
    assert_eq!(status, 503, "{body}");
    let failed = failed_checks(&body);
    // (The worker may stop too, its pool closed: whether it is listed depends on timing.)
    assert_eq!(failed[0], "database", "{body}");
    assert_eq!(body["errors"][0]["reason"], "unreachable", "{body}");
    let (status, _, _) = get(&app.http, &app.base, "/health").await;
    assert_eq!(status, 503);
}
