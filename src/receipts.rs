//! Recording a gateway's delivery report, however it came (webhook or status poll): the
//! report is kept raw as evidence, a return-receipt scan goes to the documents store, and
//! the first final status applies (see [`Db::record_receipt`]).

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

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
/// report kept ~1,000 reports a second, while a storm sends them as fast as it sends
/// messages. A report's caller still waits for its own commit, so a `200` to the provider
/// still means the report is kept.
#[derive(Clone)]
pub struct Recorder {
    db: Db,
    documents: Documents,
    settings: Arc<Settings>,
    metrics: Metrics,
    /// Started on the first report, inside the runtime; it ends when the last clone of
    /// this goes.
    queue: Arc<OnceLock<mpsc::UnboundedSender<Queued>>>,
}

struct Queued {
    gateway: String,
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

    /// Records `receipt` and returns once it has committed, with the reports queued with it.
    pub async fn record(&self, gateway: &str, receipt: &Receipt) -> anyhow::Result<ReceiptOutcome> {
        // Looked up here, by each report's own request, while the group before commits.
        let Some(message) = self
            .db
            .receipt_message(gateway, &receipt.provider_message_id)
            .await?
        else {
            return Ok(ReceiptOutcome::UnknownMessage);
        };
        let evidence = store_evidence(&self.documents, receipt)?;
        let queue = self.queue.get_or_init(|| {
            let (queue, queued) = mpsc::unbounded_channel();
            tokio::spawn(commit_in_groups(
                self.db.clone(),
                self.settings.clone(),
                self.metrics.clone(),
                queued,
            ));
            queue
        });
        let (reply, outcome) = oneshot::channel();
        queue
            .send(Queued {
                gateway: gateway.to_owned(),
                receipt: receipt.clone(),
                message,
                evidence,
                reply,
            })
            .map_err(|_| anyhow::anyhow!("the receipt recorder has stopped"))?;
        outcome.await.map_err(|_| {
            anyhow::anyhow!("the receipt recorder stopped before this report committed")
        })?
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
        drop(receipts);
        match committed {
            Ok(outcomes) => {
                for (q, outcome) in group.drain(..).zip(outcomes) {
                    count(&metrics, &q.gateway, &q.receipt, &outcome);
                    let _ = q.reply.send(Ok(outcome));
                }
            }
            Err(e) if group.len() == 1 => {
                let _ = group.remove(0).reply.send(Err(e));
            }
            // One report the database refuses must not fail the others: each alone.
            Err(_) => {
                for q in group.drain(..) {
                    let receipt =
                        new_receipt(dispatch, &q.gateway, &q.receipt, q.evidence.as_deref());
                    let outcome = db.record_receipt(&receipt).await;
                    if let Ok(outcome) = &outcome {
                        count(&metrics, &q.gateway, &q.receipt, outcome);
                    }
                    let _ = q.reply.send(outcome);
                }
            }
        }
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
