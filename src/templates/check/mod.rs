//! Validation of a template version before it is saved: syntax (with line and column),
//! the references and helpers on the parsed AST, every mandatory field of the kind in a
//! template that counts as the legal notice, a strict render of the kind's sample, and the
//! SMS part limit. Plain Rust: the caller passes the limits from the channel plans.

mod resolve;
pub mod shape;
mod walk;

use std::collections::{BTreeMap, BTreeSet};

use handlebars::template::Template as Ast;
use serde::Serialize;

use super::sample::Sample;
use super::set::{Parts, TemplateChannel};
use super::{Rendered, render_one};
use crate::channels::profiles::SmsText;
use crate::intents::IntentKind;
use crate::recipients::Channel;
use crate::settings::Organization;

/// A template version as an operator proposes it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub kind: IntentKind,
    pub channel: TemplateChannel,
    pub parts: &'a Parts,
    pub supplementary: bool,
}

/// What the checks need from configuration.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub org: &'a Organization,
    pub partials: &'a BTreeMap<String, String>,
    /// `[sms_max_parts]` of the channel plans for the kind.
    pub sms_max_parts: Option<usize>,
    /// The delivery channels the plans count as the legal notice of the kind (any
    /// customer type).
    pub legal_channels: Vec<Channel>,
}

/// One problem, by part and, when the parser knows it, line and column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    pub part: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    pub message: String,
}

impl Issue {
    fn new(part: &str, message: impl Into<String>) -> Self {
        Issue {
            part: part.to_owned(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// `parts.html` and the message with its position: the form of a `problem+json` error.
    pub fn field_error(&self) -> crate::validation::FieldError {
        let at = match (self.line, self.column) {
            (Some(l), Some(c)) => format!("line {l}, column {c}: "),
            _ => String::new(),
        };
        crate::validation::FieldError {
            field: format!("parts.{}", self.part),
            reason: format!("{at}{}", self.message),
        }
    }
}

/// The SMS as the sample renders it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmsReport {
    pub encoding: &'static str,
    pub units: usize,
    pub parts: usize,
    pub max_parts: Option<usize>,
}

impl SmsReport {
    pub fn of(text: &str, max_parts: Option<usize>) -> Self {
        let sms = SmsText::analyze(text);
        SmsReport {
            encoding: sms.encoding.as_str(),
            units: sms.units,
            parts: sms.parts,
            max_parts,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub errors: Vec<Issue>,
    /// Not blocking: e.g. a supplementary template on a channel the plans count as legal.
    pub warnings: Vec<Issue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsReport>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Runs every check on `candidate`.
pub fn check(candidate: &Candidate<'_>, rules: &Rules<'_>) -> Report {
    let mut report = Report::default();
    let expected = candidate.channel.parts();
    for part in candidate.parts.keys() {
        if !expected.contains(&part.as_str()) {
            report.errors.push(Issue::new(
                part,
                format!(
                    "unknown part; a {} template has: {}",
                    candidate.channel.as_str(),
                    expected.join(", ")
                ),
            ));
        }
    }
    let mut asts = BTreeMap::new();
    for part in expected {
        match candidate.parts.get(*part) {
            None => report.errors.push(Issue::new(part, "is missing")),
            Some(source) => match Ast::compile(source) {
                Ok(ast) => {
                    asts.insert(*part, ast);
                }
                Err(e) => report.errors.push(syntax_issue(part, &e)),
            },
        }
    }
    let mut partials = BTreeMap::new();
    for (name, source) in rules.partials {
        match Ast::compile(source) {
            Ok(ast) => {
                partials.insert(name.clone(), ast);
            }
            Err(e) => report
                .errors
                .push(syntax_issue(&format!("partials/{name}"), &e)),
        }
    }
    if !report.errors.is_empty() {
        return report;
    }

    let mut printed: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (part, ast) in &asts {
        let mut walker = walk::Walker::new(shape::context_shape(candidate.kind), &partials);
        printed.insert(part, walker.part(ast));
        report
            .errors
            .extend(walker.findings.into_iter().map(|f| Issue {
                part: (*part).to_owned(),
                line: f.line,
                column: f.column,
                message: f.message,
            }));
    }
    if !candidate.supplementary {
        mandatory_fields(candidate, &printed, &mut report);
    }
    if !report.errors.is_empty() {
        return report;
    }

    // The sample must render in strict mode: the AST walk cannot see every runtime fault.
    let sample = Sample::of(candidate.kind);
    let channel = candidate.channel.delivery();
    let context = sample.context(rules.org, channel);
    match render_one(candidate.channel, candidate.parts, rules.partials, &context) {
        Ok(Rendered::Sms { text }) => {
            let sms = SmsReport::of(&text, rules.sms_max_parts);
            if let Some(max) = rules.sms_max_parts
                && sms.parts > max
            {
                report.errors.push(Issue::new(
                    "text",
                    format!(
                        "the sample takes {} SMS parts ({}, {} units); {} allows at most {max}",
                        sms.parts,
                        sms.encoding,
                        sms.units,
                        candidate.kind.as_str()
                    ),
                ));
            }
            report.sms = Some(sms);
        }
        Ok(_) => {}
        Err((part, why)) => report.errors.push(Issue::new(
            &part,
            format!("the sample does not render: {why}"),
        )),
    }
    // Planning does not read the flag: on a legal channel this version would be sent as
    // the legal notice without its mandatory fields, so it is refused, not warned about.
    if candidate.supplementary && rules.legal_channels.contains(&channel) {
        report.errors.push(Issue::new(
            expected[0],
            format!(
                "this template is supplementary, but the channel plans count {} as a legal channel for {}",
                channel.as_str(),
                candidate.kind.as_str()
            ),
        ));
    }
    report
}

/// Every mandatory field must be printed in each body a reader may see: the SMS text, the
/// letter, and both the text and the HTML of an email (with its subject).
fn mandatory_fields(
    candidate: &Candidate<'_>,
    printed: &BTreeMap<&str, BTreeSet<String>>,
    report: &mut Report,
) {
    let bodies: Vec<(&str, BTreeSet<String>)> = match candidate.channel {
        TemplateChannel::Email => {
            let subject = printed.get("subject").cloned().unwrap_or_default();
            ["text", "html"]
                .into_iter()
                .map(|p| {
                    let mut seen = subject.clone();
                    seen.extend(printed.get(p).cloned().unwrap_or_default());
                    (p, seen)
                })
                .collect()
        }
        _ => printed.iter().map(|(p, s)| (*p, s.clone())).collect(),
    };
    for (part, seen) in bodies {
        for field in shape::mandatory(candidate.kind) {
            let covered = seen.iter().any(|p| {
                p == &field.path
                    || p.starts_with(&format!("{}.", field.path))
                    || p.starts_with(&format!("{}[]", field.path))
            });
            let date = seen.contains(&format!("{}{}", field.path, walk::DATE_HALF));
            let time = seen.contains(&format!("{}{}", field.path, walk::TIME_HALF));
            let (path, label) = (&field.path, field.label);
            let (needs_date, needs_time) = field.halves;
            let problem = match (date || time, needs_date && !date, needs_time && !time) {
                _ if covered => continue,
                (true, false, false) => continue,
                (true, true, _) => format!(
                    "mandatory field `{path}` ({label}): its date (`date_ru`) is not printed on every path"
                ),
                (true, false, true) => format!(
                    "mandatory field `{path}` ({label}): its time (`time_ru`) is not printed on every path"
                ),
                (false, _, _) => format!(
                    "mandatory field `{path}` ({label}) is not printed on every path; a template that cannot carry it must be marked supplementary"
                ),
            };
            report.errors.push(Issue::new(part, problem));
        }
    }
}

fn syntax_issue(part: &str, e: &handlebars::TemplateError) -> Issue {
    let (line, column) = e.pos().unzip();
    Issue {
        part: part.to_owned(),
        line,
        column,
        message: format!("syntax error: {}", e.reason()),
    }
}

#[cfg(test)]
mod tests;
