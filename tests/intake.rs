//! The intake API end to end, on SQLite and on PostgreSQL: accept → queue → render → outbox.

mod common;

use std::time::Duration;

use common::{Backend, example, files, problem_fields, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use vestnik::auth::Role;
use vestnik::intents::IntentKind;

both_backends! {
    every_kind_reaches_the_outbox_with_every_mandatory_field;
    invalid_request_lists_every_bad_field_and_stores_nothing;
    a_big_body_read_on_every_core_reports_faults_in_order;
    malformed_or_oversized_bodies_get_problem_json;
    routes_need_a_token_with_the_right_role;
    retry_with_same_key_and_body_returns_the_original_and_enqueues_nothing;
    two_concurrent_identical_requests_make_one_intent;
    recipients_are_paginated_and_intents_found_by_external_id;
    a_template_that_misses_a_variable_fails_the_message_permanently;
    a_transient_gateway_failure_is_retried_until_it_succeeds;
    health_reports_the_database;
    an_sms_over_its_kinds_part_limit_fails_with_the_count;
}

async fn every_kind_reaches_the_outbox_with_every_mandatory_field(backend: Backend) {
    let app = spawn_app(backend).await;
    for kind in IntentKind::ALL {
        let body = example(kind.as_str());
        let response = app.post_intent(&body).await;
        assert_eq!(
            response.status(),
            202,
            "{kind:?}: {}",
            response.text().await.unwrap()
        );
        let accepted: Value = response.json().await.unwrap();
        let id = accepted["id"].as_str().unwrap();
        let expected_messages: usize = body["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["channels"].as_array().unwrap().len())
            .sum();
        assert_eq!(accepted["messages"], expected_messages);

        let intent = app.wait_settled(id).await;
        let counts = &intent["status_counts"];
        assert_eq!(
            counts["sent"].as_i64().unwrap_or(0) + counts["held"].as_i64().unwrap_or(0),
            expected_messages as i64,
            "{kind:?}: only sent and held: {intent}"
        );
        for (recipient, listed) in body["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .zip(intent["recipients"].as_array().unwrap())
        {
            let must = common::notices::mandatory_texts(
                kind,
                &body["event"],
                recipient,
                "ООО «РУСЭНЕРГОСБЫТ»",
            );
            for channel in listed["channels"].as_array().unwrap() {
                // Supplementary channels and the first legal one go at once; later legal
                // ones wait for escalation (tests/escalation.rs).
                if channel["legal_step"].as_i64().is_some_and(|step| step > 0) {
                    assert_eq!(channel["status"], "held", "{channel}");
                    continue;
                }
                assert_eq!(channel["status"], "sent", "{channel}");
                assert_eq!(channel["attempts"], 1);
                let file = app
                    .outbox()
                    .join(channel["gateway_message_id"].as_str().unwrap());
                let bytes =
                    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                let sha = vestnik_sha256(&bytes);
                assert_eq!(channel["content_sha256"], sha, "stored hash is the file's");
                let text = readable_text(channel["channel"].as_str().unwrap(), &bytes);
                if channel["channel"] == "mail" {
                    // Our own letters pass the print-house check a precompiled one must.
                    use vestnik::letters::check::validate::{Expected, Rules, validate};
                    let postal = &recipient["contacts"]["postal_address"];
                    let expected = Expected {
                        name: recipient["name"].as_str().unwrap(),
                        postcode: postal["postcode"].as_str().unwrap(),
                        address: postal["address"].as_str().unwrap(),
                    };
                    if let Err(problems) = validate(&bytes, &Rules::default(), Some(&expected)) {
                        panic!("{kind:?}: our letter fails the check: {problems:?}");
                    }
                }
                // SMS may be supplementary; full notices must carry every mandatory field.
                if channel["channel"] != "sms" {
                    for needle in &must {
                        assert!(
                            if channel["channel"] == "mail" || channel["channel"] == "fax" {
                                in_pdf_text(&text, needle)
                            } else {
                                collapse(&text).contains(&collapse(needle))
                            },
                            "{kind:?} {} lacks {needle:?}:\n{text}",
                            channel["channel"]
                        );
                    }
                }
            }
        }
    }
    app.stop().await;
}

/// Whether `needle` occurs in a PDF's `text` whitespace aside: extraction joins wrapped
/// lines with or without a space, as the extractor guesses.
fn in_pdf_text(text: &str, needle: &str) -> bool {
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    squeeze(text).contains(&squeeze(needle))
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn vestnik_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The human-readable text of an outbox file (an email's decoded parts, a JSON's text).
fn readable_text(channel: &str, bytes: &[u8]) -> String {
    match channel {
        "email" => {
            let message = mail_parser::MessageParser::default()
                .parse(bytes)
                .expect("valid RFC 5322");
            assert!(message.message_id().is_some());
            let text = message.body_text(0).expect("text part").into_owned();
            let html = message.body_html(0).expect("HTML part").into_owned();
            assert!(!html.is_empty());
            // SMTP mandates CRLF line ends; compare with the intent's LF text.
            format!("{}\n{text}", message.subject().unwrap_or_default()).replace("\r\n", "\n")
        }
        "sms" => {
            let v: Value = serde_json::from_slice(bytes).unwrap();
            v["text"].as_str().unwrap().to_owned()
        }
        // Letters are PDFs: read back with an independent extractor; lines of justified
        // text break anywhere, so whitespace is compared collapsed.
        "mail" | "fax" => {
            assert!(bytes.starts_with(b"%PDF-"));
            let text = pdf_extract::extract_text_from_mem(bytes).expect("readable PDF");
            collapse(&text)
        }
        other => panic!("no outbox reader for {other}"),
    }
}

async fn invalid_request_lists_every_bad_field_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut body = example("planned_outage");
    body["event"]["contact_phone"] = json!("8 800 100-00-00");
    body["event"].as_object_mut().unwrap().remove("reason");
    body["recipients"][0]["time_zone"] = json!("Mars/Olympus");
    body["recipients"][1]["contacts"]["email"] = json!("not-an-email");
    body["recipients"][2]["channels"] = json!(["sms", "pigeon"]);
    body["recipients"][2]["contacts"]
        .as_object_mut()
        .unwrap()
        .remove("phone");
    // A contract contact needs its contact point, and a known channel.
    body["recipients"][0]["contract_contacts"] = json!(["email", "fax"]);
    body["recipients"][1]["contract_contacts"] = json!(["telegram"]);

    let problem = app.refuse(&body).await;
    let fields = problem_fields(&problem);
    for expected in [
        "event.contact_phone",
        "event.reason",
        "recipients[0].time_zone",
        "recipients[0].contract_contacts[1]",
        "recipients[1].contacts.email",
        "recipients[1].contract_contacts[0]",
        "recipients[2].channels[1]",
        "recipients[2].contacts.phone",
    ] {
        assert!(fields.contains(&expected), "{expected} not in {fields:?}");
    }
    assert!(
        !fields.contains(&"recipients[0].contract_contacts[0]"),
        "{fields:?}"
    );

    let unknown_kind =
        json!({"kind": "lottery", "external_id": "x", "event": {}, "recipients": []});
    let problem: Value = app.post_intent(&unknown_kind).await.json().await.unwrap();
    assert!(problem["errors"].to_string().contains("unknown kind"));

    let typo = {
        let mut b = example("meter_visit");
        b["recipients"][0]["phnoe"] = json!("+79161234567");
        b
    };
    let problem = app.refuse(&typo).await;
    assert_eq!(
        problem["errors"][0]["field"], "recipients[0].phnoe",
        "{problem}"
    );

    let (_, found) = app
        .get_json("/v1/intents?external_id=outage-2027-000316")
        .await;
    assert_eq!(found["intents"], json!([]), "nothing was stored");
    assert!(files(&app.outbox()).is_empty());
    app.stop().await;
}

/// 3,000 recipients are read in several chunks at once (`intents::parallel`): the faults
/// must still come in recipient order, a field that does not deserialise must still be
/// named by its path, and nothing is stored.
async fn a_big_body_read_on_every_core_reports_faults_in_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let big = |edit: &dyn Fn(usize, &mut Value)| {
        let mut body = example("meter_visit");
        let template = body["recipients"][0].clone();
        let recipients: Vec<Value> = (0..3_000)
            .map(|i| {
                let mut r = template.clone();
                r["account_number"] = json!(format!("{:010}", 7_000_000_000u64 + i as u64));
                edit(i, &mut r);
                r
            })
            .collect();
        body["recipients"] = json!(recipients);
        body
    };

    let bad = [2_321, 17, 1_500];
    let body = big(&|i, r| {
        if bad.contains(&i) {
            r["customer_type"] = json!("company");
        }
    });
    let problem = app.refuse(&body).await;
    let fields = problem_fields(&problem);
    assert_eq!(
        fields,
        [
            "recipients[17].customer_type",
            "recipients[1500].customer_type",
            "recipients[2321].customer_type"
        ],
        "{problem}"
    );

    let typo = big(&|i, r| {
        if i == 2_999 {
            r["phnoe"] = json!("+79161234567");
        }
    });
    let problem = app.refuse(&typo).await;
    assert_eq!(
        problem["errors"][0]["field"], "recipients[2999].phnoe",
        "{problem}"
    );

    let (_, found) = app
        .get_json(&format!(
            "/v1/intents?external_id={}",
            body["external_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(found["intents"], json!([]), "nothing was stored");
    let response = app.post_intent(&big(&|_, _| {})).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    app.stop().await;
}

async fn malformed_or_oversized_bodies_get_problem_json(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.server.body_limit_bytes = 64 * 1024).await;
    let post = |body: Vec<u8>, content_type: &'static str| {
        app.http
            .post(format!("{}/v1/intents", app.base))
            .bearer_auth(&app.token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let r = post(b"{\"kind\": ".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    let r = post(
        b"kind=planned_outage".to_vec(),
        "application/x-www-form-urlencoded",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 415);

    let r = post(vec![b' '; 128 * 1024], "application/json")
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["status"], 413);

    // So is any other JSON body over the limit (it was a 400 on /v1/deadlines), and a
    // gateway's delivery report (it was axum's plain text).
    for path in ["/v1/deadlines", "/v1/receipts/smsru"] {
        let r = app
            .http
            .post(format!("{}{path}", app.base))
            .bearer_auth(&app.token)
            .header("content-type", "application/json")
            .body(vec![b' '; 128 * 1024])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }

    // Still serving.
    let r = app.post_intent(&example("appeal_reply")).await;
    assert_eq!(r.status(), 202);
    app.stop().await;
}

async fn routes_need_a_token_with_the_right_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = format!("{}/v1/intents", app.base);
    let r = app
        .http
        .post(&url)
        .json(&example("meter_visit"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = app
        .http
        .post(&url)
        .bearer_auth("vst_forged")
        .json(&example("meter_visit"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let operator = app.token_for("editor", Role::Operator).await;
    let r = app
        .http
        .post(&url)
        .bearer_auth(&operator)
        .json(&example("meter_visit"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let accepted: Value = app
        .post_intent(&example("meter_visit"))
        .await
        .json()
        .await
        .unwrap();
    let id = accepted["id"].as_str().unwrap();
    let intent_url = format!("{}/v1/intents/{id}", app.base);
    let auditor = app.token_for("audit", Role::Auditor).await;
    assert_eq!(
        app.http
            .get(&intent_url)
            .bearer_auth(&auditor)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.http
            .get(&intent_url)
            .bearer_auth(&operator)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    // Another upstream system cannot read billing's intents.
    let other = app.token_for("outage-planning", Role::Ingest).await;
    assert_eq!(
        app.http
            .get(&intent_url)
            .bearer_auth(&other)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        app.http.get(&intent_url).send().await.unwrap().status(),
        401
    );
    app.stop().await;
}

async fn retry_with_same_key_and_body_returns_the_original_and_enqueues_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = example("tariff_change");
    let send = |body: &Value| {
        app.http
            .post(format!("{}/v1/intents", app.base))
            .bearer_auth(&app.token)
            .header("idempotency-key", "tariff-2027-07")
            .json(body)
            .send()
    };
    let first = send(&body).await.unwrap();
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let id = first["id"].as_str().unwrap();
    app.wait_settled(id).await;
    let files_before = files(&app.outbox()).len();

    let again = send(&body).await.unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first, "the original response, byte for byte");

    let mut changed = body.clone();
    changed["event"]["legal_basis"] = json!("Приказ № 999");
    let conflict = send(&changed).await.unwrap();
    assert_eq!(conflict.status(), 409);

    // Without a header, the external id is the key.
    let by_external = app.post_intent(&body).await;
    assert_eq!(by_external.status(), 202);
    let replay = app.post_intent(&body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");

    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, found) = app
        .get_json(&format!(
            "/v1/intents?external_id={}",
            body["external_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        found["intents"].as_array().unwrap().len(),
        2,
        "one per key: {found}"
    );
    let by_external_id: Value = by_external.json().await.unwrap();
    app.wait_settled(by_external_id["id"].as_str().unwrap())
        .await;
    let (_, second) = app
        .get_json(&format!(
            "/v1/intents/{}",
            by_external_id["id"].as_str().unwrap()
        ))
        .await;
    let per_intent = second["status_counts"]["sent"].as_u64().unwrap() as usize;
    assert_eq!(
        files(&app.outbox()).len(),
        files_before + per_intent,
        "replays enqueued nothing"
    );
    app.stop().await;
}

async fn two_concurrent_identical_requests_make_one_intent(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = example("debt_warning");
    let (a, b) = tokio::join!(app.post_intent(&body), app.post_intent(&body));
    assert_eq!(a.status(), 202);
    assert_eq!(b.status(), 202);
    let a: Value = a.json().await.unwrap();
    let b: Value = b.json().await.unwrap();
    assert_eq!(a["id"], b["id"]);
    let (_, found) = app
        .get_json("/v1/intents?external_id=debt-2027-02-000871")
        .await;
    assert_eq!(found["intents"].as_array().unwrap().len(), 1, "{found}");
    let intent = app.wait_settled(a["id"].as_str().unwrap()).await;
    let total: i64 = intent["status_counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().unwrap())
        .sum();
    assert_eq!(total, a["messages"].as_i64().unwrap());
    assert_eq!(
        files(&app.outbox()).len() as i64,
        intent["status_counts"]["sent"].as_i64().unwrap(),
        "each message sent once"
    );
    app.stop().await;
}

async fn recipients_are_paginated_and_intents_found_by_external_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut body = example("planned_outage");
    let template = body["recipients"][0].clone();
    let recipients: Vec<Value> = (0..250)
        .map(|i| {
            let mut r = template.clone();
            r["account_number"] = json!(format!("77{i:08}"));
            r["channels"] = json!(["email"]);
            r
        })
        .collect();
    body["recipients"] = json!(recipients);
    body["external_id"] = json!("outage-paged");
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    app.wait_settled(id).await;

    let (status, page3) = app
        .get_json(&format!("/v1/intents/{id}?page=3&per_page=100"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page3["pages"], 3);
    let listed = page3["recipients"].as_array().unwrap();
    assert_eq!(listed.len(), 50);
    assert_eq!(listed[0]["recipient_id"], 200);
    assert_eq!(listed[0]["account_number"], "7700000200");
    assert_eq!(page3["status_counts"], json!({"sent": 250}));
    let (status, _) = app
        .get_json(&format!("/v1/intents/{id}?per_page=5000"))
        .await;
    assert_eq!(status, 400);
    // A page past the last, however far, is empty (no overflow on `page`).
    let (status, far) = app
        .get_json(&format!("/v1/intents/{id}?page={}&per_page=1000", i64::MAX))
        .await;
    assert_eq!(status, 200);
    assert_eq!(far["recipients"], json!([]));

    let (_, found) = app.get_json("/v1/intents?external_id=outage-paged").await;
    assert_eq!(found["intents"][0]["id"], id);
    let (status, _) = app
        .get_json("/v1/intents/01900000-0000-7000-8000-000000000000")
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

async fn a_template_that_misses_a_variable_fails_the_message_permanently(backend: Backend) {
    let templates = tempfile::tempdir().unwrap();
    copy_dir(&common::repo_path("templates"), templates.path());
    std::fs::write(
        templates.path().join("meter_visit/sms.hbs"),
        "{{org.name}}: {{event.no_such_field}}",
    )
    .unwrap();
    let dir = templates.path().to_owned();
    // A short lease makes the sweeper, which also escalates, run every half second.
    let app = spawn_app_with(backend, move |s| {
        s.templates.dir = dir;
        s.dispatch.lease_secs = 2;
    })
    .await;
    let accepted: Value = app
        .post_intent(&example("meter_visit"))
        .await
        .json()
        .await
        .unwrap();
    let id = accepted["id"].as_str().unwrap();
    // The failed SMS (the first legal step) hands over to the next legal channel at once,
    // not after the SMS's confirmation wait. The legal entity's fax went out, so its email
    // stays held until the fax's confirmation wait (hours) runs out.
    let intent = app
        .wait_for(id, "escalated past the failed SMS", |i| {
            i["status_counts"] == json!({"failed": 2, "sent": 3, "held": 1})
        })
        .await;
    for c in common::messages(&intent) {
        match (c["channel"].as_str().unwrap(), c["legal_step"].as_i64()) {
            ("sms", _) => {
                assert_eq!(c["status"], "failed", "{c}");
                assert_eq!(c["attempts"], 1, "a render error is not retried");
                assert!(
                    c["reason"].as_str().unwrap().contains("no_such_field"),
                    "{c}"
                );
            }
            ("email", Some(1)) if c["status"] == "held" => {}
            _ => assert_eq!(c["status"], "sent", "{c}"),
        }
    }
    app.stop().await;
}

async fn a_transient_gateway_failure_is_retried_until_it_succeeds(backend: Backend) {
    let app = spawn_app(backend).await;
    // Make the SMS outbox unwritable: a file where the directory should be.
    let sms_dir = app.outbox().join("sms");
    std::fs::remove_dir_all(&sms_dir).unwrap();
    std::fs::write(&sms_dir, b"blocked").unwrap();
    let accepted: Value = app
        .post_intent(&example("meter_visit"))
        .await
        .json()
        .await
        .unwrap();
    let id = accepted["id"].as_str().unwrap().to_owned();

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
        let sms: Vec<&Value> = intent["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["channels"].as_array().unwrap())
            .filter(|c| c["channel"] == "sms")
            .collect();
        if sms.iter().all(|c| c["attempts"].as_i64().unwrap() >= 2) {
            assert!(
                sms.iter()
                    .all(|c| c["status"] == "queued" || c["status"] == "sending"),
                "{sms:?}"
            );
            assert!(sms.iter().any(|c| {
                c["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("cannot write"))
            }));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no retries seen: {intent}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    std::fs::remove_file(&sms_dir).unwrap();
    for shard in 0..=255u8 {
        std::fs::create_dir_all(sms_dir.join(format!("{shard:02x}"))).unwrap();
    }
    let intent = app.wait_settled(&id).await;
    for c in common::messages(&intent) {
        let expected = if c["legal_step"].as_i64().is_some_and(|s| s > 0) {
            "held"
        } else {
            "sent"
        };
        assert_eq!(c["status"], expected, "{c}");
    }
    app.stop().await;
}

async fn health_reports_the_database(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .http
        .get(format!("{}/health", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(
        body["database"],
        if backend == Backend::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    );
    app.stop().await;
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

async fn an_sms_over_its_kinds_part_limit_fails_with_the_count(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        let dir = s.outbox.dir.parent().unwrap().to_owned();
        s.deadlines.plans_file = common::write_plans(&dir, |p| {
            p["sms_max_parts"]["meter_visit"] = toml::Value::Integer(1);
        });
    })
    .await;
    let mut body = example("meter_visit");
    body["recipients"] = json!([body["recipients"][0].clone()]);
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    let intent = app
        .wait_for(id, "failed the SMS", |i| {
            common::messages(i)
                .iter()
                .any(|c| c["channel"] == "sms" && c["status"] == "failed")
        })
        .await;
    let sms = common::messages(&intent)
        .into_iter()
        .find(|c| c["channel"] == "sms")
        .unwrap();
    let reason = sms["reason"].as_str().unwrap();
    assert!(
        reason.contains("parts (Ucs2") && reason.contains("at most 1"),
        "{reason}"
    );

    // Within its limit (5 for debt warnings), the outbox file says how it is billed.
    let mut debt = example("debt_warning");
    let mut recipient = debt["recipients"][0].clone();
    // SMS is supplementary for debts: it goes beside the letter, the legal notice.
    recipient["channels"] = json!(["mail", "sms"]);
    debt["recipients"] = json!([recipient]);
    let accepted: Value = app.post_intent(&debt).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    let intent = app
        .wait_for(id, "sent the SMS", |i| {
            common::messages(i).iter().all(|m| m["status"] == "sent")
        })
        .await;
    let file = app.outbox().join(
        common::messages(&intent)
            .into_iter()
            .find(|m| m["channel"] == "sms")
            .unwrap()["gateway_message_id"]
            .as_str()
            .unwrap(),
    );
    let json: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let counted = vestnik::channels::profiles::SmsText::analyze(json["text"].as_str().unwrap());
    assert_eq!(json["encoding"], "Ucs2");
    assert_eq!(json["parts"], counted.parts);
    assert!((2..=5).contains(&counted.parts), "{counted:?}");
    app.stop().await;
}
