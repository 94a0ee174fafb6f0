//! `vestnik import` end to end: the real binary against a running test app.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Backend, example, spawn_app};
use serde_json::Value;

both_backends! {
    bad_rows_stop_the_import_and_nothing_is_sent;
    skip_bad_sends_the_good_rows_in_batches_and_a_rerun_replays_them;
}

const HEADER: &str =
    "account_number,customer_type,name,time_zone,email,phone,fax,postcode,address,channels";

fn write_event(dir: &Path) -> PathBuf {
    let path = dir.join("event.json");
    let event = example("planned_outage")["event"].clone();
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

async fn import(args: &[&str], server: &str, token: &str) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_vestnik"))
        .args(["import", "--kind", "planned_outage"])
        .args(args)
        .env("VESTNIK_SERVER", server)
        .env("VESTNIK_TOKEN", token)
        .output()
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn bad_rows_stop_the_import_and_nothing_is_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    let dir = app.dir.path();
    let event = write_event(dir);
    let csv = dir.join("accounts.csv");
    // A BOM and `;` cells, as Excel saves "CSV UTF-8" in a Russian locale; a quoted
    // address spanning two lines, so line numbers must count physical lines.
    let rows = [
        HEADER.replace(',', ";"),
        "7701234567;individual;Иванова Мария;Europe/Moscow;;+79161234567;;127055;\"г. Москва,\nул. Лесная, д. 7\";sms,mail".into(),
        "7701234568;individual;Петров Пётр;Europe/Moscow;;+7916123;;;;sms".into(),
        "7701234569;individual;Сидоров Иван;Mars/Olympus;ivan.sidorov@;;;;;email".into(),
        "7701234570;corporate;Ромашка;Europe/Moscow;;+79161234570;;;;pigeon".into(),
        // An empty row as spreadsheets export it (skipped), then a row cut short.
        ";;;;;;;;;".into(),
        "7701234571;individual".into(),
    ];
    let mut file = std::fs::File::create(&csv).unwrap();
    file.write_all("\u{feff}".as_bytes()).unwrap();
    file.write_all(rows.join("\n").as_bytes()).unwrap();
    drop(file);

    let prefix = format!("bad-{}", uuid::Uuid::now_v7().simple());
    let out = import(
        &[
            "--event",
            event.to_str().unwrap(),
            "--recipients",
            csv.to_str().unwrap(),
            "--delimiter",
            ";",
            "--external-id-prefix",
            &prefix,
        ],
        &app.base,
        &app.token,
    )
    .await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "no ids: {}", text(&out.stdout));
    for expected in [
        ":4: phone (+7**6123): a Russian number is +7 and ten digits",
        ":5: time_zone: 'Mars/Olympus' is not an IANA time zone",
        ":5: email (i***@***.): is not an email address",
        ":6: customer_type: must be 'individual' or 'legal_entity'",
        ":6: channels: unknown channel 'pigeon'",
        ":8: has 2 cells, the header has 10",
        "5 rows, 1 good, 4 bad",
        "nothing was sent",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    // Personal data only masked.
    for raw in ["+7916123", "ivan.sidorov", "Сидоров"] {
        assert!(!stderr.contains(raw), "{raw} printed raw:\n{stderr}");
    }
    let (status, found) = app
        .get_json(&format!("/v1/intents?external_id={prefix}-00001"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(found["intents"], Value::Array(vec![]), "nothing submitted");
    app.stop().await;
}

async fn skip_bad_sends_the_good_rows_in_batches_and_a_rerun_replays_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let dir = app.dir.path();
    let event = write_event(dir);
    let csv = dir.join("accounts.csv");
    let rows = [
        HEADER.to_owned(),
        "A-1,individual,Иванова Мария,Europe/Moscow,m@example.ru,+79161234567,,,,email;sms".into(),
        "A-2,individual,Петров Пётр,Europe/Moscow,,not-a-phone,,,,sms".into(),
        "A-3,legal_entity,ООО Ромашка,Asia/Yekaterinburg,office@romashka.example.ru,,,620014,\"г. Екатеринбург, ул. Малышева, д. 51\",mail;email".into(),
        "A-4,individual,Сидоров Иван,Europe/Samara,ivan@example.ru,,,,,email".into(),
        // Valid as a row, but SMS alone is no legal notice of an outage: the server says so.
        "A-5,individual,Козлов Олег,Europe/Samara,,+79272345678,,,,sms".into(),
    ];
    std::fs::write(&csv, rows.join("\r\n")).unwrap();
    let args = [
        "--event",
        event.to_str().unwrap(),
        "--recipients",
        csv.to_str().unwrap(),
        "--skip-bad",
        "--batch",
        "2",
    ];
    let out = import(&args, &app.base, &app.token).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(":3: phone (no*****hone): must be in E.164 format"),
        "{stderr}"
    );
    assert!(
        stderr.contains(":6: channels: none of these counts as the legal notice")
            && stderr.contains("(refused by the server)"),
        "{stderr}"
    );
    let ids: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(ids.len(), 2, "two batches of at most 2: {ids:?}");

    let mut accounts = Vec::new();
    for id in &ids {
        let (status, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
        assert_eq!(status, 200, "{intent}");
        assert_eq!(intent["kind"], "planned_outage");
        for r in intent["recipients"].as_array().unwrap() {
            accounts.push(r["account_number"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(accounts, ["A-1", "A-3", "A-4"]);

    // After a crash the same command is simply run again: the batches already accepted
    // come back as they were (same ids), and no intent is created twice.
    let again = import(&args, &app.base, &app.token).await;
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout).lines().collect::<Vec<_>>(), ids);
    app.stop().await;
}

/// A million rows are checked in bounded memory: the file is streamed, never loaded.
#[test]
fn a_million_rows_are_checked_in_bounded_memory() {
    const ROWS: u64 = 1_000_000;
    const LIMIT_MIB: i64 = 100;
    let dir = tempfile::tempdir().unwrap();
    let event = write_event(dir.path());
    let csv = dir.path().join("million.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    writeln!(out, "{HEADER}").unwrap();
    for i in 0..ROWS {
        writeln!(
            out,
            "{},individual,Абонент {i},Europe/Moscow,,+7916{:07},,,,sms",
            7_700_000_000u64 + i,
            i
        )
        .unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let size = std::fs::metadata(&csv).unwrap().len();
    assert!(
        size > 70 << 20,
        "the file ({size} bytes) is larger than the bound"
    );

    // Reaped by wait4 below, which std's wait would not let us call.
    #[allow(clippy::zombie_processes)]
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vestnik"))
        .args(["import", "--kind", "planned_outage", "--dry-run", "--event"])
        .arg(&event)
        .arg("--recipients")
        .arg(&csv)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        text
    });
    // wait4 reaps this very child and returns its own peak RSS (RUSAGE_CHILDREN would mix
    // in every other child this test binary has waited for).
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    let stderr = reader.join().unwrap();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{ROWS} rows, {ROWS} good, 0 bad")),
        "{stderr}"
    );
    let peak_mib = usage.ru_maxrss / 1024;
    eprintln!(
        "peak RSS checking {ROWS} rows ({} MiB of CSV): {peak_mib} MiB",
        size >> 20
    );
    assert!(
        peak_mib < LIMIT_MIB,
        "peak RSS {peak_mib} MiB, bound {LIMIT_MIB} MiB"
    );
}
