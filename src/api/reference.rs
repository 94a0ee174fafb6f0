//! The API's own description: the OpenAPI 3.1 document at `/openapi.json` and a reference
//! page at `/docs`, both made from the code at start-up.
//!
//! Each route is registered with `utoipa_axum::routes!`, so a route and its entry in the
//! document are one line in [`super::router`]; `tests/openapi.rs` fails when the router
//! serves a path or method the document does not list. The `/docs` page is rendered here
//! from the document, on the server, as plain HTML: nothing is fetched from the internet
//! and no JavaScript bundle is vendored.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Extension;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::Value;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr, Response, ResponseBuilder};

/// The document and the page, made once when the router is built.
#[derive(Clone)]
pub struct Reference {
    json: Arc<str>,
    html: Arc<str>,
}

impl Reference {
    /// Finishes `doc` (auth scheme, the error answers every route may give) and renders it.
    pub fn new(mut doc: OpenApi) -> Self {
        complete(&mut doc);
        let json = doc
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        let value: Value = serde_json::from_str(&json).unwrap_or_default();
        Self {
            html: render(&value).into(),
            json: json.into(),
        }
    }
}

/// The base of the document: title, version, the auth scheme and shared schemas.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Vestnik",
        description = "Notices and letters for electricity suppliers: intents in, per-recipient \
                       delivery out. Errors are `application/problem+json` (RFC 9457) listing \
                       every rejected field.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(super::problem::Problem, super::problem::ProblemField)),
    tags(
        (name = "intents", description = "Notification intents and their delivery"),
        (name = "deadlines", description = "Legal deadlines and compliance"),
        (name = "receipts", description = "Delivery reports from gateways"),
        (name = "proofs", description = "Proof bundles for auditors"),
        (name = "templates", description = "Notice templates, their versions and validation"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// Adds the bearer scheme and, to every operation, the answers any of them may give: `500`
/// everywhere, `401` and `403` where a token is required.
fn complete(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let responses = &mut op.responses.responses;
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            // Every error a handler declares is a problem+json, unless it says otherwise.
            for (status, response) in responses.iter_mut() {
                if let RefOr::T(r) = response
                    && r.content.is_empty()
                    && status.as_str() >= "400"
                {
                    *r = problem(&r.description);
                }
            }
            let mut add = |status: &str, why: &str| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| RefOr::T(problem(why)));
            };
            if secured {
                add("401", "No valid bearer token (`WWW-Authenticate: Bearer`)");
                add("403", "The token's role may not do this");
            }
            add("500", "Internal error; details are in the server log only");
        }
    }
}

/// A `problem+json` answer described by `why`.
pub fn problem(why: &str) -> Response {
    ResponseBuilder::new()
        .description(why)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "Problem",
                ))))
                .build(),
        )
        .build()
}

#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json", body = Object)))]
pub async fn openapi_json(Extension(reference): Extension<Reference>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        reference.json.to_string(),
    )
}

#[utoipa::path(get, path = "/docs", tag = "operations",
    responses((status = 200, description = "The API reference as an HTML page", content_type = "text/html", body = String)))]
pub async fn docs(Extension(reference): Extension<Reference>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        reference.html.to_string(),
    )
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The reference page: every operation with its parameters, body and answers, then every
/// schema. Everything from the document is HTML-escaped.
fn render(doc: &Value) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let title = esc(doc["info"]["title"].as_str().unwrap_or("API"));
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} API reference</title>\
         <style>body{{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         code,pre{{font:13px ui-monospace,monospace}}pre{{background:#f5f5f5;padding:.6rem;overflow:auto}}\
         .op{{border-top:1px solid #ddd;padding:.5rem 0}}.m{{font-weight:bold;text-transform:uppercase;margin-right:.5rem}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}}</style>\
         </head><body><h1>{title} API reference</h1><p>{}</p>\
         <p>The machine-readable document: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI {}).</p>",
        esc(doc["info"]["description"].as_str().unwrap_or("")),
        esc(doc["openapi"].as_str().unwrap_or("")),
    );
    h.push_str("<h2>Operations</h2>");
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                operation(&mut h, method, path, op);
            }
        }
    }
    h.push_str("<h2>Schemas</h2>");
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            let _ = write!(
                h,
                "<h3 id=\"schema-{0}\">{0}</h3><pre>{1}</pre>",
                esc(name),
                esc(&serde_json::to_string_pretty(schema).unwrap_or_default())
            );
        }
    }
    h.push_str("</body></html>");
    h
}

fn operation(h: &mut String, method: &str, path: &str, op: &Value) {
    let _ = write!(
        h,
        "<div class=\"op\"><h3><span class=\"m\">{method}</span><code>{}</code></h3>",
        esc(path)
    );
    for key in ["summary", "description"] {
        if let Some(text) = op[key].as_str() {
            let _ = write!(h, "<p>{}</p>", esc(text));
        }
    }
    if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
        h.push_str("<p>Needs <code>Authorization: Bearer &lt;token&gt;</code>.</p>");
    }
    if let Some(params) = op["parameters"].as_array() {
        h.push_str("<table><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th><th>meaning</th></tr>");
        for p in params {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                esc(p["name"].as_str().unwrap_or("")),
                esc(p["in"].as_str().unwrap_or("")),
                p["required"].as_bool().unwrap_or(false),
                esc(&schema_name(&p["schema"])),
                esc(p["description"].as_str().unwrap_or("")),
            );
        }
        h.push_str("</table>");
    }
    if let Some(content) = op["requestBody"]["content"].as_object() {
        for (media, body) in content {
            let _ = write!(
                h,
                "<p>Body <code>{}</code>: {}</p>",
                esc(media),
                link(&body["schema"])
            );
        }
    }
    h.push_str("<table><tr><th>status</th><th>meaning</th><th>body</th></tr>");
    if let Some(responses) = op["responses"].as_object() {
        for (status, r) in responses {
            let body = r["content"]
                .as_object()
                .map(|c| {
                    c.iter()
                        .map(|(media, m)| {
                            format!("<code>{}</code> {}", esc(media), link(&m["schema"]))
                        })
                        .collect::<Vec<_>>()
                        .join("<br>")
                })
                .unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{body}</td></tr>",
                esc(status),
                esc(r["description"].as_str().unwrap_or(""))
            );
        }
    }
    h.push_str("</table></div>");
}

/// A schema's name (linked to its definition) or its type.
fn link(schema: &Value) -> String {
    match schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        Some(name) => format!("<a href=\"#schema-{0}\">{0}</a>", esc(name)),
        None => format!("<code>{}</code>", esc(&schema_name(schema))),
    }
}

fn schema_name(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".into(),
    }
}

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_what_the_document_says() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
