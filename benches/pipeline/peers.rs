//! The peers: the same workload through graphile-worker (Node) and Procrastinate (Python),
//! each on a fresh PostgreSQL database, rendering `templates/meter_visit/sms.hbs` with the
//! same event and posting to the same kind of fake gateway, with its result committed.
//!
//! The scripts live in `bench/peers/` (installed by `bench/peers/setup.sh`). Interface:
//! `<script> --database-url URL --gateway http://127.0.0.1:PORT --token TOKEN --count N
//! --concurrency C --template templates/meter_visit/sms.hbs --event FILE`, printing one
//! JSON line `{"peer","version","messages","enqueue_seconds","seconds","per_sec","p50_ms",
//! "p99_ms","concurrency"}`; both scripts also take `--timeout-secs`. A peer that is not installed or fails gives a row saying so;
//! it never fails the Vestnik part.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::Result;
use crate::gateway::{self, Gateway};
use crate::processes::{PgDatabase, Process, pg_admin_url};
use crate::report::Row;

/// A peer gives up (`--timeout-secs`) after this long, and is stopped a little later: a
/// peer stuck retrying (e.g. out of database connections) must not eat the bench's time.
const PEER_TIMEOUT: Duration = Duration::from_secs(300);
const PEER_BUDGET: Duration = Duration::from_secs(330);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Graphile,
    Procrastinate,
}

impl Peer {
    pub fn label(self) -> &'static str {
        match self {
            Peer::Graphile => "graphile-worker",
            Peer::Procrastinate => "Procrastinate",
        }
    }

    /// The program and script, or why the peer cannot run here.
    fn command(self) -> Result<Command, String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/peers");
        match self {
            Peer::Graphile => {
                let dir = root.join("graphile");
                let script = dir.join("run.mjs");
                if !script.exists() {
                    return Err(format!("{} is missing", script.display()));
                }
                if !dir.join("node_modules/graphile-worker").exists() {
                    return Err(format!(
                        "{}/node_modules has no graphile-worker (run bench/peers/setup.sh)",
                        dir.display()
                    ));
                }
                let mut cmd = Command::new("node");
                cmd.arg(script);
                Ok(cmd)
            }
            Peer::Procrastinate => {
                let dir = root.join("procrastinate");
                let script = dir.join("run.py");
                if !script.exists() {
                    return Err(format!("{} is missing", script.display()));
                }
                // setup.sh's virtual environment (`$CARGO_TARGET_DIR/bench-peers-venv`; this
                // binary is `<target>/release/deps/pipeline-…`), else the system Python.
                let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
                let mut targets: Vec<PathBuf> = Vec::new();
                if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
                    targets.push(manifest.join(t));
                }
                if let Some(t) = std::env::current_exe()
                    .ok()
                    .and_then(|e| Some(e.parent()?.parent()?.parent()?.to_owned()))
                {
                    targets.push(t);
                }
                targets.push(manifest.join("target"));
                let python = targets
                    .iter()
                    .map(|t| t.join("bench-peers-venv/bin/python"))
                    .chain([dir.join(".venv/bin/python")])
                    .find(|p| p.exists())
                    .unwrap_or_else(|| PathBuf::from("python3"));
                let probe = Command::new(&python)
                    .args(["-c", "import procrastinate"])
                    .output()
                    .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
                if !probe.status.success() {
                    return Err(format!(
                        "{} cannot import procrastinate (run bench/peers/setup.sh)",
                        python.display()
                    ));
                }
                let mut cmd = Command::new(python);
                cmd.arg(script);
                Ok(cmd)
            }
        }
    }
}

/// Runs one peer; a row either way (failed rows carry the reason).
pub async fn run(peer: Peer, messages: usize, concurrency: usize, event: &Path, dir: &Path) -> Row {
    match try_run(peer, messages, concurrency, event, dir).await {
        Ok(row) => row,
        Err(e) => {
            eprintln!("{} FAILED: {e}", peer.label());
            let mut row = Row::failed(
                format!("{} (PostgreSQL)", peer.label()),
                messages,
                format!("peer not installed / failed: {e}"),
            );
            row.peer = true;
            row
        }
    }
}

async fn try_run(
    peer: Peer,
    messages: usize,
    concurrency: usize,
    event: &Path,
    dir: &Path,
) -> Result<Row> {
    let mut cmd = peer.command()?;
    let gateway = Gateway::start(Duration::ZERO).await?;
    let db = PgDatabase::create(&pg_admin_url())?;
    let db_before = db.size()?;
    cmd.arg("--database-url")
        .arg(&db.url)
        .arg("--gateway")
        .arg(&gateway.base_url)
        .arg("--token")
        .arg(gateway::TOKEN)
        .arg("--count")
        .arg(messages.to_string())
        .arg("--concurrency")
        .arg(concurrency.to_string())
        .arg("--template")
        .arg("templates/meter_visit/sms.hbs")
        .arg("--event")
        .arg(event)
        .arg("--timeout-secs")
        .arg(PEER_TIMEOUT.as_secs().to_string());
    let name = peer.label().to_lowercase();
    let process = Process::spawn(&name, cmd, dir)?;
    let log = dir.join(format!("{name}.log"));
    eprintln!(
        "{} pid {}, log {}",
        peer.label(),
        process.pid(),
        log.display()
    );
    let (status, peak_rss_kib, cpu) = process.wait_with_usage(PEER_BUDGET).await?;
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let tail = || {
        let lines: Vec<&str> = output.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    };
    if !status.success() {
        return Err(format!("exited with {status}; output ends:\n{}", tail()).into());
    }
    // The last line that is a JSON object with "peer" is the result.
    let result: Value = output
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .find(|v| v.get("peer").is_some())
        .ok_or_else(|| format!("no result line in its output; output ends:\n{}", tail()))?;
    let num = |k: &str| result[k].as_f64();
    let reported = result["messages"].as_u64().unwrap_or(0) as usize;
    let (firsts, repeats) = gateway.first_arrivals();
    if reported != messages || firsts.len() != messages || gateway.refused() > 0 {
        return Err(format!(
            "reported {reported} messages; the gateway holds {} distinct ones and refused {} (expected {messages}): {result}",
            firsts.len(),
            gateway.refused()
        )
        .into());
    }
    let db_after = db.size()?;
    let secs = |k: &str| num(k).map(Duration::from_secs_f64);
    let millis = |k: &str| num(k).map(|v| Duration::from_secs_f64(v / 1000.0));
    let mut notes = vec![format!(
        "{} {}, concurrency {}; its own timing (enqueue start → all results committed); peak RSS and CPU of the peer's process (PostgreSQL server not included)",
        peer.label(),
        result["version"].as_str().unwrap_or("?"),
        result["concurrency"]
            .as_u64()
            .map_or_else(|| concurrency.to_string(), |c| c.to_string()),
    )];
    if repeats > 0 {
        notes.push(format!("{repeats} sends repeated"));
    }
    Ok(Row {
        scenario: format!(
            "{} {} (PostgreSQL)",
            peer.label(),
            result["version"].as_str().unwrap_or("")
        ),
        messages,
        intake: secs("enqueue_seconds"),
        all_sent: secs("seconds"),
        per_sec: num("per_sec"),
        p50: millis("p50_ms"),
        p99: millis("p99_ms"),
        all_delivered: None,
        peak_rss_kib: Some(peak_rss_kib),
        db_bytes_per_100k: Some(
            (db_after.saturating_sub(db_before) as f64 * 100_000.0 / messages as f64) as u64,
        ),
        cpu: Some(cpu),
        ratio: Vec::new(),
        notes,
        failed: None,
        peer: true,
    })
}
