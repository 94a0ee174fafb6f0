//! Legal deadlines at the edges: the `vestnik deadline` command, `POST /v1/deadlines`, and
//! intake stamping each recipient with its deadline and refusing notices already late.

mod common;

use std::process::Command;

use common::{Backend, example, problem_fields, spawn_app, write_plans};
use serde_json::{Value, json};

both_backends! {
    intake_stamps_each_recipient_with_its_deadline;
    intake_refuses_a_notice_already_late_unless_told_to_accept_it;
    intake_refuses_an_event_in_a_year_without_a_calendar;
    deadline_endpoint_explains_the_rule;
    an_appeal_left_on_the_answering_machine_gets_its_own_term;
    intake_counts_each_recipient_by_its_regions_calendar;
    a_meter_visit_keeps_to_working_days_and_each_contracts_hours;
}

fn cli_deadline(args: &[&str]) -> Value {
    cli_deadline_with(args, &[])
}

/// `vestnik deadline ARGS` with the repository's config and extra `VESTNIK_…` settings.
fn cli_deadline_with(args: &[&str], settings: &[(&str, &str)]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vestnik"))
        .arg("deadline")
        .args(args)
        .env(
            "VESTNIK_DEADLINES__CALENDAR_DIR",
            common::repo_path("config/calendar"),
        )
        .env(
            "VESTNIK_DEADLINES__POLICIES_FILE",
            common::repo_path("config/policies.toml"),
        )
        .envs(settings.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn deadline_command_gives_the_documented_examples_exactly() {
    let outage = cli_deadline(&[
        "--kind",
        "planned_outage",
        "--customer-type",
        "individual",
        "--event",
        "2026-01-13",
        "--tz",
        "Europe/Moscow",
    ]);
    assert_eq!(outage["deadline"], "2025-12-17T23:59:59+03:00");
    let skipped: Vec<&str> = outage["explain"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert!(
        skipped.contains(&"2025-12-31") && skipped.contains(&"2026-01-09"),
        "{skipped:?}"
    );

    let works = cli_deadline(&[
        "--kind",
        "planned_outage",
        "--customer-type",
        "legal_entity",
        "--event",
        "2026-12-15T09:00",
        "--tz",
        "Europe/Samara",
    ]);
    assert_eq!(works["deadline"], "2026-11-14T23:59:59+04:00");

    let appeal = cli_deadline(&[
        "--kind",
        "appeal_reply",
        "--customer-type",
        "individual",
        "--event",
        "2026-12-20",
        "--tz",
        "Asia/Kamchatka",
    ]);
    assert_eq!(appeal["deadline"], "2027-01-04T23:59:59+12:00");
}

async fn intake_stamps_each_recipient_with_its_deadline(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = example("planned_outage");
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let (_, intent) = app
        .get_json(&format!("/v1/intents/{}", accepted["id"].as_str().unwrap()))
        .await;
    for (sent, listed) in body["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .zip(intent["recipients"].as_array().unwrap())
    {
        let local = &body["event"]["starts_at"].as_str().unwrap()[..10];
        let expected = cli_deadline(&[
            "--kind",
            "planned_outage",
            "--customer-type",
            sent["customer_type"].as_str().unwrap(),
            "--event",
            local,
            "--tz",
            sent["time_zone"].as_str().unwrap(),
        ]);
        let stamped =
            chrono::DateTime::parse_from_rfc3339(listed["deadline"].as_str().unwrap()).unwrap();
        let computed =
            chrono::DateTime::parse_from_rfc3339(expected["deadline"].as_str().unwrap()).unwrap();
        assert_eq!(stamped, computed, "{listed}");
    }
    app.stop().await;
}

async fn intake_refuses_a_notice_already_late_unless_told_to_accept_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut body = example("planned_outage");
    // Works next week: ten working days' notice can no longer be given.
    let start = chrono::Utc::now() + chrono::Duration::days(7);
    body["event"]["starts_at"] = json!(start.format("%Y-%m-%dT09:00:00+03:00").to_string());
    body["event"]["ends_at"] = json!(start.format("%Y-%m-%dT17:00:00+03:00").to_string());
    let problem = app.refuse(&body).await;
    let first = &problem["errors"][0];
    assert_eq!(first["field"], "recipients[0]");
    assert!(
        first["reason"].as_str().unwrap().contains("has passed"),
        "{problem}"
    );
    assert!(files_under(&app.outbox()) == 0);

    body["accept_late"] = json!(true);
    let response = app.post_intent(&body).await;
    assert_eq!(
        response.status(),
        202,
        "accept_late records it as late by design"
    );
    app.stop().await;
}

async fn intake_refuses_an_event_in_a_year_without_a_calendar(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut body = example("planned_outage");
    body["event"]["starts_at"] = json!("2031-03-18T09:00:00+03:00");
    body["event"]["ends_at"] = json!("2031-03-18T17:00:00+03:00");
    let problem = app.refuse(&body).await;
    assert_eq!(problem["errors"][0]["field"], "event.starts_at");
    assert!(
        problem["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("2031"),
        "{problem}"
    );
    app.stop().await;
}

async fn deadline_endpoint_explains_the_rule(backend: Backend) {
    let app = spawn_app(backend).await;
    let post = || {
        app.http
            .post(format!("{}/v1/deadlines", app.base))
            .bearer_auth(&app.token)
    };
    let request = json!({"kind": "debt_warning", "customer_type": "legal_entity", "event": "2027-01-15", "time_zone": "Europe/Kaliningrad"});
    let response = post().json(&request).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let d: Value = response.json().await.unwrap();
    // Ten working days strictly between, counted back from 14 Jan: 11-14 Jan, then (1-10 Jan
    // and 31 Dec being days off) 23-30 Dec; the deadline is the day before, 22 Dec.
    assert_eq!(d["deadline"], "2026-12-22T23:59:59+02:00", "{d}");
    assert_eq!(d["rule"]["unit"], "working_days");

    let mut bad = request.clone();
    bad["time_zone"] = json!("Moon/Base");
    let response = post().json(&bad).send().await.unwrap();
    assert_eq!(response.status(), 422);

    // Not JSON: 415 as documented. A field of the wrong type: 422 naming it.
    let response = post()
        .header("content-type", "text/plain")
        .body(request.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    bad["time_zone"] = json!(3);
    let response = post().json(&bad).send().await.unwrap();
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    let reason = problem["errors"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("time_zone"), "{problem}");

    let response = app
        .http
        .post(format!("{}/v1/deadlines", app.base))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    app.stop().await;
}

fn files_under(dir: &std::path::Path) -> usize {
    common::files(dir).len()
}

#[test]
fn a_regional_overlay_adds_the_republics_holidays_without_code() {
    let args = [
        "--kind",
        "debt_warning",
        "--customer-type",
        "legal_entity",
        "--event",
        "2027-09-06",
        "--tz",
        "Europe/Moscow",
    ];
    let federal = cli_deadline(&args);
    assert_eq!(federal["deadline"], "2027-08-22T23:59:59+03:00");
    let regional = cli_deadline_with(
        &args,
        &[("VESTNIK_DEADLINES__CALENDAR_OVERLAYS", "[\"tatarstan\"]")],
    );
    // Republic Day, Mon 30 Aug 2027, is not a working day there: one more day back.
    assert_eq!(regional["deadline"], "2027-08-19T23:59:59+03:00");
    assert!(
        regional["explain"]["skipped"]
            .to_string()
            .contains("Republic Day")
    );
    // The same overlay for one recipient in the republic, by its region (`regions` in
    // the overlay file): the federal calendar elsewhere is untouched.
    let mut in_republic = args.to_vec();
    in_republic.extend(["--region", "RU-TA"]);
    let by_region = cli_deadline(&in_republic);
    assert_eq!(by_region["deadline"], "2027-08-19T23:59:59+03:00");
    assert_eq!(by_region["region"], "RU-TA");
    let mut elsewhere = args.to_vec();
    elsewhere.extend(["--region", "RU-MOW"]);
    assert_eq!(
        cli_deadline(&elsewhere)["deadline"],
        "2027-08-22T23:59:59+03:00"
    );
}

/// A recipient's `region` picks its calendar at intake: two legal entities in one zone,
/// one of them in Tatarstan, get deadlines a working day apart.
async fn intake_counts_each_recipient_by_its_regions_calendar(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut body = example("debt_warning");
    body["event"]["restriction_date"] = json!("2027-09-06");
    body["event"]["pay_by"] = json!("2027-09-01");
    let mut kazan = body["recipients"][1].clone();
    kazan["time_zone"] = json!("Europe/Moscow");
    let mut moscow = kazan.clone();
    kazan["region"] = json!("RU-TA");
    moscow["account_number"] = json!("77-0045872/01");
    body["recipients"] = json!([kazan, moscow]);
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let (_, intent) = app
        .get_json(&format!("/v1/intents/{}", accepted["id"].as_str().unwrap()))
        .await;
    let deadlines: Vec<&str> = intent["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["deadline"].as_str().unwrap())
        .collect();
    assert_eq!(
        deadlines,
        ["2027-08-19T20:59:59.000Z", "2027-08-22T20:59:59.000Z"],
        "{intent}"
    );
    assert_eq!(intent["recipients"][0]["region"], "RU-TA");
    assert_eq!(intent["recipients"][1]["region"], Value::Null);
    // The ledger's deadline entry names the region its calendar came from.
    let auditor = common::bundles::Auditor::new(&app).await;
    let id = accepted["id"].as_str().unwrap();
    let bundle = auditor.json(&format!("/v1/intents/{id}/proof")).await;
    assert_eq!(bundle["recipients"][0]["deadline"]["region"], "RU-TA");
    assert_eq!(bundle["recipients"][1]["deadline"]["region"], Value::Null);

    body["recipients"][0]["region"] = json!("Tatarstan");
    let problem = app.refuse(&body).await;
    assert_eq!(
        problem["errors"][0]["field"], "recipients[0].region",
        "{problem}"
    );
    app.stop().await;
}

async fn an_appeal_left_on_the_answering_machine_gets_its_own_term(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut body = example("appeal_reply");
    body["recipients"] = json!([body["recipients"][0].clone()]);
    let registered = "2027-01-18";
    body["event"]["appeal_registered_at"] = json!(format!("{registered}T10:15:00+05:00"));
    body["event"]["appeal_kind"] = json!("answering_machine_phone");
    let response = app.post_intent(&body).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    let (_, intent) = app
        .get_json(&format!("/v1/intents/{}", accepted["id"].as_str().unwrap()))
        .await;
    let tz = body["recipients"][0]["time_zone"].as_str().unwrap();
    let expected = cli_deadline(&[
        "--kind",
        "appeal_reply",
        "--customer-type",
        "individual",
        "--event",
        registered,
        "--tz",
        tz,
        "--appeal",
        "answering_machine_phone",
    ]);
    let stamped =
        chrono::DateTime::parse_from_rfc3339(intent["recipients"][0]["deadline"].as_str().unwrap())
            .unwrap();
    let computed =
        chrono::DateTime::parse_from_rfc3339(expected["deadline"].as_str().unwrap()).unwrap();
    assert_eq!(stamped, computed, "5 working days, not 15 calendar days");

    body["event"]["appeal_kind"] = json!("by pigeon");
    body["external_id"] = json!("appeal-bad-kind");
    let problem: Value = app.post_intent(&body).await.json().await.unwrap();
    assert_eq!(
        problem["errors"][0]["field"], "event.appeal_kind",
        "{problem}"
    );
    app.stop().await;
}

/// Visits are on working days within 11:00-22:00 local time unless the account's contract
/// sets other hours (`[[meter_visit.contracts]]`); a visit outside them is refused, naming
/// the event's hours or the recipient whose contract they break.
async fn a_meter_visit_keeps_to_working_days_and_each_contracts_hours(backend: Backend) {
    // 1 February 2027: the example's visit (23 March) is weeks ahead.
    let now = chrono::DateTime::parse_from_rfc3339("2027-02-01T09:00:00Z").unwrap();
    let clock = vestnik::clock::Clock::fake(now.with_timezone(&chrono::Utc));
    let app = common::spawn_app_clocked(backend, clock, |s| {
        let dir = s.outbox.dir.parent().unwrap().to_owned();
        s.deadlines.plans_file = write_plans(&dir, |p| {
            let contract: toml::Table = "account_number = \"5409876543\"\n\
                working_days = { from = \"08:00\", to = \"11:00\" }\n\
                source = \"supply contract 17, clause 4\"\n"
                .parse()
                .unwrap();
            p["meter_visit"].as_table_mut().unwrap().insert(
                "contracts".into(),
                toml::Value::Array(vec![toml::Value::Table(contract)]),
            );
        });
    })
    .await;
    let body = example("meter_visit"); // Tue 23 March 2027, 11:00-15:00
    assert_eq!(body["recipients"][1]["account_number"], "5409876543");
    let problem = app.refuse(&body).await;
    assert_eq!(problem_fields(&problem), ["recipients[1]"], "{problem}");
    assert!(
        problem["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("08:00-11:00"),
        "{problem}"
    );

    // 09:00-10:00 suits that contract and no one else's default hours.
    let mut early = body.clone();
    early["event"]["interval_from"] = json!("09:00");
    early["event"]["interval_to"] = json!("10:00");
    let problem = app.refuse(&early).await;
    assert_eq!(
        problem_fields(&problem),
        ["event.interval_from"],
        "{problem}"
    );
    assert!(
        problem["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("whose contract sets no other hours"),
        "{problem}"
    );

    let mut only_contract = early.clone();
    only_contract["recipients"] = json!([body["recipients"][1].clone()]);
    assert_eq!(app.post_intent(&only_contract).await.status(), 202);

    let mut saturday = body.clone();
    saturday["recipients"] = json!([body["recipients"][0].clone()]);
    saturday["event"]["visit_date"] = json!("2027-03-27");
    saturday["external_id"] = json!("visit-on-a-saturday");
    let problem = app.refuse(&saturday).await;
    assert_eq!(problem_fields(&problem), ["event.visit_date"], "{problem}");

    // Mon 30 August 2027 is Republic Day in Tatarstan only.
    let mut republic_day = body.clone();
    republic_day["recipients"] = json!([body["recipients"][0].clone()]);
    republic_day["event"]["visit_date"] = json!("2027-08-30");
    republic_day["external_id"] = json!("visit-on-republic-day");
    assert_eq!(app.post_intent(&republic_day).await.status(), 202);
    republic_day["recipients"][0]["region"] = json!("RU-TA");
    republic_day["external_id"] = json!("visit-on-republic-day-in-kazan");
    let problem = app.refuse(&republic_day).await;
    assert_eq!(problem_fields(&problem), ["event.visit_date"], "{problem}");
    assert!(
        problem["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("in RU-TA"),
        "{problem}"
    );
    app.stop().await;
}
