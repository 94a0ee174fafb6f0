//! A local SMTP sink for the email scenario: speaks enough ESMTP for lettre (EHLO, MAIL,
//! RCPT, DATA with dot-stuffing, RSET, NOOP, QUIT), accepts everything, and records when
//! each message's DATA was accepted and for whom — not the message itself, which would
//! only cost memory. Trimmed from `tests/common/smtp_sink.rs` (no refusals or deferrals).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpListener;

use crate::Result;

/// One accepted message (the sink's "gateway acceptance").
#[derive(Debug, Clone)]
pub struct Accepted {
    pub at: Instant,
    pub to: Vec<String>,
}

#[derive(Default)]
struct State {
    accepted: Mutex<Vec<Accepted>>,
    count: AtomicUsize,
}

pub struct SmtpSink {
    pub port: u16,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl SmtpSink {
    pub async fn start() -> Result<SmtpSink> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(State::default());
        let shared = state.clone();
        let server = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let _ = socket.set_nodelay(true);
                tokio::spawn(session(socket, shared.clone()));
            }
        });
        Ok(SmtpSink {
            port,
            state,
            server,
        })
    }

    pub fn count(&self) -> usize {
        self.state.count.load(Ordering::Relaxed)
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.state.accepted.lock().expect("sink state").clone()
    }
}

async fn session(socket: tokio::net::TcpStream, state: Arc<State>) {
    let (read, write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let mut write = BufWriter::new(write);
    async fn reply(
        write: &mut BufWriter<tokio::net::tcp::OwnedWriteHalf>,
        text: &str,
    ) -> std::io::Result<()> {
        write.write_all(text.as_bytes()).await?;
        write.write_all(b"\r\n").await?;
        write.flush().await
    }
    if reply(&mut write, "220 sink.bench ESMTP").await.is_err() {
        return;
    }
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end();
        let upper = command.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") {
            "250-sink.bench\r\n250-8BITMIME\r\n250 SMTPUTF8"
        } else if upper.starts_with("HELO") {
            "250 sink.bench"
        } else if upper.starts_with("MAIL FROM:") {
            to.clear();
            "250 2.1.0 Ok"
        } else if upper.starts_with("RCPT TO:") {
            to.push(command[8..].trim().to_owned());
            "250 2.1.5 Ok"
        } else if upper == "DATA" {
            if reply(&mut write, "354 End data with <CR><LF>.<CR><LF>")
                .await
                .is_err()
            {
                return;
            }
            let mut raw = Vec::new();
            loop {
                raw.clear();
                if lines.read_until(b'\n', &mut raw).await.unwrap_or(0) == 0 {
                    return;
                }
                if raw == b".\r\n" {
                    break;
                }
            }
            state.accepted.lock().expect("sink state").push(Accepted {
                at: Instant::now(),
                to: std::mem::take(&mut to),
            });
            state.count.fetch_add(1, Ordering::Relaxed);
            "250 2.0.0 Ok: queued"
        } else if upper == "RSET" {
            to.clear();
            "250 2.0.0 Ok"
        } else if upper == "NOOP" {
            "250 2.0.0 Ok"
        } else if upper == "QUIT" {
            let _ = reply(&mut write, "221 2.0.0 Bye").await;
            return;
        } else {
            "502 5.5.2 Command not recognized"
        };
        if reply(&mut write, answer).await.is_err() {
            return;
        }
    }
}
