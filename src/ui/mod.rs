//! The template editor at `/ui/templates`, served by the same binary: server-rendered
//! pages and one small script (`assets/ui/editor.js`), no frontend build step.
//!
//! The pages hold no data that needs a token: the list of kinds × channels and the kind's
//! mandatory fields are rendered here, and the script fetches everything else from the
//! `/v1/templates` API with the operator's bearer token, which the sign-in form keeps in
//! `sessionStorage`. No cookie carries authority, so a forged cross-site request has none
//! (no CSRF), and the token is gone when the tab closes.

use axum::extract::Path;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use handlebars::html_escape;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ApiError, AppState};
use crate::intents::IntentKind;
use crate::templates::check::shape;
use crate::templates::set::TemplateChannel;

const SCRIPT: &str = include_str!("../../assets/ui/editor.js");
const STYLE: &str = include_str!("../../assets/ui/editor.css");

/// The editor's pages, in the OpenAPI document like every route the binary serves.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(editor))
        .routes(routes!(script))
        .routes(routes!(style))
}

#[utoipa::path(get, path = "/ui/assets/editor.js", tag = "operations",
    responses((status = 200, description = "The editor's script", content_type = "text/javascript", body = String)))]
async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

#[utoipa::path(get, path = "/ui/assets/editor.css", tag = "operations",
    responses((status = 200, description = "The editor's style sheet", content_type = "text/css", body = String)))]
async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

fn page(title: &str, page: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8"><title>{title} — Vestnik</title>
<link rel="stylesheet" href="/ui/assets/editor.css"></head>
<body data-page="{page}">
<header><a href="/ui/templates">Шаблоны уведомлений</a>
<form id="sign-in"><label>Токен оператора <input id="token" type="password" autocomplete="off"></label>
<button type="submit">Войти</button> <span id="who"></span></form></header>
<main>{body}</main>
<script src="/ui/assets/editor.js"></script></body></html>"#,
        title = html_escape(title),
    ))
}

/// Kinds × channels; the script fills in the versions.
#[utoipa::path(get, path = "/ui/templates", tag = "operations",
    description = "The template editor: every kind × channel (its data comes from the API with the operator's token).",
    responses((status = 200, description = "An HTML page", content_type = "text/html", body = String)))]
async fn list() -> Html<String> {
    let mut rows = String::new();
    for kind in IntentKind::ALL {
        rows.push_str(&format!("<tr><th>{}</th>", kind.as_str()));
        for channel in TemplateChannel::ALL {
            rows.push_str(&format!(
                r#"<td><a href="/ui/templates/{k}/{c}">{c}</a> <span class="version" data-template="{k}/{c}"></span></td>"#,
                k = kind.as_str(),
                c = channel.as_str()
            ));
        }
        rows.push_str("</tr>");
    }
    page(
        "Шаблоны",
        "list",
        &format!(
            "<h1>Шаблоны уведомлений</h1><table id=\"templates\"><thead><tr><th>вид</th>\
             <th>SMS</th><th>эл. почта</th><th>письмо</th><th>факс</th></tr></thead>\
             <tbody>{rows}</tbody></table><p id=\"status\"></p>"
        ),
    )
}

/// The editor of one template: its parts, the kind's mandatory fields, live checks and
/// preview, versions with diffs.
#[utoipa::path(get, path = "/ui/templates/{kind}/{channel}", tag = "operations",
    description = "The editor of one template.",
    params(("kind" = String, Path, description = "The kind"), ("channel" = String, Path, description = "sms, email, letter or fax")),
    responses((status = 200, description = "An HTML page", content_type = "text/html", body = String),
              (status = 404, description = "No such kind or channel")))]
async fn editor(Path((kind, channel)): Path<(String, String)>) -> Result<Html<String>, ApiError> {
    let (Some(kind), Some(channel)) = (IntentKind::parse(&kind), TemplateChannel::parse(&channel))
    else {
        return Err(ApiError::NotFound("template"));
    };
    let fields: String = shape::mandatory(kind)
        .iter()
        .map(|m| {
            format!(
                "<li><code>{}</code> — {}</li>",
                html_escape(&m.path),
                html_escape(m.label)
            )
        })
        .collect();
    let parts: String = channel
        .parts()
        .iter()
        .map(|p| {
            format!(
                r#"<label class="part">{p}<textarea id="part-{p}" data-part="{p}" spellcheck="false"></textarea></label>"#
            )
        })
        .collect();
    let preview = match channel {
        TemplateChannel::Sms => r#"<pre id="preview-text"></pre><p id="sms-counter"></p>"#,
        TemplateChannel::Email => {
            r#"<p><b>Тема:</b> <span id="preview-subject"></span></p><iframe id="preview-html" sandbox title="HTML"></iframe><pre id="preview-text"></pre>"#
        }
        TemplateChannel::Letter | TemplateChannel::Fax => {
            r#"<pre id="preview-text"></pre><iframe id="preview-pdf" title="PDF"></iframe>"#
        }
    };
    let title = format!("{} / {}", kind.as_str(), channel.as_str());
    Ok(page(
        &title,
        "editor",
        &format!(
            r#"<h1 id="template" data-kind="{k}" data-channel="{c}">{title}</h1>
<p>Активная версия: <b id="active-version">—</b></p>
<div class="columns"><section><h2>Текст</h2>{parts}
<label><input type="checkbox" id="supplementary"> дополнительный канал (не является юридическим уведомлением)</label>
<h3>Ошибки</h3><ul id="errors"></ul><ul id="warnings"></ul>
<label>Комментарий <input id="comment" type="text"></label>
<button id="save" type="button">Сохранить версию</button> <span id="status"></span>
<h3>Обязательные поля</h3><ul id="mandatory">{fields}</ul></section>
<section><h2>Просмотр</h2>{preview}</section></div>
<h2>Версии</h2><button id="rollback" type="button">Откатить активацию</button>
<table id="versions"><thead><tr><th>версия</th><th>автор</th><th>время</th><th>комментарий</th><th></th></tr></thead><tbody></tbody></table>
<pre id="diff"></pre>"#,
            k = kind.as_str(),
            c = channel.as_str(),
            title = html_escape(&title),
        ),
    ))
}
