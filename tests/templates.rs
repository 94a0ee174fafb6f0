//! Operator templates end to end on SQLite and PostgreSQL: the seeded default set, edits as
//! validated immutable versions, activation and roll-back seen by dispatch without a
//! restart, previews, diffs and roles.

mod common;

use common::templates::{sent_sms, sms_visit};
use common::{Backend, TestApp, example, files, spawn_app};
use serde_json::{Value, json};
use vestnik::auth::Role;
use vestnik::intents::IntentKind;

both_backends! {
    the_default_set_renders_every_kind_on_every_channel_with_every_mandatory_field;
    an_activated_edit_is_used_by_dispatch_without_a_restart;
    broken_templates_are_rejected_by_part_line_and_column;
    html_parts_escape_field_values_and_text_parts_do_not;
    rollback_restores_the_previous_version_and_versions_are_immutable;
    only_operators_and_admins_may_touch_templates;
    another_process_sees_an_activation_through_the_stamp;
}

const ORG: &str = "ООО «РУСЭНЕРГОСБЫТ»";

struct Operator<'a> {
    app: &'a TestApp,
    token: String,
}

impl Operator<'_> {
    async fn of(app: &TestApp) -> Operator<'_> {
        Operator {
            app,
            token: app.token_for("operator-anna", Role::Operator).await,
        }
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.app.base);
        let request = match method {
            "GET" => self.app.http.get(url),
            _ => self.app.http.post(url),
        }
        .bearer_auth(&self.token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// `&quot;` and friends back to text, to look for field values in HTML.
fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x3D;", "=")
        .replace("&#x60;", "`")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn the_default_set_renders_every_kind_on_every_channel_with_every_mandatory_field(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let op = Operator::of(&app).await;
    let (status, list) = op.send("GET", "/v1/templates", None).await;
    assert_eq!(status, 200, "{list}");
    for kind in IntentKind::ALL {
        let request = example(kind.as_str());
        let must = common::notices::mandatory_texts(
            kind,
            &request["event"],
            &request["recipients"][0],
            ORG,
        );
        for channel in ["sms", "email", "letter", "fax"] {
            let listed = list["templates"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["kind"] == kind.as_str() && t["channel"] == channel)
                .unwrap();
            if channel == "fax" {
                assert_eq!(listed["follows"], "letter", "{listed}");
            } else {
                assert_eq!(listed["active_version"], 1, "seeded: {listed}");
            }
            let path = format!("/v1/templates/{}/{channel}/preview", kind.as_str());
            let (status, preview) = op.send("POST", &path, Some(json!({}))).await;
            assert_eq!(status, 200, "{kind:?} {channel}: {preview}");
            let bodies: Vec<String> = match channel {
                "sms" => vec![preview["text"].as_str().unwrap().to_owned()],
                "email" => vec![
                    format!(
                        "{}\n{}",
                        preview["subject"],
                        preview["text"].as_str().unwrap()
                    ),
                    format!(
                        "{}\n{}",
                        preview["subject"],
                        unescape(preview["html"].as_str().unwrap())
                    ),
                ],
                _ => vec![preview["body"].as_str().unwrap().to_owned()],
            };
            let supplementary = listed["supplementary"] == true;
            for body in &bodies {
                let body = collapse(body);
                let needles: &[String] = if supplementary { &must[..1] } else { &must };
                for needle in needles {
                    assert!(
                        body.contains(&collapse(needle)),
                        "{kind:?} {channel} lacks {needle:?}:\n{body}"
                    );
                }
            }
            if channel == "sms" {
                let sms = &preview["sms"];
                assert!(
                    sms["parts"].as_u64().unwrap() <= sms["max_parts"].as_u64().unwrap(),
                    "{sms}"
                );
            }
        }
        // The letter typesets as mail sends it.
        let response = app
            .http
            .post(format!(
                "{}/v1/templates/{}/letter/preview?format=pdf",
                app.base,
                kind.as_str()
            ))
            .bearer_auth(&op.token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/pdf");
        assert!(response.bytes().await.unwrap().starts_with(b"%PDF-"));
    }
    app.stop().await;
}

async fn an_activated_edit_is_used_by_dispatch_without_a_restart(backend: Backend) {
    let app = spawn_app(backend).await;
    let op = Operator::of(&app).await;
    let (_, template) = op.send("GET", "/v1/templates/meter_visit/sms", None).await;
    assert_eq!(template["active_version"], 1);
    let text = template["active"]["parts"]["text"].as_str().unwrap();
    assert!(text.contains("ориентировочно"));
    let edited = text.replace("ориентировочно", "примерно");

    let (status, created) = op
        .send(
            "POST",
            "/v1/templates/meter_visit/sms/versions",
            Some(json!({"parts": {"text": edited}, "comment": "короче"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["version"], 2);
    assert_eq!(created["sms"]["encoding"], "ucs2");

    // Saved is not live.
    let (text, label) = sent_sms(&app, &sms_visit("visit-before")).await;
    assert!(text.contains("ориентировочно"), "{text}");
    assert_eq!(label, "meter_visit/sms/ru@v1");

    let (status, activated) = op
        .send(
            "POST",
            "/v1/templates/meter_visit/sms/activate",
            Some(json!({"version": 2})),
        )
        .await;
    assert_eq!(status, 200, "{activated}");
    let (text, label) = sent_sms(&app, &sms_visit("visit-after")).await;
    assert!(text.contains("примерно"), "{text}");
    assert_eq!(label, "meter_visit/sms/ru@v2");

    let (_, template) = op.send("GET", "/v1/templates/meter_visit/sms", None).await;
    let versions = template["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1]["author"], "operator-anna");
    assert_eq!(versions[1]["comment"], "короче");
    assert_eq!(template["activations"][1]["actor"], "operator-anna");

    // The operator's edit and activation are facts in the proof ledger.
    let facts = "SELECT body FROM ledger WHERE kind = 'template_changed' ORDER BY seq";
    let bodies: Vec<String> = match &app.db {
        vestnik::storage::Db::Sqlite(pool) => sqlx::query_scalar(facts).fetch_all(pool).await,
        vestnik::storage::Db::Postgres(pool) => sqlx::query_scalar(facts).fetch_all(pool).await,
    }
    .unwrap();
    let mine: Vec<Value> = bodies
        .iter()
        .map(|b| serde_json::from_str::<Value>(b).unwrap())
        .filter(|b| b.to_string().contains("operator-anna"))
        .collect();
    assert_eq!(mine.len(), 2, "created and activated: {mine:?}");
    let text = mine.iter().map(Value::to_string).collect::<String>();
    for part in ["meter_visit/sms/ru", "\"create\"", "\"activate\""] {
        assert!(text.contains(part), "{part} in {text}");
    }

    let (status, diff) = op
        .send(
            "GET",
            "/v1/templates/meter_visit/sms/diff?from=1&to=2",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let unified = diff["parts"]["text"].as_str().unwrap();
    assert!(
        unified.contains("-{{!--") || unified.contains("-{{org.name}}"),
        "{unified}"
    );
    assert!(
        unified
            .lines()
            .any(|l| l.starts_with('+') && l.contains("примерно")),
        "{unified}"
    );
    app.stop().await;
}

async fn broken_templates_are_rejected_by_part_line_and_column(backend: Backend) {
    let app = spawn_app(backend).await;
    let op = Operator::of(&app).await;
    let (_, template) = op
        .send("GET", "/v1/templates/meter_visit/email", None)
        .await;
    let parts = template["active"]["parts"].clone();
    let path = "/v1/templates/meter_visit/email/versions";

    let cases: Vec<(&str, String, &str)> = vec![
        ("text", "{{#if org.name}}не закрыт".into(), "syntax error"),
        (
            "html",
            parts["html"]
                .as_str()
                .unwrap()
                .replace("{{event.interval_to}}", ""),
            "event.interval_to",
        ),
        (
            "text",
            format!("{}\n{{{{event.colour}}}}", parts["text"].as_str().unwrap()),
            "unknown variable `event.colour`",
        ),
        (
            "text",
            format!(
                "{}\n{{{{upper org.name}}}}",
                parts["text"].as_str().unwrap()
            ),
            "unknown helper `upper`",
        ),
    ];
    for (part, source, expected) in cases {
        let mut broken = parts.clone();
        broken[part] = json!(source);
        let (status, problem) = op
            .send("POST", path, Some(json!({"parts": broken, "comment": "x"})))
            .await;
        assert_eq!(status, 422, "{part}: {problem}");
        let errors = problem["errors"].as_array().unwrap();
        assert!(
            errors.iter().any(|e| e["field"] == format!("parts.{part}")
                && e["reason"].as_str().unwrap().contains(expected)),
            "{expected}: {problem}"
        );
    }
    // The validate endpoint gives line and column as numbers.
    let mut broken = parts.clone();
    broken["text"] = json!(format!(
        "{}\n{{{{event.colour}}}}",
        parts["text"].as_str().unwrap()
    ));
    let (status, report) = op
        .send(
            "POST",
            "/v1/templates/meter_visit/email/validate",
            Some(json!({"parts": broken})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(report["valid"], false);
    // The reference is on the last line of the broken text.
    let last_line = broken["text"].as_str().unwrap().lines().count() as u64;
    assert_eq!(report["errors"][0]["line"], last_line, "{report}");
    assert_eq!(report["errors"][0]["column"], 1);

    // An SMS over its kind's part limit (3 for appeal replies).
    let (_, sms) = op.send("GET", "/v1/templates/appeal_reply/sms", None).await;
    let long = format!(
        "{} {}",
        sms["active"]["parts"]["text"].as_str().unwrap(),
        "Подробности в письме. ".repeat(12)
    );
    let (status, problem) = op
        .send(
            "POST",
            "/v1/templates/appeal_reply/sms/versions",
            Some(json!({"parts": {"text": long}, "supplementary": true})),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        problem["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("at most 3"),
        "{problem}"
    );

    // Supplementary on a channel the plans count as legal (SMS for meter visits): it
    // would go out as the legal notice without its mandatory fields.
    let (_, visit) = op.send("GET", "/v1/templates/meter_visit/sms", None).await;
    let (status, problem) = op
        .send(
            "POST",
            "/v1/templates/meter_visit/sms/versions",
            Some(json!({"parts": visit["active"]["parts"], "supplementary": true})),
        )
        .await;
    assert_eq!(status, 422);
    let reason = problem["errors"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("legal channel"), "{problem}");

    // Nothing was stored.
    let (_, template) = op
        .send("GET", "/v1/templates/meter_visit/email", None)
        .await;
    assert_eq!(template["versions"].as_array().unwrap().len(), 1);
    app.stop().await;
}

async fn html_parts_escape_field_values_and_text_parts_do_not(backend: Backend) {
    let app = spawn_app(backend).await;
    let op = Operator::of(&app).await;
    let request = example("planned_outage");
    let mut event = request["event"].clone();
    event["reason"] = json!("<script>alert(1)</script> ремонт");
    let (status, preview) = op
        .send(
            "POST",
            "/v1/templates/planned_outage/email/preview",
            Some(json!({"data": {"event": event, "recipient": request["recipients"][0]}})),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    let html = preview["html"].as_str().unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; ремонт"),
        "{html}"
    );
    assert!(
        preview["text"]
            .as_str()
            .unwrap()
            .contains("<script>alert(1)</script> ремонт")
    );

    // Supplied data is parsed as intake parses it.
    let (status, problem) = op
        .send(
            "POST",
            "/v1/templates/planned_outage/email/preview",
            Some(
                json!({"data": {"event": {"reason": "x"}, "recipient": request["recipients"][0]}}),
            ),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "data.event.work_kind"),
        "{problem}"
    );
    app.stop().await;
}

async fn rollback_restores_the_previous_version_and_versions_are_immutable(backend: Backend) {
    let app = spawn_app(backend).await;
    let op = Operator::of(&app).await;
    let (status, _) = op
        .send("POST", "/v1/templates/tariff_change/sms/rollback", None)
        .await;
    assert_eq!(status, 409, "nothing before the seed");
    let (_, template) = op
        .send("GET", "/v1/templates/tariff_change/sms", None)
        .await;
    let text = template["active"]["parts"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    for n in 2..=3 {
        let (status, _) = op
            .send(
                "POST",
                "/v1/templates/tariff_change/sms/versions",
                Some(json!({"parts": {"text": format!("{text} ({n})")}, "supplementary": true})),
            )
            .await;
        assert_eq!(status, 201);
        let (status, _) = op
            .send(
                "POST",
                "/v1/templates/tariff_change/sms/activate",
                Some(json!({"version": n})),
            )
            .await;
        assert_eq!(status, 200);
    }
    let (status, back) = op
        .send("POST", "/v1/templates/tariff_change/sms/rollback", None)
        .await;
    assert_eq!((status, &back["active_version"]), (200, &json!(2)));
    let (_, back) = op
        .send("POST", "/v1/templates/tariff_change/sms/rollback", None)
        .await;
    assert_eq!(back["active_version"], 1);
    let (_, template) = op
        .send("GET", "/v1/templates/tariff_change/sms", None)
        .await;
    assert_eq!(template["active"]["parts"]["text"], json!(text));
    let (status, missing) = op
        .send(
            "POST",
            "/v1/templates/tariff_change/sms/activate",
            Some(json!({"version": 9})),
        )
        .await;
    assert_eq!(status, 422, "{missing}");
    assert_eq!(missing["errors"][0]["field"], "version");

    // The database itself refuses to change a version.
    let update = "UPDATE template_versions SET parts = '{}' WHERE version = 1";
    let refused = match &app.db {
        vestnik::storage::Db::Sqlite(pool) => sqlx::query(update).execute(pool).await.is_err(),
        vestnik::storage::Db::Postgres(pool) => sqlx::query(update).execute(pool).await.is_err(),
    };
    assert!(refused, "template versions must be immutable");
    app.stop().await;
}

async fn only_operators_and_admins_may_touch_templates(backend: Backend) {
    let app = spawn_app(backend).await;
    let ingest = app
        .http
        .get(format!("{}/v1/templates", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(ingest.status(), 403);
    let admin = app.token_for("root", Role::Admin).await;
    let listed = app
        .http
        .get(format!("{}/v1/templates", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let op = Operator::of(&app).await;
    let (status, _) = op
        .send("GET", "/v1/templates/planned_outage/pigeon", None)
        .await;
    assert_eq!(status, 404);
    // The editor's pages carry no data and need no token; the API behind them does.
    let page = app
        .http
        .get(format!("{}/ui/templates/planned_outage/email", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("event.responsible.full_name")
    );
    assert!(files(&app.outbox()).is_empty());
    app.stop().await;
}

async fn another_process_sees_an_activation_through_the_stamp(backend: Backend) {
    let app = spawn_app(backend).await;
    let op = Operator::of(&app).await;
    // A second pool on the same database stands for another process's dispatcher.
    let url = match &app.db {
        vestnik::storage::Db::Sqlite(_) => {
            format!("sqlite://{}", app.dir.path().join("vestnik.db").display())
        }
        vestnik::storage::Db::Postgres(pool) => {
            let options = pool.connect_options();
            format!(
                "postgres://postgres@127.0.0.1:{}/{}",
                options.get_port(),
                options.get_database().unwrap()
            )
        }
    };
    let other = vestnik::storage::Db::connect(&url, 2).await.unwrap();
    let set = vestnik::templates::TemplateSet::load_dir(&common::repo_path("templates")).unwrap();
    let live = vestnik::dispatch::LiveTemplates::load(other, set.partials)
        .await
        .unwrap();
    let before = live.current().await.unwrap();
    assert_eq!(
        before.version(IntentKind::DebtWarning, vestnik::recipients::Channel::Fax),
        "debt_warning/letter/ru@v1"
    );

    let (_, letter) = op
        .send("GET", "/v1/templates/debt_warning/letter", None)
        .await;
    let (status, _) = op
        .send(
            "POST",
            "/v1/templates/debt_warning/fax/versions",
            Some(json!({"parts": letter["active"]["parts"], "comment": "свой текст для факса"})),
        )
        .await;
    assert_eq!(status, 201);
    let unchanged = live.current().await.unwrap();
    assert_eq!(
        unchanged.version(IntentKind::DebtWarning, vestnik::recipients::Channel::Fax),
        "debt_warning/letter/ru@v1"
    );
    op.send(
        "POST",
        "/v1/templates/debt_warning/fax/activate",
        Some(json!({"version": 1})),
    )
    .await;
    let after = live.current().await.unwrap();
    assert_eq!(
        after.version(IntentKind::DebtWarning, vestnik::recipients::Channel::Fax),
        "debt_warning/fax/ru@v1"
    );
    app.stop().await;
}
