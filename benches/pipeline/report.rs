//! The result: one row per scenario, a Markdown table the README can quote verbatim, and
//! `bench/results.md` with the date, machine and command.

use std::fmt::Write as _;
use std::time::Duration;

use crate::measure::mib;

/// One scenario's measurements; `None` where a scenario has no such number.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    pub messages: usize,
    /// Until the `202` (peers: until everything was enqueued; latency: the p50).
    pub intake: Option<Duration>,
    /// POST start → every message recorded `sent` (peers: their results committed).
    pub all_sent: Option<Duration>,
    pub per_sec: Option<f64>,
    /// Intake (POST start) → the gateway accepted the message.
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    /// POST start → every delivery report committed (`delivered`).
    pub all_delivered: Option<Duration>,
    /// Summed over the processes of the deployment.
    pub peak_rss_kib: Option<u64>,
    /// Growth of the database during the run, per 100,000 messages.
    pub db_bytes_per_100k: Option<u64>,
    /// CPU of the processes under test from POST start until all sent.
    pub cpu: Option<Duration>,
    /// Peers: Vestnik's msg/s over the peer's, and which Vestnik row it was taken from.
    pub ratio: Vec<(f64, String)>,
    pub notes: Vec<String>,
    pub failed: Option<String>,
    /// A peer's row (gets a ratio), not Vestnik's.
    pub peer: bool,
}

impl Row {
    pub fn failed(scenario: String, messages: usize, why: String) -> Row {
        Row {
            scenario,
            messages,
            intake: None,
            all_sent: None,
            per_sec: None,
            p50: None,
            p99: None,
            all_delivered: None,
            peak_rss_kib: None,
            db_bytes_per_100k: None,
            cpu: None,
            ratio: Vec::new(),
            notes: Vec::new(),
            failed: Some(why),
            peer: false,
        }
    }
}

fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".into(), |d| format!("{:.2}", d.as_secs_f64()))
}

fn millis(d: Option<Duration>) -> String {
    d.map_or_else(
        || "—".into(),
        |d| format!("{:.0}", d.as_secs_f64() * 1000.0),
    )
}

/// 12345.6 → "12,346".
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn table(rows: &[Row]) -> String {
    let mut t = String::new();
    t.push_str("| scenario | messages | intake until 202 (s) | POST → all sent (s) | msg/s | intake → gateway p50 / p99 (ms) | POST → all delivered (s) | peak RSS (MiB) | DB MiB per 100k | CPU (s) | Vestnik / peer |\n");
    t.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        if let Some(why) = &r.failed {
            let _ = writeln!(
                t,
                "| {} | {} | {} | | | | | | | | |",
                r.scenario,
                thousands(r.messages as f64),
                why.lines().next().unwrap_or("failed").replace('|', "\\|"),
            );
            continue;
        }
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} | {} |",
            r.scenario,
            thousands(r.messages as f64),
            secs(r.intake),
            secs(r.all_sent),
            r.per_sec.map_or_else(|| "—".into(), thousands),
            millis(r.p50),
            millis(r.p99),
            secs(r.all_delivered),
            r.peak_rss_kib
                .map_or_else(|| "—".into(), |k| format!("{:.0}", k as f64 / 1024.0)),
            r.db_bytes_per_100k
                .map_or_else(|| "—".into(), |b| format!("{:.1}", mib(b))),
            secs(r.cpu),
            if r.ratio.is_empty() {
                "—".into()
            } else {
                r.ratio
                    .iter()
                    .map(|(x, _)| format!("{x:.1}×"))
                    .collect::<Vec<_>>()
                    .join(" · ")
            },
        );
    }
    t
}

/// The notes under the table: one line per scenario.
pub fn notes(rows: &[Row]) -> String {
    let mut t = String::new();
    for r in rows {
        if let Some(why) = &r.failed {
            let _ = writeln!(t, "- {}: {}", r.scenario, why.replace('\n', "\n  "));
            continue;
        }
        let mut notes = r.notes.clone();
        if !r.ratio.is_empty() {
            let against: Vec<&str> = r.ratio.iter().map(|(_, a)| a.as_str()).collect();
            notes.push(format!("ratios against {}", against.join(" · ")));
        }
        if !notes.is_empty() {
            let _ = writeln!(t, "- {}: {}", r.scenario, notes.join("; "));
        }
    }
    t
}

/// Fills in the peers' ratios: against each Vestnik row at the same message count on the
/// same database (PostgreSQL, one worker; one SMS per request, and a batch per request),
/// or if there is none, the first PostgreSQL one-worker row.
pub fn fill_ratios(rows: &mut [Row], vestnik_rows: &[(&str, usize)]) {
    let measured = |rows: &[Row], name: &str| {
        rows.iter()
            .find(|r| r.scenario == name && r.failed.is_none())
            .and_then(|r| r.per_sec.map(|v| (v, r.scenario.clone())))
    };
    let peers: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].peer && rows[i].failed.is_none())
        .collect();
    for i in peers {
        let Some(peer) = rows[i].per_sec.filter(|v| *v > 0.0) else {
            continue;
        };
        let n = rows[i].messages;
        let mut against: Vec<(f64, String)> = vestnik_rows
            .iter()
            .filter(|(_, m)| *m == n)
            .filter_map(|(name, _)| measured(rows, name))
            .collect();
        if against.is_empty() {
            against.extend(
                vestnik_rows
                    .iter()
                    .find_map(|(name, _)| measured(rows, name)),
            );
        }
        rows[i].ratio = against
            .into_iter()
            .map(|(vestnik, name)| (vestnik / peer, name))
            .collect();
    }
}

pub struct Header {
    pub date: String,
    pub machine: String,
    pub postgres: Option<String>,
    pub command: String,
    pub overrides: Vec<String>,
    pub settings: String,
}

pub fn document(header: &Header, rows: &[Row]) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "# Pipeline benchmark results\n");
    let _ = writeln!(t, "- Date: {}", header.date);
    let _ = writeln!(t, "- Machine: {}", header.machine);
    if let Some(pg) = &header.postgres {
        let _ = writeln!(t, "- Database server: {pg} on the same machine");
    }
    let _ = writeln!(t, "- Command: `{}`", header.command);
    let _ = writeln!(t, "- {}", header.settings);
    if !header.overrides.is_empty() {
        let _ = writeln!(
            t,
            "- Settings overridden from the environment: {}",
            header.overrides.join(", ")
        );
    }
    let _ = writeln!(t);
    t.push_str(&table(rows));
    let _ = writeln!(t);
    t.push_str(
        "intake = POST start → `202` (peers: their enqueue time; latency row: p50 of the 202s). \
         POST → all sent = until every message is recorded `sent` (gateway acceptance committed; \
         asked every 10 ms once the gateway has accepted every message, every 5 s before). msg/s = messages / (POST → all sent). intake → gateway = per \
         message, from the POST's start until the fake gateway (or SMTP sink) accepted it. \
         POST → all delivered = until every delivery report from the gateway is committed. \
         Peak RSS = VmHWM summed over the Vestnik processes (peers: their process). DB = growth \
         of the database files (SQLite file + WAL; PostgreSQL pg_database_size) during the run. \
         CPU = user + system of the processes under test from POST start until all sent.\n\n",
    );
    t.push_str(&notes(rows));
    t
}
