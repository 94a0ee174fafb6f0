//! The OpenAPI document at `/openapi.json` lists every route the router serves, with its
//! errors and auth; `/docs` is readable and self-contained.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Backend, TestDb, spawn_app, test_settings};
use serde_json::Value;
use vestnik::app::App;
use vestnik::auth::{self, Role};

both_backends! {
    every_route_the_router_serves_is_in_the_document;
    the_document_states_errors_auth_and_schemas;
    the_reference_page_is_self_contained_html;
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The paths the router has registered, read from its `Debug` form (axum does not list
/// them otherwise): `RouteId(n): "/path"`. Generic: a route added in any way shows here.
fn routed_paths(router: &axum::Router) -> BTreeSet<String> {
    let debug = format!("{router:?}");
    // The routes proper; the fallback router that follows holds axum's catch-alls.
    let (routes, _fallback) = debug
        .split_once("fallback_router:")
        .expect("axum's Router debug form names its fallback router");
    let mut paths = BTreeSet::new();
    let mut rest = routes;
    while let Some(at) = rest.find("RouteId(") {
        rest = &rest[at..];
        let Some(start) = rest.find(": \"") else {
            break;
        };
        let tail = &rest[start + 3..];
        let end = tail.find('"').unwrap();
        let path = &tail[..end];
        // axum's own catch-all for the fallback is not a route.
        if !path.contains("__private__axum") {
            paths.insert(path.to_owned());
        }
        rest = &tail[end..];
    }
    paths
}

async fn document(app: &common::TestApp) -> Value {
    let response = app
        .http
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `/v1/intents/{id}` → `/v1/intents/x`.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

async fn every_route_the_router_serves_is_in_the_document(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::new(backend, dir.path()).await;
    let app = App::build(test_settings(dir.path(), &test_db.url))
        .await
        .unwrap();
    let token = auth::create_token(&app.db, "admin", Role::Admin)
        .await
        .unwrap();
    let router = app.router();
    let routed = routed_paths(&router);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(axum::serve(listener, router).into_future());
    let http = common::http_client();

    let doc: Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let documented: BTreeMap<String, BTreeSet<String>> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| m.to_string())
                .collect();
            (path.clone(), methods)
        })
        .collect();

    // Paths: the router's own list against the document's.
    assert!(
        routed.contains("/v1/intents"),
        "parsed the router: {routed:?}"
    );
    let listed: BTreeSet<String> = documented.keys().cloned().collect();
    let missing: Vec<_> = routed.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "served but not in /openapi.json: {missing:?}"
    );
    let phantom: Vec<_> = listed.difference(&routed).collect();
    assert!(
        phantom.is_empty(),
        "in /openapi.json but not served: {phantom:?}"
    );

    // Methods: one the document does not list answers 405 (axum's answer for a method a
    // path lacks); one it lists is served (whatever it says of the fake id or empty body).
    for (path, methods) in &documented {
        let url = format!("{base}{}", concrete(path));
        for method in METHODS {
            let response = http
                .request(method.to_uppercase().parse().unwrap(), &url)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            if methods.contains(method) {
                assert_ne!(status, 405, "{method} {path} is documented but not served");
            } else {
                assert_eq!(status, 405, "{method} {path} is served but not documented");
            }
        }
    }
    server.abort();
}

async fn the_document_states_errors_auth_and_schemas(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["type"],
        "http"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let problem = &doc["components"]["schemas"]["Problem"];
    for field in ["type", "title", "status", "detail", "errors"] {
        assert!(
            problem["properties"][field].is_object(),
            "Problem.{field}: {problem}"
        );
    }
    for name in [
        "IntentRequest",
        "IntentView",
        "Accepted",
        "DeadlineRequest",
        "AtRiskView",
    ] {
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "schema {name}"
        );
    }

    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("500"), "{method} {path}: no 500");
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            assert_eq!(
                secured,
                path.starts_with("/v1/") && !path.starts_with("/v1/receipts/"),
                "{method} {path}: bearer auth exactly on /v1 (receipts excepted)"
            );
            if secured {
                assert!(
                    responses.contains_key("401") && responses.contains_key("403"),
                    "{method} {path}"
                );
            }
            for (status, response) in responses {
                if status.as_str() >= "400" && status != "503"
                    || status == "503" && path != "/health"
                {
                    assert!(
                        response["content"]["application/problem+json"]["schema"]["$ref"]
                            .as_str()
                            .is_some_and(|r| r.ends_with("/Problem")),
                        "{method} {path} {status} is a problem+json: {response}"
                    );
                }
            }
        }
    }
    assert!(operations >= 10, "{operations} operations");
    let create = &doc["paths"]["/v1/intents"]["post"]["responses"];
    for status in ["202", "400", "409", "413", "415", "422"] {
        assert!(create[status].is_object(), "POST /v1/intents {status}");
    }
    assert!(create["202"]["headers"]["Location"].is_object());
    app.stop().await;
}

async fn the_reference_page_is_self_contained_html(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = document(&app).await;
    let response = app
        .http
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    for path in doc["paths"].as_object().unwrap().keys() {
        assert!(
            html.contains(&format!("<code>{path}</code>")),
            "{path} on the page"
        );
    }
    assert!(html.contains("id=\"schema-Problem\""));
    // Nothing loaded from elsewhere: no scripts, no external styles or images.
    assert!(!html.contains("<script"), "no script");
    assert!(!html.contains("src=\"http"), "no external source");
    assert!(!html.contains("<link"), "no external stylesheet");
    app.stop().await;
}
