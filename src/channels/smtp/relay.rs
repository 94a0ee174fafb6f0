//! The connections to the SMTP relay, kept open between messages.
//!
//! Our own pool rather than lettre's: lettre writes a message's closing `\r\n.\r\n` apart
//! from its body, and on a socket without `TCP_NODELAY` that small write waits for the
//! relay's delayed ACK (~40 ms on Linux), so each connection carried ~25 messages a
//! second. lettre's pool opens its sockets itself (its executor is sealed) and sends a
//! `NOOP` before every message; here the socket is ours, and a connection is checked only
//! after it has been idle.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use secrecy::ExposeSecret;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::pii;
use crate::settings::{Smtp as SmtpSettings, SmtpTls};

/// A connection idle longer than this is asked `NOOP` before it carries a message: relays
/// drop idle clients (Postfix after 300 s), and a message should not be what finds out.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(5);
/// A connection idle longer than this is closed instead (lettre's pool's default too).
const CLOSE_AFTER_IDLE: Duration = Duration::from_secs(60);
/// How long one message may take, its final reply included: RFC 5321 (4.5.3.2.6) gives a
/// relay 10 minutes to answer the closing `.`, and content filters use much of it. Giving
/// up sooner would send again what the relay may have queued.
const MESSAGE_WITHIN: Duration = Duration::from_secs(600);

pub(super) struct Relay {
    host: String,
    port: u16,
    security: Security,
    hello: ClientId,
    credentials: Option<Credentials>,
    /// For connecting, greeting, TLS and login (`smtp.timeout_secs`), and for `NOOP`.
    timeout: Duration,
    /// One permit per connection: at most `pool_size` open, and as many messages in flight.
    slots: Semaphore,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

enum Security {
    None,
    Starttls(TlsParameters),
    Implicit(TlsParameters),
}

/// Why a message was not accepted.
pub(super) enum Refusal {
    /// The relay answered 5xx: sending it again will not help.
    Permanent(String),
    /// No connection, a 4xx, a broken or silent connection: worth another attempt.
    Transient(String),
}

impl Relay {
    pub(super) fn new(settings: &SmtpSettings) -> anyhow::Result<Self> {
        let tls = || -> anyhow::Result<TlsParameters> {
            let mut builder = TlsParameters::builder(settings.host.clone());
            if !settings.ca_file.as_os_str().is_empty() {
                let pem = std::fs::read(&settings.ca_file)
                    .with_context(|| format!("smtp.ca_file {}", settings.ca_file.display()))?;
                // lettre takes a PEM without any certificate (a key, an empty file) as an
                // empty list, and TLS would only fail later with an unknown issuer.
                if !pem
                    .windows(CERTIFICATE.len())
                    .any(|w| w == CERTIFICATE.as_bytes())
                {
                    anyhow::bail!(
                        "smtp.ca_file {} holds no PEM certificate ({CERTIFICATE})",
                        settings.ca_file.display()
                    );
                }
                let ca = Certificate::from_pem(&pem).map_err(|e| {
                    anyhow::anyhow!(
                        "smtp.ca_file {} is not a PEM certificate: {e}",
                        settings.ca_file.display()
                    )
                })?;
                builder = builder.add_root_certificate(ca);
            }
            builder
                .build_rustls()
                .context("TLS parameters for the SMTP relay")
        };
        let security = match settings.tls {
            SmtpTls::None => Security::None,
            SmtpTls::Starttls => Security::Starttls(tls()?),
            SmtpTls::Implicit => Security::Implicit(tls()?),
        };
        let pool_size = settings.pool_size.max(1) as usize;
        Ok(Self {
            host: settings.host.clone(),
            port: settings.port,
            security,
            hello: if settings.hello_name.is_empty() {
                ClientId::default()
            } else {
                ClientId::Domain(settings.hello_name.clone())
            },
            credentials: (!settings.username.is_empty()).then(|| {
                Credentials::new(
                    settings.username.clone(),
                    settings.password.expose_secret().to_owned(),
                )
            }),
            timeout: Duration::from_secs(settings.timeout_secs.max(1)),
            slots: Semaphore::new(pool_size),
            idle: Mutex::new(Vec::with_capacity(pool_size)),
        })
    }

    /// Hands one message to the relay and returns its final reply to `DATA`.
    pub(super) async fn submit(
        &self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<Response, Refusal> {
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let mut connection = match self.reuse().await {
            Some(connection) => connection,
            None => tokio::time::timeout(self.timeout, self.open())
                .await
                .map_err(|_| Refusal::Transient("relay: no connection within the timeout".into()))?
                // Even a 5xx here (a refused login) is the relay's or our setup's fault,
                // not the message's: it waits for the next attempt.
                .map_err(|e| {
                    Refusal::Transient(format!(
                        "relay connection: {}",
                        pii::mask_free_text(&format!("{e:#}"))
                    ))
                })?,
        };
        match tokio::time::timeout(MESSAGE_WITHIN, connection.send(envelope, message)).await {
            Ok(Ok(reply)) => {
                self.park(connection);
                Ok(reply)
            }
            // lettre has closed the connection after any error (`QUIT`, then the socket).
            // The relay's reply often quotes the refused address (Postfix: "550 5.1.1
            // <x@y.ru>: Recipient address rejected"); it ends up in logs and the API.
            Ok(Err(e)) if e.is_permanent() && !about_login(&e) => Err(Refusal::Permanent(format!(
                "relay refused: {}",
                pii::mask_free_text(&e.to_string())
            ))),
            Ok(Err(e)) => Err(Refusal::Transient(format!(
                "relay: {}",
                pii::mask_free_text(&e.to_string())
            ))),
            // Dropped mid-conversation: the relay may or may not have queued it.
            Err(_) => Err(Refusal::Transient(
                "relay: no reply within the timeout".into(),
            )),
        }
    }

    /// The most recently used idle connection that still answers, if any.
    async fn reuse(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let (mut connection, since) = self.idle.lock().expect("idle list").pop()?;
            let idle = since.elapsed();
            // Dropped, not `abort()`ed: its `QUIT` would wait for a reply that a relay
            // which has gone quiet never sends.
            if idle > CLOSE_AFTER_IDLE {
                continue;
            }
            if idle <= CHECK_AFTER_IDLE
                || tokio::time::timeout(self.timeout, connection.test_connected())
                    .await
                    .unwrap_or(false)
            {
                return Some(connection);
            }
        }
    }

    fn park(&self, connection: AsyncSmtpConnection) {
        if !connection.has_broken() {
            self.idle
                .lock()
                .expect("idle list")
                .push((connection, Instant::now()));
        }
    }

    /// Connects, greets, secures and logs in, within `timeout`.
    async fn open(&self) -> anyhow::Result<AsyncSmtpConnection> {
        let mut connection = match &self.security {
            Security::Implicit(tls) => {
                // TLS from the first byte: lettre opens this socket, so the option is set
                // on it from outside.
                let connection = AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &self.hello,
                    Some(tls.clone()),
                    None,
                )
                .await?;
                crate::nodelay::set_on_connections_to(self.port);
                connection
            }
            Security::None | Security::Starttls(_) => {
                let socket = TcpStream::connect((self.host.as_str(), self.port)).await?;
                socket.set_nodelay(true)?;
                AsyncSmtpConnection::connect_with_transport(Box::new(socket), &self.hello).await?
            }
        };
        if let Security::Starttls(tls) = &self.security {
            // Fails when the relay does not offer STARTTLS: never fall back to plain text.
            connection.starttls(tls.clone(), &self.hello).await?;
        }
        if let Some(credentials) = &self.credentials {
            connection.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(connection)
    }
}

const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----";

/// A 5xx about authentication (RFC 4954: 530 required, 535 refused, 538 encryption
/// required) is about our setup, not the message: it waits for the next attempt.
fn about_login(e: &lettre::transport::smtp::Error) -> bool {
    e.status()
        .is_some_and(|code| matches!(code.to_string().as_str(), "530" | "535" | "538"))
}
