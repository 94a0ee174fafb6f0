//! Reads for reports: the legal-notice facts of every recipient due in a period.

use futures::TryStreamExt;

use super::{Db, with_pool};

/// One legal-notice message of a recipient due in the period, or the recipient alone
/// (`channel` is `None`) when it has no legal-notice message at all.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LegalFactRow {
    pub intent_id: String,
    pub recipient_idx: i64,
    pub kind: String,
    pub customer_type: String,
    pub deadline_at: i64,
    pub channel: Option<String>,
    pub status: Option<String>,
    pub delivered_at: Option<i64>,
    pub sent_at: Option<i64>,
    pub received_when_sent: Option<bool>,
}

impl Db {
    /// Legal-notice facts of the recipients whose deadline falls in `[from, to)` (epoch ms),
    /// of `kind` if given, grouped by recipient (rows of one recipient are adjacent), fed to
    /// `each` as they stream in so a year's worth never sits in memory at once.
    pub async fn legal_facts(
        &self,
        from: i64,
        to: i64,
        kind: Option<&str>,
        mut each: impl FnMut(LegalFactRow),
    ) -> anyhow::Result<()> {
        with_pool!(self, pool => {
            let mut rows = sqlx::query_as::<_, LegalFactRow>(
                "SELECT r.intent_id, r.idx AS recipient_idx, i.kind, r.customer_type, r.deadline_at, \
                 m.channel, m.status, m.delivered_at, m.sent_at, m.received_when_sent \
                 FROM recipients r JOIN intents i ON i.id = r.intent_id \
                 LEFT JOIN messages m ON m.intent_id = r.intent_id AND m.recipient_idx = r.idx \
                                      AND m.legal_step IS NOT NULL \
                 WHERE r.deadline_at >= $1 AND r.deadline_at < $2 AND ($3 IS NULL OR i.kind = $3) \
                 ORDER BY r.intent_id, r.idx",
            )
            .bind(from)
            .bind(to)
            .bind(kind)
            .fetch(pool);
            while let Some(row) = rows.try_next().await? {
                each(row);
            }
        });
        Ok(())
    }
}
