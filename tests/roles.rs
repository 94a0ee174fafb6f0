//! Every route × every role: 401 without a valid token, 403 with the wrong role, through
//! with the right one; and an upstream system reads only its own intents.

mod common;

use common::{Backend, TestApp, example, spawn_app};
use serde_json::{Value, json};
use vestnik::auth::Role;

both_backends! {
    every_route_admits_exactly_its_roles;
    an_upstream_system_reads_only_its_own_intents;
}

/// Who may call what. `None` in the role list stands for "no token needed" (liveness,
/// pages whose data comes through the API, gateways that sign their reports).
const I: Role = Role::Ingest;
const O: Role = Role::Operator;
const A: Role = Role::Auditor;
const ADMIN: Role = Role::Admin;

struct Route {
    method: &'static str,
    path: &'static str,
    /// `None` for a public route.
    roles: Option<&'static [Role]>,
}

const fn route(method: &'static str, path: &'static str, roles: &'static [Role]) -> Route {
    Route {
        method,
        path,
        roles: Some(roles),
    }
}

const fn public(method: &'static str, path: &'static str) -> Route {
    Route {
        method,
        path,
        roles: None,
    }
}

/// Every route the API serves; `{intent}` is replaced by a real intent id.
const ROUTES: &[Route] = &[
    route("GET", "/v1/intents", &[I, A, ADMIN]),
    route("POST", "/v1/intents", &[I, ADMIN]),
    route("GET", "/v1/intents/{intent}", &[I, A, ADMIN]),
    route("GET", "/v1/intents/{intent}/proof", &[A, ADMIN]),
    route(
        "GET",
        "/v1/intents/{intent}/recipients/0/proof",
        &[A, ADMIN],
    ),
    route("POST", "/v1/deadlines", &[I, O, A, ADMIN]),
    route("GET", "/v1/compliance/at-risk", &[I, A, ADMIN]),
    route(
        "GET",
        "/v1/reports/compliance?from=2027-01-01&to=2027-01-31",
        &[A, ADMIN],
    ),
    route("GET", "/v1/templates", &[O, ADMIN]),
    route("POST", "/v1/templates/import", &[O, ADMIN]),
    route("GET", "/v1/templates/meter_visit/sms", &[O, ADMIN]),
    route(
        "POST",
        "/v1/templates/meter_visit/sms/versions",
        &[O, ADMIN],
    ),
    route(
        "GET",
        "/v1/templates/meter_visit/sms/versions/1",
        &[O, ADMIN],
    ),
    route(
        "POST",
        "/v1/templates/meter_visit/sms/validate",
        &[O, ADMIN],
    ),
    route("POST", "/v1/templates/meter_visit/sms/preview", &[O, ADMIN]),
    route(
        "GET",
        "/v1/templates/meter_visit/sms/diff?from=1&to=1",
        &[O, ADMIN],
    ),
    route(
        "POST",
        "/v1/templates/meter_visit/sms/activate",
        &[O, ADMIN],
    ),
    route(
        "POST",
        "/v1/templates/meter_visit/sms/rollback",
        &[O, ADMIN],
    ),
    public("POST", "/v1/receipts/generic-json"),
    public("GET", "/health"),
    public("GET", "/ready"),
    public("GET", "/metrics"),
    public("GET", "/openapi.json"),
    public("GET", "/docs"),
    public("GET", "/ui/compliance"),
    public("GET", "/ui/templates"),
    public("GET", "/ui/templates/meter_visit/sms"),
    public("GET", "/ui/assets/editor.js"),
    public("GET", "/ui/assets/editor.css"),
];

const ROLES: [Role; 4] = [Role::Ingest, Role::Operator, Role::Auditor, Role::Admin];

async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> u16 {
    let url = format!("{}{path}", app.base);
    let mut request = match method {
        "GET" => app.http.get(url),
        "POST" => app.http.post(url).json(&json!({})),
        "PUT" => app.http.put(url).json(&json!({})),
        "DELETE" => app.http.delete(url),
        other => panic!("no such method in the table: {other}"),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn every_route_admits_exactly_its_roles(backend: Backend) {
    let app = spawn_app(backend).await;
    let accepted: Value = app
        .post_intent(&example("meter_visit"))
        .await
        .json()
        .await
        .unwrap();
    let intent = accepted["id"].as_str().unwrap();
    let mut tokens = Vec::new();
    for role in ROLES {
        // Ingest tokens are of the client that posted the intent, so it may read it.
        let token = if role == Role::Ingest {
            app.token.clone()
        } else {
            app.token_for(role.as_str(), role).await
        };
        tokens.push((role, token));
    }
    let mut wrong = Vec::new();
    for r in ROUTES {
        let path = r.path.replace("{intent}", intent);
        let anonymous = call(&app, r.method, &path, None).await;
        let forged = call(&app, r.method, &path, Some("vst_forged")).await;
        match r.roles {
            None => {
                if anonymous == 401 || anonymous == 403 || anonymous >= 500 {
                    wrong.push(format!("{} {path} without a token: {anonymous}", r.method));
                }
            }
            Some(allowed) => {
                for (what, status) in [
                    ("without a token", anonymous),
                    ("with a forged token", forged),
                ] {
                    if status != 401 {
                        wrong.push(format!("{} {path} {what}: {status}, not 401", r.method));
                    }
                }
                for (role, token) in &tokens {
                    let status = call(&app, r.method, &path, Some(token)).await;
                    let admitted = allowed.contains(role);
                    let ok = if admitted {
                        status != 401 && status != 403 && status < 500
                    } else {
                        status == 403
                    };
                    if !ok {
                        let expected = if admitted { "through" } else { "403" };
                        wrong.push(format!(
                            "{} {path} as {}: {status}, expected {expected}",
                            r.method,
                            role.as_str()
                        ));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "role matrix:\n{}", wrong.join("\n"));
    app.stop().await;
}

async fn an_upstream_system_reads_only_its_own_intents(backend: Backend) {
    let app = spawn_app(backend).await;
    let accepted: Value = app
        .post_intent(&example("meter_visit"))
        .await
        .json()
        .await
        .unwrap();
    let intent = accepted["id"].as_str().unwrap();
    let other = app.token_for("outage-planning", Role::Ingest).await;
    let path = format!("/v1/intents/{intent}");
    assert_eq!(
        call(&app, "GET", &path, Some(&other)).await,
        404,
        "another client's intent is not there"
    );
    let external_id = example("meter_visit")["external_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let list: Value = app
        .http
        .get(format!("{}/v1/intents?external_id={external_id}", app.base))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["intents"].as_array().map(Vec::len), Some(0), "{list}");
    let auditor = app.token_for("audit", Role::Auditor).await;
    assert_eq!(
        call(&app, "GET", &path, Some(&auditor)).await,
        200,
        "auditors read every intent"
    );
    assert_eq!(call(&app, "GET", &path, Some(&app.token)).await, 200);
    let own: Value = app
        .get_json(&format!("/v1/intents?external_id={external_id}"))
        .await
        .1;
    assert_eq!(own["intents"].as_array().map(Vec::len), Some(1), "{own}");
    app.stop().await;
}
