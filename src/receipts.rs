//! Recording a gateway's delivery report, however it came (webhook or status poll): the
//! report is kept raw as evidence, a return-receipt scan goes to the documents store, and
//! the first final status applies (see [`Db::record_receipt`]).

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};

use crate::channels::profiles::Receipt;
use crate::documents::Documents;
use crate::metrics::Metrics;
use crate::settings::{Dispatch, Settings};
use crate::storage::{Db, NewReceipt, ReceiptMessage, ReceiptOutcome};

/// Reports one group commit takes at most.
const GROUP: usize = 256;

/// Records one report in a transaction of its own (a status poll's answer).
pub async fn record(
    db: &Db,
    documents: &Documents,
    dispatch: &Dispatch,
    metrics: &Metrics,
    gateway: &str,
    receipt: &Receipt,
) -> anyhow::Result<ReceiptOutcome> {
    let evidence = store_evidence(documents, receipt)?;
    let outcome = db
        .record_receipt(&new_receipt(
            dispatch,
            gateway,
            receipt,
            evidence.as_deref(),
        ))
        .await?;
    count(metrics, gateway, receipt, &outcome);
    Ok(outcome)
}

/// Records webhook reports with group commit: the reports that arrive while one
/// transaction commits go together in the next. On SQLite's one writer a transaction per
/// report is what limits how many reports a second are kept, and a storm brings them as
/// fast as it sends. A report's caller still waits for its own commit, so a `200` to the
/// provider still means the report is kept.
#[derive(Clone)]
pub struct Recorder {
    db: Db,
    documents: Documents,
    settings: Arc<Settings>,
    metrics: Metrics,
    /// The committer's queue. It is started on the first report, inside the runtime, and
    /// again if it died; it ends when the last clone of this goes.
    queue: Arc<Mutex<Option<mpsc::UnboundedSender<Queued>>>>,
}

struct Queued {
    gateway: String,
    /// Without its evidence scan, which is stored already: the committer needs its hash.
    receipt: Receipt,
    message: ReceiptMessage,
    evidence: Option<String>,
    reply: oneshot::Sender<anyhow::Result<ReceiptOutcome>>,
}

impl Recorder {
    pub fn new(db: Db, documents: Documents, settings: Arc<Settings>, metrics: Metrics) -> Self {
        Self {
            db,
            documents,
            settings,
            metrics,
            queue: Arc::default(),
        }
    }

    /// Records `receipt` and returns once the transaction that holds it has committed.
    pub async fn record(&self, gateway: &str, receipt: &Receipt) -> anyhow::Result<ReceiptOutcome> {
        // Looked up by the report's own request, while the group before it commits.
        let Some(message) = self
            .db
            .receipt_message(gateway, &receipt.provider_message_id)
            .await?
        else {
            return Ok(ReceiptOutcome::UnknownMessage);
        };
        let evidence = store_evidence(&self.documents, receipt)?;
        let (reply, outcome) = oneshot::channel();
        self.queue()
            .send(Queued {
                gateway: gateway.to_owned(),
                receipt: without_evidence(receipt),
                message,
                evidence,
                reply,
            })
            .map_err(|_| anyhow::anyhow!("the receipt recorder has stopped"))?;
        outcome.await.map_err(|_| {
            anyhow::anyhow!("the receipt recorder stopped before this report committed")
        })?
    }

    fn queue(&self) -> mpsc::UnboundedSender<Queued> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        match &*queue {
            Some(running) if !running.is_closed() => running.clone(),
            _ => {
                let (sender, queued) = mpsc::unbounded_channel();
                let committer = tokio::spawn(commit_in_groups(
                    self.db.clone(),
                    self.settings.clone(),
                    self.metrics.clone(),
                    queued,
                ));
                tokio::spawn(async move {
                    if let Err(e) = committer.await {
                        error!(error = %e, "the receipt recorder died; the next report starts another");
                    }
                });
                *queue = Some(sender.clone());
                sender
            }
        }
    }
}

async fn commit_in_groups(
    db: Db,
    settings: Arc<Settings>,
    metrics: Metrics,
    mut queued: mpsc::UnboundedReceiver<Queued>,
) {
    let dispatch = &settings.dispatch;
    let mut group = Vec::with_capacity(GROUP);
    while queued.recv_many(&mut group, GROUP).await > 0 {
        let receipts: Vec<(NewReceipt, ReceiptMessage)> = group
            .iter()
            .map(|q| {
                let receipt = new_receipt(dispatch, &q.gateway, &q.receipt, q.evidence.as_deref());
                (receipt, q.message.clone())
            })
            .collect();
        let committed = db.record_receipts(&receipts).await;
        drop(receipts); // it borrows `group`, which is drained below
        match committed {
            Ok(outcomes) => {
                metrics.receipt_group(group.len());
                for (q, outcome) in group.drain(..).zip(outcomes) {
                    count(&metrics, &q.gateway, &q.receipt, &outcome);
                    let _ = q.reply.send(Ok(outcome));
                }
            }
            // A report the database refuses (a constraint, a value it cannot take) must
            // not fail the others: each is tried alone. When the database itself is
            // unwell, trying 256 reports one by one would only hold every webhook for
            // that long: the group fails, and the providers post again.
            Err(e) if group.len() > 1 && refused_by_database(&e) => {
                warn!(error = %e, reports = group.len(), "a group of delivery reports was refused; recording each alone");
                for q in group.drain(..) {
                    let receipt =
                        new_receipt(dispatch, &q.gateway, &q.receipt, q.evidence.as_deref());
                    let outcome = db
                        .record_receipts(&[(receipt, q.message)])
                        .await
                        .map(|mut outcomes| outcomes.remove(0));
                    if let Ok(outcome) = &outcome {
                        metrics.receipt_group(1);
                        count(&metrics, &q.gateway, &q.receipt, outcome);
                    }
                    let _ = q.reply.send(outcome);
                }
            }
            Err(e) => {
                warn!(error = %e, reports = group.len(), "a group of delivery reports failed");
                let why = e.to_string();
                for q in group.drain(..) {
                    let _ = q
                        .reply
                        .send(Err(anyhow::anyhow!("recording delivery reports: {why}")));
                }
            }
        }
    }
}

/// Whether the database turned down what was asked (so another report may fare better),
/// as against being busy, locked, deadlocked or unreachable (so none would).
fn refused_by_database(e: &anyhow::Error) -> bool {
    let Some(sqlx::Error::Database(db)) = e.downcast_ref::<sqlx::Error>() else {
        return false;
    };
    let code = db.code().unwrap_or_default();
    // SQLite: 5 busy, 6 locked (also as extended codes, which share the low byte).
    // PostgreSQL class 40: serialization failure, deadlock.
    let transient =
        code.parse::<i64>().is_ok_and(|c| matches!(c & 0xff, 5 | 6)) || code.starts_with("40");
    !transient
}

/// The report as the committer needs it: a scan can be megabytes, and it is stored already.
fn without_evidence(receipt: &Receipt) -> Receipt {
    Receipt {
        provider_message_id: receipt.provider_message_id.clone(),
        status: receipt.status,
        provider_status: receipt.provider_status.clone(),
        provider_time: receipt.provider_time,
        reason: receipt.reason.clone(),
        evidence: None,
        details: receipt.details.clone(),
        raw: receipt.raw.clone(),
    }
}

fn store_evidence(documents: &Documents, receipt: &Receipt) -> anyhow::Result<Option<String>> {
    receipt
        .evidence
        .as_ref()
        .map(|scan| documents.store(scan, evidence_extension(scan)))
        .transpose()
}

fn new_receipt<'a>(
    dispatch: &Dispatch,
    gateway: &'a str,
    receipt: &'a Receipt,
    evidence_sha256: Option<&'a str>,
) -> NewReceipt<'a> {
    NewReceipt {
        gateway,
        provider_message_id: &receipt.provider_message_id,
        status: receipt.status.as_str(),
        provider_status: &receipt.provider_status,
        provider_time: receipt.provider_time.map(|t| t.timestamp_millis()),
        raw: &receipt.raw,
        reason: receipt.reason.as_deref(),
        evidence_sha256,
        retry_at: crate::storage::now_ms() + dispatch.gateway_retry_after.as_millis() as i64,
        max_attempts: dispatch.max_attempts.into(),
        batch: dispatch.batch_size.into(),
    }
}

fn count(metrics: &Metrics, gateway: &str, receipt: &Receipt, outcome: &ReceiptOutcome) {
    if let ReceiptOutcome::Recorded {
        deadline_margin, ..
    } = outcome
    {
        metrics.receipt(gateway, receipt.status.as_str());
        if let Some((channel, margin_ms)) = deadline_margin {
            metrics.delivered_before_deadline(channel, *margin_ms);
        }
    }
}

/// Return-receipt scans come as PDF or an image; the extension says which.
fn evidence_extension(scan: &[u8]) -> &'static str {
    if scan.starts_with(b"%PDF-") {
        "pdf"
    } else if scan.starts_with(&[0xFF, 0xD8]) {
        "jpg"
    } else if scan.starts_with(b"\x89PNG") {
        "png"
    } else {
        "bin"
    }
}
