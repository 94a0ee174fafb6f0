//! The email itself, one home for every gateway that carries it (outbox files, SMTP).

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use super::{Destination, Outgoing};
use crate::settings::Organization;
use crate::templates::Rendered;

/// A complete RFC 5322 message built by lettre: RFC 2047 encoded Cyrillic headers,
/// `multipart/alternative` text + HTML, our own Message-ID for support and audit, and the
/// letter's PDF attached when the message carries one (`multipart/mixed` around it).
pub fn build(message: &Outgoing, sender: &Organization) -> Result<Message, String> {
    let (
        Destination::Email { address, name },
        Rendered::Email {
            subject,
            text,
            html,
        },
    ) = (&message.to, &message.content)
    else {
        return Err("only email content goes to an email address".into());
    };
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
    let alternative = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(text.to_owned()),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(html.to_owned()),
        );
    let builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{}@{domain}>", message.message_id)));
    let built = match &message.attachment {
        Some(pdf) => builder.multipart(MultiPart::mixed().multipart(alternative).singlepart(
            Attachment::new("letter.pdf".into()).body(
                pdf.to_vec(),
                ContentType::parse("application/pdf").expect("a valid MIME type"),
            ),
        )),
        None => builder.multipart(alternative),
    };
    built.map_err(|e| format!("cannot build email: {e}"))
}
