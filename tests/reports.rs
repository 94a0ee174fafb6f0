//! The compliance report: verdicts counted from what the messages of each recipient show,
//! as JSON and CSV, with its parameters checked and its page served.

mod common;

use common::{Backend, TestApp, example, problem_fields, spawn_app};
use serde_json::{Value, json};
use vestnik::auth::Role;
use vestnik::storage::Db;

both_backends! {
    the_report_counts_every_verdict_by_kind_customer_type_and_channel;
    bad_parameters_are_named_and_only_auditors_read_reports;
}

const HOUR: i64 = 3_600_000;

async fn sql(db: &Db, statement: &str, intent: &str, idx: i64, at: i64) {
    match db {
        Db::Sqlite(pool) => sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(intent)
            .bind(idx)
            .bind(at)
            .execute(pool)
            .await
            .map(drop),
        Db::Postgres(pool) => sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(intent)
            .bind(idx)
            .bind(at)
            .execute(pool)
            .await
            .map(drop),
    }
    .unwrap();
}

async fn deadline(db: &Db, intent: &str, idx: i64) -> i64 {
    let q = "SELECT deadline_at FROM recipients WHERE intent_id = $1 AND idx = $2";
    match db {
        Db::Sqlite(pool) => {
            sqlx::query_scalar(q)
                .bind(intent)
                .bind(idx)
                .fetch_one(pool)
                .await
        }
        Db::Postgres(pool) => {
            sqlx::query_scalar(q)
                .bind(intent)
                .bind(idx)
                .fetch_one(pool)
                .await
        }
    }
    .unwrap()
}

/// Makes the legal-notice messages of one recipient end as `outcome` says, as the
/// gateways' reports would have: `delivered` at `at` by the first legal channel, the rest
/// cancelled; or every legal message `unconfirmed` or `failed`.
async fn finish(app: &TestApp, intent: &str, idx: i64, outcome: &str, at: i64) {
    let legal = "intent_id = $1 AND recipient_idx = $2 AND legal_step IS NOT NULL";
    let rest = match outcome {
        "delivered" => "cancelled",
        other => other,
    };
    let all = format!(
        "UPDATE messages SET status = '{rest}', sent_at = $3 - 1000, delivered_at = NULL WHERE {legal}"
    );
    sql(&app.db, &all, intent, idx, at).await;
    if outcome == "delivered" {
        let first = format!(
            "UPDATE messages SET status = 'delivered', delivered_at = $3 WHERE {legal} AND legal_step = 0"
        );
        sql(&app.db, &first, intent, idx, at).await;
    }
}

async fn post_outage(app: &TestApp, external_id: &str) -> String {
    let mut body = example("planned_outage");
    body["external_id"] = json!(external_id);
    let response = app.post_intent(&body).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap().to_owned();
    app.wait_settled(&id).await;
    id
}

async fn report(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/v1/reports/compliance?{query}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn the_report_counts_every_verdict_by_kind_customer_type_and_channel(backend: Backend) {
    let app = spawn_app(backend).await;
    let auditor = app.token_for("audit", Role::Auditor).await;
    let first = post_outage(&app, "report-1").await;
    let second = post_outage(&app, "report-2").await;
    // Six recipients: on time, late; unconfirmed, not delivered; and two whose legal
    // notice went out through the outbox with no report (unconfirmed too) or waits.
    let d = deadline(&app.db, &first, 0).await;
    finish(&app, &first, 0, "delivered", d - HOUR).await;
    let d = deadline(&app.db, &first, 1).await;
    finish(&app, &first, 1, "delivered", d + HOUR).await;
    finish(&app, &second, 0, "unconfirmed", d - 2 * HOUR).await;
    finish(&app, &second, 1, "failed", d - 2 * HOUR).await;

    // The example's outage is in March 2027; its deadlines fall before it.
    let response = report(&app, &auditor, "from=2027-01-01&to=2027-03-31").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let total = &body["total"];
    assert_eq!(total["recipients"], 6, "{body}");
    for (verdict, n) in [
        ("delivered_on_time", 1),
        ("delivered_late", 1),
        ("unconfirmed", 3),
        ("not_delivered", 1),
        ("in_progress", 0),
    ] {
        assert_eq!(total[verdict], n, "{verdict}: {body}");
    }
    assert_eq!(total["decided"], 6);
    assert_eq!(total["rates"]["delivered_on_time"], 0.1667);
    assert_eq!(body["time_zone"], "Europe/Moscow");

    let groups = body["groups"].as_array().unwrap();
    let sum: i64 = groups
        .iter()
        .map(|g| g["recipients"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, 6, "groups partition the recipients");
    assert!(groups.iter().all(|g| g["kind"] == "planned_outage"));
    let on_time = groups.iter().find(|g| g["delivered_on_time"] == 1).unwrap();
    assert_eq!(
        on_time["customer_type"], "individual",
        "the first recipient"
    );
    assert_ne!(on_time["channel"], "none");
    let late = groups.iter().find(|g| g["delivered_late"] == 1).unwrap();
    assert_eq!(late["customer_type"], "legal_entity");
    let weeks = body["weeks"].as_array().unwrap();
    let decided: i64 = weeks.iter().map(|w| w["decided"].as_i64().unwrap()).sum();
    assert_eq!(
        decided, 6,
        "every decided recipient is in a week: {weeks:?}"
    );
    assert!(
        weeks
            .iter()
            .all(|w| w["week"].as_str().unwrap().starts_with("2027-W"))
    );

    let response = report(&app, &auditor, "from=2027-01-01&to=2027-03-31&format=csv").await;
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "kind,customer_type,channel,recipients,decided,delivered_on_time,delivered_late,\
         unconfirmed,not_delivered,in_progress,on_time_rate"
    );
    assert_eq!(
        lines.len(),
        groups.len() + 2,
        "header, groups, total: {csv}"
    );
    assert_eq!(*lines.last().unwrap(), "all,all,all,6,6,1,1,3,1,0,0.1667");

    // Filters: another kind, or a period before the deadlines, has nobody.
    for query in [
        "from=2027-01-01&to=2027-03-31&kind=debt_warning",
        "from=2026-01-01&to=2026-01-31",
    ] {
        let body: Value = report(&app, &auditor, query).await.json().await.unwrap();
        assert_eq!(body["total"]["recipients"], 0, "{query}: {body}");
        assert_eq!(body["total"]["rates"]["delivered_on_time"], Value::Null);
    }
    app.stop().await;
}

async fn bad_parameters_are_named_and_only_auditors_read_reports(backend: Backend) {
    let app = spawn_app(backend).await;
    let auditor = app.token_for("audit", Role::Auditor).await;
    for (query, fields) in [
        ("", vec!["from", "to"]),
        ("from=2027-02-01&to=2027-01-01", vec!["to"]),
        ("from=2027-13-01&to=2027-01-01", vec!["from"]),
        ("from=2025-01-01&to=2027-01-01", vec!["to"]),
        ("from=2027-01-01&to=2027-01-31&kind=outage", vec!["kind"]),
        ("from=2027-01-01&to=2027-01-31&tz=Moscow", vec!["tz"]),
        ("from=2027-01-01&to=2027-01-31&format=xml", vec!["format"]),
        ("from=2027-01-01&to=2027-01-31&client=x", vec!["client"]),
    ] {
        let response = report(&app, &auditor, query).await;
        assert_eq!(response.status(), 422, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        let named = problem_fields(&problem);
        assert_eq!(named, fields, "{query}: {problem}");
    }
    let query = "from=2027-01-01&to=2027-01-31";
    assert_eq!(
        report(&app, &app.token, query).await.status(),
        403,
        "ingest"
    );
    assert_eq!(report(&app, "not-a-token", query).await.status(), 401);
    let admin = app.token_for("root", Role::Admin).await;
    assert_eq!(report(&app, &admin, query).await.status(), 200);

    let page = app
        .http
        .get(format!("{}/ui/compliance", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Соблюдение сроков уведомления"));
    assert!(
        html.contains("/v1/reports/compliance"),
        "the page asks the API"
    );
    app.stop().await;
}
