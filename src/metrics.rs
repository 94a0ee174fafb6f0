//! Prometheus metrics, served at `/metrics` in the text exposition format.
//!
//! Counters and histograms are counted in this process as things happen (intake, sends,
//! receipts); what the database knows better than any one process — messages waiting or
//! being sent, recipients at risk — is read from it at scrape time, so every process
//! reports the same truth. The registry belongs to the [`Metrics`] value handed to the
//! API and the dispatcher, never a global, so each test app has its own.

use std::time::Duration;

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

use crate::channels::Gateways;
use crate::recipients::Channel;
use crate::storage::Db;

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How far ahead `vestnik_recipients_at_risk` looks, as `GET /v1/compliance/at-risk`'s default.
const AT_RISK_WITHIN: Duration = Duration::from_secs(48 * 3600);

/// Every metric Vestnik exports; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    intents_accepted: IntCounterVec,
    intents_rejected: IntCounterVec,
    send_seconds: HistogramVec,
    gateway_errors: IntCounterVec,
    receipts: IntCounterVec,
    deadline_margin: HistogramVec,
    receipt_groups: HistogramVec,
    callbacks: IntCounterVec,
    messages: IntGaugeVec,
    at_risk: IntGauge,
    breaker: GaugeVec,
    clock_offset: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("metric definition");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: Vec<f64>| {
            let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
                .expect("metric definition");
            registry
                .register(Box::new(h.clone()))
                .expect("unique metric");
            h
        };
        let intents_accepted = counter(
            "vestnik_intents_accepted_total",
            "Intents accepted (202, not counting replays), by kind.",
            &["kind"],
        );
        let intents_rejected = counter(
            "vestnik_intents_rejected_total",
            "Intents refused, by kind (`unknown` when unreadable) and HTTP status.",
            &["kind", "status"],
        );
        let send_seconds = histogram(
            "vestnik_send_seconds",
            "Time from handing a message to its gateway to the gateway's answer.",
            &["channel", "gateway"],
            vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ],
        );
        let gateway_errors = counter(
            "vestnik_gateway_errors_total",
            "Sends that failed, by gateway and class: transient (retried), permanent, \
             circuit_open (not handed over).",
            &["channel", "gateway", "class"],
        );
        let receipts = counter(
            "vestnik_receipts_total",
            "Delivery reports recorded (duplicates not counted), by gateway and status.",
            &["gateway", "status"],
        );
        let day = 86_400.0;
        let deadline_margin = histogram(
            "vestnik_deadline_margin_seconds",
            "Time left before the legal deadline when a legal notice was confirmed \
             delivered (negative: late).",
            &["channel"],
            vec![
                -day,
                0.0,
                3600.0,
                6.0 * 3600.0,
                day,
                2.0 * day,
                3.0 * day,
                7.0 * day,
                14.0 * day,
                30.0 * day,
            ],
        );
        let receipt_groups = histogram(
            "vestnik_receipt_group_size",
            "Webhook delivery reports recorded per transaction (group commit): near 1 \
             while reports trickle in, larger in a storm.",
            &[],
            vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
        );
        let callbacks = counter(
            "vestnik_callbacks_total",
            "Status callback attempts, by result: delivered, retry, gave_up.",
            &["result"],
        );
        let messages = IntGaugeVec::new(
            Opts::new(
                "vestnik_messages",
                "Messages not yet handed over, by channel and state: held (later legal \
                 step), queued, retrying (queued after a failed attempt), running (being sent).",
            ),
            &["channel", "state"],
        )
        .expect("metric definition");
        registry
            .register(Box::new(messages.clone()))
            .expect("unique metric");
        let at_risk = IntGauge::new(
            "vestnik_recipients_at_risk",
            "Recipients whose legal deadline is within 48 h (or past) with no delivered legal notice.",
        )
        .expect("metric definition");
        registry
            .register(Box::new(at_risk.clone()))
            .expect("unique metric");
        let breaker = GaugeVec::new(
            Opts::new(
                "vestnik_circuit_breaker_state",
                "Each gateway's circuit breaker: 0 closed, 1 half open (probing), 2 open.",
            ),
            &["channel", "gateway"],
        )
        .expect("metric definition");
        registry
            .register(Box::new(breaker.clone()))
            .expect("unique metric");
        let clock_offset = Gauge::new(
            "vestnik_clock_offset_seconds",
            "The database's clock minus this machine's, as last measured (PostgreSQL; \
             Vestnik keeps the database's time, so a large value means NTP is off here).",
        )
        .expect("metric definition");
        registry
            .register(Box::new(clock_offset.clone()))
            .expect("unique metric");
        Self {
            registry,
            intents_accepted,
            intents_rejected,
            send_seconds,
            gateway_errors,
            receipts,
            deadline_margin,
            receipt_groups,
            callbacks,
            messages,
            at_risk,
            breaker,
            clock_offset,
        }
    }

    pub fn intent_accepted(&self, kind: &str) {
        self.intents_accepted.with_label_values(&[kind]).inc();
    }

    pub fn intent_rejected(&self, kind: Option<&str>, status: u16) {
        self.intents_rejected
            .with_label_values(&[kind.unwrap_or("unknown"), &status.to_string()])
            .inc();
    }

    pub fn sent(&self, channel: Channel, gateway: &str, elapsed: Duration) {
        self.send_seconds
            .with_label_values(&[channel.as_str(), gateway])
            .observe(elapsed.as_secs_f64());
    }

    pub fn gateway_error(&self, channel: Channel, gateway: &str, class: &str) {
        self.gateway_errors
            .with_label_values(&[channel.as_str(), gateway, class])
            .inc();
    }

    pub fn receipt(&self, gateway: &str, status: &str) {
        self.receipts.with_label_values(&[gateway, status]).inc();
    }

    /// A legal notice on `channel` confirmed delivered `margin_ms` before its deadline.
    pub fn delivered_before_deadline(&self, channel: &str, margin_ms: i64) {
        self.deadline_margin
            .with_label_values(&[channel])
            .observe(margin_ms as f64 / 1000.0);
    }

    /// One transaction recorded `reports` webhook reports.
    pub fn receipt_group(&self, reports: usize) {
        self.receipt_groups
            .with_label_values(&[] as &[&str])
            .observe(reports as f64);
    }

    pub fn clock_offset(&self, offset_ms: i64) {
        self.clock_offset.set(offset_ms as f64 / 1000.0);
    }

    pub fn callback(&self, result: &str) {
        self.callbacks.with_label_values(&[result]).inc();
    }

    /// Reads the gauges from the database and the gateways, then renders everything.
    pub async fn scrape(
        &self,
        db: &Db,
        gateways: &Gateways,
        now_ms: i64,
    ) -> anyhow::Result<String> {
        self.messages.reset();
        for (channel, state, n) in db.messages_in_flight().await? {
            self.messages.with_label_values(&[&channel, &state]).set(n);
        }
        let within = AT_RISK_WITHIN.as_millis() as i64;
        self.at_risk.set(db.at_risk_count(now_ms + within).await?);
        self.breaker.reset();
        for channel in Channel::ALL {
            for (gateway, state) in gateways.for_channel(channel).breaker_states() {
                let value = match state {
                    crate::channels::resilience::BreakerState::Closed => 0.0,
                    crate::channels::resilience::BreakerState::HalfOpen => 1.0,
                    crate::channels::resilience::BreakerState::Open => 2.0,
                };
                self.breaker
                    .with_label_values(&[channel.as_str(), &gateway])
                    .set(value);
            }
        }
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8(out)?)
    }
}
