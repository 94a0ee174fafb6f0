//! The variables a profile's templates see (the list is in [`super`]'s docs): the message's
//! own, its number in every form a provider may want, and the profile's.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::{BuildError, Kind, Message, PollQuery, Profile, profile};

impl Profile {
    /// A phone or fax number's forms: as `phone_format` says, digits, `+digits`.
    pub(super) fn number_forms(
        &self,
        number: &str,
    ) -> Result<(String, String, String), BuildError> {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        if !(10..=15).contains(&digits.len()) {
            return Err(BuildError::BadPhone(crate::pii::mask_phone(number)));
        }
        let plus = format!("+{digits}");
        let formatted = match self.inner.file.phone_format {
            profile::PhoneFormat::Digits => digits.clone(),
            profile::PhoneFormat::Plus => plus.clone(),
        };
        Ok((formatted, digits, plus))
    }

    /// The variables every template sees, for `m`.
    pub(super) fn context(
        &self,
        m: &Message<'_>,
        provider_id: &str,
    ) -> Result<serde_json::Value, BuildError> {
        if m.kind() != self.kind() {
            return Err(BuildError::WrongKind {
                profile: self.name().to_owned(),
                profile_kind: self.kind().as_str(),
                message_kind: m.kind().as_str(),
            });
        }
        let sender = m
            .sender()
            .or(self.inner.file.sender.as_deref())
            .unwrap_or_default();
        let mut ctx = serde_json::json!({
            "message_id": m.message_id(),
            "sender": sender,
            "base_url": self.inner.base_url,
            "callback_url": self.inner.callback_url,
            "provider_message_id": provider_id,
            "secret": self.inner.templates.secrets_json(),
        });
        let vars = ctx.as_object_mut().expect("an object");
        if let Some(doc) = m.document() {
            if !doc.pdf.starts_with(b"%PDF-") {
                return Err(BuildError::NotPdf);
            }
            vars.insert(
                "pdf_base64".into(),
                base64::engine::general_purpose::STANDARD
                    .encode(doc.pdf)
                    .into(),
            );
            vars.insert(
                "pdf_sha256".into(),
                hex::encode(Sha256::digest(doc.pdf)).into(),
            );
            vars.insert("pages".into(), doc.pages.into());
        }
        match m {
            Message::Sms(sms) => {
                let (to, digits, plus) = self.number_forms(sms.to)?;
                vars.insert("to".into(), to.into());
                vars.insert("to_digits".into(), digits.into());
                vars.insert("to_plus".into(), plus.into());
                vars.insert("text".into(), sms.text.into());
            }
            Message::Fax(fax) => {
                let (number, digits, plus) = self.number_forms(fax.to)?;
                vars.insert("fax_number".into(), number.into());
                vars.insert("fax_digits".into(), digits.into());
                vars.insert("fax_plus".into(), plus.into());
            }
            Message::Mail(mail) => {
                let p = &mail.recipient;
                let postcode = p.postcode.trim();
                if postcode.len() != 6 || !postcode.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(BuildError::BadPostal(
                        "the postcode must be six digits".into(),
                    ));
                }
                if p.name.trim().is_empty() || p.address.trim().is_empty() {
                    return Err(BuildError::BadPostal(
                        "the recipient's name and address must not be empty".into(),
                    ));
                }
                vars.insert("recipient_name".into(), p.name.trim().into());
                vars.insert("postcode".into(), postcode.into());
                vars.insert("address".into(), p.address.trim().into());
                vars.insert("service".into(), self.service().into());
            }
        }
        Ok(ctx)
    }

    /// The variables of a status request: a message of the profile's kind with nothing but
    /// its number (mail: nothing).
    pub(super) fn poll_context(&self, q: &PollQuery<'_>) -> Result<serde_json::Value, BuildError> {
        let mut ctx = serde_json::json!({
            "message_id": "",
            "sender": "",
            "base_url": self.inner.base_url,
            "callback_url": self.inner.callback_url,
            "provider_message_id": q.provider_message_id,
            "secret": self.inner.templates.secrets_json(),
        });
        let vars = ctx.as_object_mut().expect("an object");
        let names = match self.kind() {
            Kind::Sms => Some(["to", "to_digits", "to_plus"]),
            Kind::Fax => Some(["fax_number", "fax_digits", "fax_plus"]),
            Kind::Mail => None,
        };
        if let Some(names) = names {
            let (formatted, digits, plus) = self.number_forms(q.to)?;
            for (name, value) in names.into_iter().zip([formatted, digits, plus]) {
                vars.insert(name.into(), value.into());
            }
        }
        Ok(ctx)
    }
}
