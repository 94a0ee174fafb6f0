//! One delivery job, start to finish: claim the due messages → render → hand to gateways →
//! record what happened. Reads like the story it is; the parts live elsewhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono_tz::Tz;
use serde_json::Value;
use tracing::{info, instrument, warn};

use crate::channels::profiles::SmsText;
use crate::channels::{Destination, Gateways, Outgoing};
use crate::clock::Clock;
use crate::deadlines::Rulebook;
use crate::documents::Documents;
use crate::intents::{IntentKind, schema};
use crate::metrics::Metrics;
use crate::queue::DeliveryJob;
use crate::recipients::{Channel, PostalAddress};
use crate::settings::{Dispatch, Letters, Organization, Settings};
use crate::storage::{Claimed, Db, Outcome, OutcomeStatus, RecipientRow};
use crate::templates::Rendered;
use crate::templates::Renderer;
use crate::templates::context::{self, IntentContext, RecipientContext};

mod holds;
mod lease;
mod live;
mod outcomes;
mod typeset;

use lease::LeaseRenewal;
pub use live::LiveTemplates;
use outcomes::{failed, given_up};

pub struct Dispatcher {
    db: Db,
    templates: Arc<LiveTemplates>,
    rulebook: Arc<Rulebook>,
    gateways: Gateways,
    org: Organization,
    letters: Letters,
    documents: Documents,
    poll_every: Duration,
    /// How long personal data is kept after an intent settles (the sweep purges it).
    retention: Duration,
    settings: Dispatch,
    clock: Clock,
    metrics: Metrics,
    callbacks: crate::settings::Callbacks,
    intents: Mutex<HashMap<String, Arc<CachedIntent>>>,
}

/// An intent as dispatch needs it; intents never change, so caching is safe.
struct CachedIntent {
    id: String,
    kind: IntentKind,
    external_id: String,
    event: Value,
    /// The id of the request that created the intent, for the delivery logs.
    request_id: Option<String>,
    /// The event with date-times in each recipient zone seen so far.
    localized: Mutex<HashMap<Tz, Arc<Value>>>,
}

/// Enough cached intents for every job in flight; beyond it the cache starts over.
const INTENT_CACHE_LIMIT: usize = 1024;

/// Writes of a job's outcomes before its error goes to apalis: pauses of 0.25, 0.5, 1 and
/// 2 s, well inside a lease.
const OUTCOME_TRIES: usize = 5;

impl Dispatcher {
    pub fn new(
        db: Db,
        templates: Arc<LiveTemplates>,
        rulebook: Arc<Rulebook>,
        gateways: Gateways,
        settings: &Settings,
        clock: Clock,
        metrics: Metrics,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            db,
            templates,
            rulebook,
            gateways,
            org: settings.organization.clone(),
            letters: settings.letters.clone(),
            documents: Documents::new(settings.letters.documents_dir.clone())?,
            poll_every: settings.sms.poll_every,
            retention: settings.retention.personal_data_after,
            settings: settings.dispatch.clone(),
            clock,
            metrics,
            callbacks: settings.callbacks.clone(),
            intents: Mutex::new(HashMap::new()),
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn settings(&self) -> &Dispatch {
        &self.settings
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// How often a message without a final report is asked about.
    pub fn poll_every(&self) -> Duration {
        self.poll_every
    }

    /// `retention.personal_data_after`.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    pub fn documents(&self) -> &Documents {
        &self.documents
    }

    pub fn gateways(&self) -> &Gateways {
        &self.gateways
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// How this worker posts status callbacks.
    pub fn callbacks(&self) -> &crate::settings::Callbacks {
        &self.callbacks
    }

    /// Claims the job's due messages under a fresh lease, as of the dispatcher's clock.
    async fn claim_due(
        &self,
        job: &DeliveryJob,
        lease: Duration,
    ) -> anyhow::Result<(String, Vec<Claimed>)> {
        let now = self.clock.now_ms();
        self.db
            .claim(&job.intent_id, job.first, job.end, lease, now)
            .await
    }

    /// Claims the job's due messages; `None` when there is nothing for this job to send.
    /// apalis schedules in whole seconds, so a job can wake before its messages are due:
    /// it waits up to 2 s once, then hands the range to a later job. It never just ends
    /// while messages are queued (it is the range's only pointer to them), even if they
    /// are still not due after the wait (a new measurement of the database's clock moved
    /// time back, or a test's fake clock stood still).
    async fn claim_or_hand_on(
        &self,
        job: &DeliveryJob,
        lease: Duration,
    ) -> anyhow::Result<Option<(String, Vec<Claimed>)>> {
        let mut waited = false;
        loop {
            let (claim_id, claimed) = self.claim_due(job, lease).await?;
            if !claimed.is_empty() {
                return Ok(Some((claim_id, claimed)));
            }
            let Some(due) = self.db.next_due(&job.intent_id, job.first, job.end).await? else {
                return Ok(None);
            };
            let wait = Duration::from_millis((due - self.clock.now_ms()).max(0) as u64);
            if waited || wait > Duration::from_secs(2) {
                self.db
                    .push_job(job, wait.max(Duration::from_secs(1)))
                    .await?;
                return Ok(None);
            }
            tokio::time::sleep(wait).await;
            waited = true;
        }
    }

    #[instrument(skip_all, fields(intent_id = %job.intent_id, first = job.first, end = job.end,
        request_id = tracing::field::Empty))]
    pub async fn deliver(&self, job: &DeliveryJob) -> anyhow::Result<()> {
        let lease = Duration::from_secs(self.settings.lease_secs);
        let Some((claim_id, claimed)) = self.claim_or_hand_on(job, lease).await? else {
            return Ok(());
        };
        let _renewal =
            LeaseRenewal::start(self.db.clone(), self.clock.clone(), claim_id.clone(), lease);
        let max_lost = i64::from(self.settings.max_lost_claims);
        let lost = |m: &Claimed| m.lost_claims > max_lost;
        if claimed.iter().all(lost) {
            // Recorded before anything that may have ended the earlier claims can fail again.
            let outcomes: Vec<Outcome> = claimed.iter().map(given_up).collect();
            let now = self.clock.now_ms();
            return self
                .db
                .record_outcomes(job, &claim_id, &claimed, &outcomes, now)
                .await;
        }
        let intent = self.intent(&job.intent_id).await?;
        let renderer = self.templates.current().await?;
        if let Some(request_id) = &intent.request_id {
            tracing::Span::current().record("request_id", request_id.as_str());
        }
        let recipients: HashMap<i64, RecipientRow> = self
            .db
            .recipients(&job.intent_id, job.first, job.end)
            .await?
            .into_iter()
            .map(|r| (r.idx, r))
            .collect();

        let mut outcomes = Vec::with_capacity(claimed.len());
        let mut by_channel: HashMap<Channel, Vec<(Outgoing, &Claimed)>> = HashMap::new();
        let mut attachments: Vec<(String, Rendered)> = Vec::new();
        let now = self.clock.now();
        let mut admitted = holds::Admitted::new();
        for message in &claimed {
            if lost(message) {
                outcomes.push(given_up(message));
                continue;
            }
            let recipient = recipients.get(&message.recipient_idx);
            if let Some(deferred) = self.outside_window(&intent, message, recipient, now) {
                outcomes.push(deferred);
                continue;
            }
            if let Some(recipient) = recipient
                && let Some(deferred) = self
                    .over_contact_limit(&intent, message, recipient, now, &claim_id, &mut admitted)
                    .await?
            {
                outcomes.push(deferred);
                continue;
            }
            match self.prepare(&renderer, &intent, message, recipient) {
                Ok((outgoing, letter)) => {
                    if let Some(letter) = letter {
                        attachments.push((outgoing.message_id.clone(), letter));
                    }
                    by_channel
                        .entry(outgoing.channel)
                        .or_default()
                        .push((outgoing, message))
                }
                Err(why) => outcomes.push(failed(message, why)),
            }
        }
        for (channel, mut batch) in by_channel {
            if channel == Channel::Email && !attachments.is_empty() {
                batch = self
                    .attach_letters(&intent, batch, &mut attachments, &recipients, &mut outcomes)
                    .await;
            }
            if matches!(channel, Channel::Mail | Channel::Fax) {
                let zoned = batch
                    .into_iter()
                    .map(|(outgoing, message)| {
                        let recipient = recipients.get(&message.recipient_idx);
                        let tz = recipient
                            .and_then(|r| r.time_zone.parse().ok())
                            .unwrap_or(chrono_tz::Europe::Moscow);
                        let precompiled = recipient
                            .and_then(|r| r.details.0["letter_pdf_sha256"].as_str())
                            .map(str::to_owned);
                        (outgoing, message, tz, precompiled)
                    })
                    .collect();
                batch = Vec::new();
                for (typeset, message) in self.typeset(&intent, zoned).await {
                    match typeset {
                        Ok(outgoing) => batch.push((outgoing, message)),
                        Err(why) => outcomes.push(self.not_sent(message, why)),
                    }
                }
            }
            let gateway = self.gateways.for_channel(channel);
            let (outgoing, messages): (Vec<Outgoing>, Vec<&Claimed>) = batch.into_iter().unzip();
            let sms: Vec<Option<SmsText>> = outgoing
                .iter()
                .map(|o| match &o.content {
                    Rendered::Sms { text } => Some(SmsText::analyze(text)),
                    _ => None,
                })
                .collect();
            let results = gateway.send(outgoing, &self.org).await;
            for ((message, sent), sms) in messages.into_iter().zip(results).zip(sms) {
                self.observe(channel, &sent);
                let template = renderer.version(intent.kind, channel).to_owned();
                let mut outcome = self.outcome(message, sent, Some(template));
                outcome.sms = sms;
                outcomes.push(outcome);
            }
        }
        self.record(job, &claim_id, &claimed, &outcomes).await?;
        let sent = outcomes
            .iter()
            .filter(|o| o.status == OutcomeStatus::Sent)
            .count();
        info!(claimed = claimed.len(), sent, "delivery job done");
        Ok(())
    }

    /// Records what was sent. The gateways have the messages: a failed write (a database
    /// blip, a saturated pool) is tried again while the lease is still renewed, rather
    /// than letting it lapse and the whole batch go out a second time. Writing twice is
    /// harmless: only rows the claim still holds in `sending` are written.
    async fn record(
        &self,
        job: &DeliveryJob,
        claim_id: &str,
        claimed: &[Claimed],
        outcomes: &[Outcome],
    ) -> anyhow::Result<()> {
        let mut pause = Duration::from_millis(250);
        let mut tries = 1;
        loop {
            let result = self
                .db
                .record_outcomes(job, claim_id, claimed, outcomes, self.clock.now_ms())
                .await;
            match result {
                Err(e) if tries < OUTCOME_TRIES => {
                    warn!(
                        error = format!("{e:#}"),
                        "recording outcomes failed; trying again"
                    );
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    tries += 1;
                }
                done => return done,
            }
        }
    }

    /// Renders and addresses one message; an error is permanent (the data cannot change).
    fn prepare(
        &self,
        renderer: &Renderer,
        intent: &CachedIntent,
        message: &Claimed,
        recipient: Option<&RecipientRow>,
    ) -> Result<(Outgoing, Option<Rendered>), String> {
        let recipient = recipient.ok_or("recipient row missing")?;
        let channel = Channel::parse(&message.channel)
            .ok_or_else(|| format!("unknown channel {}", message.channel))?;
        let tz: Tz = recipient
            .time_zone
            .parse()
            .map_err(|_| "stored time zone is invalid".to_string())?;
        let details = &recipient.details.0;
        let name = details["name"].as_str().unwrap_or_default();
        let contacts = &details["contacts"];
        let postal = contacts.get("postal_address").filter(|v| !v.is_null());
        let event = intent.localized(tz);
        let ctx = context::build(
            &self.org,
            &IntentContext {
                id: &intent.id,
                external_id: &intent.external_id,
                kind: intent.kind.as_str(),
                event: &event,
            },
            &RecipientContext {
                name,
                account_number: &recipient.account_number,
                customer_type: &recipient.customer_type,
                time_zone: tz,
                postal_address: postal,
                debt: details.get("debt").filter(|v| !v.is_null()),
            },
            &message.id,
            channel.as_str(),
        );
        let content = renderer.render(intent.kind, channel, &ctx)?;
        // The letter to attach to an email is typeset with the mail and fax letters.
        let letter = match channel {
            Channel::Email if self.letters.attach_to_email => {
                Some(renderer.render(intent.kind, Channel::Mail, &ctx)?)
            }
            _ => None,
        };
        if let (Rendered::Sms { text }, Some(max)) =
            (&content, self.rulebook.plans.sms_max_parts(intent.kind))
        {
            let sms = SmsText::analyze(text);
            if sms.parts > max {
                return Err(format!(
                    "the SMS takes {} parts ({:?}, {} units); at most {max} are allowed for {}",
                    sms.parts,
                    sms.encoding,
                    sms.units,
                    intent.kind.as_str()
                ));
            }
        }
        let contact = |field: &str| {
            contacts[field]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("contact point {field} missing"))
        };
        let to = match channel {
            Channel::Email => Destination::Email {
                address: contact("email")?,
                name: name.to_owned(),
            },
            Channel::Sms => Destination::Phone(contact("phone")?),
            Channel::Fax => Destination::Fax {
                number: contact("fax")?,
                name: name.to_owned(),
            },
            Channel::Mail => Destination::Postal {
                name: name.to_owned(),
                address: serde_json::from_value::<PostalAddress>(
                    postal.cloned().unwrap_or_default(),
                )
                .map_err(|e| format!("postal address unreadable: {e}"))?,
            },
        };
        Ok((
            Outgoing {
                message_id: message.id.clone(),
                channel,
                to,
                content,
                attachment: None,
            },
            letter,
        ))
    }

    async fn intent(&self, id: &str) -> anyhow::Result<Arc<CachedIntent>> {
        if let Some(hit) = self.intents.lock().expect("cache lock").get(id) {
            return Ok(hit.clone());
        }
        let row = self
            .db
            .intent(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("intent {id} not found"))?;
        let kind = IntentKind::parse(&row.kind)
            .ok_or_else(|| anyhow::anyhow!("intent {id} has unknown kind {}", row.kind))?;
        let cached = Arc::new(CachedIntent {
            id: row.id,
            kind,
            external_id: row.external_id,
            event: row.event.0,
            request_id: row.request_id,
            localized: Mutex::new(HashMap::new()),
        });
        let mut cache = self.intents.lock().expect("cache lock");
        if cache.len() >= INTENT_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(id.to_owned(), cached.clone());
        Ok(cached)
    }
}

impl CachedIntent {
    fn localized(&self, tz: Tz) -> Arc<Value> {
        let mut cache = self.localized.lock().expect("zone cache lock");
        cache
            .entry(tz)
            .or_insert_with(|| {
                Arc::new(schema::localize(
                    schema::event_fields(self.kind),
                    &self.event,
                    tz,
                ))
            })
            .clone()
    }
}
