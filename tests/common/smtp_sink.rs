//! A small SMTP server on loopback for tests: speaks enough RFC 5321 for a real client
//! (EHLO, MAIL, RCPT, DATA with dot-stuffing, RSET, NOOP, QUIT), keeps what it receives,
//! and can refuse a recipient (550) or defer messages (451) on demand.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent, dot-stuffing undone, CRLF line ends.
    pub data: Vec<u8>,
}

#[derive(Default)]
struct State {
    received: Mutex<Vec<Received>>,
    defer_next: AtomicUsize,
    reject: Mutex<Option<String>>,
    queued: AtomicUsize,
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
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let shared = state.clone();
        let server = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(session(socket, shared.clone()));
            }
        });
        SmtpSink {
            port,
            state,
            server,
        }
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
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let reply = |text: &str| format!("{text}\r\n");
    if write
        .write_all(reply("220 sink.test ESMTP").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") {
            "250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8".to_owned()
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
            if write
                .write_all(reply("354 End data with <CR><LF>.<CR><LF>").as_bytes())
                .await
                .is_err()
            {
                return;
            }
            let mut data = Vec::new();
            loop {
                let mut raw = Vec::new();
                if lines.read_until(b'\n', &mut raw).await.unwrap_or(0) == 0 {
                    return;
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
            let _ = write.write_all(reply("221 2.0.0 Bye").as_bytes()).await;
            return;
        } else {
            "502 5.5.2 Command not recognized".to_owned()
        };
        if write.write_all(reply(&answer).as_bytes()).await.is_err() {
            return;
        }
    }
}
