//! The workload: `meter_visit` intents (the SMS is a legal notice carrying every mandatory
//! field, `templates/meter_visit/sms.hbs`), and the same event as a file for the peers, who
//! render the same template with it.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Sms,
    Email,
}

/// The event every intent of the bench carries.
fn event() -> Value {
    json!({
        "work_kind": "Контрольное снятие показаний прибора учёта",
        "visit_date": "2027-03-23",
        "interval_from": "11:00",
        "interval_to": "15:00",
        "responsible": {
            "position": "Начальник отдела учёта",
            "full_name": "Соколова Елена Павловна"
        },
        "contact_phone": "+78001000000"
    })
}

/// One recipient, `i` making the account, name, zone and contact point vary.
fn recipient(i: usize, channel: Channel, phone: &str) -> Value {
    const SURNAMES: [(&str, &str); 8] = [
        ("Иванов", "Иванова"),
        ("Петров", "Петрова"),
        ("Смирнов", "Смирнова"),
        ("Кузнецов", "Кузнецова"),
        ("Соколов", "Соколова"),
        ("Попов", "Попова"),
        ("Лебедев", "Лебедева"),
        ("Новиков", "Новикова"),
    ];
    const MEN: [&str; 5] = ["Иван", "Николай", "Андрей", "Сергей", "Алексей"];
    const WOMEN: [&str; 5] = ["Мария", "Анна", "Елена", "Ольга", "Татьяна"];
    const PATRONYMICS: [(&str, &str); 4] = [
        ("Иванович", "Ивановна"),
        ("Сергеевич", "Сергеевна"),
        ("Алексеевич", "Алексеевна"),
        ("Викторович", "Викторовна"),
    ];
    // Mostly Moscow, a few other zones of the supplier's area.
    const ZONES: [&str; 10] = [
        "Europe/Moscow",
        "Europe/Moscow",
        "Europe/Moscow",
        "Europe/Moscow",
        "Europe/Moscow",
        "Europe/Moscow",
        "Europe/Kaliningrad",
        "Europe/Samara",
        "Asia/Yekaterinburg",
        "Asia/Novosibirsk",
    ];
    let (surname_m, surname_f) = SURNAMES[i % SURNAMES.len()];
    let (patr_m, patr_f) = PATRONYMICS[(i / 7) % PATRONYMICS.len()];
    let name = if i.is_multiple_of(2) {
        format!("{surname_m} {} {patr_m}", MEN[(i / 3) % MEN.len()])
    } else {
        format!("{surname_f} {} {patr_f}", WOMEN[(i / 3) % WOMEN.len()])
    };
    let (contacts, channels) = match channel {
        Channel::Sms => (json!({ "phone": phone }), json!(["sms"])),
        Channel::Email => (
            json!({ "email": format!("abonent{i}@example.test") }),
            json!(["email"]),
        ),
    };
    json!({
        "account_number": format!("77{i:08}"),
        "customer_type": "individual",
        "name": name,
        "time_zone": ZONES[i % ZONES.len()],
        "contacts": contacts,
        "channels": channels,
    })
}

fn intent(recipients: Vec<Value>, external_id: String) -> Vec<u8> {
    let intent = json!({
        "kind": "meter_visit",
        "external_id": external_id,
        "event": event(),
        "recipients": recipients,
        "accept_late": false,
    });
    serde_json::to_vec(&intent).expect("JSON serialises")
}

/// One intent with `n` recipients on `channel`.
pub fn batch_intent(n: usize, channel: Channel) -> Vec<u8> {
    let recipients = (0..n)
        .map(|i| recipient(i, channel, &format!("+7916{:07}", i % 10_000_000)))
        .collect();
    intent(
        recipients,
        format!("bench-visit-{}", uuid::Uuid::now_v7().simple()),
    )
}

/// The `i`-th one-recipient SMS intent of the latency scenario; its phone number (which
/// the gateway sees as `to`) is unique, so arrivals map back to their POST.
pub fn single_intent(i: usize) -> (Vec<u8>, String) {
    let phone = format!("+7999{i:07}");
    let body = intent(
        vec![recipient(i, Channel::Sms, &phone)],
        format!("bench-single-{}", uuid::Uuid::now_v7().simple()),
    );
    (body, phone)
}

/// `{"event": …, "org": …}` for the peers: the event of every intent here and the
/// organisation of `config/default.toml`, which Vestnik renders as `org.*`.
pub fn write_peer_event(dir: &Path) -> Result<PathBuf> {
    let org = vestnik::settings::Settings::defaults().organization;
    let file = dir.join("peer-event.json");
    std::fs::write(
        &file,
        serde_json::to_vec_pretty(&json!({ "event": event(), "org": org }))?,
    )?;
    Ok(file)
}
