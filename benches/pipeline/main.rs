//! End-to-end benchmark of the real `vestnik` binary, and of two peers on the same
//! workload (issue #8).
//!
//! One command: `bench/run` (installs the peers with `bench/peers/setup.sh` if present,
//! then `cargo bench --bench pipeline --locked`). `cargo bench --bench pipeline -- sqlite pg-2`
//! runs only the scenarios whose name contains one of the words (`=sqlite` only the one
//! named exactly so).
//!
//! The full path is measured: HTTP intake → queue → render → send to a fake SMS gateway on
//! loopback (generic-json, `gateway.rs`) or to a local SMTP sink (`smtp.rs`) → the result
//! recorded; optionally the gateway's delivery reports → `delivered` recorded. Scenarios:
//!
//! | name                 | deployment                                             | workload |
//! |----------------------|--------------------------------------------------------|----------|
//! | `sqlite`             | SQLite, `vestnik serve` (API and worker, one process)  | one intent, N SMS recipients, 100 per request (`sms.batch_size`) |
//! | `sqlite-single`      | as `sqlite`, one SMS per request                       | same |
//! | `sqlite-reports`     | as `sqlite`; the gateway reports every SMS delivered    | same, until all `delivered` |
//! | `sqlite-email`       | as `sqlite`, `channels.email = "smtp"`                  | one intent, N_email email recipients |
//! | `sqlite-latency`     | as `sqlite`                                            | one-recipient intents at 20/s for 10 s |
//! | `pg-1`, `pg-2`, `pg-4` | PostgreSQL, `serve --no-worker` + 1, 2, 4 `vestnik worker` | one intent, N SMS recipients |
//! | `pg-1-reports`       | as `pg-1`; the gateway reports every SMS delivered (to `serve`) | same, until all `delivered` |
//! | `pg-1-peer-n`, `pg-1-peer-n-batch` | as `pg-1` at the peers' N, 1 and 100 SMS per request | for the Vestnik / peer ratios |
//! | `pg-1-slow`, `pg-2-slow`, `pg-4-slow` | as `pg-N`, 1 SMS per request, the gateway answering each in 100 ms | N_slow SMS: scaling when the requests in flight bind |
//! | `peer-graphile`, `peer-procrastinate` | the peer on PostgreSQL (`peers.rs`)   | N_peer SMS |
//!
//! Every scenario gets a fresh temp dir and a fresh database. Reported per scenario
//! (`report.rs`): intake time until the `202`, msg/s (POST start → all recorded sent),
//! p50/p99 from intake to gateway acceptance, peak RSS (summed over the processes),
//! database growth per 100,000 messages, CPU of the processes under test. The table goes
//! to stdout and to `bench/results.md`.
//!
//! Environment: `VESTNIK_BENCH_RECIPIENTS` (N, default 100,000),
//! `VESTNIK_BENCH_EMAIL_RECIPIENTS` (default 20,000: a few seconds at the ~2,500–3,200
//! emails/s of the default 16 connections), `VESTNIK_BENCH_PEER_MESSAGES`
//! (default 20,000), `VESTNIK_BENCH_SLOW_MESSAGES` (N_slow, default 40,000: one worker
//! sends ~600 a second to the slow gateway), `VESTNIK_BENCH_PEER_CONCURRENCY` (jobs a peer runs at once, default
//! 16: each may hold a PostgreSQL connection, and 64 exhausted the server's 100), `VESTNIK_BENCH_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`; a database is created per scenario and
//! dropped), `VESTNIK_BENCH_KEEP=1` keeps temp dirs (logs, configs, SQLite files) and
//! databases. Other `VESTNIK_*` variables reach the Vestnik processes as settings.

mod gateway;
mod measure;
mod peers;
mod processes;
mod report;
mod scenarios;
mod smtp;
mod workload;

use std::time::{Duration, Instant};

use report::{Header, Row};
use scenarios::{Backend, Batch, Latency};
use workload::Channel;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = Error> = std::result::Result<T, E>;

/// SMS per request in the batched scenarios: generic-json's batch endpoint takes 100.
const BATCH: usize = 100;

/// How long the fake gateway takes to answer in the slow-gateway scenarios.
const SLOW_GATEWAY: Duration = Duration::from_millis(100);

/// Give up on a scenario after this long (start, intake, dispatch, checks).
const SCENARIO_BUDGET: Duration = Duration::from_secs(10 * 60);

enum Kind {
    Batch(Batch),
    Latency(Latency),
    Peer(peers::Peer),
}

struct Scenario {
    /// What the command line selects by.
    name: String,
    /// The row's title in the table.
    label: String,
    kind: Kind,
}

fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => match v.trim().replace(['_', ','], "").parse() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("{name} must be a positive integer, got {v:?}");
                std::process::exit(2);
            }
        },
        Err(_) => default,
    }
}

fn scenarios(n: usize, n_email: usize, n_peer: usize, n_slow: usize) -> Vec<Scenario> {
    let sms = |backend, workers, recipients, reports, per_request| {
        Kind::Batch(Batch {
            backend,
            workers,
            recipients,
            channel: Channel::Sms,
            reports,
            per_request,
            gateway_latency: Duration::ZERO,
        })
    };
    let per = |per_request: usize| {
        if per_request == 1 {
            "1 per request".to_owned()
        } else {
            format!("{per_request} per request")
        }
    };
    let pg = |workers: usize| Scenario {
        name: format!("pg-{workers}"),
        label: format!(
            "PostgreSQL, `serve --no-worker` + {workers} worker{}, SMS, {}",
            if workers == 1 { "" } else { "s" },
            per(BATCH)
        ),
        kind: sms(Backend::Postgres, workers, n, false, BATCH),
    };
    let mut list = vec![
        Scenario {
            name: "sqlite".into(),
            label: format!("SQLite, `serve`, SMS, {}", per(BATCH)),
            kind: sms(Backend::Sqlite, 0, n, false, BATCH),
        },
        Scenario {
            name: "sqlite-single".into(),
            label: format!("SQLite, `serve`, SMS, {}", per(1)),
            kind: sms(Backend::Sqlite, 0, n, false, 1),
        },
        Scenario {
            name: "sqlite-reports".into(),
            label: format!("SQLite, `serve`, SMS, {} + delivery reports", per(BATCH)),
            kind: sms(Backend::Sqlite, 0, n, true, BATCH),
        },
        Scenario {
            name: "sqlite-email".into(),
            label: "SQLite, `serve`, email via SMTP".into(),
            kind: Kind::Batch(Batch {
                backend: Backend::Sqlite,
                workers: 0,
                recipients: n_email,
                channel: Channel::Email,
                reports: false,
                per_request: 1,
                gateway_latency: Duration::ZERO,
            }),
        },
        Scenario {
            name: "sqlite-latency".into(),
            label: "SQLite, `serve`, 1-recipient intents at 20/s (unsaturated)".into(),
            kind: Kind::Latency(Latency {
                per_sec: 20.0,
                seconds: 10.0,
            }),
        },
        pg(1),
        pg(2),
        pg(4),
        Scenario {
            name: "pg-1-reports".into(),
            label: format!(
                "PostgreSQL, `serve --no-worker` + 1 worker, SMS, {} + delivery reports",
                per(BATCH)
            ),
            kind: sms(Backend::Postgres, 1, n, true, BATCH),
        },
    ];
    // A provider across the internet answers in ~100 ms: then what binds one worker is the
    // requests it keeps in flight (the profile's `concurrency`), and workers add up until
    // the database or the cores bind.
    for workers in [1, 2, 4] {
        list.push(Scenario {
            name: format!("pg-{workers}-slow"),
            label: format!(
                "PostgreSQL, `serve --no-worker` + {workers} worker{}, SMS, 1 per request, \
                 gateway answering in {} ms",
                if workers == 1 { "" } else { "s" },
                SLOW_GATEWAY.as_millis()
            ),
            kind: Kind::Batch(Batch {
                backend: Backend::Postgres,
                workers,
                recipients: n_slow,
                channel: Channel::Sms,
                reports: false,
                per_request: 1,
                gateway_latency: SLOW_GATEWAY,
            }),
        });
    }
    // The peers post one SMS per request; Vestnik is compared with them both ways.
    for per_request in [1, BATCH] {
        if n_peer == n && per_request == BATCH {
            continue;
        }
        list.push(Scenario {
            name: if per_request == 1 {
                "pg-1-peer-n".into()
            } else {
                "pg-1-peer-n-batch".into()
            },
            label: format!(
                "PostgreSQL, `serve --no-worker` + 1 worker, SMS, {}, peers' N",
                per(per_request)
            ),
            kind: sms(Backend::Postgres, 1, n_peer, false, per_request),
        });
    }
    for (name, peer) in [
        ("peer-graphile", peers::Peer::Graphile),
        ("peer-procrastinate", peers::Peer::Procrastinate),
    ] {
        list.push(Scenario {
            name: name.into(),
            label: format!("{} (PostgreSQL)", peer.label()),
            kind: Kind::Peer(peer),
        });
    }
    list
}

fn main() {
    let n = env_count("VESTNIK_BENCH_RECIPIENTS", 100_000);
    let n_email = env_count("VESTNIK_BENCH_EMAIL_RECIPIENTS", 20_000);
    let n_peer = env_count("VESTNIK_BENCH_PEER_MESSAGES", 20_000);
    let n_slow = env_count("VESTNIK_BENCH_SLOW_MESSAGES", 40_000);
    let peer_concurrency = env_count("VESTNIK_BENCH_PEER_CONCURRENCY", 16);
    // `cargo bench` passes `--bench`; any other argument selects scenarios by name.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(|a| a.to_lowercase())
        .collect();
    let all = scenarios(n, n_email, n_peer, n_slow);
    let selected: Vec<Scenario> = all
        .into_iter()
        .filter(|s| {
            filters.is_empty()
                || filters.iter().any(|f| match f.strip_prefix('=') {
                    Some(exact) => s.name == exact,
                    None => s.name.contains(f.as_str()),
                })
        })
        .collect();
    if selected.is_empty() {
        eprintln!(
            "no scenario matches {filters:?}; names: {}",
            scenarios(n, n_email, n_peer, n_slow)
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        );
        std::process::exit(2);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    vestnik::channels::install_crypto_provider();
    eprintln!(
        "vestnik pipeline bench: {} scenario(s), N = {n}, binary {}",
        selected.len(),
        env!("CARGO_BIN_EXE_vestnik")
    );

    let started = Instant::now();
    // Files every scenario may use (the peers' event).
    let shared = match tempfile::Builder::new().prefix("vestnik-bench-").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("cannot create a temp dir: {e}");
            std::process::exit(1);
        }
    };
    let mut bodies: std::collections::HashMap<(usize, bool), Vec<u8>> = Default::default();
    let mut rows: Vec<Row> = Vec::new();
    let mut vestnik_failed = false;
    let mut peer_event = None;
    for scenario in &selected {
        eprintln!("\n=== {} ({}) ===", scenario.name, scenario.label);
        let dir = match tempfile::Builder::new()
            .prefix(&format!("vestnik-bench-{}-", scenario.name))
            .tempdir()
        {
            Ok(dir) => dir,
            Err(e) => {
                rows.push(Row::failed(
                    scenario.label.clone(),
                    0,
                    format!("cannot create a temp dir: {e}"),
                ));
                continue;
            }
        };
        let outcome: Result<Row> = runtime.block_on(async {
            let run = async {
                match &scenario.kind {
                    Kind::Batch(spec) => {
                        let key = (spec.recipients, spec.channel == Channel::Email);
                        let body = bodies.entry(key).or_insert_with(|| {
                            let t = Instant::now();
                            let body = workload::batch_intent(spec.recipients, spec.channel);
                            eprintln!(
                                "generated the intent: {:.1} MiB JSON in {:.2} s",
                                measure::mib(body.len() as u64),
                                t.elapsed().as_secs_f64()
                            );
                            body
                        });
                        scenarios::run_batch(&scenario.label, spec, body, dir.path()).await
                    }
                    Kind::Latency(spec) => {
                        scenarios::run_latency(&scenario.label, spec, dir.path()).await
                    }
                    Kind::Peer(peer) => {
                        if peer_event.is_none() {
                            peer_event = Some(workload::write_peer_event(shared.path())?);
                        }
                        let event = peer_event.as_ref().expect("written above");
                        Ok(peers::run(*peer, n_peer, peer_concurrency, event, dir.path()).await)
                    }
                }
            };
            match tokio::time::timeout(SCENARIO_BUDGET, run).await {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "gave up after {} s; its processes were stopped",
                    SCENARIO_BUDGET.as_secs()
                )
                .into()),
            }
        });
        match outcome {
            Ok(row) => rows.push(row),
            Err(e) => {
                eprintln!("{} FAILED: {e}", scenario.name);
                vestnik_failed = true;
                let messages = match &scenario.kind {
                    Kind::Batch(b) => b.recipients,
                    _ => 0,
                };
                rows.push(Row::failed(
                    scenario.label.clone(),
                    messages,
                    format!("FAILED: {e}"),
                ));
            }
        }
        if std::env::var_os("VESTNIK_BENCH_KEEP").is_some() {
            eprintln!("kept {} (VESTNIK_BENCH_KEEP)", dir.keep().display());
        } else if let Err(e) = dir.close() {
            eprintln!("could not remove a temp dir: {e}");
        }
    }

    let pg_one = selected
        .iter()
        .filter_map(|s| match &s.kind {
            Kind::Batch(b) if b.backend == Backend::Postgres && b.workers == 1 => {
                Some((s.label.as_str(), b.recipients))
            }
            _ => None,
        })
        .collect::<Vec<_>>();
    report::fill_ratios(&mut rows, &pg_one);

    let defaults = vestnik::settings::Settings::defaults();
    let header = Header {
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        machine: measure::machine(),
        postgres: selected
            .iter()
            .any(|s| {
                matches!(&s.kind, Kind::Peer(_))
                    || matches!(&s.kind, Kind::Batch(b) if b.backend == Backend::Postgres)
            })
            .then(|| measure::pg_version(&processes::pg_admin_url()))
            .flatten(),
        command: std::env::var("VESTNIK_BENCH_COMMAND").unwrap_or_else(|_| {
            format!(
                "cargo bench --bench pipeline --locked{}",
                if filters.is_empty() {
                    String::new()
                } else {
                    format!(" -- {}", filters.join(" "))
                }
            )
        }),
        overrides: processes::setting_overrides(),
        settings: format!(
            "Vestnik: release build, shipped defaults (dispatch.batch_size {}, dispatch.concurrency {}, \
             database.max_connections {}, smtp.pool_size {}, info logging) except: generic-json \
             `[limits]` rate_per_sec {} and concurrency {} per process (the fake gateway has no limit), \
             sms.batch_size {BATCH} where a row says {BATCH} per request, sending windows off (the hour of the run must not matter). N = {n}, email N = {n_email}, \
             peers' N = {n_peer} at concurrency {peer_concurrency}, slow-gateway N = {n_slow} with every answer {} ms \
             after the request. Total bench time {:.0} s.",
            defaults.dispatch.batch_size,
            defaults.dispatch.concurrency,
            defaults.database.max_connections,
            defaults.smtp.pool_size,
            processes::GATEWAY_RATE_PER_SEC,
            processes::GATEWAY_CONCURRENCY,
            SLOW_GATEWAY.as_millis(),
            started.elapsed().as_secs_f64(),
        ),
    };
    let document = report::document(&header, &rows);
    println!("\n{document}");
    let results = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/results.md");
    match std::fs::create_dir_all(results.parent().expect("a parent"))
        .and_then(|()| std::fs::write(&results, &document))
    {
        Ok(()) => eprintln!("written to {}", results.display()),
        Err(e) => eprintln!("could not write {}: {e}", results.display()),
    }
    if vestnik_failed {
        std::process::exit(1);
    }
}
