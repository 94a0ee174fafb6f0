//! The validator against the default set and against each kind of broken template.

use std::path::Path;

use super::*;
use crate::intents::IntentKind;
use crate::templates::set::TemplateSet;

fn defaults() -> TemplateSet {
    TemplateSet::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")).unwrap()
}

fn org() -> Organization {
    crate::settings::Settings::defaults().organization
}

fn run(kind: IntentKind, channel: TemplateChannel, parts: &Parts, supplementary: bool) -> Report {
    let set = defaults();
    let org = org();
    let plans = crate::plans::Plans::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("config/channel_plans.toml"),
    )
    .unwrap();
    let rules = Rules {
        org: &org,
        partials: &set.partials,
        sms_max_parts: plans.sms_max_parts(kind),
        legal_channels: vec![],
    };
    check(
        &Candidate {
            kind,
            channel,
            parts,
            supplementary,
        },
        &rules,
    )
}

fn default_parts(kind: IntentKind, channel: TemplateChannel) -> (Parts, bool) {
    let set = defaults();
    let t = &set.templates[&(kind, channel)];
    (t.parts.clone(), t.supplementary)
}

fn messages(report: &Report) -> String {
    format!("{:#?}", report.errors)
}

#[test]
fn the_default_set_passes_every_check() {
    let set = defaults();
    for ((kind, channel), t) in &set.templates {
        let report = run(*kind, *channel, &t.parts, t.supplementary);
        assert!(
            report.is_valid(),
            "{}/{}: {}",
            kind.as_str(),
            channel.as_str(),
            messages(&report)
        );
    }
}

#[test]
fn a_syntax_error_names_line_and_column() {
    let mut parts = Parts::new();
    parts.insert(
        "body".into(),
        "# Заголовок\n\nТекст {{#if org.name}} и {{/each}} конец\n".into(),
    );
    let report = run(
        IntentKind::MeterVisit,
        TemplateChannel::Letter,
        &parts,
        false,
    );
    let e = &report.errors[0];
    assert_eq!(e.part, "body");
    assert!(e.message.starts_with("syntax error"), "{e:?}");
    assert_eq!(e.line, Some(3), "{e:?}");
    assert!(e.column.is_some());
}

#[test]
fn a_missing_mandatory_field_is_an_error_unless_supplementary() {
    let (mut parts, _) = default_parts(IntentKind::MeterVisit, TemplateChannel::Sms);
    let text = parts["text"].replace("{{event.responsible.full_name}}", "");
    parts.insert("text".into(), text);
    let report = run(IntentKind::MeterVisit, TemplateChannel::Sms, &parts, false);
    assert!(
        messages(&report).contains("event.responsible.full_name"),
        "{}",
        messages(&report)
    );
    let report = run(IntentKind::MeterVisit, TemplateChannel::Sms, &parts, true);
    assert!(report.is_valid(), "{}", messages(&report));
}

#[test]
fn a_field_printed_in_one_branch_only_does_not_count() {
    let (mut parts, _) = default_parts(IntentKind::MeterVisit, TemplateChannel::Sms);
    let text = parts["text"].replace(
        "{{event.work_kind}}",
        "{{#if (eq recipient.customer_type \"individual\")}}{{event.work_kind}}{{/if}}",
    );
    parts.insert("text".into(), text);
    let report = run(IntentKind::MeterVisit, TemplateChannel::Sms, &parts, false);
    assert!(
        messages(&report).contains("event.work_kind"),
        "{}",
        messages(&report)
    );
}

#[test]
fn a_date_and_time_needs_both_halves_on_every_path() {
    let (parts, _) = default_parts(IntentKind::PlannedOutage, TemplateChannel::Letter);
    // The shipped letter names the start's date and time, and the period through
    // `outage_period`, which names the end's date only when it differs from the start's.
    let report = run(
        IntentKind::PlannedOutage,
        TemplateChannel::Letter,
        &parts,
        false,
    );
    assert!(report.is_valid(), "{}", messages(&report));

    let mut dateless = parts.clone();
    let body = dateless["body"].replace(
        "{{date_ru event.starts_at}}, {{time_ru event.starts_at}}",
        "{{date_ru event.starts_at}}",
    );
    assert_ne!(body, dateless["body"]);
    dateless.insert("body".into(), body.replace("{{> outage_period}}", ""));
    let all = messages(&run(
        IntentKind::PlannedOutage,
        TemplateChannel::Letter,
        &dateless,
        false,
    ));
    assert!(
        all.contains("`event.starts_at` (дата и время начала работ): its time (`time_ru`)"),
        "{all}"
    );
    assert!(all.contains("mandatory field `event.ends_at`"), "{all}");

    // The end's time alone, or its date only on the branch where it equals the start's.
    for period in [
        "до {{time_ru event.ends_at}}",
        "{{#if (eq (date_ru event.starts_at) (date_ru event.ends_at))}}до {{time_ru event.ends_at}}{{else}}до {{time_ru event.ends_at}}{{/if}}",
        "{{#if (eq (date_ru event.starts_at) (date_ru event.ends_at))}}до {{time_ru event.ends_at}}{{else}}до {{date_ru event.ends_at}}{{/if}}",
    ] {
        let mut broken = parts.clone();
        let body = broken["body"].replace("{{> outage_period}}", period);
        broken.insert("body".into(), body);
        let all = messages(&run(
            IntentKind::PlannedOutage,
            TemplateChannel::Letter,
            &broken,
            false,
        ));
        assert!(all.contains("`event.ends_at`"), "{period}: {all}");
    }
    // A period of one day names its date once: the start's date stands for the end's.
    let mut one_day = parts.clone();
    let body = one_day["body"].replace(
        "{{> outage_period}}",
        "{{#if (eq (date_ru event.starts_at) (date_ru event.ends_at))}}{{date_ru event.starts_at}} до {{time_ru event.ends_at}}{{else}}до {{time_ru event.ends_at}} {{date_ru event.ends_at}}{{/if}}",
    );
    one_day.insert("body".into(), body);
    let report = run(
        IntentKind::PlannedOutage,
        TemplateChannel::Letter,
        &one_day,
        false,
    );
    assert!(report.is_valid(), "{}", messages(&report));

    // The appeal's registration is a date in the standard: its date alone is enough.
    let (parts, _) = default_parts(IntentKind::AppealReply, TemplateChannel::Letter);
    assert!(parts["body"].contains("{{date_ru event.appeal_registered_at}}"));
    assert!(!parts["body"].contains("{{time_ru event.appeal_registered_at}}"));
    let report = run(
        IntentKind::AppealReply,
        TemplateChannel::Letter,
        &parts,
        false,
    );
    assert!(report.is_valid(), "{}", messages(&report));
}

#[test]
fn mandatory_fields_are_found_through_partials_and_each() {
    // tariff_change letter prints tariffs in #each and the org through partials.
    let (parts, supplementary) = default_parts(IntentKind::TariffChange, TemplateChannel::Letter);
    assert!(!supplementary);
    let report = run(
        IntentKind::TariffChange,
        TemplateChannel::Letter,
        &parts,
        false,
    );
    assert!(report.is_valid(), "{}", messages(&report));
    let mut broken = parts.clone();
    let body = broken["body"].replace("{{money_ru new_price}}", "");
    assert_ne!(
        body, broken["body"],
        "the letter prints new_price inside #each"
    );
    broken.insert("body".into(), body);
    let report = run(
        IntentKind::TariffChange,
        TemplateChannel::Letter,
        &broken,
        false,
    );
    assert!(
        messages(&report).contains("event.tariffs[].new_price"),
        "{}",
        messages(&report)
    );
}

#[test]
fn unknown_variables_helpers_and_partials_are_errors_with_their_position() {
    let mut parts = Parts::new();
    parts.insert(
        "text".into(),
        "{{org.name}}\n{{event.colour}} {{shout event.work_kind}} {{> nowhere}} {{lookup event \"x\"}}".into(),
    );
    let report = run(IntentKind::MeterVisit, TemplateChannel::Sms, &parts, true);
    let all = messages(&report);
    assert!(all.contains("unknown variable `event.colour`"), "{all}");
    assert!(all.contains("unknown helper `shout`"), "{all}");
    assert!(all.contains("unknown partial `nowhere`"), "{all}");
    assert!(all.contains("unknown helper `lookup`"), "{all}");
    let colour = report
        .errors
        .iter()
        .find(|e| e.message.contains("colour"))
        .unwrap();
    assert_eq!((colour.line, colour.column), (Some(2), Some(1)));
}

#[test]
fn an_sms_over_the_part_limit_is_rejected() {
    let (mut parts, _) = default_parts(IntentKind::AppealReply, TemplateChannel::Sms);
    let text = format!("{} {}", parts["text"], "Дополнительный текст. ".repeat(20));
    parts.insert("text".into(), text);
    let report = run(IntentKind::AppealReply, TemplateChannel::Sms, &parts, true);
    assert!(
        messages(&report).contains("SMS parts"),
        "{}",
        messages(&report)
    );
    assert_eq!(report.sms.as_ref().unwrap().encoding, "ucs2");
}

#[test]
fn printing_an_object_or_a_strict_render_failure_is_an_error() {
    let mut parts = Parts::new();
    parts.insert("text".into(), "{{org.name}} {{event.responsible}}".into());
    let report = run(IntentKind::MeterVisit, TemplateChannel::Sms, &parts, true);
    assert!(
        messages(&report).contains("not a value to print"),
        "{}",
        messages(&report)
    );

    // Optional field absent from the sample: strict rendering fails without an #if.
    let mut parts = Parts::new();
    parts.insert("text".into(), "{{org.name}} {{event.appeal_kind}}".into());
    let report = run(IntentKind::AppealReply, TemplateChannel::Sms, &parts, true);
    assert!(
        messages(&report).contains("the sample does not render"),
        "{}",
        messages(&report)
    );
}
