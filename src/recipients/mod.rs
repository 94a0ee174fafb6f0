//! Recipients of an intent: who they are, where they live (time zone) and how to reach them.

mod contacts;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use contacts::{EmailAddress, PhoneNumber, PostalAddress};

use crate::validation::{FieldErrors, Loose, optional, required, text};

/// What a `region` must look like.
pub const REGION_FORMAT: &str =
    "must be the region's ISO 3166-2 code: RU- and 2 or 3 capital letters, e.g. RU-TA";

/// Individual (household) or legal entity: deadlines and channel plans differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerType {
    Individual,
    LegalEntity,
}

impl CustomerType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Individual => "individual",
            Self::LegalEntity => "legal_entity",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "individual" => Some(Self::Individual),
            "legal_entity" => Some(Self::LegalEntity),
            _ => None,
        }
    }
}

/// A way of delivering a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    /// A postal letter (registered where the kind asks for it).
    Mail,
    Fax,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Email, Channel::Sms, Channel::Mail, Channel::Fax];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Mail => "mail",
            Self::Fax => "fax",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The contact point this channel needs, as named in the request.
    pub fn contact_field(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "phone",
            Self::Mail => "postal_address",
            Self::Fax => "fax",
        }
    }
}

/// Where a recipient can be reached; only what the request gave.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneNumber>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fax: Option<PhoneNumber>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_address: Option<PostalAddress>,
}

impl Contacts {
    pub fn has(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email.is_some(),
            Channel::Sms => self.phone.is_some(),
            Channel::Mail => self.postal_address.is_some(),
            Channel::Fax => self.fax.is_some(),
        }
    }
}

/// A validated recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipient {
    pub account_number: String,
    pub customer_type: CustomerType,
    pub name: String,
    pub time_zone: Tz,
    /// ISO 3166-2 code (`RU-TA`): the region whose own days off count for this recipient's
    /// deadlines and sending windows (`config/calendar/overlays/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub contacts: Contacts,
    pub channels: Vec<Channel>,
    /// The channels whose contact point (in `contacts`) is the one the supply contract
    /// names: where the plan says so, a notice sent there counts as received when sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contract_contacts: Vec<Channel>,
    /// Kind-specific per-recipient fields (e.g. the debt of a `debt_warning`), normalised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debt: Option<Value>,
    /// A letter the caller typeset itself, sent by mail and fax instead of ours; checked
    /// as a print house would before the intent is accepted (see `api::letters`).
    #[serde(skip)]
    pub letter_pdf: Option<std::sync::Arc<Vec<u8>>>,
}

/// A recipient as it arrived: every field loose, so all its errors can be reported.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecipient {
    account_number: Option<Loose<String>>,
    customer_type: Option<Loose<String>>,
    name: Option<Loose<String>>,
    time_zone: Option<Loose<String>>,
    region: Option<Loose<String>>,
    contacts: Option<Loose<RawContacts>>,
    channels: Option<Loose<Vec<String>>>,
    contract_contacts: Option<Loose<Vec<String>>>,
    debt: Option<Value>,
    /// Base64 of a precompiled PDF letter.
    letter_pdf: Option<Loose<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContacts {
    email: Option<Loose<String>>,
    phone: Option<Loose<String>>,
    fax: Option<Loose<String>>,
    postal_address: Option<Loose<RawPostalAddress>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPostalAddress {
    postcode: Option<Loose<String>>,
    address: Option<Loose<String>>,
}

impl RawRecipient {
    /// Parses the recipient at `path`; the kind-specific `debt` is left to the caller
    /// (it knows the kind's schema) and returned raw alongside.
    pub fn parse(self, path: &str, errors: &mut FieldErrors) -> Option<(Recipient, Option<Value>)> {
        let before = errors.len();
        let p = |f: &str| format!("{path}.{f}");

        let account_number =
            required(self.account_number, &p("account_number"), errors).and_then(|a| {
                parse_account_number(&a)
                    .map_err(|e| errors.push(p("account_number"), e))
                    .ok()
            });
        let customer_type =
            required(self.customer_type, &p("customer_type"), errors).and_then(|t| {
                CustomerType::parse(&t)
                    .ok_or_else(|| {
                        errors.push(p("customer_type"), "must be 'individual' or 'legal_entity'")
                    })
                    .ok()
            });
        let name = text(
            required(self.name, &p("name"), errors),
            &p("name"),
            300,
            errors,
        );
        let time_zone = required(self.time_zone, &p("time_zone"), errors).and_then(|z| {
            z.parse::<Tz>()
                .map_err(|_| errors.push(p("time_zone"), format!("'{z}' is not an IANA time zone")))
                .ok()
        });
        let region = optional(self.region, &p("region"), errors).and_then(|r| {
            crate::calendar::is_region_code(&r)
                .then_some(r)
                .ok_or_else(|| errors.push(p("region"), REGION_FORMAT))
                .ok()
        });
        let contacts = required(self.contacts, &p("contacts"), errors)
            .map(|c| c.parse(&p("contacts"), errors))
            .unwrap_or_default();
        let channels = parse_channels(
            required(self.channels, &p("channels"), errors),
            &p("channels"),
            errors,
        );
        for channel in channels.iter().flatten() {
            if !contacts.has(*channel) {
                errors.push(
                    format!("{path}.contacts.{}", channel.contact_field()),
                    format!("is required for the '{}' channel", channel.as_str()),
                );
            }
        }
        let contract_path = p("contract_contacts");
        let contract_contacts =
            optional(self.contract_contacts, &contract_path, errors).map(|raw| {
                let listed = parse_channel_list(&raw, &contract_path, errors);
                for (i, channel) in listed.iter().enumerate() {
                    if !contacts.has(*channel) {
                        errors.push(
                            format!("{contract_path}[{i}]"),
                            format!(
                                "names the contract's {} but contacts.{} is not given",
                                channel.contact_field(),
                                channel.contact_field()
                            ),
                        );
                    }
                }
                listed
            });

        let letter_pdf = optional(self.letter_pdf, &p("letter_pdf"), errors).and_then(|b64| {
            use base64::Engine;
            match base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
                Ok(pdf) if pdf.starts_with(b"%PDF-") => Some(std::sync::Arc::new(pdf)),
                Ok(_) => {
                    errors.push(p("letter_pdf"), "is not a PDF (no %PDF- header)");
                    None
                }
                Err(e) => {
                    errors.push(p("letter_pdf"), format!("is not base64: {e}"));
                    None
                }
            }
        });
        if letter_pdf.is_some()
            && !channels
                .iter()
                .flatten()
                .any(|c| matches!(c, Channel::Mail | Channel::Fax))
        {
            errors.push(
                p("letter_pdf"),
                "is sent by mail or fax; add one of those channels",
            );
        }

        if errors.len() != before {
            return None;
        }
        Some((
            Recipient {
                account_number: account_number?,
                customer_type: customer_type?,
                name: name?,
                time_zone: time_zone?,
                region,
                contacts,
                channels: channels?,
                contract_contacts: contract_contacts.unwrap_or_default(),
                debt: None,
                letter_pdf,
            },
            self.debt,
        ))
    }
}

impl RawContacts {
    fn parse(self, path: &str, errors: &mut FieldErrors) -> Contacts {
        let p = |f: &str| format!("{path}.{f}");
        let email = optional(self.email, &p("email"), errors).and_then(|e| {
            EmailAddress::parse(&e)
                .map_err(|why| errors.push(p("email"), why))
                .ok()
        });
        let phone = optional(self.phone, &p("phone"), errors).and_then(|n| {
            PhoneNumber::parse(&n)
                .map_err(|why| errors.push(p("phone"), why))
                .ok()
        });
        let fax = optional(self.fax, &p("fax"), errors).and_then(|n| {
            PhoneNumber::parse(&n)
                .map_err(|why| errors.push(p("fax"), why))
                .ok()
        });
        let postal_address =
            optional(self.postal_address, &p("postal_address"), errors).and_then(|a| {
                let pa = |f: &str| format!("{path}.postal_address.{f}");
                let postcode = required(a.postcode, &pa("postcode"), errors)?;
                let address = required(a.address, &pa("address"), errors)?;
                PostalAddress::parse(&postcode, &address)
                    .map_err(|(field, why)| errors.push(pa(field), why))
                    .ok()
            });
        Contacts {
            email,
            phone,
            fax,
            postal_address,
        }
    }
}

/// An account number as intake accepts it: trimmed, 1-32 of `[0-9A-Za-z/-]`.
pub fn parse_account_number(raw: &str) -> Result<String, String> {
    let a = raw.trim();
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '/';
    if a.is_empty() || a.len() > 32 || !a.chars().all(ok_char) {
        return Err("must be 1-32 characters: digits, latin letters, '-' or '/'".into());
    }
    Ok(a.to_owned())
}

fn parse_channels(
    raw: Option<Vec<String>>,
    path: &str,
    errors: &mut FieldErrors,
) -> Option<Vec<Channel>> {
    let raw = raw?;
    if raw.is_empty() {
        errors.push(path, "must name at least one channel");
        return None;
    }
    Some(parse_channel_list(&raw, path, errors))
}

/// Channel names, each known and listed once; faults are named by position.
fn parse_channel_list(raw: &[String], path: &str, errors: &mut FieldErrors) -> Vec<Channel> {
    let mut channels = Vec::with_capacity(raw.len());
    for (i, name) in raw.iter().enumerate() {
        match Channel::parse(name) {
            Some(c) if channels.contains(&c) => {
                errors.push(format!("{path}[{i}]"), format!("'{name}' is listed twice"))
            }
            Some(c) => channels.push(c),
            None => errors.push(
                format!("{path}[{i}]"),
                format!("unknown channel '{name}': use email, sms, mail or fax"),
            ),
        }
    }
    channels
}
