//! The fixed parts of a letter (its "реквизиты" in GOST R 7.0.97 terms): the sender
//! block and outgoing number, the addressee in the envelope window, the signature line
//! and the executor note. They have fixed places, unlike the flowing body.

use super::fonts::{self, face};
use super::layout::{BODY_PT, Flow, Role, baseline_offset, line_height, mm, parts, plain, put};
use super::wrap::{Line, wrap};
use super::{Letter, LetterError};

const SENDER_NAME_PT: f32 = 11.0;
const SENDER_PT: f32 = 9.0;
const REFERENCE_PT: f32 = 10.0;
/// Tried in order until the recipient block fits the window.
const RECIPIENT_PT: [f32; 3] = [11.0, 10.0, 9.0];
const EXECUTOR_PT: f32 = 8.0;
/// Kept clear inside the window edges: envelopes and folds shift by a few millimetres.
const WINDOW_PADDING_MM: f32 = 4.0;
const SIGNATURE_GAP_MM: f32 = 12.0;
const EXECUTOR_GAP_MM: f32 = 4.0;

/// The letter's fields, cleaned and checked once.
pub(super) struct Input {
    sender: [String; 5],
    pub number: String,
    date: String,
    recipient: [String; 3],
    pub body: String,
    signatory: [String; 2],
    executor: Option<String>,
}

impl Input {
    pub(super) fn new(l: &Letter) -> Result<Input, LetterError> {
        let field = |name: &'static str, value: &str, required: bool| {
            let value = fonts::clean(value).trim().to_owned();
            if required && value.is_empty() {
                return Err(LetterError::EmptyField { field: name });
            }
            fonts::check_coverage(name, &value)?;
            Ok(value)
        };
        let s = &l.sender;
        let r = &l.recipient;
        let executor = match &l.executor {
            Some(e) => {
                let name = field("executor.name", &e.name, true)?;
                let phone = field("executor.phone", &e.phone, false)?;
                Some(if phone.is_empty() {
                    format!("Исп. {name}")
                } else {
                    format!("Исп. {name}, тел. {phone}")
                })
            }
            None => None,
        };
        Ok(Input {
            sender: [
                field("sender.name", &s.name, true)?,
                field("sender.address", &s.address, false)?,
                field("sender.phone", &s.phone, false)?,
                field("sender.email", &s.email, false)?,
                field("sender.website", &s.website, false)?,
            ],
            number: field("outgoing_number", &l.outgoing_number, true)?,
            date: l.date.format("%d.%m.%Y").to_string(),
            recipient: [
                field("recipient.name", &r.name, true)?,
                field("recipient.address", &r.address, true)?,
                field("recipient.postcode", &r.postcode, false)?,
            ],
            body: field("body", &l.body, false)?,
            signatory: [
                field("signatory.position", &l.signatory.position, false)?,
                field("signatory.name", &l.signatory.name, true)?,
            ],
            executor,
        })
    }
}

/// Sender block and outgoing number, left of the window. Returns the y below them.
pub(super) fn sender_block(flow: &mut Flow, input: &Input) -> Result<f32, LetterError> {
    let (x, width) = (flow.g.content_left_mm(), flow.g.sender_column_width_mm());
    let [name, address, phone, email, website] = &input.sender;
    let add = |flow: &mut Flow, text: &str, bold: bool, size_pt: f32, role: Role| {
        for part in parts(text) {
            for line in wrap(&plain(part, bold), size_pt, width, width, false) {
                flow.line(&line, x, size_pt, role);
            }
        }
    };
    add(flow, name, true, SENDER_NAME_PT, Role::Sender);
    add(flow, address, false, SENDER_PT, Role::Sender);
    if !phone.is_empty() {
        add(
            flow,
            &format!("тел. {phone}"),
            false,
            SENDER_PT,
            Role::Sender,
        );
    }
    if !email.is_empty() {
        add(
            flow,
            &format!("e-mail: {email}"),
            false,
            SENDER_PT,
            Role::Sender,
        );
    }
    add(flow, website, false, SENDER_PT, Role::Sender);
    flow.y += 3.0;
    add(
        flow,
        &format!("Исх. № {} от {}", input.number, input.date),
        false,
        REFERENCE_PT,
        Role::Reference,
    );
    // The body needs room on page 1 below the header; a sender block that long is a
    // configuration mistake, not something to paginate.
    let limit_mm = flow.g.content_bottom_mm() - 30.0;
    if flow.y > limit_mm {
        return Err(LetterError::SenderDoesNotFit {
            bottom_mm: flow.y,
            limit_mm,
        });
    }
    Ok(flow.y)
}

/// Name, address and postcode, centred vertically in the window, shrinking the font
/// until they fit.
pub(super) fn recipient_block(flow: &mut Flow, input: &Input) -> Result<(), LetterError> {
    let w = flow.g.window;
    let width = w.width_mm - 2.0 * WINDOW_PADDING_MM;
    let available = w.height_mm - 2.0 * WINDOW_PADDING_MM;
    let f = face(false);
    let mut needed = (0, 0.0);
    for size_pt in RECIPIENT_PT {
        let lines: Vec<Line> = input
            .recipient
            .iter()
            .flat_map(|field| parts(field))
            .flat_map(|part| wrap(&plain(part, false), size_pt, width, width, false))
            .collect();
        let height =
            (lines.len() - 1) as f32 * line_height(size_pt) + (f.ascent + f.descent) * mm(size_pt);
        needed = (lines.len(), height);
        if height <= available {
            let mut baseline =
                w.top_mm + WINDOW_PADDING_MM + (available - height) / 2.0 + f.ascent * mm(size_pt);
            for line in &lines {
                put(
                    flow.page(),
                    line,
                    w.left_mm + WINDOW_PADDING_MM,
                    baseline,
                    size_pt,
                    Role::Recipient,
                );
                baseline += line_height(size_pt);
            }
            return Ok(());
        }
    }
    Err(LetterError::RecipientDoesNotFit {
        lines: needed.0,
        size_pt: RECIPIENT_PT[RECIPIENT_PT.len() - 1],
        height_mm: needed.1,
        available_mm: available,
    })
}

/// Position left, name right, bottom lines aligned (the name stands on the position's
/// last line); the executor line pinned to the bottom of the same page.
pub(super) fn signature(flow: &mut Flow, input: &Input) {
    let (x, width) = (flow.g.content_left_mm(), flow.g.content_width_mm());
    let [position, name] = &input.signatory;
    let wrap_all = |text: &str, size_pt: f32, width: f32| -> Vec<Line> {
        parts(text)
            .flat_map(|part| wrap(&plain(part, false), size_pt, width, width, false))
            .collect()
    };
    let names = wrap_all(name, BODY_PT, width / 2.0);
    let name_width = names.iter().map(|l| l.width).fold(0.0, f32::max);
    let positions = wrap_all(position, BODY_PT, width - name_width - 10.0);
    let rows = names.len().max(positions.len());
    let executor = input
        .executor
        .as_deref()
        .map(|e| wrap_all(e, EXECUTOR_PT, width));
    let executor_height = executor.as_ref().map_or(0.0, |l| {
        EXECUTOR_GAP_MM + l.len() as f32 * line_height(EXECUTOR_PT)
    });
    flow.gap(SIGNATURE_GAP_MM);
    flow.ensure(rows as f32 * line_height(BODY_PT) + executor_height);
    let row_baseline = |flow: &Flow, row: usize| {
        flow.y + row as f32 * line_height(BODY_PT) + baseline_offset(BODY_PT)
    };
    for (i, line) in positions.iter().enumerate() {
        let baseline = row_baseline(flow, rows - positions.len() + i);
        put(flow.page(), line, x, baseline, BODY_PT, Role::Signatory);
    }
    for (i, line) in names.iter().enumerate() {
        let baseline = row_baseline(flow, rows - names.len() + i);
        put(
            flow.page(),
            line,
            x + width - line.width,
            baseline,
            BODY_PT,
            Role::Signatory,
        );
    }
    flow.y += rows as f32 * line_height(BODY_PT);
    if let Some(executor) = executor {
        let mut baseline = flow.g.content_bottom_mm() - face(false).descent * mm(EXECUTOR_PT);
        for line in executor.iter().rev() {
            put(flow.page(), line, x, baseline, EXECUTOR_PT, Role::Executor);
            baseline -= line_height(EXECUTOR_PT);
        }
    }
}
