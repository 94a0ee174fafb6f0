//! The verdict on one recipient's legal notice: was it delivered, and in time?

use serde::Serialize;

/// What the facts say about a recipient's legal notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A legal-notice message was delivered (gateway's time) by the deadline, or sent by
    /// then where sending counts as receipt (Decree 442).
    DeliveredOnTime,
    /// Delivered, but after the deadline.
    DeliveredLate,
    /// Handed to a gateway, with no delivery report (yet, or ever).
    Unconfirmed,
    /// Not delivered: every legal-notice message failed or was never handed over.
    NotDelivered,
    /// Still being sent: a legal step is queued, held or sending and none was handed over.
    InProgress,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [
        Self::DeliveredOnTime,
        Self::DeliveredLate,
        Self::Unconfirmed,
        Self::NotDelivered,
        Self::InProgress,
    ];

    /// As in JSON and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeliveredOnTime => "delivered_on_time",
            Self::DeliveredLate => "delivered_late",
            Self::Unconfirmed => "unconfirmed",
            Self::NotDelivered => "not_delivered",
            Self::InProgress => "in_progress",
        }
    }

    /// In Russian, for the certificate.
    pub fn russian(self) -> &'static str {
        match self {
            Verdict::DeliveredOnTime => "доставлено в срок",
            Verdict::DeliveredLate => "доставлено с опозданием",
            Verdict::Unconfirmed => "передано, доставка не подтверждена",
            Verdict::NotDelivered => "не доставлено",
            Verdict::InProgress => "отправка не завершена",
        }
    }
}

/// One message as the verdict sees it.
#[derive(Debug, Clone, Copy)]
pub struct Attempted<'a> {
    pub status: &'a str,
    pub legal_step: Option<i64>,
    /// When the gateway says it was delivered (epoch ms).
    pub delivered_at: Option<i64>,
    /// When the gateway accepted it (epoch ms).
    pub sent_at: Option<i64>,
    /// Deemed received when sent (a contact the contract names, Decree 442).
    pub received_when_sent: bool,
}

impl Attempted<'_> {
    /// When the notice reached the recipient in law, and how we know.
    pub fn received(&self) -> Option<(i64, &'static str)> {
        let reported = self
            .delivered_at
            .filter(|_| self.status == "delivered")
            .map(|at| (at, "delivered"));
        let deemed = self.sent_at.filter(|_| self.received_when_sent).map(|at| {
            (
                at,
                "deemed received when sent to a contact the contract names",
            )
        });
        [reported, deemed].into_iter().flatten().min()
    }
}

/// The verdict and the reason in words. Legal-notice messages decide it; a recipient
/// whose plan has none (an intent planned without legal steps) is judged on all of them.
pub fn judge(deadline_at: Option<i64>, messages: &[Attempted<'_>]) -> (Verdict, String) {
    let legal: Vec<&Attempted> = messages.iter().filter(|m| m.legal_step.is_some()).collect();
    let deciding = if legal.is_empty() {
        messages.iter().collect()
    } else {
        legal
    };
    let received = deciding.iter().filter_map(|m| m.received()).min();
    if let Some((at, how)) = received {
        return match deadline_at {
            // A deadline is a whole second (23:59:59 local) and all of it counts: a report
            // at 23:59:59.5 is on time; late starts with the next second.
            Some(deadline) if at >= (deadline.div_euclid(1000) + 1) * 1000 => (
                Verdict::DeliveredLate,
                format!("{how} {} ms after the deadline", at - deadline),
            ),
            Some(_) => (Verdict::DeliveredOnTime, format!("{how} by the deadline")),
            None => (
                Verdict::DeliveredOnTime,
                format!("{how}; no deadline applies"),
            ),
        };
    }
    if deciding
        .iter()
        .any(|m| matches!(m.status, "sent" | "unconfirmed"))
    {
        return (
            Verdict::Unconfirmed,
            "handed to the gateway; no delivery report".into(),
        );
    }
    if deciding
        .iter()
        .any(|m| matches!(m.status, "queued" | "held" | "sending"))
    {
        return (
            Verdict::InProgress,
            "not handed over yet: still queued or held".into(),
        );
    }
    (
        Verdict::NotDelivered,
        "no legal notice was delivered or handed over".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(status: &str, legal_step: Option<i64>, delivered_at: Option<i64>) -> Attempted<'_> {
        Attempted {
            status,
            legal_step,
            delivered_at,
            sent_at: None,
            received_when_sent: false,
        }
    }

    #[test]
    fn a_notice_deemed_received_counts_from_its_sending() {
        let deemed = |status, sent_at| Attempted {
            sent_at: Some(sent_at),
            received_when_sent: true,
            ..m(status, Some(0), None)
        };
        let (verdict, why) = judge(Some(100_000), &[deemed("sent", 90_000)]);
        assert_eq!(verdict, Verdict::DeliveredOnTime);
        assert_eq!(
            why,
            "deemed received when sent to a contact the contract names by the deadline"
        );
        assert_eq!(
            judge(Some(100_000), &[deemed("sent", 101_000)]).0,
            Verdict::DeliveredLate
        );
        // A later report of non-delivery does not undo what the law deems received.
        assert_eq!(
            judge(Some(100_000), &[deemed("failed", 90_000)]).0,
            Verdict::DeliveredOnTime
        );
        // Without the rule, the same send awaits its report.
        let plain = Attempted {
            received_when_sent: false,
            ..deemed("sent", 90_000)
        };
        assert_eq!(judge(Some(100_000), &[plain]).0, Verdict::Unconfirmed);
        // The earlier of a report and a deemed receipt decides.
        let report = m("delivered", Some(1), Some(95_000));
        assert_eq!(
            judge(Some(93_000), &[report, deemed("sent", 92_000)]).0,
            Verdict::DeliveredOnTime
        );
    }

    #[test]
    fn delivery_by_the_deadline_is_on_time_and_after_it_late() {
        let on_time = [m("delivered", Some(0), Some(100_000))];
        assert_eq!(judge(Some(100_000), &on_time).0, Verdict::DeliveredOnTime);
        assert_eq!(judge(Some(99_000), &on_time).0, Verdict::DeliveredLate);
        // Within the deadline's own second.
        let just_in = [m("delivered", Some(0), Some(100_999))];
        assert_eq!(judge(Some(100_000), &just_in).0, Verdict::DeliveredOnTime);
        let just_late = [m("delivered", Some(0), Some(101_000))];
        assert_eq!(judge(Some(100_000), &just_late).0, Verdict::DeliveredLate);
    }

    #[test]
    fn the_earliest_legal_delivery_counts_and_supplementary_ones_do_not() {
        let messages = [
            m("delivered", None, Some(10_000)),
            m("delivered", Some(1), Some(300_000)),
            m("delivered", Some(0), Some(200_000)),
        ];
        assert_eq!(judge(Some(250_000), &messages).0, Verdict::DeliveredOnTime);
        assert_eq!(judge(Some(150_000), &messages).0, Verdict::DeliveredLate);
    }

    #[test]
    fn handed_over_without_a_report_is_unconfirmed() {
        let messages = [m("failed", Some(0), None), m("unconfirmed", Some(1), None)];
        assert_eq!(judge(Some(1), &messages).0, Verdict::Unconfirmed);
        assert_eq!(
            judge(Some(1), &[m("sent", Some(0), None)]).0,
            Verdict::Unconfirmed
        );
    }

    #[test]
    fn failed_and_cancelled_steps_are_not_delivered_and_waiting_ones_in_progress() {
        let failed = [m("failed", Some(0), None), m("cancelled", Some(1), None)];
        assert_eq!(judge(Some(1), &failed).0, Verdict::NotDelivered);
        let waiting = [m("failed", Some(0), None), m("held", Some(1), None)];
        assert_eq!(judge(Some(1), &waiting).0, Verdict::InProgress);
    }
}
