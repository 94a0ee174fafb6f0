//! The CSV columns of `vestnik import` (docs/import.md): which column feeds which field
//! of a recipient, and how a fault found by intake's parser is named back as a column.
//!
//! A row becomes the JSON recipient of `POST /v1/intents`, so the one parser intake uses
//! ([`crate::intents::parse_recipient`]) checks it; nothing here judges a value.

use csv::StringRecord;
use serde_json::{Map, Value};

use crate::intents::IntentKind;
use crate::pii;

/// Every column the importer knows, in the documented order.
pub const ALL: [&str; 15] = [
    "account_number",
    "customer_type",
    "name",
    "time_zone",
    "region",
    "email",
    "phone",
    "fax",
    "postcode",
    "address",
    "channels",
    "contract_contacts",
    "debt_amount",
    "debt_period_from",
    "debt_period_to",
];

/// A recipient cannot be described without these.
const REQUIRED: [&str; 5] = [
    "account_number",
    "customer_type",
    "name",
    "time_zone",
    "channels",
];

/// The per-recipient fields of a `debt_warning` (schema `debt_fields`).
const DEBT: [&str; 3] = ["debt_amount", "debt_period_from", "debt_period_to"];

/// Where each known column sits in the file, if it is there.
#[derive(Debug, Clone)]
pub struct Columns {
    at: [Option<usize>; ALL.len()],
}

impl Columns {
    /// Reads the header. Unknown columns are refused, as intake refuses unknown fields: a
    /// typo (`emial`) must not silently drop every row's contact point.
    pub fn from_header(header: &StringRecord, kind: IntentKind) -> Result<Self, Vec<String>> {
        let mut at = [None; ALL.len()];
        let mut problems = Vec::new();
        for (i, raw) in header.iter().enumerate() {
            let name = raw.trim().to_ascii_lowercase();
            match ALL.iter().position(|c| *c == name) {
                Some(c) if at[c].is_some() => {
                    problems.push(format!("column '{name}' appears twice"))
                }
                Some(c) => at[c] = Some(i),
                None if name.is_empty() => problems.push(format!("column {} has no name", i + 1)),
                None => problems.push(format!(
                    "unknown column '{name}'; the columns are: {}",
                    ALL.join(", ")
                )),
            }
        }
        let has = |c: &str| at[index(c)].is_some();
        for c in REQUIRED.into_iter().filter(|c| !has(c)) {
            problems.push(format!("column '{c}' is missing"));
        }
        if kind == IntentKind::DebtWarning {
            for c in DEBT.into_iter().filter(|c| !has(c)) {
                problems.push(format!(
                    "column '{c}' is missing (required for debt_warning)"
                ));
            }
        } else if let Some(c) = DEBT.into_iter().find(|c| has(c)) {
            problems.push(format!("column '{c}' is only accepted for debt_warning"));
        }
        if problems.is_empty() {
            Ok(Self { at })
        } else {
            Err(problems)
        }
    }

    /// A cell, trimmed; an empty cell counts as absent.
    fn cell<'r>(&self, record: &'r StringRecord, column: &str) -> Option<&'r str> {
        self.at[index(column)]
            .and_then(|i| record.get(i))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// The row as a recipient of the intake request (the shape of `RawRecipient`).
    pub fn recipient(&self, record: &StringRecord) -> Value {
        let mut out = Map::new();
        let put = |into: &mut Map<String, Value>, key: &str, column: &str| {
            if let Some(v) = self.cell(record, column) {
                into.insert(key.to_owned(), Value::from(v));
            }
        };
        for c in [
            "account_number",
            "customer_type",
            "name",
            "time_zone",
            "region",
        ] {
            put(&mut out, c, c);
        }
        let mut contacts = Map::new();
        for c in ["email", "phone", "fax"] {
            put(&mut contacts, c, c);
        }
        let mut postal = Map::new();
        put(&mut postal, "postcode", "postcode");
        put(&mut postal, "address", "address");
        if !postal.is_empty() {
            contacts.insert("postal_address".into(), Value::Object(postal));
        }
        out.insert("contacts".into(), Value::Object(contacts));
        for field in ["channels", "contract_contacts"] {
            if let Some(channels) = self.cell(record, field) {
                // `;` or `,` between channels: whichever is not the file's delimiter can go
                // unquoted (`email;sms` in a comma file, `email,sms` in a semicolon file).
                let list: Vec<Value> = channels
                    .split([';', ','])
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(Value::from)
                    .collect();
                out.insert(field.into(), Value::Array(list));
            }
        }
        let mut debt = Map::new();
        put(&mut debt, "amount", "debt_amount");
        put(&mut debt, "period_from", "debt_period_from");
        put(&mut debt, "period_to", "debt_period_to");
        if !debt.is_empty() {
            out.insert("debt".into(), Value::Object(debt));
        }
        Value::Object(out)
    }

    /// The cell a fault is about, quoted for an error message, masked when it is personal
    /// data (152-FZ: the import log may be pasted into a ticket).
    pub fn quote(&self, record: &StringRecord, column: &str) -> Option<String> {
        let value = self.cell(record, column)?;
        let shown = match column {
            "email" => pii::mask_email(value),
            "phone" | "fax" => pii::mask_phone(value),
            "name" => pii::mask_name(value),
            "account_number" => pii::mask_digit_runs(value),
            // The parser's reason already names a bad zone, type or channel; an address,
            // a postcode or a debt is not worth quoting at all.
            _ => return None,
        };
        Some(shown)
    }
}

fn index(column: &str) -> usize {
    ALL.iter()
        .position(|c| *c == column)
        .expect("a known column")
}

/// The column a field path of intake's parser (under the prefix `row`) stands for.
pub fn column_of(path: &str) -> &str {
    let field = path.strip_prefix("row.").unwrap_or(path);
    match field {
        "contacts.email" => "email",
        "contacts.phone" => "phone",
        "contacts.fax" => "fax",
        "contacts.postal_address.postcode" => "postcode",
        "contacts.postal_address.address" => "address",
        "contacts.postal_address" => "postcode/address",
        "debt.amount" => "debt_amount",
        "debt.period_from" => "debt_period_from",
        "debt.period_to" => "debt_period_to",
        "debt" => "debt_amount/debt_period_from/debt_period_to",
        // The row as a whole (a deadline already past for this recipient).
        "" | "row" => "row",
        f if f.starts_with("channels") => "channels",
        f if f.starts_with("contract_contacts") => "contract_contacts",
        f => f,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cols: &[&str]) -> StringRecord {
        StringRecord::from(cols.to_vec())
    }

    #[test]
    fn header_typos_and_kind_mismatches_are_named() {
        let mut cols = REQUIRED.to_vec();
        cols.push("emial");
        let problems = Columns::from_header(&header(&cols), IntentKind::PlannedOutage).unwrap_err();
        assert!(
            problems[0].contains("unknown column 'emial'"),
            "{problems:?}"
        );
        let problems =
            Columns::from_header(&header(&REQUIRED), IntentKind::DebtWarning).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn a_row_becomes_an_intake_recipient() {
        let cols = Columns::from_header(&header(&ALL[..12]), IntentKind::PlannedOutage).unwrap();
        let row = StringRecord::from(vec![
            " 7701 ",
            "individual",
            "Иванов И.",
            "Europe/Moscow",
            "RU-TA",
            "",
            "+79161234567",
            "",
            "101000",
            "Москва",
            "sms; mail",
            "sms",
        ]);
        let json = cols.recipient(&row);
        assert_eq!(json["account_number"], "7701");
        assert_eq!(json["region"], "RU-TA");
        assert_eq!(json["contacts"]["postal_address"]["postcode"], "101000");
        assert!(json["contacts"].get("email").is_none());
        assert_eq!(json["channels"], serde_json::json!(["sms", "mail"]));
        assert_eq!(json["contract_contacts"], serde_json::json!(["sms"]));
        assert_eq!(cols.quote(&row, "phone").unwrap(), "+7******4567");
        assert_eq!(
            column_of("row.contacts.postal_address.postcode"),
            "postcode"
        );
        assert_eq!(column_of("row.channels[1]"), "channels");
        assert_eq!(column_of("row.contract_contacts[0]"), "contract_contacts");
    }
}
