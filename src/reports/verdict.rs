//! The verdict on one recipient: was the legal notice delivered, and in time?

use serde::Serialize;

/// What the messages of one recipient prove, as of a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A gateway reported delivery at or before the deadline.
    DeliveredOnTime,
    /// Delivered, but after the deadline.
    DeliveredLate,
    /// Handed to a gateway, no delivery report: the notice may be there, we cannot prove it.
    Unconfirmed,
    /// Never handed over, or refused by every gateway.
    NotDelivered,
    /// The deadline has not passed and a notice is still on its way: nothing to judge yet.
    Pending,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [
        Self::DeliveredOnTime,
        Self::DeliveredLate,
        Self::Unconfirmed,
        Self::NotDelivered,
        Self::Pending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeliveredOnTime => "delivered_on_time",
            Self::DeliveredLate => "delivered_late",
            Self::Unconfirmed => "unconfirmed",
            Self::NotDelivered => "not_delivered",
            Self::Pending => "pending",
        }
    }
}

/// One legal-notice message, as far as the verdict cares (times in epoch ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalMessage {
    pub channel: String,
    pub status: String,
    /// When the gateway says it was delivered.
    pub delivered_at: Option<i64>,
    pub sent_at: Option<i64>,
}

impl LegalMessage {
    fn handed_over(&self) -> bool {
        matches!(self.status.as_str(), "sent" | "unconfirmed")
    }

    fn in_progress(&self) -> bool {
        matches!(self.status.as_str(), "queued" | "held" | "sending" | "sent")
    }
}

/// The verdict, and the channel it rests on (the delivering one, or the last tried).
pub fn judge(deadline_at: i64, messages: &[LegalMessage], now: i64) -> (Verdict, Option<&str>) {
    let delivered = messages
        .iter()
        .filter(|m| m.status == "delivered")
        .filter_map(|m| m.delivered_at.map(|at| (at, m)))
        .min_by_key(|(at, _)| *at);
    if let Some((at, m)) = delivered {
        let verdict = if at <= deadline_at {
            Verdict::DeliveredOnTime
        } else {
            Verdict::DeliveredLate
        };
        return (verdict, Some(&m.channel));
    }
    let last = |pick: fn(&LegalMessage) -> bool| {
        messages
            .iter()
            .filter(|m| pick(m))
            .max_by_key(|m| m.sent_at)
            .map(|m| m.channel.as_str())
    };
    if now < deadline_at && messages.iter().any(LegalMessage::in_progress) {
        return (Verdict::Pending, last(LegalMessage::in_progress));
    }
    if messages.iter().any(LegalMessage::handed_over) {
        return (Verdict::Unconfirmed, last(LegalMessage::handed_over));
    }
    (Verdict::NotDelivered, last(|_| true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(channel: &str, status: &str, sent: Option<i64>, delivered: Option<i64>) -> LegalMessage {
        LegalMessage {
            channel: channel.into(),
            status: status.into(),
            delivered_at: delivered,
            sent_at: sent,
        }
    }

    #[test]
    fn earliest_delivery_decides_on_time_or_late() {
        let on_time = [
            msg("sms", "failed", Some(1), None),
            msg("mail", "delivered", Some(2), Some(100)),
        ];
        assert_eq!(
            judge(100, &on_time, 500),
            (Verdict::DeliveredOnTime, Some("mail"))
        );
        assert_eq!(
            judge(99, &on_time, 500),
            (Verdict::DeliveredLate, Some("mail"))
        );
        let two = [
            msg("email", "delivered", Some(1), Some(150)),
            msg("mail", "delivered", Some(2), Some(90)),
        ];
        assert_eq!(
            judge(100, &two, 500),
            (Verdict::DeliveredOnTime, Some("mail"))
        );
    }

    #[test]
    fn handed_over_without_report_is_unconfirmed_once_the_deadline_passes() {
        let sent = [
            msg("email", "sent", Some(10), None),
            msg("mail", "failed", Some(5), None),
        ];
        assert_eq!(judge(100, &sent, 50), (Verdict::Pending, Some("email")));
        assert_eq!(
            judge(100, &sent, 150),
            (Verdict::Unconfirmed, Some("email"))
        );
        let marked = [msg("sms", "unconfirmed", Some(10), None)];
        assert_eq!(judge(100, &marked, 50), (Verdict::Unconfirmed, Some("sms")));
    }

    #[test]
    fn refused_or_never_sent_is_not_delivered() {
        let failed = [
            msg("email", "failed", Some(10), None),
            msg("mail", "cancelled", None, None),
        ];
        assert_eq!(
            judge(100, &failed, 50),
            (Verdict::NotDelivered, Some("email"))
        );
        let late_queue = [msg("mail", "queued", None, None)];
        assert_eq!(judge(100, &late_queue, 50).0, Verdict::Pending);
        assert_eq!(
            judge(100, &late_queue, 150),
            (Verdict::NotDelivered, Some("mail"))
        );
        assert_eq!(judge(100, &[], 50), (Verdict::NotDelivered, None));
    }
}
