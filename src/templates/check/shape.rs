//! What a template of a kind may reference, and what it must print: the context's shape
//! and the kind's mandatory fields, both derived from the field schema
//! ([`crate::intents::schema`]) so that a new field needs no second list here.

use std::collections::BTreeMap;

use crate::intents::IntentKind;
use crate::intents::schema::{self, Field, FieldType};

/// The shape of a context value.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Text, a date, a number: something a template prints.
    Scalar,
    Object(BTreeMap<&'static str, Shape>),
    List(Box<Shape>),
}

impl Shape {
    fn object(fields: &[(&'static str, Shape)]) -> Shape {
        Shape::Object(fields.iter().cloned().collect())
    }

    fn scalars(names: &[&'static str]) -> Shape {
        Shape::Object(names.iter().map(|n| (*n, Shape::Scalar)).collect())
    }
}

/// A field the notice is unlawful without, by its path in the context
/// (`event.tariffs[].name`: the `name` of every item of `event.tariffs`).
#[derive(Debug, Clone, PartialEq)]
pub struct Mandatory {
    pub path: String,
    pub label: &'static str,
    /// Which halves it must show when printed through `date_ru` / `time_ru` rather than
    /// whole: (date, time). A date and time needs both; a time of day, the time.
    pub halves: (bool, bool),
}

/// The context of `kind` as [`crate::templates::context::build`] makes it.
pub fn context_shape(kind: IntentKind) -> Shape {
    let mut recipient = vec![
        ("name", Shape::Scalar),
        ("account_number", Shape::Scalar),
        ("customer_type", Shape::Scalar),
        ("postal_address", Shape::scalars(&["postcode", "address"])),
    ];
    if kind == IntentKind::DebtWarning {
        recipient.push(("debt", fields_shape(schema::debt_fields())));
    }
    Shape::object(&[
        (
            "org",
            Shape::scalars(&["name", "address", "phone", "email", "website"]),
        ),
        ("intent", Shape::scalars(&["id", "external_id", "kind"])),
        ("event", fields_shape(schema::event_fields(kind))),
        ("recipient", Shape::object(&recipient)),
        (
            "message",
            Shape::scalars(&["id", "channel", "outgoing_number", "date"]),
        ),
    ])
}

fn fields_shape(fields: &[Field]) -> Shape {
    Shape::Object(fields.iter().map(|f| (f.name, type_shape(f.ty))).collect())
}

fn type_shape(ty: FieldType) -> Shape {
    match ty {
        FieldType::TextList(_) => Shape::List(Box::new(Shape::Scalar)),
        FieldType::Object(fields) => fields_shape(fields),
        FieldType::List(fields) => Shape::List(Box::new(fields_shape(fields))),
        _ => Shape::Scalar,
    }
}

/// Date-time fields of which the standard asks for the date alone ("дата регистрации
/// обращения"); of every other date-time field it asks for both ("дата и время начала").
const DATE_ONLY: [&str; 1] = ["event.appeal_registered_at"];

/// Every mandatory field of `kind`: the organisation's name (every notice), the event's
/// required fields, and for a debt the account and the debt itself (standard 7, row 1.1).
pub fn mandatory(kind: IntentKind) -> Vec<Mandatory> {
    let mut out = vec![Mandatory {
        path: "org.name".into(),
        label: "наименование организации",
        halves: (true, false),
    }];
    collect("event", schema::event_fields(kind), &mut out);
    if kind == IntentKind::DebtWarning {
        out.push(Mandatory {
            path: "recipient.account_number".into(),
            label: "лицевой счёт",
            halves: (true, false),
        });
        collect("recipient.debt", schema::debt_fields(), &mut out);
    }
    out
}

fn collect(prefix: &str, fields: &[Field], out: &mut Vec<Mandatory>) {
    for field in fields.iter().filter(|f| f.required) {
        let path = format!("{prefix}.{}", field.name);
        match field.ty {
            FieldType::Object(inner) => collect(&path, inner, out),
            FieldType::List(inner) => collect(&format!("{path}[]"), inner, out),
            ty => out.push(Mandatory {
                halves: match ty {
                    FieldType::DateTime if !DATE_ONLY.contains(&path.as_str()) => (true, true),
                    FieldType::TimeOfDay => (false, true),
                    _ => (true, false),
                },
                path,
                label: field.label,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_listed_fields_are_mandatory_one_by_one() {
        let paths: Vec<String> = mandatory(IntentKind::TariffChange)
            .into_iter()
            .map(|m| m.path)
            .collect();
        assert!(paths.contains(&"event.tariffs[].new_price".to_string()));
        assert!(paths.contains(&"org.name".to_string()));
        let debt: Vec<String> = mandatory(IntentKind::DebtWarning)
            .into_iter()
            .map(|m| m.path)
            .collect();
        assert!(debt.contains(&"recipient.debt.amount".to_string()));
        assert!(debt.contains(&"event.payment_methods".to_string()));
    }
}
