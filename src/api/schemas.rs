//! The wire formats as the OpenAPI document states them.
//!
//! Why separate types: the request types that parse input are deliberately loose
//! (every field optional, any JSON type) so that intake can report *every* bad field at
//! once, and several answers are assembled as JSON; neither says what a client must send
//! or will get. These types do, and exist only for the document. `docs/intents.md`
//! describes the kind-specific `event` fields in prose.

#![allow(dead_code)]

use serde_json::Value;
use utoipa::ToSchema;

/// `POST /v1/intents`: one event and the customers it concerns. Unknown fields are refused.
#[derive(ToSchema)]
#[schema(as = IntentRequest)]
pub struct IntentRequest {
    #[schema(example = "planned_outage")]
    kind: IntentKindName,
    /// The caller's id of the event (1–200 characters); the idempotency key when no
    /// `Idempotency-Key` header is given.
    #[schema(example = "outage-2027-000316")]
    external_id: String,
    /// The kind's fields (see `docs/intents.md`): e.g. `starts_at`, `ends_at`, `reason`.
    event: Value,
    /// 1–200,000 recipients.
    recipients: Vec<RecipientRequest>,
    /// Accept even when a deadline cannot be met (the intent is recorded as late).
    accept_late: Option<bool>,
    /// Where every status change of this intent's messages is POSTed (see README,
    /// "Status callbacks"); an `http` or `https` URL. Overrides the token's callback URL.
    #[schema(example = "https://billing.example.ru/vestnik/status")]
    callback_url: Option<String>,
}

/// The five kinds of notice.
#[derive(ToSchema)]
#[schema(as = IntentKind)]
#[allow(non_camel_case_types)]
pub enum IntentKindName {
    planned_outage,
    meter_visit,
    debt_warning,
    tariff_change,
    appeal_reply,
}

/// One customer to notify.
#[derive(ToSchema)]
pub struct RecipientRequest {
    #[schema(example = "7701234567")]
    account_number: String,
    customer_type: CustomerTypeName,
    #[schema(example = "Иванов Иван Иванович")]
    name: String,
    #[schema(example = "Europe/Moscow")]
    time_zone: String,
    /// ISO 3166-2 code of the recipient's region (`RU-TA`): a region with days off of its
    /// own (`config/calendar/overlays/`) counts them in deadlines and sending windows.
    #[schema(example = "RU-TA")]
    region: Option<String>,
    contacts: ContactsRequest,
    /// In order of preference; the legal ones form an escalation chain.
    channels: Vec<ChannelName>,
    /// The channels whose contact point here is the one the supply contract names. Where
    /// the channel plan says `received_when_sent` (Decree 442: a legal entity's debt
    /// notice by email), a notice sent there counts as received when sent.
    contract_contacts: Option<Vec<ChannelName>>,
    /// `debt_warning` only: `amount`, `period_from`, `period_to`.
    debt: Option<Value>,
    /// Base64 of a precompiled A4 PDF letter, checked as a print house would.
    letter_pdf: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = CustomerType)]
#[allow(non_camel_case_types)]
pub enum CustomerTypeName {
    individual,
    legal_entity,
}

#[derive(ToSchema)]
#[schema(as = Channel)]
#[allow(non_camel_case_types)]
pub enum ChannelName {
    email,
    sms,
    mail,
    fax,
}

/// Contact points; each channel named needs its own.
#[derive(ToSchema)]
pub struct ContactsRequest {
    email: Option<String>,
    /// E.164.
    #[schema(example = "+79161234567")]
    phone: Option<String>,
    fax: Option<String>,
    postal_address: Option<PostalAddress>,
}

#[derive(ToSchema)]
pub struct PostalAddress {
    #[schema(example = "101000")]
    postcode: String,
    address: String,
}

/// An intent with its status counts and one page of recipients.
#[derive(ToSchema)]
pub struct IntentView {
    id: String,
    external_id: String,
    kind: IntentKindName,
    event: Value,
    accept_late: bool,
    accepted_at: String,
    recipient_count: i64,
    message_count: i64,
    /// Messages per status (`held`, `queued`, `sending`, `sent`, `delivered`, …).
    status_counts: std::collections::BTreeMap<String, i64>,
    page: i64,
    per_page: i64,
    pages: i64,
    recipients: Vec<RecipientView>,
}

#[derive(ToSchema)]
pub struct RecipientView {
    recipient_id: i64,
    account_number: String,
    customer_type: CustomerTypeName,
    time_zone: String,
    /// ISO 3166-2, when the request named one.
    region: Option<String>,
    deadline: Option<String>,
    channels: Vec<MessageView>,
}

/// One message: a recipient on one channel.
#[derive(ToSchema)]
pub struct MessageView {
    message_id: String,
    channel: ChannelName,
    status: String,
    legal_step: Option<i64>,
    /// Deemed received once sent (Decree 442: a contact the supply contract names); its
    /// send record is the proof and no delivery report is awaited.
    received_when_sent: bool,
    next_attempt_at: Option<String>,
    attempts: i64,
    reason: Option<String>,
    gateway: Option<String>,
    gateway_message_id: Option<String>,
    content_sha256: Option<String>,
    template: Option<String>,
    sms_encoding: Option<String>,
    sms_parts: Option<i64>,
    sent_at: Option<String>,
    delivered_at: Option<String>,
    updated_at: String,
}

/// `GET /v1/intents?external_id=…`.
#[derive(ToSchema)]
pub struct IntentList {
    intents: Vec<super::Accepted>,
}

/// `POST /v1/deadlines`.
#[derive(ToSchema)]
pub struct DeadlineRequest {
    kind: IntentKindName,
    customer_type: CustomerTypeName,
    /// `YYYY-MM-DD`, local `YYYY-MM-DDTHH:MM:SS`, or RFC 3339; for `appeal_reply` the
    /// registration.
    #[schema(example = "2027-03-15")]
    event: String,
    #[schema(example = "Europe/Moscow")]
    time_zone: String,
    account_number: Option<String>,
    /// ISO 3166-2 code of the recipient's region (`RU-TA`): its own days off count.
    #[schema(example = "RU-TA")]
    region: Option<String>,
    /// `appeal_reply` only: which reply term applies.
    #[schema(nullable = false)]
    appeal: Option<AppealName>,
}

/// How an appeal came, which sets its reply term.
#[derive(ToSchema)]
#[schema(as = AppealVariant)]
#[allow(non_camel_case_types)]
pub enum AppealName {
    written,
    written_extended,
    answering_machine_phone,
    answering_machine_address,
}

/// A legal deadline with the rule and the days counted.
#[derive(ToSchema)]
pub struct DeadlineView {
    /// RFC 3339 in the recipient's offset.
    deadline: String,
    deadline_utc: String,
    time_zone: String,
    /// The kind, customer type, amount, unit and legal source of the rule applied.
    rule: Value,
    /// The days counted and the weekends and holidays skipped.
    explain: Value,
}

/// `GET /v1/compliance/at-risk`.
#[derive(ToSchema)]
pub struct AtRiskView {
    as_of: String,
    within_hours: i64,
    recipients: Vec<AtRiskRecipient>,
}

#[derive(ToSchema)]
pub struct AtRiskRecipient {
    intent_id: String,
    external_id: String,
    kind: IntentKindName,
    recipient_id: i64,
    account_number: String,
    customer_type: CustomerTypeName,
    deadline: String,
    overdue: bool,
    hours_left: f64,
    legal_notices_sent_unconfirmed: i64,
}

/// `GET /health`.
#[derive(ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: String,
    /// `sqlite`, `postgres`, or `unreachable`.
    database: String,
}

/// `GET /ready` when ready; every check that passed, by name.
#[derive(ToSchema)]
pub struct Ready {
    #[schema(example = "ready")]
    status: String,
    database: String,
    migrations: String,
    worker: String,
}
