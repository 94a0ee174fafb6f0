//! The proof ledger on both backends: every fact of a dispatched intent is chained,
//! the database refuses to change or remove entries, and `vestnik ledger verify` names
//! the first broken link after an attacker with database access edits, deletes, reorders
//! or inserts rows behind the service's back.

mod common;

use std::process::Command;

use common::{Backend, TestApp, example, repo_path, spawn_app};
use serde_json::{Value, json};
use vestnik::ledger::{Break, Chain, Fact, Head};
use vestnik::storage::Db;

both_backends! {
    every_fact_of_a_dispatched_intent_is_chained_and_verifies;
    the_database_refuses_to_update_or_delete_ledger_rows;
    verify_names_the_first_broken_link_for_each_kind_of_tampering;
}

/// One intent of three recipients, dispatched to the outbox; returns its id.
async fn dispatched(app: &TestApp) -> String {
    let accepted: Value = app
        .post_intent(&example("planned_outage"))
        .await
        .json()
        .await
        .unwrap();
    let id = accepted["id"].as_str().unwrap().to_owned();
    app.wait_settled(&id).await;
    id
}

fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vestnik"))
        .args(args)
        .env("VESTNIK_DATABASE__URL", app.db_url())
        .current_dir(repo_path(""))
        .output()
        .unwrap()
}

async fn sql(db: &Db, statement: &str) -> Result<u64, sqlx::Error> {
    let statement = sqlx::AssertSqlSafe(statement.to_owned());
    match db {
        Db::Sqlite(pool) => sqlx::query(statement)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        Db::Postgres(pool) => sqlx::query(statement)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
    }
}

async fn bodies(db: &Db) -> Vec<(i64, String, String)> {
    db.ledger_page(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.seq, r.body, r.hash))
        .collect()
}

async fn every_fact_of_a_dispatched_intent_is_chained_and_verifies(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = dispatched(&app).await;
    let entries: Vec<Value> = app
        .db
        .ledger_for_intent(&id)
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "intent_accepted");
    assert_eq!(
        entries[0]["data"]["request_sha256"].as_str().unwrap().len(),
        64
    );
    // Three recipients in three zones and two customer types: three deadlines.
    assert_eq!(
        kinds.iter().filter(|k| **k == "deadline_computed").count(),
        3
    );
    let deadline = entries
        .iter()
        .find(|e| e["kind"] == "deadline_computed")
        .unwrap();
    assert!(
        deadline["data"]["rule"]["description"].is_string(),
        "{deadline}"
    );
    assert_eq!(deadline["data"]["recipients"], json!([[0, 1]]));
    // Every message handed over has its attempt, with the hash of the exact bytes.
    let intent = app.get_json(&format!("/v1/intents/{id}")).await.1;
    for message in common::messages(&intent)
        .into_iter()
        .filter(|m| m["status"] == "sent")
    {
        let attempt = entries
            .iter()
            .find(|e| e["kind"] == "message_attempt" && e["message_id"] == message["message_id"])
            .unwrap_or_else(|| panic!("no attempt entry for {message}"));
        assert_eq!(attempt["data"]["outcome"], "sent");
        assert_eq!(attempt["data"]["content_sha256"], message["content_sha256"]);
        assert_eq!(
            attempt["data"]["gateway_message_id"],
            message["gateway_message_id"]
        );
        assert!(attempt["data"]["template"].is_string());
        // The outbox is handed the file itself and answers nothing.
        assert_eq!(attempt["data"]["request_sha256"], message["content_sha256"]);
        assert_eq!(attempt["data"]["response_sha256"], Value::Null);
    }
    // Held legal steps are not attempts yet.
    let sent = common::messages(&intent)
        .iter()
        .filter(|m| m["status"] == "sent")
        .count();
    assert_eq!(
        kinds.iter().filter(|k| **k == "message_attempt").count(),
        sent
    );

    let (walked, broken) = app.db.verify_ledger().await.unwrap();
    assert_eq!(broken, None);
    assert_eq!(walked, app.db.ledger_head().await.unwrap().seq);
    let out = cli(&app, &["ledger", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{walked} entries")));

    // The export is one JSON line per entry, in order, then the head.
    let out = cli(&app, &["ledger", "export"]);
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as i64, walked + 1);
    assert_eq!(lines[0]["entry"]["prev"], vestnik::ledger::GENESIS);
    assert_eq!(lines.last().unwrap()["head"]["seq"], walked);
}

async fn the_database_refuses_to_update_or_delete_ledger_rows(backend: Backend) {
    let app = spawn_app(backend).await;
    dispatched(&app).await;
    let update = sql(&app.db, "UPDATE ledger SET body = 'x' WHERE seq = 1").await;
    assert!(
        update.unwrap_err().to_string().contains("append-only"),
        "UPDATE must be refused"
    );
    let delete = sql(&app.db, "DELETE FROM ledger WHERE seq = 2").await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    let checkpoint = sql(&app.db, "DELETE FROM ledger_checkpoints").await;
    // No checkpoint yet on a short chain, but the trigger is there all the same.
    if let Ok(n) = checkpoint {
        assert_eq!(n, 0);
    }
    assert_eq!(app.db.verify_ledger().await.unwrap().1, None);
}

/// Drops the triggers, as an attacker with database access would.
async fn drop_triggers(db: &Db) {
    let statements: &[&str] = match db {
        Db::Sqlite(_) => &[
            "DROP TRIGGER ledger_refuses_update",
            "DROP TRIGGER ledger_refuses_delete",
        ],
        Db::Postgres(_) => &["DROP TRIGGER ledger_refuses_change ON ledger"],
    };
    for s in statements {
        sql(db, s).await.unwrap();
    }
}

async fn set_row(db: &Db, seq: i64, body: &str, hash: &str) {
    let body = body.replace('\'', "''");
    sql(
        db,
        &format!("UPDATE ledger SET body = '{body}', hash = '{hash}' WHERE seq = {seq}"),
    )
    .await
    .unwrap();
}

async fn insert_row(db: &Db, seq: i64, body: &str, hash: &str) {
    let body = body.replace('\'', "''");
    sql(
        db,
        &format!(
            "INSERT INTO ledger (seq, intent_id, message_id, kind, body, hash, created_at) \
             VALUES ({seq}, NULL, NULL, 'x', '{body}', '{hash}', 0)"
        ),
    )
    .await
    .unwrap();
}

/// Asserts that both the library and the CLI report `expected` first.
async fn assert_broken(app: &TestApp, expected: Break) {
    assert_eq!(
        app.db.verify_ledger().await.unwrap().1,
        Some(expected.clone())
    );
    let out = cli(app, &["ledger", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "ledger broken at entry {}: {expected}",
            expected.seq()
        )),
        "{stderr}"
    );
}

async fn verify_names_the_first_broken_link_for_each_kind_of_tampering(backend: Backend) {
    let app = spawn_app(backend).await;
    dispatched(&app).await;
    let rows = bodies(&app.db).await;
    assert!(rows.len() >= 8, "{} entries", rows.len());
    drop_triggers(&app.db).await;
    let (seq, body, hash) = rows[4].clone();

    // An edit: a hash in an entry changed, the stored hash left alone.
    let edited = body.replacen("\"at\":", "\"at\":1", 1);
    set_row(&app.db, seq, &edited, &hash).await;
    assert_broken(&app, Break::Edited { seq }).await;

    // The same edit with the hash recomputed: the next entry no longer links to it.
    let rehashed = vestnik::ledger::sha256_hex(edited.as_bytes());
    set_row(&app.db, seq, &edited, &rehashed).await;
    assert_broken(&app, Break::Unlinked { seq: seq + 1 }).await;
    set_row(&app.db, seq, &body, &hash).await;
    assert_eq!(app.db.verify_ledger().await.unwrap().1, None);

    // A deletion in the middle.
    sql(&app.db, &format!("DELETE FROM ledger WHERE seq = {seq}"))
        .await
        .unwrap();
    assert_broken(
        &app,
        Break::Missing {
            expected: seq,
            found: seq + 1,
        },
    )
    .await;
    insert_row(&app.db, seq, &body, &hash).await;

    // Two entries swapped (their rows keep their places).
    let (next_seq, next_body, next_hash) = rows[5].clone();
    set_row(&app.db, seq, &next_body, &next_hash).await;
    set_row(&app.db, next_seq, &body, &hash).await;
    assert_broken(
        &app,
        Break::Misplaced {
            seq,
            claims: next_seq,
        },
    )
    .await;
    set_row(&app.db, seq, &body, &hash).await;
    set_row(&app.db, next_seq, &next_body, &next_hash).await;

    // An entry inserted: forged to link to entry seq - 1, the genuine rows from seq on
    // renumbered one further to make room.
    let mut forger = Chain::after(Head {
        seq: seq - 1,
        hash: rows[3].2.clone(),
    });
    let forged = forger.append(
        0,
        None,
        None,
        Fact::Unconfirmed {
            reason: "forged".into(),
        },
    );
    sql(
        &app.db,
        &format!("UPDATE ledger SET seq = seq + 1000000 WHERE seq >= {seq}"),
    )
    .await
    .unwrap();
    sql(
        &app.db,
        "UPDATE ledger SET seq = seq - 999999 WHERE seq >= 1000000",
    )
    .await
    .unwrap();
    insert_row(&app.db, seq, &forged.body, &forged.hash).await;
    assert_broken(
        &app,
        Break::Misplaced {
            seq: seq + 1,
            claims: seq,
        },
    )
    .await;
    sql(&app.db, &format!("DELETE FROM ledger WHERE seq = {seq}"))
        .await
        .unwrap();
    sql(
        &app.db,
        &format!("UPDATE ledger SET seq = seq + 1000000 WHERE seq > {seq}"),
    )
    .await
    .unwrap();
    sql(
        &app.db,
        "UPDATE ledger SET seq = seq - 1000001 WHERE seq >= 1000000",
    )
    .await
    .unwrap();
    assert_eq!(app.db.verify_ledger().await.unwrap().1, None);

    // The newest entries deleted: the head still names the last one.
    let last = rows.last().unwrap().0;
    sql(
        &app.db,
        &format!("DELETE FROM ledger WHERE seq > {}", last - 2),
    )
    .await
    .unwrap();
    assert_broken(
        &app,
        Break::Head {
            last: last - 2,
            head: last,
        },
    )
    .await;
}
