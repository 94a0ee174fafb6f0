//! Vestnik — a notification and correspondence dispatcher for electricity suppliers.
//!
//! Upstream systems post *notification intents* (an outage, a debt, a tariff change, a
//! meter visit, a reply to an appeal) with their recipients; Vestnik renders each notice
//! with its legally mandatory fields and hands it to the gateway of each channel.
//!
//! # Layout
//!
//! The domain — plain Rust, no I/O:
//! - [`intents`]: the five kinds, their field schema ([`intents::schema`]) and request parsing
//!   (a big body's recipients on every core: `intents::parallel`).
//! - [`recipients`]: recipients, customer types, channels and contact points.
//! - [`validation`]: field-level errors, collected so a request learns all its faults at once.
//! - [`templates`]: Handlebars rendering (strict), the context templates see, Russian helpers,
//!   template sets and versions' keys ([`templates::set`]), and the checks a version passes
//!   before it is saved ([`templates::check`]).
//! - [`pii`]: how personal data is masked when it must be mentioned at all.
//! - [`calendar`]: the production calendar (working days, holidays, regional overlays).
//! - [`deadlines`]: when each notice is due, from the rules in `config/policies.toml`.
//! - [`plans`]: channel plans — which channel carries the legal notice (and where its
//!   sending counts as receipt), expected latencies; sending windows, contact limits and
//!   meter-visit hours each in their own file.
//! - [`letters`]: the postal letter as an A4 PDF, and the print-house check of any PDF.
//! - [`reports`]: verdicts (delivered on time, late, unconfirmed, not delivered) and the
//!   compliance report built from them.
//! - [`ledger`]: the proof ledger — facts, their canonical form (RFC 8785), the hash chain
//!   and its verifier (`docs/ledger.md`).
//! - [`proofs`]: proof bundles and verdicts; the ZIP and the one-page PDF certificate.
//!
//! The adapters around it:
//! - [`api`]: axum handlers for `/v1/…`, `/health`, `/ready`, `/metrics`; errors as
//!   `problem+json`; the OpenAPI document and `/docs` made from the handlers' annotations.
//! - [`ui`]: the template editor at `/ui/templates` (server-rendered pages, one script).
//! - [`auth`]: bearer tokens and roles.
//! - [`storage`]: SQLite or PostgreSQL behind one [`storage::Db`]; SQL per dialect only where it differs.
//! - [`queue`]: apalis delivery jobs, pushed in the intake transaction.
//! - [`dispatch`]: one delivery job: claim → hold back (windows, contact limits) → render → send → record;
//!   it renders the active template versions ([`dispatch::LiveTemplates`]).
//! - [`channels`]: gateways (outbox files, SMTP over our own connection pool, HTTP providers described by profiles in
//!   `channels/`), and [`channels::routes`]: which gateway takes a message, within its
//!   rate, concurrency and circuit breaker ([`channels::resilience`]).
//! - [`receipts`]: recording a gateway's delivery report, from a webhook or a poll.
//! - [`documents`]: letter PDFs and return-receipt scans, stored by SHA-256 for proofs.
//! - [`retention`]: purging personal data past its retention period; the ledger keeps the hashes.
//! - [`worker`]: the apalis worker and its sweeper (leases, unconfirmed reports,
//!   escalation, provider health).
//!
//! Wiring: [`settings`] (layered config), [`clock`] (the database's time, or a fake one), [`telemetry`], [`app`] (build and run),
//! [`cli`] (the `vestnik` command), `nodelay` (`TCP_NODELAY` on sockets sqlx and lettre open).
//!
//! Operability: [`import`] (a mailing from a CSV, through the API), [`config_check`]
//! (`vestnik config check`), [`metrics`] (Prometheus) and [`callbacks`] (signed status
//! callbacks from an outbox the database fills in the status change's transaction).

pub mod api;
pub mod app;
pub mod auth;
pub mod calendar;
pub mod callbacks;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod config_check;
pub mod deadlines;
pub mod dispatch;
pub mod documents;
pub mod import;
pub mod intents;
pub mod ledger;
pub mod letters;
pub mod metrics;
pub(crate) mod nodelay;
pub mod pii;
pub mod plans;
pub mod proofs;
pub mod queue;
pub mod receipts;
pub mod recipients;
pub mod reports;
pub mod retention;
pub mod settings;
pub mod storage;
pub mod telemetry;
pub mod templates;
pub mod ui;
pub mod validation;
pub mod worker;
