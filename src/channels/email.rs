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
    // Built from its parts, not parsed from `Name <email>`: a name with a comma or quote
    // (`ООО «Энергосбыт», филиал`) is quoted by lettre instead of failing every email.
    let from = Mailbox::new(
        Some(sender.name.clone()),
        sender
            .email
            .parse()
            .map_err(|e| format!("organization.email is not an address: {e}"))?,
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipients::Channel;
    use crate::settings::Settings;

    #[test]
    fn a_sender_name_with_a_comma_and_quotes_is_quoted_not_refused() {
        let mut org = Settings::defaults().organization;
        org.name = r#"ООО «Энергосбыт», филиал "Юг""#.into();
        let message = Outgoing {
            message_id: "m-1".into(),
            channel: Channel::Email,
            to: Destination::Email {
                address: "ivan@example.ru".into(),
                name: "Иванов, Иван".into(),
            },
            content: Rendered::Email {
                subject: "Тема".into(),
                text: "текст".into(),
                html: "<p>текст</p>".into(),
            },
            attachment: None,
        };
        let built = build(&message, &org).expect("the name is quoted");
        let from = built.headers().get::<lettre::message::header::From>();
        let from = lettre::message::Mailboxes::from(from.unwrap());
        let mailbox = from.iter().next().unwrap();
        assert_eq!(mailbox.name.as_deref(), Some(org.name.as_str()));
        assert_eq!(mailbox.email.to_string(), org.email);
    }
}
