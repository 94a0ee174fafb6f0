//! A small SMTP server on loopback for tests: speaks enough RFC 5321 for a real client
//! (EHLO, MAIL, RCPT, DATA with dot-stuffing, RSET, NOOP, QUIT), keeps what it receives,
//! and can refuse a recipient (550) or defer messages (451) on demand. With
//! [`SmtpSink::start_secure`] it speaks TLS (STARTTLS, RFC 3207, or from the first byte)
//! with a fresh self-signed certificate for 127.0.0.1, and requires AUTH PLAIN.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent, dot-stuffing undone, CRLF line ends.
    pub data: Vec<u8>,
    /// Whether the session was encrypted when the message came.
    pub encrypted: bool,
}

/// How a secure sink speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain text until the client says STARTTLS; nothing but EHLO, STARTTLS and QUIT before.
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Implicit,
}

struct Secure {
    tls: Tls,
    acceptor: TlsAcceptor,
    /// `(username, password)` AUTH must present before MAIL.
    login: (String, String),
}

#[derive(Default)]
struct State {
    received: Mutex<Vec<Received>>,
    defer_next: AtomicUsize,
    reject: Mutex<Option<String>>,
    queued: AtomicUsize,
    sessions: AtomicUsize,
    secure: Option<Secure>,
}

pub struct SmtpSink {
    pub port: u16,
    /// The sink's certificate (PEM), for the client to trust; empty without TLS.
    pub certificate_pem: String,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        Self::serve(State::default(), String::new()).await
    }

    /// A sink that speaks TLS as `tls` says and accepts only `username`/`password`.
    pub async fn start_secure(tls: Tls, username: &str, password: &str) -> SmtpSink {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
        let state = State {
            secure: Some(Secure {
                tls,
                acceptor: TlsAcceptor::from(Arc::new(config)),
                login: (username.to_owned(), password.to_owned()),
            }),
            ..State::default()
        };
        Self::serve(state, certified.cert.pem()).await
    }

    async fn serve(state: State, certificate_pem: String) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(state);
        let shared = state.clone();
        let server = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                shared.sessions.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(session(socket, shared.clone()));
            }
        });
        SmtpSink {
            port,
            certificate_pem,
            state,
            server,
        }
    }

    /// Connections accepted so far.
    pub fn sessions(&self) -> usize {
        self.state.sessions.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Answers the next `n` messages' DATA with `451` (try again later).
    pub fn defer_next(&self, n: usize) {
        self.state.defer_next.store(n, Ordering::SeqCst);
    }

    /// Refuses recipients whose address contains `part` with `550`.
    pub fn reject_recipients_containing(&self, part: &str) {
        *self.state.reject.lock().unwrap() = Some(part.to_owned());
    }
}

async fn session(socket: tokio::net::TcpStream, state: Arc<State>) {
    let Some(secure) = &state.secure else {
        converse(socket, &state, Phase::Plain).await;
        return;
    };
    match secure.tls {
        Tls::Implicit => {
            if let Ok(stream) = secure.acceptor.accept(socket).await {
                converse(stream, &state, Phase::Encrypted { greet: true }).await;
            }
        }
        Tls::Starttls => {
            if let Some(socket) = converse(socket, &state, Phase::BeforeStarttls).await
                && let Ok(stream) = secure.acceptor.accept(socket).await
            {
                converse(stream, &state, Phase::Encrypted { greet: false }).await;
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A sink without TLS.
    Plain,
    /// Plain text that must turn into TLS first.
    BeforeStarttls,
    /// Encrypted; after STARTTLS the client says EHLO again without a new greeting.
    Encrypted { greet: bool },
}

/// One SMTP conversation; returns the stream when the client asked for STARTTLS.
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    state: &State,
    phase: Phase,
) -> Option<S> {
    let mut lines = BufReader::new(stream);
    let reply = |text: &str| format!("{text}\r\n");
    if phase != (Phase::Encrypted { greet: false })
        && lines
            .get_mut()
            .write_all(reply("220 sink.test ESMTP").as_bytes())
            .await
            .is_err()
    {
        return None;
    }
    let login = state.secure.as_ref().map(|s| &s.login);
    let mut logged_in = login.is_none();
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return None;
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") && phase == Phase::BeforeStarttls {
            "250-sink.test\r\n250 STARTTLS".to_owned()
        } else if upper.starts_with("EHLO") {
            let auth = if login.is_some() {
                "250-AUTH PLAIN\r\n"
            } else {
                ""
            };
            format!("250-sink.test\r\n{auth}250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8")
        } else if upper == "STARTTLS" && phase == Phase::BeforeStarttls {
            let ready = reply("220 2.0.0 Ready to start TLS");
            lines.get_mut().write_all(ready.as_bytes()).await.ok()?;
            return Some(lines.into_inner());
        } else if phase == Phase::BeforeStarttls && upper != "QUIT" && upper != "NOOP" {
            "530 5.7.0 Must issue a STARTTLS command first".to_owned()
        } else if upper.starts_with("AUTH PLAIN") {
            let mut response = command[10..].trim().to_owned();
            if response.is_empty() {
                lines
                    .get_mut()
                    .write_all(reply("334 ").as_bytes())
                    .await
                    .ok()?;
                line.clear();
                lines.read_line(&mut line).await.ok()?;
                response = line.trim_end().to_owned();
            }
            // RFC 4616: authzid NUL authcid NUL passwd.
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(response)
                .unwrap_or_default();
            let mut parts = decoded.split(|b| *b == 0).skip(1);
            let given = (parts.next(), parts.next());
            let expected = login.map(|(u, p)| (Some(u.as_bytes()), Some(p.as_bytes())));
            if Some(given) == expected {
                logged_in = true;
                "235 2.7.0 Authentication successful".to_owned()
            } else {
                "535 5.7.8 Authentication credentials invalid".to_owned()
            }
        } else if upper.starts_with("MAIL FROM:") && !logged_in {
            "530 5.7.0 Authentication required".to_owned()
        } else if upper.starts_with("HELO") {
            "250 sink.test".to_owned()
        } else if upper.starts_with("MAIL FROM:") {
            from = command[10..].trim().to_owned();
            to.clear();
            "250 2.1.0 Ok".to_owned()
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = command[8..].trim().to_owned();
            let refused = state
                .reject
                .lock()
                .unwrap()
                .as_ref()
                .is_some_and(|p| rcpt.contains(p.as_str()));
            if refused {
                // As Postfix words it: the address comes back in the reply.
                format!("550 5.1.1 {rcpt}: Recipient address rejected: User unknown")
            } else {
                to.push(rcpt);
                "250 2.1.5 Ok".to_owned()
            }
        } else if upper == "DATA" {
            if lines
                .get_mut()
                .write_all(reply("354 End data with <CR><LF>.<CR><LF>").as_bytes())
                .await
                .is_err()
            {
                return None;
            }
            let mut data = Vec::new();
            loop {
                let mut raw = Vec::new();
                if lines.read_until(b'\n', &mut raw).await.unwrap_or(0) == 0 {
                    return None;
                }
                if raw == b".\r\n" {
                    break;
                }
                let unstuffed = if raw.starts_with(b"..") {
                    &raw[1..]
                } else {
                    &raw[..]
                };
                data.extend_from_slice(unstuffed);
            }
            let deferred = state
                .defer_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if deferred {
                "451 4.3.0 Try again later".to_owned()
            } else {
                state.received.lock().unwrap().push(Received {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                    encrypted: matches!(phase, Phase::Encrypted { .. }),
                });
                let n = state.queued.fetch_add(1, Ordering::SeqCst) + 1;
                format!("250 2.0.0 Ok: queued as SINK{n:05}")
            }
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            "250 2.0.0 Ok".to_owned()
        } else if upper == "NOOP" {
            "250 2.0.0 Ok".to_owned()
        } else if upper == "QUIT" {
            let _ = lines
                .get_mut()
                .write_all(reply("221 2.0.0 Bye").as_bytes())
                .await;
            return None;
        } else {
            "502 5.5.2 Command not recognized".to_owned()
        };
        if lines
            .get_mut()
            .write_all(reply(&answer).as_bytes())
            .await
            .is_err()
        {
            return None;
        }
    }
}
