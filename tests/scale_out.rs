//! Scale-out on PostgreSQL: an API-only `serve` and three `vestnik worker` processes share
//! one database and one SMS provider. One worker is killed with SIGKILL halfway through a
//! 20,000-recipient intent; the other two finish it. Every recipient gets the SMS, only
//! messages the killed worker had in flight are sent twice (within the documented bound),
//! and the provider's rate limit holds in total across the processes.
//!
//! PostgreSQL only: SQLite is the one-process embedded default.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::fake_sms::{FakeProvider, Provider, Received};
use common::{Backend, Spawned, TestDb, repo_path};
use serde_json::{Value, json};

const RECIPIENTS: usize = 20_000;
/// The provider's limit in the profile the workers load (per second, all workers).
const RATE: usize = 400;
const WORKERS: usize = 3;
/// Each worker's settings: what bounds the messages it can hold unrecorded.
const BATCH: usize = 50;
const CONCURRENCY: usize = 4;

/// The shipped generic-JSON profile with the test's rate limit.
fn profiles_dir(dir: &Path) -> PathBuf {
    let shipped = std::fs::read_to_string(repo_path("channels/generic-json.toml")).unwrap();
    let mut profile: toml::Table = shipped.parse().unwrap();
    let limits = profile["limits"].as_table_mut().unwrap();
    limits.insert("rate_per_sec".into(), (RATE as i64).into());
    limits.insert("concurrency".into(), 16.into());
    let profiles = dir.join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(
        profiles.join("generic-json.toml"),
        toml::to_string(&profile).unwrap(),
    )
    .unwrap();
    profiles
}

/// One process's config file; `sender` tells the fake which process sent an SMS.
fn config(dir: &Path, db_url: &str, fake: &FakeProvider, sender: &str) -> PathBuf {
    leased_config(dir, db_url, fake, sender, 3)
}

/// As [`config`], with leases of `lease_secs`.
fn leased_config(
    dir: &Path,
    db_url: &str,
    fake: &FakeProvider,
    sender: &str,
    lease_secs: i64,
) -> PathBuf {
    let secrets: toml::Table = fake
        .secrets()
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    let config = toml::toml! {
        [database]
        max_connections = 8
        [dispatch]
        heartbeat_secs = 1
        poll_interval_ms = 100
        backoff_base_ms = 100
        backoff_max_secs = 1
        [channels]
        sms = "profile"
        [sms]
        profile = "generic-json"
    };
    let mut config: toml::Table = config;
    config["database"]
        .as_table_mut()
        .unwrap()
        .insert("url".into(), db_url.into());
    let dispatch = config["dispatch"].as_table_mut().unwrap();
    dispatch.insert("lease_secs".into(), lease_secs.into());
    dispatch.insert("batch_size".into(), (BATCH as i64).into());
    dispatch.insert("concurrency".into(), (CONCURRENCY as i64).into());
    let sms = config["sms"].as_table_mut().unwrap();
    sms.insert(
        "profiles_dir".into(),
        profiles_dir(dir).display().to_string().into(),
    );
    sms.insert("base_url".into(), fake.base_url.clone().into());
    sms.insert("sender".into(), sender.into());
    sms.insert("secrets".into(), secrets.into());
    let paths: [(&str, &str, PathBuf); 4] = [
        ("outbox", "dir", dir.join("outbox")),
        ("letters", "documents_dir", dir.join("documents")),
        ("auth", "admin_token_file", dir.join("admin.token")),
        ("deadlines", "plans_file", common::write_plans(dir, |_| {})),
    ];
    for (section, key, path) in paths {
        config
            .entry(section)
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .unwrap()
            .insert(key.into(), path.display().to_string().into());
    }
    let file = dir.join(format!("{sender}.toml"));
    std::fs::write(&file, toml::to_string(&config).unwrap()).unwrap();
    file
}

/// Runs `vestnik --config <config> <args>` from the repository root, where the shipped
/// config's relative paths (templates, calendar, policies) lead.
fn vestnik(config: &Path, args: &[&str], log: &Path) -> Spawned {
    spawn(
        Command::new(env!("CARGO_BIN_EXE_vestnik")),
        config,
        args,
        log,
    )
}

/// libfaketime, which shifts the clock a process reads (Debian's `faketime`; `.ci/run`
/// installs it).
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// As [`vestnik`], on a machine whose clock reads `ahead` (libfaketime's `+120s` form)
/// of everyone else's.
fn vestnik_ahead(ahead: &str, config: &Path, args: &[&str], log: &Path) -> Spawned {
    assert!(
        Path::new(LIBFAKETIME).exists(),
        "{LIBFAKETIME} is missing: install Debian's faketime (.ci/run does)"
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_vestnik"));
    command
        .env("LD_PRELOAD", LIBFAKETIME)
        .env("FAKETIME", ahead)
        // Timers keep real time; only the wall clock is off, as on a machine without NTP.
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    spawn(command, config, args, log)
}

fn spawn(mut command: Command, config: &Path, args: &[&str], log: &Path) -> Spawned {
    let log = std::fs::File::create(log).unwrap();
    Spawned(
        command
            .arg("--config")
            .arg(config)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            // The sweep says when it re-queues messages whose lease ran out.
            .env("RUST_LOG", "warn,vestnik::worker::sweep=info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("vestnik binary starts"),
    )
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn unique_sent(fake: &FakeProvider) -> usize {
    fake.received().len()
}

/// The most sends (first sends and repeats) the provider saw in any one second.
fn busiest_second(sends: &[&Received]) -> usize {
    let mut at: Vec<Instant> = sends.iter().map(|r| r.at).collect();
    at.sort();
    let mut busiest = 0;
    let mut start = 0;
    for end in 0..at.len() {
        while at[end] - at[start] >= Duration::from_secs(1) {
            start += 1;
        }
        busiest = busiest.max(end - start + 1);
    }
    busiest
}

/// An API-only `serve` on a free port; returns it, its base URL and the admin token.
async fn start_api(
    dir: &Path,
    db: &TestDb,
    fake: &FakeProvider,
    http: &reqwest::Client,
) -> (Spawned, String, String) {
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let api_config = config(dir, &db.url, fake, "API");
    let api_log = dir.join("api.log");
    let mut api = vestnik(
        &api_config,
        &[
            "serve",
            "--no-worker",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
        &api_log,
    );
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/health")).send().await
            && r.status() == 200
            && dir.join("admin.token").exists()
        {
            break;
        }
        assert!(
            api.0.try_wait().unwrap().is_none(),
            "{}",
            log_tail(&api_log)
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "API not healthy"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = std::fs::read_to_string(dir.join("admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    (api, base, token)
}

/// Posts an intent; returns its id.
async fn post(http: &reqwest::Client, base: &str, token: &str, body: &Value) -> String {
    let response = http
        .post(format!("{base}/v1/intents"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The intent's messages by status.
async fn status_counts(http: &reqwest::Client, base: &str, token: &str, id: &str) -> Value {
    let r = http
        .get(format!("{base}/v1/intents/{id}?per_page=1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["status_counts"].clone()
}

fn intent() -> Value {
    let mut body = common::sms_mailing(RECIPIENTS);
    body["external_id"] = json!("scale-out-20k");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_one_killed_every_recipient_once_within_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = TestDb::new(Backend::Postgres, dir).await;
    let fake = FakeProvider::start(Provider::GenericJson).await;
    let http = common::http_client();
    let (mut api, base, token) = start_api(dir, &db, &fake, &http).await;

    let mut workers: Vec<(String, PathBuf, Spawned)> = (1..=WORKERS)
        .map(|n| {
            let name = format!("W{n}");
            let log = dir.join(format!("{name}.log"));
            let process = vestnik(&config(dir, &db.url, &fake, &name), &["worker"], &log);
            (name, log, process)
        })
        .collect();

    let id = post(&http, &base, &token, &intent()).await;

    // Halfway, SIGKILL the second worker: it dies holding claimed messages and jobs.
    let started = Instant::now();
    while unique_sent(&fake) < RECIPIENTS / 2 {
        for (name, log, process) in &mut workers {
            assert!(
                process.0.try_wait().unwrap().is_none(),
                "{name} exited: {}",
                log_tail(log)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "only {} of {RECIPIENTS} sent after 240 s",
            unique_sent(&fake)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (killed, _, victim) = &mut workers[1];
    let killed = killed.clone();
    victim.0.kill().unwrap(); // SIGKILL
    victim.0.wait().unwrap();
    let killed_at = Instant::now();
    let at_kill = unique_sent(&fake);
    eprintln!(
        "killed {killed} after {:.1} s with {at_kill} sent",
        started.elapsed().as_secs_f64()
    );

    let counts = loop {
        let counts = status_counts(&http, &base, &token, &id).await;
        if counts["sent"] == RECIPIENTS {
            break counts;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(300),
            "not all sent 300 s after the kill: {counts}, {} at the provider\n{}",
            unique_sent(&fake),
            workers
                .iter()
                .map(|(n, log, _)| format!("--- {n}\n{}", log_tail(log)))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let elapsed = started.elapsed();
    assert_eq!(counts, json!({"sent": RECIPIENTS}));

    // Every recipient got exactly one SMS at the provider.
    let received = fake.received();
    let mut phones: Vec<&str> = received.iter().map(|r| r.to.as_str()).collect();
    phones.sort_unstable();
    phones.dedup();
    assert_eq!(received.len(), RECIPIENTS, "accepted sends");
    assert_eq!(phones.len(), RECIPIENTS, "distinct recipients");

    // Repeats: only messages the killed worker sent before it died, sent again after, at
    // most what it could hold unrecorded (README "Scaling out": concurrency × batch).
    let repeats = fake.repeats();
    let first_by_id: std::collections::HashMap<&str, &Received> = received
        .iter()
        .filter_map(|r| Some((r.client_id.as_deref()?, r)))
        .collect();
    for repeat in &repeats {
        let first = first_by_id[repeat.client_id.as_deref().unwrap()];
        assert_eq!(
            first.sender.as_deref(),
            Some(killed.as_str()),
            "a repeat of a message first sent by a live worker"
        );
        assert!(first.at < killed_at && repeat.at >= killed_at);
    }
    let bound = CONCURRENCY * BATCH;
    assert!(
        repeats.len() <= bound,
        "{} repeats, more than the bound {bound}",
        repeats.len()
    );

    // The provider's limit held in total, repeats included.
    let all: Vec<&Received> = received.iter().chain(repeats.iter()).collect();
    let busiest = busiest_second(&all);
    assert!(
        busiest <= RATE,
        "{busiest} sends in one second, limit {RATE}"
    );
    let senders: std::collections::BTreeMap<&str, usize> =
        received.iter().fold(Default::default(), |mut m, r| {
            *m.entry(r.sender.as_deref().unwrap_or("?")).or_default() += 1;
            m
        });
    eprintln!(
        "all {RECIPIENTS} sent in {:.1} s; by worker {senders:?}; {} repeats (bound {bound}); busiest second {busiest} (limit {RATE})",
        elapsed.as_secs_f64(),
        repeats.len()
    );
    assert_eq!(senders.len(), WORKERS, "every worker sent some");

    // The live processes stop cleanly on SIGTERM.
    for (name, _, process) in &mut workers {
        terminate(name, process);
    }
    terminate("API", &mut api);
}

fn terminate(name: &str, process: &mut Spawned) {
    if process.0.try_wait().unwrap().is_some() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(process.0.id().to_string())
        .status();
    let status = process.0.wait().unwrap();
    assert!(status.success(), "{name} on SIGTERM: {status:?}");
}

/// Two workers, one on a machine whose clock runs two minutes ahead (libfaketime), far
/// more than the 3 s lease. Were leases written and compared by each machine's own clock,
/// the fast one would take the other's live claims as expired (its lease sweep re-queues
/// them) and the provider would get those messages twice. Every process keeps the
/// database's time instead (`vestnik::clock`), so each message is sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_clock_runs_ahead_takes_over_no_live_claim() {
    const N: usize = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = TestDb::new(Backend::Postgres, dir).await;
    let fake = FakeProvider::start(Provider::GenericJson).await;
    // Each request takes a while: claims stay live long enough to be taken over.
    fake.set_fault(Some(common::fake_sms::Fault::Slow(Duration::from_millis(
        150,
    ))));
    let http = common::http_client();
    let (mut api, base, token) = start_api(dir, &db, &fake, &http).await;

    // Leases of 10 s: a stall of the loaded test machine does not let one run out, and the
    // skew is still twelve leases.
    let in_step_log = dir.join("W1.log");
    let mut in_step = vestnik(
        &leased_config(dir, &db.url, &fake, "W1", 10),
        &["worker"],
        &in_step_log,
    );
    let ahead_log = dir.join("W2.log");
    let mut ahead = vestnik_ahead(
        "+120s",
        &leased_config(dir, &db.url, &fake, "W2", 10),
        &["worker"],
        &ahead_log,
    );

    let mut body = common::sms_mailing(N);
    body["external_id"] = json!("clock-ahead");
    let id = post(&http, &base, &token, &body).await;
    let started = Instant::now();
    loop {
        let counts = status_counts(&http, &base, &token, &id).await;
        if counts["sent"] == N {
            break;
        }
        for (process, log) in [(&mut in_step, &in_step_log), (&mut ahead, &ahead_log)] {
            assert!(
                process.0.try_wait().unwrap().is_none(),
                "a worker exited: {}",
                log_tail(log)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not all sent after 120 s: {counts}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The shifted clock took effect, and the worker noticed it.
    let ahead_text = std::fs::read_to_string(&ahead_log).unwrap();
    assert!(
        ahead_text.contains("clock differs from the database's"),
        "W2 saw no clock offset:\n{}",
        log_tail(&ahead_log)
    );
    for log in [&in_step_log, &ahead_log] {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(
            !text.contains("lease expired"),
            "a live claim was taken over:\n{}",
            log_tail(log)
        );
    }
    let received = fake.received();
    assert_eq!(received.len(), N, "accepted sends");
    let repeats = fake.repeats();
    assert!(
        repeats.is_empty(),
        "{} messages sent twice, e.g. {:?}",
        repeats.len(),
        repeats.first().map(|r| (&r.client_id, &r.sender))
    );
    let by_w2 = received
        .iter()
        .filter(|r| r.sender.as_deref() == Some("W2"))
        .count();
    assert!(
        by_w2 > 0 && by_w2 < N,
        "both workers must send some: W2 sent {by_w2} of {N}"
    );

    terminate("W1", &mut in_step);
    terminate("W2", &mut ahead);
    terminate("API", &mut api);
}
