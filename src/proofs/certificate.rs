//! The bundle for people: one A4 page in Russian listing the facts and their hashes,
//! typeset by the letter machinery (`letters`, krilla with PT Serif) like any letter.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::{Bundle, Verdict};
use crate::letters::{self, Letter, RecipientBlock, Sender, Signatory};
use crate::settings::{Letters, Organization};

/// Recipients listed one by one; past this the page shows the verdict counts only.
const LISTED: usize = 3;

pub fn render(
    bundle: &Bundle,
    org: &Organization,
    settings: &Letters,
    today: NaiveDate,
) -> anyhow::Result<Vec<u8>> {
    let letter = Letter {
        sender: Sender {
            name: org.name.clone(),
            address: org.address.clone(),
            phone: org.phone.clone(),
            email: org.email.clone(),
            website: org.website.clone(),
        },
        outgoing_number: format!(
            "{}{}/proof",
            settings.number_prefix,
            bundle.json["intent"]["external_id"]
                .as_str()
                .unwrap_or_default()
        ),
        date: today,
        recipient: RecipientBlock {
            name: "Для проверки".into(),
            address: "Сертификат к пакету доказательств".into(),
            postcode: String::new(),
        },
        body: body(bundle),
        signatory: Signatory {
            position: settings.signatory_position.clone(),
            name: settings.signatory_name.clone(),
        },
        executor: None,
    };
    Ok(letters::render(&letter, &settings.geometry)?)
}

fn body(bundle: &Bundle) -> String {
    let json = &bundle.json;
    let intent = &json["intent"];
    let text = |v: &Value| v.as_str().unwrap_or("—").to_owned();
    let mut out = String::from("# Сертификат доставки уведомления\n\n");
    out += &format!(
        "Уведомление {} (вид {}), принято {}. SHA-256 запроса: {}.\n\n",
        escape(&text(&intent["external_id"])),
        text(&intent["kind"]),
        moment(&intent["accepted_at"]),
        text(&intent["request_sha256"]),
    );
    let recipients = json["recipients"].as_array().cloned().unwrap_or_default();
    if recipients.len() <= LISTED {
        for r in &recipients {
            out += &format!(
                "**Получатель № {}**, лицевой счёт {}. Срок: {}. Итог: **{}**.\n\n",
                r["idx"].as_i64().unwrap_or_default() + 1,
                escape(&text(&r["account_number"])),
                r["deadline"]["at"]
                    .as_str()
                    .map(|s| moment(&Value::from(s)))
                    .unwrap_or("не установлен".into()),
                verdict(&r["verdict"]),
            );
            for m in r["messages"].as_array().into_iter().flatten() {
                // Decree 442: an SMS or email to the contract's contact is deemed received
                // when sent, and the certificate must say on what the verdict rests.
                let deemed = if m["received_when_sent"] == true && m["sent_at"].is_string() {
                    " (на контакт из договора: считается полученным в момент отправки)"
                } else {
                    ""
                };
                out += &format!(
                    "- {}: {}, передано {}{deemed}, доставлено {}; SHA-256 {}\n",
                    text(&m["channel"]),
                    text(&m["status"]),
                    moment(&m["sent_at"]),
                    moment(&m["delivered_at"]),
                    m["content_sha256"].as_str().unwrap_or("—"),
                );
            }
            out += "\n";
        }
    } else {
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        for v in bundle.verdicts.values() {
            *counts.entry(v.russian()).or_default() += 1;
        }
        out += &format!("Получателей: {}.\n\n", recipients.len());
        for (verdict, n) in counts {
            out += &format!("- {verdict}: {n}\n");
        }
        out += "\n";
    }
    if let Some(at) = json["purged"]["at"].as_str() {
        out += &format!(
            "Персональные данные удалены {} по сроку хранения; хеши в журнале сохранены.\n\n",
            moment(&Value::from(at))
        );
    }
    let entries = json["ledger"]["entries"].as_array().map_or(0, Vec::len);
    out += &format!(
        "Записей журнала в пакете: {entries}. Вершина цепочки: запись {}, SHA-256 {}.\n\n",
        json["ledger"]["head"]["seq"],
        text(&json["ledger"]["head"]["hash"]),
    );
    out += "Проверка: sha256sum и jq, без доступа к системе (см. bundle.json).\n";
    out
}

fn verdict(v: &Value) -> &'static str {
    match v.as_str() {
        Some("delivered_on_time") => Verdict::DeliveredOnTime.russian(),
        Some("delivered_late") => Verdict::DeliveredLate.russian(),
        Some("unconfirmed") => Verdict::Unconfirmed.russian(),
        Some("in_progress") => Verdict::InProgress.russian(),
        _ => Verdict::NotDelivered.russian(),
    }
}

/// An RFC 3339 instant as "28.11.2026 21:15 UTC"; "—" when absent.
fn moment(v: &Value) -> String {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| {
            t.with_timezone(&Utc)
                .format("%d.%m.%Y %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|| "—".into())
}

/// Markup characters in caller-supplied text print as themselves.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('*', "\\*")
        .replace('|', "\\|")
}
