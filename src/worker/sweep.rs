//! The periodic chores of a worker, every quarter lease. Any number of workers may run
//! them at once: each step is a conditional update or only reads.
//!
//! - messages whose worker died while sending them go back to the queue;
//! - messages a reporting gateway accepted long ago with no final report become
//!   `unconfirmed`;
//! - legal-notice chains move along (see [`Db::escalate`]);
//! - personal data past its retention is purged, hourly (see [`crate::retention`]);
//! - each gateway's delivery-report delays feed its health, so traffic shifts away from a
//!   provider whose reports come late or never.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tracing::{error, info, warn};

use crate::channels::Gateway;
use crate::channels::profiles::{DeliveryStatus, PollOutcome};

use crate::dispatch::Dispatcher;
use crate::recipients::Channel;
use crate::storage::Db;

/// How often the sweep runs the retention purge (by the dispatcher's clock).
const PURGE_EVERY_MS: i64 = 3_600_000;

pub(super) async fn run(dispatcher: Arc<Dispatcher>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let settings = dispatcher.settings().clone();
    let db = dispatcher.db().clone();
    let clock = dispatcher.clock().clone();
    let batch: i64 = settings.batch_size.into();
    let unconfirmed_after = Duration::from_secs(settings.unconfirmed_after_hours * 3600);
    let period = Duration::from_millis((settings.lease_secs * 1000 / 4).max(500));
    let mut reports_checked: HashMap<String, i64> = HashMap::new();
    let mut purged_at: Option<i64> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.changed() => return,
        }
        match db.release_expired_leases(batch, clock.now_ms()).await {
            Ok(0) => {}
            Ok(n) => info!(released = n, "re-queued messages whose lease expired"),
            Err(e) => error!(error = format!("{e:#}"), "lease sweep failed"),
        }
        let now = clock.now_ms();
        // SMS and fax providers report delivery within hours; a letter's tracking takes
        // days and is watched by its legal chain's confirmation wait instead.
        for prefix in ["sms:", "fax:"] {
            match db
                .mark_unconfirmed(prefix, now - unconfirmed_after.as_millis() as i64, now)
                .await
            {
                Ok(0) => {}
                Ok(n) => info!(messages = n, "no delivery report in time: unconfirmed"),
                Err(e) => error!(error = format!("{e:#}"), "unconfirmed sweep failed"),
            }
        }
        match db.escalate(batch, clock.now_ms()).await {
            Ok(0) => {}
            Ok(n) => info!(released = n, "escalated to the next legal channel"),
            Err(e) => error!(error = format!("{e:#}"), "escalation sweep failed"),
        }
        // Shared rate-limit slots last under a second or so; a minute covers clock skew.
        if let Err(e) = db.forget_slots(crate::storage::now_ms() - 60_000).await {
            error!(error = format!("{e:#}"), "rate-limit slot sweep failed");
        }
        if let Err(e) = report_health(&dispatcher, &db, &mut reports_checked).await {
            error!(error = format!("{e:#}"), "report-delay sweep failed");
        }
        if let Err(e) = poll_statuses(&dispatcher, &db).await {
            error!(error = format!("{e:#}"), "status polling failed");
        }
        // The purge looks at every unpurged intent: hourly is often enough.
        let now = clock.now_ms();
        if purged_at.is_none_or(|at| now - at >= PURGE_EVERY_MS) {
            purged_at = Some(now);
            match crate::retention::purge(&db, dispatcher.documents(), dispatcher.retention(), now)
                .await
            {
                Ok(r) if r.intents == 0 => {}
                Ok(r) => info!(
                    intents = r.intents,
                    documents = r.documents,
                    "personal data purged"
                ),
                Err(e) => error!(error = format!("{e:#}"), "retention purge failed"),
            }
        }
    }
}

/// Asks providers that answer status requests (a profile's `[poll]`) about messages with
/// no final report, each at most every `sms.poll_every`: covers providers without
/// webhooks and webhooks that never reached us.
async fn poll_statuses(dispatcher: &Dispatcher, db: &Db) -> anyhow::Result<()> {
    let every = dispatcher.poll_every().as_millis() as i64;
    let now = crate::storage::now_ms();
    for channel in Channel::ALL {
        for (_, gateway) in dispatcher.gateways().for_channel(channel).gateways() {
            let Gateway::Profile(provider) = gateway else {
                continue;
            };
            if !provider.profile().polls() {
                continue;
            }
            for due in db
                .due_for_poll(provider.name(), now - every, now, 100)
                .await?
            {
                let details: serde_json::Value =
                    serde_json::from_str(&due.details).unwrap_or_default();
                let contacts = &details["contacts"];
                let to = contacts["phone"]
                    .as_str()
                    .or(contacts["fax"].as_str())
                    .unwrap_or_default();
                match provider.poll(&due.gateway_message_id, to).await {
                    PollOutcome::Status(receipt)
                        if receipt.status.is_final() || receipt.status == DeliveryStatus::Retry =>
                    {
                        crate::receipts::record(
                            db,
                            dispatcher.documents(),
                            dispatcher.settings(),
                            dispatcher.metrics(),
                            provider.name(),
                            &receipt,
                        )
                        .await?;
                    }
                    PollOutcome::Status(_) => {}
                    PollOutcome::Transient(why) | PollOutcome::Permanent(why) => {
                        warn!(message_id = %due.id, gateway = provider.name(), error = %why, "status request failed");
                    }
                }
            }
        }
    }
    Ok(())
}

/// Feeds each SMS provider's prompt and late delivery reports since the last sweep into
/// its share of the traffic. Measured from the database, so it sees the reports whichever
/// process received them.
async fn report_health(
    dispatcher: &Dispatcher,
    db: &Db,
    checked: &mut HashMap<String, i64>,
) -> anyhow::Result<()> {
    let route = dispatcher.gateways().for_channel(Channel::Sms);
    let threshold = route.slow_threshold().as_millis() as i64;
    // Wall clock: receipts are stamped with it when they arrive.
    let now = crate::storage::now_ms();
    for (_, gateway) in route.gateways() {
        if !matches!(gateway, Gateway::Profile(_)) {
            continue;
        }
        let name = gateway.name().to_owned();
        let from = *checked.entry(name.clone()).or_insert(now);
        let delays = db.report_delays(&name, from, now, threshold).await?;
        route.record_reports(&name, delays.prompt, delays.late);
        checked.insert(name, now);
    }
    Ok(())
}
