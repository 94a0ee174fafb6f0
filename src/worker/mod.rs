//! The worker: apalis pulls delivery jobs and hands them to the [`Dispatcher`]; a sweeper
//! returns messages of dead workers to the queue when their lease runs out, and more
//! (see [`sweep`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use tracing::{error, info};

mod presence;
mod sweep;
mod ticks;

pub use presence::{Presence, Running};

use crate::dispatch::Dispatcher;
use crate::queue::{DELIVERY_QUEUE, DeliveryJob};
use crate::storage::Db;

async fn handle(
    job: DeliveryJob,
    dispatcher: Data<Arc<Dispatcher>>,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    if let Err(e) = dispatcher.deliver(&job).await {
        // Messages stay claimed; their lease returns them to the queue. Failing the job
        // lets apalis try it again: the job is the only pointer to its range's queued
        // messages, so it must outlast a database outage (`queue::JOB_ATTEMPTS`), and the
        // pause grows (1 s up to 32 s) so the outage is not spun on.
        // apalis counts this run already: 1 on the first failure.
        let failures = attempt.current();
        error!(intent_id = %job.intent_id, failures, error = format!("{e:#}"), "delivery job failed");
        tokio::time::sleep(Duration::from_secs(1 << failures.saturating_sub(1).min(5))).await;
        return Err(e.into());
    }
    Ok(())
}

/// A name unique to this process: apalis refuses to reuse a live worker's name.
pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "host".into());
    format!(
        "vestnik-{}-{}-{}",
        host.trim(),
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    )
}

/// Runs the worker until `shutdown` completes; in-flight jobs finish first.
pub async fn run(
    dispatcher: Arc<Dispatcher>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = dispatcher.db().clone();
    let settings = dispatcher.settings().clone();
    let (stop_sweeper, sweeper_stopped) = tokio::sync::watch::channel(false);
    let callbacks = tokio::spawn(crate::callbacks::deliver::run(
        db.clone(),
        dispatcher.callbacks().clone(),
        dispatcher.metrics().clone(),
        sweeper_stopped.clone(),
    ));
    let sweeper = tokio::spawn(sweep::run(dispatcher.clone(), sweeper_stopped));
    let name = worker_name();
    info!(worker = %name, backend = db.backend_name(), "worker started");
    let heartbeat = Duration::from_secs(settings.heartbeat_secs.max(1));
    let signal = async move {
        shutdown.await;
        Ok::<(), std::io::Error>(())
    };
    let result = match db {
        Db::Sqlite(pool) => {
            let config = apalis_sqlite::Config::default()
                .queue(DELIVERY_QUEUE)
                .batch_size(settings.concurrency.max(1))
                .heartbeat_interval(heartbeat);
            let backend = apalis_sqlite::SqliteStorage::<DeliveryJob>::new(&pool)
                .with_config(config)
                .poll_with_strategy(ticks::Ticks::every(Duration::from_millis(
                    settings.poll_interval_ms.max(1),
                )));
            WorkerBuilder::new(name.clone())
                .backend(backend)
                .data(dispatcher)
                .concurrency(settings.concurrency.max(1))
                .build(handle)
                .run_until(signal)
                .await
        }
        Db::Postgres(pool) => {
            let config = apalis_postgres::Config::default()
                .queue(DELIVERY_QUEUE)
                .batch_size(settings.concurrency.max(1))
                .heartbeat_interval(heartbeat)
                .missed_heartbeats(2);
            let backend = apalis_postgres::PostgresStorage::<DeliveryJob>::new(&pool)
                .with_config(config)
                .with_pubsub()
                // NOTIFY covers new jobs; retries scheduled for later are found by polling.
                .poll_with_strategy(ticks::Ticks::every(Duration::from_millis(
                    settings.poll_interval_ms.max(1) * 4,
                )));
            WorkerBuilder::new(name.clone())
                .backend(backend)
                .data(dispatcher)
                .concurrency(settings.concurrency.max(1))
                .build(handle)
                .run_until(signal)
                .await
        }
    };
    let _ = stop_sweeper.send(true);
    let _ = sweeper.await;
    let _ = callbacks.await;
    info!(worker = %name, "worker stopped");
    result.map_err(|e| anyhow::anyhow!("worker failed: {e}"))
}
