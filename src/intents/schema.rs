//! The fields of each intent kind, as data: what is mandatory by law, of which type, and
//! what the standard calls it.
//!
//! One schema serves three masters: intake validates requests against it, the renderer
//! localises date-times by it, and template validation checks that every mandatory field
//! is referenced.

use chrono::{DateTime, NaiveDate, NaiveTime};
use chrono_tz::Tz;
use serde_json::{Map, Value};

use super::IntentKind;
use super::money::Money;
use crate::recipients::PhoneNumber;
use crate::validation::FieldErrors;

#[derive(Debug, Clone, Copy)]
pub enum FieldType {
    /// Non-blank text of at most this many characters.
    Text(usize),
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339 with an offset; shown in the recipient's time zone.
    DateTime,
    /// `HH:MM`, already local to the recipient.
    TimeOfDay,
    Phone,
    Money,
    /// One of a fixed set of words.
    OneOf(&'static [&'static str]),
    /// A non-empty list of non-blank texts, each at most this many characters.
    TextList(usize),
    Object(&'static [Field]),
    /// A non-empty list of objects.
    List(&'static [Field]),
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    /// Mandatory by the standard or the law: the notice is unlawful without it.
    pub required: bool,
    /// The standard's wording, for error messages and the template editor.
    pub label: &'static str,
}

const fn req(name: &'static str, ty: FieldType, label: &'static str) -> Field {
    Field {
        name,
        ty,
        required: true,
        label,
    }
}

const fn opt(name: &'static str, ty: FieldType, label: &'static str) -> Field {
    Field {
        name,
        ty,
        required: false,
        label,
    }
}

const SHORT: FieldType = FieldType::Text(500);
const LONG: FieldType = FieldType::Text(20_000);

const PERSON: &[Field] = &[
    req("position", SHORT, "должность"),
    req("full_name", SHORT, "ФИО"),
];

const PLANNED_OUTAGE: &[Field] = &[
    req("work_kind", SHORT, "вид работ"),
    req("reason", SHORT, "причина проведения работ"),
    req(
        "starts_at",
        FieldType::DateTime,
        "дата и время начала работ",
    ),
    req(
        "ends_at",
        FieldType::DateTime,
        "дата и время окончания работ (сроки)",
    ),
    req(
        "responsible",
        FieldType::Object(PERSON),
        "должность и ФИО ответственного лица",
    ),
    req("contact_phone", FieldType::Phone, "контактный телефон"),
    opt("area", LONG, "адреса / участок сети"),
];

const METER_VISIT: &[Field] = &[
    req("work_kind", SHORT, "вид работ"),
    req("visit_date", FieldType::Date, "дата считывания показаний"),
    req(
        "interval_from",
        FieldType::TimeOfDay,
        "ориентировочный интервал: с",
    ),
    req(
        "interval_to",
        FieldType::TimeOfDay,
        "ориентировочный интервал: до",
    ),
    req(
        "responsible",
        FieldType::Object(PERSON),
        "должность и ФИО ответственного лица",
    ),
    req("contact_phone", FieldType::Phone, "контактный телефон"),
    opt("controller", FieldType::Object(PERSON), "контролёр"),
];

const DEBT_WARNING: &[Field] = &[
    req(
        "restriction_date",
        FieldType::Date,
        "дата возможного ограничения",
    ),
    req("pay_by", FieldType::Date, "срок оплаты"),
    req(
        "payment_methods",
        FieldType::TextList(1000),
        "способы оплаты",
    ),
    req("contact_phone", FieldType::Phone, "контактный телефон"),
];

const DEBT: &[Field] = &[
    req("amount", FieldType::Money, "сумма задолженности"),
    req("period_from", FieldType::Date, "период задолженности: с"),
    req("period_to", FieldType::Date, "период задолженности: по"),
];

const TARIFF: &[Field] = &[
    req("name", SHORT, "тариф"),
    req("unit", SHORT, "единица измерения"),
    req("old_price", FieldType::Money, "действующая цена"),
    req("new_price", FieldType::Money, "новая цена"),
];

const TARIFF_CHANGE: &[Field] = &[
    req("tariffs", FieldType::List(TARIFF), "изменяемые тарифы"),
    req("effective_from", FieldType::Date, "дата начала действия"),
    req("legal_basis", SHORT, "основание (приказ регулятора)"),
    req("contact_phone", FieldType::Phone, "контактный телефон"),
];

const EXECUTOR: &[Field] = &[
    req("full_name", SHORT, "ФИО исполнителя"),
    req("phone", FieldType::Phone, "телефон исполнителя"),
];

const APPEAL_REPLY: &[Field] = &[
    req("appeal_number", SHORT, "номер обращения"),
    req(
        "appeal_registered_at",
        FieldType::DateTime,
        "дата регистрации обращения",
    ),
    req("answer", LONG, "ответ по существу"),
    req("executor", FieldType::Object(EXECUTOR), "исполнитель"),
    req(
        "signatory",
        FieldType::Object(PERSON),
        "должностное лицо, подписавшее ответ",
    ),
    // Which reply term applies (config/policies.toml): a written or email appeal (15 days),
    // the same after an interim reply (15 more), or one left on the answering machine.
    opt(
        "appeal_kind",
        FieldType::OneOf(&[
            "written",
            "written_extended",
            "answering_machine_phone",
            "answering_machine_address",
        ]),
        "вид обращения (срок ответа)",
    ),
];

/// The event fields of a kind.
pub fn event_fields(kind: IntentKind) -> &'static [Field] {
    match kind {
        IntentKind::PlannedOutage => PLANNED_OUTAGE,
        IntentKind::MeterVisit => METER_VISIT,
        IntentKind::DebtWarning => DEBT_WARNING,
        IntentKind::TariffChange => TARIFF_CHANGE,
        IntentKind::AppealReply => APPEAL_REPLY,
    }
}

/// The `debt` fields each recipient of a `debt_warning` carries (amounts are per account).
pub fn debt_fields() -> &'static [Field] {
    DEBT
}

/// Checks `value` against `fields`, reporting every problem under `path`, and returns the
/// value in canonical form (trimmed text, E.164 phones, `1234.56` money).
pub fn validate(
    fields: &[Field],
    value: &Value,
    path: &str,
    errors: &mut FieldErrors,
) -> Option<Value> {
    let Some(object) = value.as_object() else {
        errors.push(path, "must be an object");
        return None;
    };
    let before = errors.len();
    for key in object.keys() {
        if !fields.iter().any(|f| f.name == key) {
            errors.push(format!("{path}.{key}"), "unknown field");
        }
    }
    let mut out = Map::new();
    for field in fields {
        let field_path = format!("{path}.{}", field.name);
        match object.get(field.name) {
            None | Some(Value::Null) if field.required => errors.push(field_path, "is required"),
            None | Some(Value::Null) => {}
            Some(v) => {
                if let Some(canonical) = validate_value(field.ty, v, &field_path, errors) {
                    out.insert(field.name.to_owned(), canonical);
                }
            }
        }
    }
    (errors.len() == before).then_some(Value::Object(out))
}

fn validate_value(ty: FieldType, v: &Value, path: &str, errors: &mut FieldErrors) -> Option<Value> {
    let as_str = |errors: &mut FieldErrors| match v.as_str() {
        Some(s) => Some(s.trim()),
        None => {
            errors.push(path, "must be a string");
            None
        }
    };
    let result: Result<Value, String> = match ty {
        FieldType::Text(max) => {
            let s = as_str(errors)?;
            if s.is_empty() {
                Err("must not be empty".into())
            } else if s.chars().count() > max {
                Err(format!("must be at most {max} characters"))
            } else {
                Ok(Value::String(s.to_owned()))
            }
        }
        FieldType::Date => {
            let s = as_str(errors)?;
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| Value::String(d.to_string()))
                .map_err(|_| format!("'{s}' is not a date (YYYY-MM-DD)"))
        }
        FieldType::DateTime => {
            let s = as_str(errors)?;
            DateTime::parse_from_rfc3339(s)
                .map(|d| Value::String(d.to_rfc3339()))
                .map_err(|_| format!("'{s}' is not an RFC 3339 date-time with offset, e.g. 2026-12-15T09:00:00+03:00"))
        }
        FieldType::TimeOfDay => {
            let s = as_str(errors)?;
            NaiveTime::parse_from_str(s, "%H:%M")
                .map(|t| Value::String(t.format("%H:%M").to_string()))
                .map_err(|_| format!("'{s}' is not a time of day (HH:MM)"))
        }
        FieldType::Phone => {
            let s = as_str(errors)?;
            PhoneNumber::parse(s).map(|p| Value::String(p.as_str().to_owned()))
        }
        FieldType::Money => Money::parse(v).map(|m| Value::String(m.to_string())),
        FieldType::OneOf(words) => {
            let s = as_str(errors)?;
            if words.contains(&s) {
                Ok(Value::String(s.to_owned()))
            } else {
                Err(format!("'{s}' is not one of: {}", words.join(", ")))
            }
        }
        FieldType::TextList(max) => {
            let Some(items) = v.as_array().filter(|items| !items.is_empty()) else {
                errors.push(path, "must be a non-empty list of strings");
                return None;
            };
            let before = errors.len();
            let out: Vec<Value> = items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    validate_value(FieldType::Text(max), item, &format!("{path}[{i}]"), errors)
                })
                .collect();
            return (errors.len() == before).then_some(Value::Array(out));
        }
        FieldType::Object(fields) => return validate(fields, v, path, errors),
        FieldType::List(fields) => {
            let Some(items) = v.as_array() else {
                errors.push(path, "must be a list");
                return None;
            };
            if items.is_empty() {
                errors.push(path, "must not be empty");
                return None;
            }
            let before = errors.len();
            let out: Vec<Value> = items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| validate(fields, item, &format!("{path}[{i}]"), errors))
                .collect();
            return (errors.len() == before).then_some(Value::Array(out));
        }
    };
    result.map_err(|why| errors.push(path, why)).ok()
}

/// A copy of a canonical value with every date-time moved into `tz`, so templates show
/// the recipient's own clock.
pub fn localize(fields: &[Field], value: &Value, tz: Tz) -> Value {
    let Some(object) = value.as_object() else {
        return value.clone();
    };
    let mut out = object.clone();
    for field in fields {
        let Some(v) = out.get_mut(field.name) else {
            continue;
        };
        match field.ty {
            FieldType::DateTime => {
                if let Some(dt) = v
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                {
                    *v = Value::String(dt.with_timezone(&tz).fixed_offset().to_rfc3339());
                }
            }
            FieldType::Object(inner) => *v = localize(inner, v, tz),
            FieldType::List(inner) => {
                if let Some(items) = v.as_array_mut() {
                    for item in items {
                        *item = localize(inner, item, tz);
                    }
                }
            }
            _ => {}
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let mut errors = FieldErrors::default();
        let event = json!({
            "work_kind": " ",
            "starts_at": "tomorrow",
            "ends_at": "2026-12-15T17:00:00+03:00",
            "responsible": {"position": "мастер"},
            "contact_phone": "8800",
            "colour": "red"
        });
        assert!(
            validate(
                event_fields(IntentKind::PlannedOutage),
                &event,
                "event",
                &mut errors
            )
            .is_none()
        );
        let fields: Vec<String> = errors.into_vec().into_iter().map(|e| e.field).collect();
        for expected in [
            "event.colour",
            "event.work_kind",
            "event.reason",
            "event.starts_at",
            "event.responsible.full_name",
            "event.contact_phone",
        ] {
            assert!(
                fields.contains(&expected.to_string()),
                "{expected} missing from {fields:?}"
            );
        }
    }

    #[test]
    fn canonical_values_come_back() {
        let mut errors = FieldErrors::default();
        let tariffs = json!({
            "tariffs": [{"name": "Одноставочный", "unit": "руб./кВт·ч", "old_price": 6.43, "new_price": "7,12"}],
            "effective_from": "2027-07-01",
            "legal_basis": "Приказ № 1",
            "contact_phone": "+78001000000"
        });
        let v = validate(
            event_fields(IntentKind::TariffChange),
            &tariffs,
            "event",
            &mut errors,
        )
        .unwrap();
        assert_eq!(v["tariffs"][0]["new_price"], "7.12");
        assert_eq!(v["tariffs"][0]["old_price"], "6.43");
    }

    #[test]
    fn date_times_are_shown_in_the_recipients_zone() {
        let v = json!({"starts_at": "2026-12-15T09:00:00+03:00"});
        let local = localize(
            event_fields(IntentKind::PlannedOutage),
            &v,
            chrono_tz::Asia::Novosibirsk,
        );
        assert_eq!(local["starts_at"], "2026-12-15T13:00:00+07:00");
    }
}
