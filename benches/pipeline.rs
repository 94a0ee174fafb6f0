//! End-to-end throughput of the real `vestnik` binary: one `meter_visit` intent with N
//! SMS recipients (default 100,000; `VESTNIK_BENCH_RECIPIENTS` overrides), on SQLite and on
//! PostgreSQL (`VESTNIK_BENCH_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
//!
//! For each backend: start `vestnik serve` with its own temp dirs and a free port, POST the
//! intent, poll `GET /v1/intents/{id}?per_page=1` every 100 ms until every message is
//! `sent`, then report intake time, time until all sent, messages/s, peak RSS of the server
//! and database size, check the outbox holds N files, and stop the server with SIGTERM.
//!
//! `cargo bench --bench pipeline` (optionally `-- sqlite` or `-- postgres` to run one);
//! `VESTNIK_BENCH_KEEP=1` keeps the temp dir (server.log, outbox, SQLite file) for a look.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Give up on a backend after this long (start, intake, dispatch, checks).
const BACKEND_BUDGET: Duration = Duration::from_secs(10 * 60);
const POLL_EVERY: Duration = Duration::from_millis(100);
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! fail {
    ($($t:tt)*) => { return Err(format!($($t)*).into()) };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// One backend's measurements.
struct Report {
    backend: Backend,
    recipients: usize,
    intake: Duration,
    until_all_sent: Duration,
    /// From the start of the POST until the last message was seen `sent`.
    total: Duration,
    first_sent_after: Option<Duration>,
    peak_rss_kib: u64,
    db_bytes: u64,
    outbox_files: usize,
    server_cpu_intake: Duration,
    server_cpu_dispatch: Duration,
    machine_busy_dispatch: f64,
    /// Status GETs made while waiting, their summed and longest latency.
    polls: u32,
    poll_total: Duration,
    poll_max: Duration,
    body_bytes: usize,
}

fn main() {
    let recipients: usize = match std::env::var("VESTNIK_BENCH_RECIPIENTS") {
        Ok(v) => match v.trim().replace('_', "").parse() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("VESTNIK_BENCH_RECIPIENTS must be a positive integer, got {v:?}");
                std::process::exit(2);
            }
        },
        Err(_) => 100_000,
    };
    // `cargo bench` passes `--bench`; any other argument selects backends by name.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(|a| a.to_lowercase())
        .collect();
    let backends: Vec<Backend> = [Backend::Sqlite, Backend::Postgres]
        .into_iter()
        .filter(|b| {
            filters.is_empty() || filters.iter().any(|f| b.name().to_lowercase().contains(f))
        })
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");

    eprintln!(
        "vestnik pipeline bench: {recipients} recipients, binary {}",
        env!("CARGO_BIN_EXE_vestnik")
    );
    let overrides = setting_overrides();
    let started = Instant::now();
    let body = intent_body(recipients);
    eprintln!(
        "generated the intent: {:.1} MiB JSON in {:.2} s",
        mib(body.len() as u64),
        started.elapsed().as_secs_f64()
    );

    let mut reports = Vec::new();
    let mut errors = Vec::new();
    // Temp dirs (100,000 outbox files each) are removed only after the last backend ran:
    // on this ext4 (no journal) freshly deleted inodes make the next run's file creation
    // much slower, which would penalise whichever backend runs second.
    let mut dirs = Vec::new();
    for backend in backends {
        eprintln!("\n=== {} ===", backend.name());
        let dir = match tempfile::Builder::new().prefix("vestnik-bench-").tempdir() {
            Ok(dir) => dir,
            Err(e) => {
                errors.push((backend, format!("cannot create a temp dir: {e}")));
                continue;
            }
        };
        let path = dir.path().to_owned();
        dirs.push(dir);
        let outcome = runtime.block_on(async {
            match tokio::time::timeout(
                BACKEND_BUDGET,
                run_backend(backend, recipients, &body, &path),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "gave up after {} s (BACKEND_BUDGET); the server was stopped",
                    BACKEND_BUDGET.as_secs()
                )
                .into()),
            }
        });
        match outcome {
            Ok(report) => reports.push(report),
            Err(e) => {
                eprintln!("{} FAILED: {e}", backend.name());
                errors.push((backend, e.to_string()));
            }
        }
    }

    println!();
    println!("{}", machine());
    if !overrides.is_empty() {
        println!(
            "Settings overridden from the environment: {}",
            overrides.join(", ")
        );
    }
    println!();
    println!("{}", table(&reports));
    for r in &reports {
        println!(
            "- {}: body {:.1} MiB; first message sent {:.2} s after POST start; server CPU {:.1} s during intake, {:.1} s during dispatch (machine {:.0}% busy during dispatch); outbox files {}",
            r.backend.name(),
            mib(r.body_bytes as u64),
            r.first_sent_after.map_or(f64::NAN, |d| d.as_secs_f64()),
            r.server_cpu_intake.as_secs_f64(),
            r.server_cpu_dispatch.as_secs_f64(),
            r.machine_busy_dispatch * 100.0,
            r.outbox_files,
        );
        println!(
            "  status GET (per_page=1) while dispatching: {} polls, mean {:.1} ms, max {:.1} ms",
            r.polls,
            r.poll_total.as_secs_f64() * 1000.0 / f64::from(r.polls.max(1)),
            r.poll_max.as_secs_f64() * 1000.0,
        );
    }
    for (backend, e) in &errors {
        println!("- {}: FAILED: {e}", backend.name());
    }
    for dir in dirs {
        if std::env::var_os("VESTNIK_BENCH_KEEP").is_some() {
            eprintln!("kept {} (VESTNIK_BENCH_KEEP)", dir.keep().display());
        } else if let Err(e) = dir.close() {
            eprintln!("could not remove a temp dir: {e}");
        }
    }
    if !errors.is_empty() {
        std::process::exit(1);
    }
}

async fn run_backend(
    backend: Backend,
    recipients: usize,
    body: &[u8],
    dir: &Path,
) -> Result<Report> {
    let outbox = dir.join("outbox");
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    // Declared before the server so it is dropped after it: the database goes only once
    // the server that uses it has stopped.
    let mut pg: Option<PgDatabase> = None;
    let (db_url, sqlite_file) = match backend {
        Backend::Sqlite => {
            let file = data.join("vestnik.db");
            (format!("sqlite://{}", file.display()), Some(file))
        }
        Backend::Postgres => {
            let base =
                std::env::var("VESTNIK_BENCH_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
            let db = PgDatabase::create(&base)?;
            let url = db.url.clone();
            pg = Some(db);
            (url, None)
        }
    };

    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let token_file = data.join("admin.token");
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path)?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vestnik"));
    // The server reads every VESTNIK_* variable as a setting and refuses unknown ones
    // (VESTNIK_BENCH_RECIPIENTS would be `bench_recipients`): keep ours away from it.
    // Other VESTNIK_* settings pass through (e.g. VESTNIK_DISPATCH__CONCURRENCY=8), except
    // the ones the bench sets below.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("VESTNIK_BENCH_") {
            cmd.env_remove(key);
        }
    }
    cmd.arg("serve")
        .arg("--listen")
        .arg(&listen)
        // From the repository, as a developer runs it: the shipped config names read-only
        // data by relative path (config/calendar, config/policies.toml, …). Everything the
        // server writes (database, outbox, token) is pointed into the temp dir below.
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("VESTNIK_DATABASE__URL", &db_url)
        .env("VESTNIK_OUTBOX__DIR", &outbox)
        .env(
            "VESTNIK_TEMPLATES__DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"),
        )
        .env("VESTNIK_AUTH__ADMIN_TOKEN_FILE", &token_file)
        .env("VESTNIK_DEADLINES__PLANS_FILE", plans_without_windows(dir)?)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let mut server = Server {
        child: cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", env!("CARGO_BIN_EXE_vestnik")))?,
        log: log_path,
    };
    let pid = server.child.id();
    eprintln!("server pid {pid} on {listen}, dir {}", dir.display());

    let base = format!("http://{listen}");
    vestnik::channels::install_crypto_provider();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(BACKEND_BUDGET)
        .build()?;

    // Start-up: /health answers and the admin token is on disk.
    let up_since = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait()? {
            fail!(
                "server exited during start-up ({status}); log:\n{}",
                server.log_tail()
            );
        }
        let healthy = match http
            .get(format!("{base}/health"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
        {
            Ok(r) => r.status().is_success(),
            Err(_) => false,
        };
        if healthy && token_file.exists() {
            break;
        }
        if up_since.elapsed() > Duration::from_secs(60) {
            fail!("server not healthy after 60 s; log:\n{}", server.log_tail());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = std::fs::read_to_string(&token_file)?.trim().to_owned();
    eprintln!("healthy after {:.2} s", up_since.elapsed().as_secs_f64());

    // Intake.
    let cpu0 = process_cpu(pid)?;
    let t0 = Instant::now();
    let response = http
        .post(format!("{base}/v1/intents"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .map_err(|e| format!("POST /v1/intents: {e}"))?;
    let intake = t0.elapsed();
    let status = response.status();
    let text = response.text().await?;
    if status.as_u16() != 202 {
        fail!(
            "POST /v1/intents answered {status}: {}",
            truncate(&text, 2000)
        );
    }
    let accepted: Value = serde_json::from_str(&text)?;
    let id = accepted["id"]
        .as_str()
        .ok_or("202 without an id")?
        .to_owned();
    let expected = accepted["messages"].as_u64().unwrap_or(recipients as u64);
    if expected != recipients as u64 {
        fail!("expected {recipients} messages, the intent has {expected}");
    }
    let cpu1 = process_cpu(pid)?;
    let busy0 = machine_ticks()?;
    eprintln!(
        "intake: 202 after {:.2} s, intent {id}",
        intake.as_secs_f64()
    );

    // Dispatch: poll until every message is sent.
    let mut first_sent_after = None;
    let mut last_progress = Instant::now();
    let (mut polls, mut poll_total, mut poll_max) = (0u32, Duration::ZERO, Duration::ZERO);
    let total = loop {
        if let Some(status) = server.child.try_wait()? {
            fail!(
                "server exited during dispatch ({status}); log:\n{}",
                server.log_tail()
            );
        }
        let asked = Instant::now();
        let r = http
            .get(format!("{base}/v1/intents/{id}?per_page=1"))
            .bearer_auth(&token)
            .send()
            .await?;
        let polled_at = t0.elapsed();
        if !r.status().is_success() {
            fail!(
                "GET intent answered {}: {}",
                r.status(),
                truncate(&r.text().await?, 2000)
            );
        }
        let v: Value = r.json().await?;
        let latency = asked.elapsed();
        polls += 1;
        poll_total += latency;
        poll_max = poll_max.max(latency);
        let counts = &v["status_counts"];
        let count = |s: &str| counts[s].as_u64().unwrap_or(0);
        let sent = count("sent");
        if sent > 0 && first_sent_after.is_none() {
            first_sent_after = Some(polled_at);
        }
        if count("failed") > 0 {
            fail!(
                "messages failed: status_counts {counts}; log:\n{}",
                server.log_tail()
            );
        }
        if sent == expected {
            break polled_at;
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = Instant::now();
            eprintln!(
                "  {:6.1} s: {counts} ({:.0} msg/s so far)",
                polled_at.as_secs_f64(),
                sent as f64 / (polled_at - intake).as_secs_f64().max(1e-9)
            );
        }
        tokio::time::sleep(POLL_EVERY).await;
    };
    let cpu2 = process_cpu(pid)?;
    let busy1 = machine_ticks()?;
    let until_all_sent = total - intake;
    eprintln!(
        "all {expected} sent {:.2} s after POST start ({:.0} msg/s)",
        total.as_secs_f64(),
        expected as f64 / total.as_secs_f64()
    );

    // Measurements at the end, server still running.
    let peak_rss_kib = vm_hwm_kib(pid)?;
    let db_bytes = match (&sqlite_file, &pg) {
        (Some(file), _) => {
            file_size(file) + file_size(&PathBuf::from(format!("{}-wal", file.display())))
        }
        (None, Some(db)) => db.size()?,
        (None, None) => unreachable!(),
    };
    let (outbox_files, leftovers) = count_outbox(&outbox.join("sms"))?;
    if outbox_files != recipients || leftovers != 0 {
        fail!(
            "outbox/sms holds {outbox_files} message files and {leftovers} other files; expected {recipients} and 0"
        );
    }

    let exit = server.terminate()?;
    if !exit.success() {
        eprintln!(
            "warning: server exited with {exit} after SIGTERM; log:\n{}",
            server.log_tail()
        );
    }
    if let Some(db) = pg.take() {
        db.drop_now()?;
    }

    Ok(Report {
        backend,
        recipients,
        intake,
        until_all_sent,
        total,
        first_sent_after,
        peak_rss_kib,
        db_bytes,
        outbox_files,
        server_cpu_intake: cpu1.saturating_sub(cpu0),
        server_cpu_dispatch: cpu2.saturating_sub(cpu1),
        machine_busy_dispatch: busy_fraction(busy0, busy1),
        body_bytes: body.len(),
        polls,
        poll_total,
        poll_max,
    })
}

/// A `meter_visit` intent (its SMS is a legal notice) with `n` SMS recipients.
fn intent_body(n: usize) -> Vec<u8> {
    const SURNAMES: [(&str, &str); 8] = [
        ("Иванов", "Иванова"),
        ("Петров", "Петрова"),
        ("Смирнов", "Смирнова"),
        ("Кузнецов", "Кузнецова"),
        ("Соколов", "Соколова"),
        ("Попов", "Попова"),
        ("Лебедев", "Лебедева"),
        ("Новиков", "Новикова"),
    ];
    const MEN: [&str; 5] = ["Иван", "Николай", "Андрей", "Сергей", "Алексей"];
    const WOMEN: [&str; 5] = ["Мария", "Анна", "Елена", "Ольга", "Татьяна"];
    const PATRONYMICS: [(&str, &str); 4] = [
        ("Иванович", "Ивановна"),
        ("Сергеевич", "Сергеевна"),
        ("Алексеевич", "Алексеевна"),
        ("Викторович", "Викторовна"),
    ];
    // Mostly Moscow, a few other zones of the supplier's area.
    const ZONES: [&str; 10] = [
        "Europe/Moscow",
        "Europe/Moscow",
        "Europe/Moscow",
        "Europe/Moscow",
        "Europe/Moscow",
        "Europe/Moscow",
        "Europe/Kaliningrad",
        "Europe/Samara",
        "Asia/Yekaterinburg",
        "Asia/Novosibirsk",
    ];
    let recipients: Vec<Value> = (0..n)
        .map(|i| {
            let (surname_m, surname_f) = SURNAMES[i % SURNAMES.len()];
            let (patr_m, patr_f) = PATRONYMICS[(i / 7) % PATRONYMICS.len()];
            let name = if i % 2 == 0 {
                format!("{surname_m} {} {patr_m}", MEN[(i / 3) % MEN.len()])
            } else {
                format!("{surname_f} {} {patr_f}", WOMEN[(i / 3) % WOMEN.len()])
            };
            json!({
                "account_number": format!("77{i:08}"),
                "customer_type": "individual",
                "name": name,
                "time_zone": ZONES[i % ZONES.len()],
                "contacts": { "phone": format!("+7916{:07}", i % 10_000_000) },
                "channels": ["sms"],
            })
        })
        .collect();
    let intent = json!({
        "kind": "meter_visit",
        "external_id": format!("bench-visit-2027-{}", uuid::Uuid::now_v7().simple()),
        "event": {
            "work_kind": "Контрольное снятие показаний прибора учёта",
            "visit_date": "2027-03-23",
            "interval_from": "11:00",
            "interval_to": "15:00",
            "responsible": {
                "position": "Начальник отдела учёта",
                "full_name": "Соколова Елена Павловна"
            },
            "contact_phone": "+78001000000"
        },
        "recipients": recipients,
        "accept_late": false,
    });
    serde_json::to_vec(&intent).expect("JSON serialises")
}

/// The server process; SIGTERM (then SIGKILL) when dropped, whatever happened.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn terminate(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain kill(2) on our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("server ignored SIGTERM for 30 s; killing it");
        self.child.kill()?;
        Ok(self.child.wait()?)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Err(e) = self.terminate() {
            eprintln!("could not stop the server: {e}");
        }
    }
}

/// A scratch PostgreSQL database, dropped when done (or on drop).
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

impl PgDatabase {
    fn create(admin_url: &str) -> Result<Self> {
        let name = format!("vestnik_bench_{}", uuid::Uuid::now_v7().simple());
        psql(admin_url, &format!("CREATE DATABASE {name}")).map_err(|e| {
            format!("cannot create the database on {admin_url} (set VESTNIK_BENCH_PG_URL): {e}")
        })?;
        let (without_query, query) = match admin_url.split_once('?') {
            Some((u, q)) => (u, format!("?{q}")),
            None => (admin_url, String::new()),
        };
        let scheme_end = without_query.find("://").map_or(0, |i| i + 3);
        let server = match without_query[scheme_end..].find('/') {
            Some(slash) => &without_query[..scheme_end + slash],
            None => without_query,
        };
        let url = format!("{server}/{name}{query}");
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
            dropped: false,
        })
    }

    fn size(&self) -> Result<u64> {
        let out = psql(
            &self.admin_url,
            &format!("SELECT pg_database_size('{}')", self.name),
        )?;
        Ok(out
            .trim()
            .parse()
            .map_err(|e| format!("pg_database_size gave {out:?}: {e}"))?)
    }

    fn drop_now(mut self) -> Result<()> {
        self.dropped = true;
        psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        )?;
        Ok(())
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if !self.dropped
            && let Err(e) = psql(
                &self.admin_url,
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            )
        {
            eprintln!("could not drop database {}: {e}", self.name);
        }
    }
}

fn psql(url: &str, sql: &str) -> Result<String> {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-t", "-A", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if !out.status.success() {
        fail!(
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// VESTNIK_* settings in our environment that reach the server (all but the ones the
/// bench sets itself), as `KEY=value`.
fn setting_overrides() -> Vec<String> {
    const SET_BY_BENCH: [&str; 6] = [
        "VESTNIK_DEADLINES__PLANS_FILE",
        "VESTNIK_DATABASE__URL",
        "VESTNIK_OUTBOX__DIR",
        "VESTNIK_TEMPLATES__DIR",
        "VESTNIK_AUTH__ADMIN_TOKEN_FILE",
        "VESTNIK_SERVER__LISTEN",
    ];
    let mut vars: Vec<String> = std::env::vars()
        .filter(|(k, _)| {
            k.starts_with("VESTNIK_")
                && !k.starts_with("VESTNIK_BENCH_")
                && !SET_BY_BENCH.contains(&k.as_str())
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    vars.sort();
    vars
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `VmHWM` (peak resident set) of a process, in KiB.
fn vm_hwm_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmHWM:") {
            let kib = rest.trim().trim_end_matches("kB").trim();
            return Ok(kib.parse()?);
        }
    }
    fail!("no VmHWM in /proc/{pid}/status")
}

/// User + system CPU time of a process so far.
fn process_cpu(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = &stat[stat.rfind(')').ok_or("odd /proc/pid/stat")? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_millis(ticks * 1000 / hz))
}

/// (busy, total) jiffies of the whole machine from /proc/stat.
fn machine_ticks() -> Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let cpu = stat.lines().next().ok_or("empty /proc/stat")?;
    let v: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

fn busy_fraction(a: (u64, u64), b: (u64, u64)) -> f64 {
    let total = b.1.saturating_sub(a.1);
    if total == 0 {
        0.0
    } else {
        b.0.saturating_sub(a.0) as f64 / total as f64
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// (message files, anything else) in one outbox channel directory and its shards.
fn count_outbox(dir: &Path) -> Result<(usize, usize)> {
    let (mut messages, mut other) = (0, 0);
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            let (m, o) = count_outbox(&path)?;
            messages += m;
            other += o;
        } else if path.extension().is_some_and(|e| e == "json") {
            messages += 1;
        } else {
            other += 1;
        }
    }
    Ok((messages, other))
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .map(|r| r.trim().trim_end_matches("kB").trim().to_owned())
            })
        })
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or_else(String::new, |kib| {
            format!(", {:.1} GiB RAM", kib as f64 / 1024.0 / 1024.0)
        });
    format!("Machine: {nproc} CPUs (nproc), {model}{mem}")
}

fn table(reports: &[Report]) -> String {
    let mut t = String::new();
    t.push_str("| backend | recipients | intake (s) | dispatch until all sent (s) | messages/s | peak RSS (MiB) | DB size (MiB) |\n");
    t.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for r in reports {
        let _ = writeln!(
            t,
            "| {} | {} | {:.2} | {:.2} | {:.0} | {:.1} | {:.1} |",
            r.backend.name(),
            r.recipients,
            r.intake.as_secs_f64(),
            r.until_all_sent.as_secs_f64(),
            r.recipients as f64 / r.total.as_secs_f64(),
            r.peak_rss_kib as f64 / 1024.0,
            mib(r.db_bytes),
        );
    }
    t.push_str("\nmessages/s = recipients / (POST start → all sent); dispatch = 202 → all sent (polled every 100 ms).");
    t
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The shipped channel plans without sending windows: SMS quiet hours would make the
/// result depend on the hour the bench runs at. Written into the run's temp dir.
fn plans_without_windows(dir: &Path) -> Result<std::path::PathBuf> {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/channel_plans.toml");
    let mut plans: toml::Table = std::fs::read_to_string(&shipped)?
        .parse()
        .map_err(|e| format!("{e}"))?;
    plans.remove("windows");
    let path = dir.join("channel_plans.toml");
    std::fs::write(&path, toml::to_string(&plans).map_err(|e| format!("{e}"))?)?;
    Ok(path)
}
