//! Recording a gateway's delivery report, however it came (webhook or status poll): the
//! report is kept raw as evidence, a return-receipt scan goes to the documents store, and
//! the first final status applies (see [`Db::record_receipt`]).

use crate::channels::profiles::Receipt;
use crate::documents::Documents;
use crate::metrics::Metrics;
use crate::settings::Dispatch;
use crate::storage::{Db, NewReceipt, ReceiptOutcome};

pub async fn record(
    db: &Db,
    documents: &Documents,
    dispatch: &Dispatch,
    metrics: &Metrics,
    gateway: &str,
    receipt: &Receipt,
) -> anyhow::Result<ReceiptOutcome> {
    let evidence = match &receipt.evidence {
        Some(scan) => Some(documents.store(scan, evidence_extension(scan))?),
        None => None,
    };
    let outcome = db
        .record_receipt(&NewReceipt {
            gateway,
            provider_message_id: &receipt.provider_message_id,
            status: receipt.status.as_str(),
            provider_status: &receipt.provider_status,
            provider_time: receipt.provider_time.map(|t| t.timestamp_millis()),
            raw: &receipt.raw,
            reason: receipt.reason.as_deref(),
            evidence_sha256: evidence.as_deref(),
            retry_at: crate::storage::now_ms() + dispatch.gateway_retry_after.as_millis() as i64,
            max_attempts: dispatch.max_attempts.into(),
            batch: dispatch.batch_size.into(),
        })
        .await?;
    if let ReceiptOutcome::Recorded {
        deadline_margin, ..
    } = &outcome
    {
        metrics.receipt(gateway, receipt.status.as_str());
        if let Some((channel, margin_ms)) = deadline_margin {
            metrics.delivered_before_deadline(channel, *margin_ms);
        }
    }
    Ok(outcome)
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
