//! What a rendered notice must contain: every mandatory field of its kind, formatted as the
//! templates format it, derived from the field schema rather than listed by hand.

use chrono_tz::Tz;
use serde_json::Value;
use vestnik::intents::IntentKind;
use vestnik::intents::schema::{self, Field, FieldType};
use vestnik::templates::helpers::{date_ru, money_ru, phone_ru, time_ru};

/// The strings a full notice (email text, letter) for `recipient` must contain.
pub fn mandatory_texts(
    kind: IntentKind,
    event: &Value,
    recipient: &Value,
    org_name: &str,
) -> Vec<String> {
    let tz: Tz = recipient["time_zone"].as_str().unwrap().parse().unwrap();
    let local = schema::localize(schema::event_fields(kind), event, tz);
    let mut out = vec![org_name.to_owned()];
    collect(schema::event_fields(kind), &local, &mut out);
    if kind == IntentKind::DebtWarning {
        out.push(recipient["account_number"].as_str().unwrap().to_owned());
        let mut errors = vestnik::validation::FieldErrors::default();
        let debt = schema::validate(
            schema::debt_fields(),
            &recipient["debt"],
            "debt",
            &mut errors,
        )
        .unwrap();
        collect(schema::debt_fields(), &debt, &mut out);
    }
    out
}

fn collect(fields: &[Field], value: &Value, out: &mut Vec<String>) {
    for field in fields.iter().filter(|f| f.required) {
        let v = &value[field.name];
        match field.ty {
            FieldType::Text(_) => out.push(v.as_str().unwrap().to_owned()),
            FieldType::OneOf(_) => {}
            FieldType::TextList(_) => out.extend(
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_owned()),
            ),
            FieldType::Date => out.push(date_ru(v.as_str().unwrap()).unwrap()),
            FieldType::DateTime => {
                out.push(date_ru(v.as_str().unwrap()).unwrap());
                // An appeal is cited by number and date of registration; the hour is not part of it.
                if field.name != "appeal_registered_at" {
                    out.push(time_ru(v.as_str().unwrap()).unwrap());
                }
            }
            FieldType::TimeOfDay => out.push(v.as_str().unwrap().to_owned()),
            FieldType::Phone => out.push(phone_ru(v.as_str().unwrap()).unwrap()),
            FieldType::Money => out.push(money_ru(&money(v)).unwrap()),
            FieldType::Object(inner) => collect(inner, v, out),
            FieldType::List(inner) => {
                for item in v.as_array().unwrap() {
                    collect(inner, item, out);
                }
            }
        }
    }
}

fn money(v: &Value) -> String {
    vestnik::intents::Money::parse(v).unwrap().to_string()
}
