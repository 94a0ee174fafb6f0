//! The formatting helpers templates may call: Russian dates, times, money and phones.
//!
//! The set is deliberately small and closed: an operator's template can format values, not
//! compute them.

use chrono::{DateTime, NaiveDate, NaiveTime};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason,
    ScopedJson,
};
use serde_json::Value;

/// Every helper name a template may use, besides Handlebars' built-in block helpers.
pub const NAMES: [&str; 4] = ["date_ru", "time_ru", "money_ru", "phone_ru"];

pub fn register(hb: &mut Handlebars<'_>) {
    hb.register_helper("date_ru", Box::new(Format(date_ru)));
    hb.register_helper("time_ru", Box::new(Format(time_ru)));
    hb.register_helper("money_ru", Box::new(Format(money_ru)));
    hb.register_helper("phone_ru", Box::new(Format(phone_ru)));
}

/// A one-argument formatter; bad input is a render error, never a silently odd notice.
struct Format(fn(&str) -> Result<String, String>);

impl HelperDef for Format {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let name = h.name();
        let param = h
            .param(0)
            .ok_or_else(|| RenderErrorReason::Other(format!("{name} needs one argument")))?;
        let text = match param.value() {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(
                    RenderErrorReason::Other(format!("{name}: cannot format {other}")).into(),
                );
            }
        };
        let out =
            (self.0)(&text).map_err(|why| RenderErrorReason::Other(format!("{name}: {why}")))?;
        Ok(ScopedJson::Derived(Value::String(out)))
    }
}

const MONTHS_GENITIVE: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];

/// `2026-12-15` or an RFC 3339 date-time → `15 декабря 2026 г.`
pub fn date_ru(s: &str) -> Result<String, String> {
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| DateTime::parse_from_rfc3339(s).map(|d| d.date_naive()))
        .map_err(|_| format!("'{s}' is not a date"))?;
    use chrono::Datelike;
    Ok(format!(
        "{} {} {} г.",
        date.day(),
        MONTHS_GENITIVE[date.month0() as usize],
        date.year()
    ))
}

/// An RFC 3339 date-time (in its own offset) or `HH:MM` → `09:00`.
pub fn time_ru(s: &str) -> Result<String, String> {
    let time = DateTime::parse_from_rfc3339(s)
        .map(|d| d.time())
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .map_err(|_| format!("'{s}' is not a time"))?;
    Ok(time.format("%H:%M").to_string())
}

/// `1234.56` → `1 234,56 ₽` (non-breaking spaces, so a line never splits an amount).
pub fn money_ru(s: &str) -> Result<String, String> {
    let (sign, digits) = s.strip_prefix('-').map(|d| ("-", d)).unwrap_or(("", s));
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, "00"));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("'{s}' is not an amount"));
    }
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push('\u{a0}');
        }
        grouped.push(ch);
    }
    Ok(format!("{sign}{grouped},{frac:0<2}\u{a0}₽"))
}

/// `+78001000000` → `+7 (800) 100-00-00`; other countries' numbers stay in E.164.
pub fn phone_ru(s: &str) -> Result<String, String> {
    match s.strip_prefix("+7") {
        Some(n) if n.len() == 10 && n.bytes().all(|b| b.is_ascii_digit()) => Ok(format!(
            "+7 ({}) {}-{}-{}",
            &n[0..3],
            &n[3..6],
            &n[6..8],
            &n[8..10]
        )),
        _ => Ok(s.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_formats() {
        assert_eq!(date_ru("2026-12-15").unwrap(), "15 декабря 2026 г.");
        assert_eq!(
            date_ru("2027-03-01T09:00:00+07:00").unwrap(),
            "1 марта 2027 г."
        );
        assert_eq!(time_ru("2027-03-01T09:05:00+07:00").unwrap(), "09:05");
        assert_eq!(money_ru("1234.56").unwrap(), "1\u{a0}234,56\u{a0}₽");
        assert_eq!(money_ru("999.00").unwrap(), "999,00\u{a0}₽");
        assert_eq!(
            money_ru("1234567.5").unwrap(),
            "1\u{a0}234\u{a0}567,50\u{a0}₽"
        );
        assert_eq!(phone_ru("+78001000000").unwrap(), "+7 (800) 100-00-00");
        assert!(date_ru("soon").is_err());
    }
}
