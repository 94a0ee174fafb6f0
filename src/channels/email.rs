//! The email itself, one home for every gateway that carries it (outbox files, SMTP).

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};

use crate::settings::Organization;

/// A complete RFC 5322 message built by lettre: RFC 2047 encoded Cyrillic headers,
/// `multipart/alternative` text + HTML, and our own Message-ID for support and audit.
pub fn build(
    message_id: &str,
    sender: &Organization,
    address: &str,
    name: &str,
    subject: &str,
    text: &str,
    html: &str,
) -> Result<Message, String> {
    let from: Mailbox = format!("{} <{}>", sender.name, sender.email)
        .parse()
        .map_err(|e| format!("organization.email is not a mailbox: {e}"))?;
    let to = Mailbox::new(
        Some(name.to_owned()),
        address.parse().map_err(|e| format!("bad address: {e}"))?,
    );
    let domain = sender
        .email
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("vestnik.local");
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{message_id}@{domain}>")))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text.to_owned()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.to_owned()),
                ),
        )
        .map_err(|e| format!("cannot build email: {e}"))
}
