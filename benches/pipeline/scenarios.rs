//! The Vestnik scenarios: start the processes of one deployment (SQLite `serve`, or
//! PostgreSQL `serve --no-worker` plus N `vestnik worker`), drive one workload through
//! them, and turn what the gateway, the database and /proc saw into a [`Row`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Result;
use crate::gateway::Gateway;
use crate::measure::{
    busy_fraction, cpu_between, file_size, machine_ticks, own_cpu, percentile, pg_backends_cpu,
    process_cpu, vm_hwm_kib,
};
use crate::processes::{Gateways, PgDatabase, Process, free_port, pg_admin_url, write_config};
use crate::report::Row;
use crate::smtp::SmtpSink;
use crate::workload::{self, Channel};

/// How often the API is asked for the intent's counts once they can be complete: the
/// gateway (or SMTP sink) has accepted every message, or the gateway's delivery reports
/// have all been recorded. Before that the counts are asked only every `PROGRESS_EVERY`,
/// so the measuring does not take the cores it measures.
const POLL_EVERY: Duration = Duration::from_millis(10);
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
const START_BUDGET: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One intent with many recipients, posted once.
#[derive(Debug, Clone)]
pub struct Batch {
    pub backend: Backend,
    /// `vestnik worker` processes beside an API-only `serve`; 0 for one `serve` with its
    /// own worker (the SQLite deployment).
    pub workers: usize,
    pub recipients: usize,
    pub channel: Channel,
    /// The fake gateway reports every SMS `delivered`; the scenario also waits for all
    /// reports to be committed.
    pub reports: bool,
    /// SMS per request to the gateway: 1, or a batch through generic-json's batch endpoint.
    pub per_request: usize,
    /// How long the fake gateway takes to answer each request (zero: at once).
    pub gateway_latency: Duration,
}

/// One-recipient intents at a steady rate far below capacity.
#[derive(Debug, Clone)]
pub struct Latency {
    pub per_sec: f64,
    pub seconds: f64,
}

/// The database of one scenario, for its size. Declared after the processes in
/// [`Cluster`], so it is dropped (a PostgreSQL database dropped) only once they stopped.
enum Database {
    Sqlite(PathBuf),
    Postgres(PgDatabase),
}

impl Database {
    fn url(&self) -> String {
        match self {
            Database::Sqlite(file) => format!("sqlite://{}", file.display()),
            Database::Postgres(db) => db.url.clone(),
        }
    }

    /// CPU of its PostgreSQL backends so far, by pid (empty on SQLite, which runs inside
    /// the Vestnik process and is counted there).
    fn backends_cpu(&self) -> std::collections::HashMap<u32, Duration> {
        match self {
            Database::Sqlite(_) => Default::default(),
            Database::Postgres(db) => pg_backends_cpu(db.name()),
        }
    }

    fn bytes(&self) -> Result<u64> {
        match self {
            Database::Sqlite(file) => {
                Ok(file_size(file) + file_size(&PathBuf::from(format!("{}-wal", file.display()))))
            }
            Database::Postgres(db) => db.size(),
        }
    }
}

/// The running processes of one deployment.
pub struct Cluster {
    processes: Vec<Process>,
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
    database: Database,
}

impl Cluster {
    pub async fn start(
        dir: &Path,
        backend: Backend,
        workers: usize,
        gateways: &Gateways<'_>,
    ) -> Result<Cluster> {
        let database = match backend {
            Backend::Sqlite => {
                std::fs::create_dir_all(dir.join("data"))?;
                Database::Sqlite(dir.join("data/vestnik.db"))
            }
            Backend::Postgres => Database::Postgres(PgDatabase::create(&pg_admin_url())?),
        };
        let db_url = database.url();
        vestnik::channels::install_crypto_provider();
        let http = reqwest::Client::builder().no_proxy().build()?;
        let listen = format!("127.0.0.1:{}", free_port()?);
        let base = format!("http://{listen}");
        let mut args = vec!["serve", "--listen", listen.as_str()];
        if workers > 0 {
            args.push("--no-worker");
        }
        let config = write_config(dir, "api", &db_url, gateways)?;
        let api = Process::vestnik("api", &config, &args, dir)?;
        let mut cluster = Cluster {
            processes: vec![api],
            base,
            token: String::new(),
            http,
            database,
        };
        eprintln!(
            "{} pid {} on {listen}, dir {}",
            args.join(" "),
            cluster.processes[0].pid(),
            dir.display()
        );

        // The API first: it migrates the schema, which the workers must not race it for.
        let token_file = dir.join("admin.token");
        let since = Instant::now();
        loop {
            cluster.check_alive()?;
            let healthy = match cluster
                .http
                .get(format!("{}/health", cluster.base))
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
            if since.elapsed() > START_BUDGET {
                return Err(format!(
                    "API not healthy after {} s; its log ends:\n{}",
                    START_BUDGET.as_secs(),
                    cluster.processes[0].log_tail()
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        cluster.token = std::fs::read_to_string(&token_file)?.trim().to_owned();

        for n in 1..=workers {
            let name = format!("worker{n}");
            let config = write_config(dir, &name, &db_url, gateways)?;
            cluster
                .processes
                .push(Process::vestnik(&name, &config, &["worker"], dir)?);
        }
        // Each worker logs "worker started" once it listens to the queue. With RUST_LOG
        // quieter than info there is no such line: then go on after a while anyway.
        let since = Instant::now();
        for n in 1..=workers {
            let log = dir.join(format!("worker{n}.log"));
            while !std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("worker started")
            {
                cluster.check_alive()?;
                if since.elapsed() > Duration::from_secs(20) {
                    eprintln!("worker{n} has not logged \"worker started\" after 20 s; going on");
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        eprintln!("ready after {:.2} s", since.elapsed().as_secs_f64());
        Ok(cluster)
    }

    pub fn check_alive(&mut self) -> Result<()> {
        self.processes.iter_mut().try_for_each(Process::check_alive)
    }

    /// CPU time of every process of the deployment, summed.
    fn cpu(&self) -> Result<Duration> {
        self.processes.iter().map(|p| process_cpu(p.pid())).sum()
    }

    /// Peak RSS of every process, summed (KiB).
    fn peak_rss_kib(&self) -> Result<u64> {
        self.processes.iter().map(|p| vm_hwm_kib(p.pid())).sum()
    }

    /// POSTs an intent; (time until the answer, the intent id, its message count).
    async fn post_intent(&self, body: Vec<u8>) -> Result<(Duration, String, u64)> {
        let t0 = Instant::now();
        let response = self
            .http
            .post(format!("{}/v1/intents", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("POST /v1/intents: {e}"))?;
        let took = t0.elapsed();
        let status = response.status();
        let text = response.text().await?;
        if status.as_u16() != 202 {
            return Err(format!(
                "POST /v1/intents answered {status}: {}",
                truncate(&text, 2000)
            )
            .into());
        }
        let accepted: Value = serde_json::from_str(&text)?;
        let id = accepted["id"]
            .as_str()
            .ok_or("202 without an id")?
            .to_owned();
        Ok((took, id, accepted["messages"].as_u64().unwrap_or(0)))
    }

    async fn status_counts(&self, id: &str) -> Result<Value> {
        let r = self
            .http
            .get(format!("{}/v1/intents/{id}?per_page=1", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        if !r.status().is_success() {
            return Err(format!(
                "GET intent answered {}: {}",
                r.status(),
                truncate(&r.text().await?, 2000)
            )
            .into());
        }
        let v: Value = r.json().await?;
        Ok(v["status_counts"].clone())
    }

    /// Stops every process (API first: no new work), warning about unclean exits.
    fn stop(&mut self) {
        for p in &mut self.processes {
            match p.terminate() {
                Ok(status) if status.success() => {}
                Ok(status) => eprintln!(
                    "warning: {} exited with {status} after SIGTERM; its log ends:\n{}",
                    p.name,
                    p.log_tail()
                ),
                Err(e) => eprintln!("could not stop {}: {e}", p.name),
            }
        }
    }
}

fn count(counts: &Value, status: &str) -> u64 {
    counts[status].as_u64().unwrap_or(0)
}

pub async fn run_batch(name: &str, spec: &Batch, body: &[u8], dir: &Path) -> Result<Row> {
    let mut gateway = Gateway::start(spec.gateway_latency).await?;
    let sink = match spec.channel {
        Channel::Email => Some(SmtpSink::start().await?),
        Channel::Sms => None,
    };
    let gateways = Gateways {
        sms: Some(&gateway.base_url),
        sms_per_request: spec.per_request,
        smtp_port: sink.as_ref().map(|s| s.port),
    };
    let mut cluster = Cluster::start(dir, spec.backend, spec.workers, &gateways).await?;
    if spec.reports {
        gateway.report_to(format!("{}/v1/receipts/generic-json", cluster.base));
    }
    let accepted_at_gateway = |gateway: &Gateway| match &sink {
        Some(sink) => sink.count(),
        None => gateway.accepted(),
    };

    let db_before = cluster.database.bytes()?;
    let cpu0 = cluster.cpu()?;
    let pg0 = cluster.database.backends_cpu();
    let own0 = own_cpu();
    let busy0 = machine_ticks()?;
    let t0 = Instant::now();
    let (intake, id, messages) = cluster.post_intent(body.to_vec()).await?;
    if messages != spec.recipients as u64 {
        return Err(format!(
            "expected {} messages, the intent has {messages}",
            spec.recipients
        )
        .into());
    }
    eprintln!(
        "intake: 202 after {:.2} s, intent {id}",
        intake.as_secs_f64()
    );

    let mut all_sent = None;
    let mut cpu_sent = Duration::ZERO;
    let mut pg_sent = Duration::ZERO;
    let mut last_progress = Instant::now();
    let all_delivered = loop {
        cluster.check_alive()?;
        // All sent implies the gateway accepted them all; all delivered, that every
        // report was recorded. Until then only progress is worth a query.
        let could_be_done = match all_sent {
            None => accepted_at_gateway(&gateway) >= messages as usize,
            Some(_) => {
                gateway
                    .report_stats
                    .recorded
                    .load(std::sync::atomic::Ordering::Relaxed)
                    >= messages
            }
        };
        if !could_be_done && last_progress.elapsed() < PROGRESS_EVERY {
            tokio::time::sleep(POLL_EVERY).await;
            continue;
        }
        let counts = cluster.status_counts(&id).await?;
        let at = t0.elapsed();
        if count(&counts, "failed") > 0 {
            return Err(format!(
                "messages failed: status_counts {counts}; the API log ends:\n{}",
                cluster.processes[0].log_tail()
            )
            .into());
        }
        let delivered = count(&counts, "delivered");
        let sent = count(&counts, "sent") + delivered;
        if all_sent.is_none() && sent == messages {
            all_sent = Some(at);
            cpu_sent = cluster.cpu()?;
            pg_sent = cpu_between(&pg0, &cluster.database.backends_cpu());
            eprintln!(
                "all {messages} sent {:.2} s after POST start ({:.0} msg/s)",
                at.as_secs_f64(),
                messages as f64 / at.as_secs_f64()
            );
        }
        if all_sent.is_some() && (!spec.reports || delivered == messages) {
            break spec.reports.then_some(at);
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = Instant::now();
            eprintln!(
                "  {:6.1} s: {counts}; gateway accepted {}{}",
                at.as_secs_f64(),
                accepted_at_gateway(&gateway),
                if spec.reports {
                    format!(
                        ", reports recorded {}",
                        gateway
                            .report_stats
                            .recorded
                            .load(std::sync::atomic::Ordering::Relaxed)
                    )
                } else {
                    String::new()
                }
            );
        }
        tokio::time::sleep(POLL_EVERY).await;
    };
    let all_sent = all_sent.expect("set before the loop ends");
    if let Some(at) = all_delivered {
        eprintln!(
            "all {messages} delivered {:.2} s after POST start",
            at.as_secs_f64()
        );
    }
    let busy1 = machine_ticks()?;
    let own = own_cpu().saturating_sub(own0);
    let peak_rss_kib = cluster.peak_rss_kib()?;
    let db_after = cluster.database.bytes()?;

    // Intake → gateway acceptance of every message: first arrival per message.
    let (mut latencies, repeats, first_at) = match &sink {
        Some(sink) => {
            // Addresses are unique per recipient: a second DATA for one is a resend.
            let mut accepted = sink.accepted();
            let total = accepted.len();
            accepted.sort_unstable_by(|a, b| a.to.cmp(&b.to).then(a.at.cmp(&b.at)));
            accepted.dedup_by(|later, first| later.to == first.to);
            let first = accepted.iter().map(|a| a.at).min();
            (
                accepted.iter().map(|a| a.at - t0).collect::<Vec<_>>(),
                total - accepted.len(),
                first,
            )
        }
        None => {
            let (firsts, repeats) = gateway.first_arrivals();
            let first = firsts.iter().map(|a| a.at).min();
            (firsts.iter().map(|a| a.at - t0).collect(), repeats, first)
        }
    };
    if latencies.len() != messages as usize || gateway.refused() > 0 {
        return Err(format!(
            "the gateway holds {} distinct messages (expected {messages}) and refused {} requests",
            latencies.len(),
            gateway.refused()
        )
        .into());
    }
    let p50 = percentile(&mut latencies, 50.0);
    let p99 = percentile(&mut latencies, 99.0);

    let mut notes = vec![format!(
        "first message at the gateway {:.2} s after POST start",
        first_at.map_or(f64::NAN, |f| (f - t0).as_secs_f64())
    )];
    if repeats > 0 {
        notes.push(format!("{repeats} sends repeated"));
    }
    if spec.backend == Backend::Postgres {
        notes.push(format!(
            "PostgreSQL backends {:.1} s CPU until all sent",
            pg_sent.as_secs_f64()
        ));
    }
    notes.push(format!(
        "machine {:.0}% busy; bench process (fake gateway, SMTP sink, client) {:.1} s CPU",
        busy_fraction(busy0, busy1) * 100.0,
        own.as_secs_f64()
    ));
    if spec.reports {
        use std::sync::atomic::Ordering::Relaxed;
        let stats = &gateway.report_stats;
        notes.push(format!(
            "delivery reports: {} recorded, {} re-posted after 404, {} given up; server CPU until all delivered {:.1} s",
            stats.recorded.load(Relaxed),
            stats.retried.load(Relaxed),
            stats.failed.load(Relaxed),
            cluster.cpu()?.saturating_sub(cpu0).as_secs_f64()
        ));
    }
    cluster.stop();

    Ok(Row {
        scenario: name.to_owned(),
        messages: messages as usize,
        intake: Some(intake),
        all_sent: Some(all_sent),
        per_sec: Some(messages as f64 / all_sent.as_secs_f64()),
        p50,
        p99,
        all_delivered,
        peak_rss_kib: Some(peak_rss_kib),
        db_bytes_per_100k: Some(
            (db_after.saturating_sub(db_before) as f64 * 100_000.0 / messages as f64) as u64,
        ),
        cpu: Some(cpu_sent.saturating_sub(cpu0)),
        ratio: Vec::new(),
        notes,
        failed: None,
        peer: false,
    })
}

/// One-recipient SMS intents posted on a fixed schedule (not waiting for each other), on
/// SQLite: the time from each POST's start to its SMS at the gateway, when nothing queues.
pub async fn run_latency(name: &str, spec: &Latency, dir: &Path) -> Result<Row> {
    let gateway = Gateway::start(Duration::ZERO).await?;
    let gateways = Gateways {
        sms: Some(&gateway.base_url),
        sms_per_request: 1,
        smtp_port: None,
    };
    let cluster = Cluster::start(dir, Backend::Sqlite, 0, &gateways).await?;
    let count = (spec.per_sec * spec.seconds).round().max(1.0) as usize;

    // One intent first, not counted: the first request pays for cold caches and
    // connections that a running service has warm.
    let (body, phone) = workload::single_intent(count);
    cluster.post_intent(body).await?;
    wait_for_phones(&gateway, &[phone], Duration::from_secs(30)).await?;

    let cpu0 = cluster.cpu()?;
    let start = Instant::now();
    let cluster = std::sync::Arc::new(cluster);
    let mut posts = tokio::task::JoinSet::new();
    let mut phones = Vec::with_capacity(count);
    for i in 0..count {
        let (body, phone) = workload::single_intent(i);
        phones.push(phone.clone());
        tokio::time::sleep_until((start + Duration::from_secs_f64(i as f64 / spec.per_sec)).into())
            .await;
        let cluster = cluster.clone();
        posts.spawn(async move {
            let posted = Instant::now();
            cluster
                .post_intent(body)
                .await
                .map(|(intake, _, _)| (phone, posted, intake))
        });
    }
    let mut posted = std::collections::HashMap::new();
    let mut intakes = Vec::with_capacity(count);
    while let Some(done) = posts.join_next().await {
        let (phone, at, intake) = done.map_err(|e| format!("a POST task: {e}"))??;
        posted.insert(phone, at);
        intakes.push(intake);
    }
    wait_for_phones(&gateway, &phones, Duration::from_secs(60)).await?;
    let mut cluster =
        std::sync::Arc::into_inner(cluster).ok_or("POST tasks still hold the cluster")?;
    let cpu = cluster.cpu()?.saturating_sub(cpu0);
    let peak_rss_kib = cluster.peak_rss_kib()?;

    let mut latencies = Vec::with_capacity(count);
    for arrival in gateway.first_arrivals().0 {
        if let Some(at) = posted.get(&arrival.to) {
            latencies.push(arrival.at - *at);
        }
    }
    let p50_intake = percentile(&mut intakes, 50.0);
    let p99_intake = percentile(&mut intakes, 99.0);
    let p50 = percentile(&mut latencies, 50.0);
    let p99 = percentile(&mut latencies, 99.0);
    let max = latencies.last().copied();
    cluster.stop();
    Ok(Row {
        scenario: name.to_owned(),
        messages: count,
        intake: p50_intake,
        all_sent: None,
        per_sec: None,
        p50,
        p99,
        all_delivered: None,
        peak_rss_kib: Some(peak_rss_kib),
        db_bytes_per_100k: None,
        cpu: Some(cpu),
        ratio: Vec::new(),
        notes: vec![format!(
            "{count} one-recipient intents at {:.0}/s over {:.0} s (after one warm-up intent); intake (202) p50 {:.1} ms, p99 {:.1} ms; intake → gateway max {:.1} ms",
            spec.per_sec,
            spec.seconds,
            ms(p50_intake),
            ms(p99_intake),
            ms(max),
        )],
        failed: None,
        peer: false,
    })
}

async fn wait_for_phones(gateway: &Gateway, phones: &[String], budget: Duration) -> Result<()> {
    let since = Instant::now();
    loop {
        let seen: std::collections::HashSet<String> =
            gateway.arrivals().into_iter().map(|a| a.to).collect();
        let missing = phones.iter().filter(|p| !seen.contains(*p)).count();
        if missing == 0 {
            return Ok(());
        }
        if since.elapsed() > budget {
            return Err(format!(
                "{missing} of {} SMS not at the gateway after {} s",
                phones.len(),
                budget.as_secs()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ms(d: Option<Duration>) -> f64 {
    d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

pub fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
