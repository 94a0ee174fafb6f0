//! The `vestnik` command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::app::{App, termination_signal};
use secrecy::ExposeSecret;

use crate::auth::{self, Role};
use crate::callbacks::CallbackUrl;
use crate::deadlines::{AppealVariant, DeadlineQuery, EventMoment, Rulebook};
use crate::intents::IntentKind;
use crate::recipients::CustomerType;
use crate::settings::Settings;
use crate::storage::Db;
use crate::telemetry::{self, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "vestnik",
    version,
    about = "Notification and correspondence dispatcher for electricity suppliers"
)]
pub struct Cli {
    /// A TOML file layered over config/default.toml.
    #[arg(long, global = true, env = "VESTNIK_CONFIG")]
    config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API and a worker in one process.
    Serve {
        /// Address to listen on (overrides server.listen).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Serve the API only, for instances behind a load balancer while `vestnik worker`
        /// processes deliver.
        #[arg(long)]
        no_worker: bool,
    },
    /// Run a worker only (scale-out: many workers share one PostgreSQL).
    Worker,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Print the legal deadline for one notice as JSON, with its explanation.
    Deadline {
        /// planned_outage, meter_visit, debt_warning, tariff_change or appeal_reply.
        #[arg(long, value_parser = parse_kind)]
        kind: IntentKind,
        /// individual or legal_entity.
        #[arg(long, value_parser = parse_customer_type)]
        customer_type: CustomerType,
        /// The event day or moment, local to --tz: YYYY-MM-DD or YYYY-MM-DDTHH:MM
        /// (for appeal_reply: the registration).
        #[arg(long, value_parser = parse_event)]
        event: EventMoment,
        /// The recipient's IANA time zone, e.g. Europe/Samara.
        #[arg(long)]
        tz: chrono_tz::Tz,
        /// The account, to apply its contract's override if there is one.
        #[arg(long)]
        account: Option<String>,
        /// The recipient's region, ISO 3166-2 (RU-TA), to count its own days off.
        #[arg(long, value_parser = parse_region)]
        region: Option<String>,
        /// For appeal_reply: written, written_extended, answering_machine_phone, answering_machine_address.
        #[arg(long, value_parser = parse_appeal, default_value = "written")]
        appeal: AppealVariant,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Submit a mailing from a CSV of recipients, in batches (docs/import.md).
    Import(crate::import::ImportArgs),
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The proof ledger (docs/ledger.md).
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Purge the personal data of intents finished longer than
    /// retention.personal_data_after ago (the worker's sweep does it too).
    Purge,
}

#[derive(Debug, Subcommand)]
enum LedgerCommand {
    /// Re-walk the whole chain; exit 1 naming the first broken link.
    Verify,
    /// Print every entry as JSON lines ({"seq", "hash", "entry"}), then the checkpoints.
    Export,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (secrets as ***) and check it: unknown keys,
    /// the database, gateway profiles, templates, calendar years, policies and plans.
    Check,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print its secret (shown only once).
    Create {
        /// ingest, operator, auditor or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The client the token belongs to (idempotency keys are scoped by it).
        #[arg(long)]
        name: Option<String>,
        /// Where the status changes of this token's intents are POSTed (an intent's own
        /// `callback_url` wins). Needs `callbacks.secret`.
        #[arg(long, value_parser = parse_callback_url)]
        callback_url: Option<CallbackUrl>,
    },
}

fn parse_callback_url(s: &str) -> Result<CallbackUrl, String> {
    CallbackUrl::parse(s)
}

pub(crate) fn parse_kind(s: &str) -> Result<IntentKind, String> {
    IntentKind::parse(s).ok_or_else(|| format!("unknown kind '{s}'"))
}

fn parse_customer_type(s: &str) -> Result<CustomerType, String> {
    CustomerType::parse(s)
        .ok_or_else(|| format!("unknown customer type '{s}': use individual or legal_entity"))
}

fn parse_appeal(s: &str) -> Result<AppealVariant, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("unknown appeal variant '{s}'"))
}

fn parse_region(s: &str) -> Result<String, String> {
    crate::calendar::is_region_code(s)
        .then(|| s.to_owned())
        .ok_or_else(|| format!("'{s}': {}", crate::recipients::REGION_FORMAT))
}

fn parse_event(s: &str) -> Result<EventMoment, String> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(EventMoment::Date(d));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(s, format) {
            return Ok(EventMoment::LocalDateTime(dt));
        }
    }
    Err(format!("'{s}' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM"))
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s)
        .ok_or_else(|| format!("unknown role '{s}': use ingest, operator, auditor or admin"))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init(cli.log_format);
    // Neither needs valid settings: import talks to a server, and config check reports
    // what is wrong with them instead of stopping at the first fault.
    let command = match cli.command {
        Command::Import(args) => return crate::import::run(args).await,
        Command::Config {
            command: ConfigCommand::Check,
        } => return crate::config_check::run(cli.config.as_deref()).await,
        other => other,
    };
    let mut settings = Settings::load(cli.config.as_deref())?;
    match command {
        Command::Serve { listen, no_worker } => {
            if let Some(listen) = listen {
                settings.server.listen = listen;
            }
            let admin_file = settings.auth.admin_token_file.clone();
            let address = settings.server.listen;
            let app = App::build(settings).await?;
            ensure_admin_token(&app.db, &admin_file).await?;
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address}"))?;
            let shutdown = CancellationToken::new();
            let trigger = shutdown.clone();
            tokio::spawn(async move {
                termination_signal().await;
                trigger.cancel();
            });
            if no_worker {
                app.serve_api(listener, shutdown).await
            } else {
                app.serve(listener, shutdown).await
            }
        }
        Command::Worker => App::build(settings).await?.work(termination_signal()).await,
        Command::Deadline {
            kind,
            customer_type,
            event,
            tz,
            account,
            region,
            appeal,
        } => {
            let rulebook = Rulebook::load(&settings.deadlines)?;
            let deadline = rulebook.deadline(&DeadlineQuery {
                kind,
                customer_type,
                account_number: account.as_deref(),
                event,
                tz,
                region: region.as_deref(),
                appeal,
            })?;
            println!("{}", serde_json::to_string_pretty(&deadline)?);
            Ok(())
        }
        Command::Migrate => {
            let db = Db::connect(&settings.database.url, 2).await?;
            db.migrate().await?;
            println!("database is up to date ({})", db.backend_name());
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    role,
                    name,
                    callback_url,
                },
        } => {
            anyhow::ensure!(
                callback_url.is_none() || !settings.callbacks.secret.expose_secret().is_empty(),
                "--callback-url needs callbacks.secret (e.g. VESTNIK_CALLBACKS__SECRET) to sign callbacks with"
            );
            let db = Db::connect(&settings.database.url, 2).await?;
            db.migrate().await?;
            // Tokens without a name must not share a client (and so idempotency keys and
            // visibility of intents): each gets one of its own.
            let name = name.unwrap_or_else(|| {
                format!(
                    "{}-{}",
                    role.as_str(),
                    &uuid::Uuid::now_v7().simple().to_string()[20..]
                )
            });
            let secret =
                auth::create_token_calling_back(&db, &name, role, callback_url.as_ref()).await?;
            println!("{secret}");
            Ok(())
        }
        Command::Ledger { command } => {
            let db = Db::connect(&settings.database.url, 2).await?;
            db.migrate().await?;
            match command {
                LedgerCommand::Verify => ledger_verify(&db).await,
                LedgerCommand::Export => ledger_export(&db).await,
            }
        }
        Command::Purge => {
            let db = Db::connect(&settings.database.url, 2).await?;
            db.migrate().await?;
            // Retention is judged by the database's time, as the workers judge it.
            if let Err(e) = crate::clock::Clock::system().step_with(&db).await {
                tracing::warn!(error = format!("{e:#}"), "purging by this machine's clock");
            }
            let documents =
                crate::documents::Documents::new(settings.letters.documents_dir.clone())?;
            let report = crate::retention::purge(
                &db,
                &documents,
                settings.retention.personal_data_after,
                crate::storage::now_ms(),
            )
            .await?;
            println!("purged the personal data of {} intent(s)", report.intents);
            Ok(())
        }
        Command::Import(_) | Command::Config { .. } => unreachable!("handled above"),
    }
}

/// `vestnik ledger verify`: exits 1, naming the first broken link, if there is one.
async fn ledger_verify(db: &Db) -> anyhow::Result<()> {
    let (walked, broken) = db.verify_ledger().await?;
    match broken {
        None => {
            let head = db.ledger_head().await?;
            println!(
                "ledger intact: {walked} entries, head {} at entry {}",
                head.hash, head.seq
            );
            Ok(())
        }
        Some(broken) => {
            eprintln!("ledger broken at entry {}: {broken}", broken.seq());
            std::process::exit(1);
        }
    }
}

/// `vestnik ledger export`: every entry as a JSON line, in chain order, then one line per
/// checkpoint and the head — what an auditor walks offline (README, "Proofs").
async fn ledger_export(db: &Db) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut after = 0;
    loop {
        let page = db.ledger_page(after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for row in page {
            writeln!(
                out,
                r#"{{"seq":{},"hash":"{}","entry":{}}}"#,
                row.seq, row.hash, row.body
            )?;
        }
    }
    for (seq, hash) in db.ledger_checkpoints().await? {
        writeln!(out, r#"{{"checkpoint":{{"seq":{seq},"hash":"{hash}"}}}}"#)?;
    }
    let head = db.ledger_head().await?;
    writeln!(
        out,
        r#"{{"head":{{"seq":{},"hash":"{}"}}}}"#,
        head.seq, head.hash
    )?;
    out.flush()?;
    Ok(())
}

/// On the very first start there is no way to call the API; make an admin token, print it
/// once and leave it in a file only its owner can read.
async fn ensure_admin_token(db: &Db, file: &std::path::Path) -> anyhow::Result<()> {
    if db.token_count().await? > 0 {
        return Ok(());
    }
    // The file first: a token stored but never written down would lock the operator out
    // (later starts see a token and make no other).
    let secret = auth::new_secret();
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_private(file, &secret).with_context(|| format!("cannot write {}", file.display()))?;
    auth::store_token(db, "admin", Role::Admin, &secret).await?;
    println!(
        "Created the first admin token (also saved to {}):\n{secret}",
        file.display()
    );
    Ok(())
}

fn write_private(path: &std::path::Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options.open(path)?;
    // An existing file keeps its mode on open: make it private either way.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    writeln!(f, "{secret}")
}
