//! The envelope window: what shows through it must be the recipient, and only that.
//!
//! Sorting machines and postmen read the window; a letter whose window shows someone else,
//! or an advertisement next to the address, is misdelivered or refused. Words are compared
//! after normalising (lowercase, `ё` → `е`, punctuation as a separator), so line breaks and
//! commas chosen by the template do not matter.

use std::collections::HashSet;

use super::content::{Mark, MarkKind};
use super::geometry::Rect;
use super::validate::{Expected, Problem, ProblemCode, SLACK_MM, Window, describe, extent};

/// Non-text marks listed by name in one problem; the rest are counted.
const GRAPHICS_LISTED: usize = 3;

/// `marks` are page 1's, in millimetres from the top-left corner.
pub(crate) fn check(
    marks: &[Mark],
    window: &Window,
    expected: &Expected,
    problems: &mut Vec<Problem>,
) {
    let area = Rect {
        x0: window.left_mm,
        y0: window.top_mm,
        x1: window.left_mm + window.width_mm,
        y1: window.top_mm + window.height_mm,
    };
    // A box merely grazing the edge by less than the slack is rounding, not content.
    let inner = Rect {
        x0: area.x0 + SLACK_MM,
        y0: area.y0 + SLACK_MM,
        x1: area.x1 - SLACK_MM,
        y1: area.y1 - SLACK_MM,
    };
    let inside: Vec<&Mark> = marks
        .iter()
        .filter(|m| !m.rect.intersect(&inner).is_empty())
        .collect();
    let shown = reading_order(&inside);
    let where_ = format!("the address window ({})", extent(&area));

    let seen = words(&shown);
    let seen_norm: Vec<&str> = seen.iter().map(|(_, n)| n.as_str()).collect();
    let mut missing = Vec::new();
    for (what, value) in [("name", expected.name), ("postcode", expected.postcode)] {
        let wanted: Vec<String> = words(value).into_iter().map(|(_, n)| n).collect();
        let found = !wanted.is_empty()
            && seen_norm
                .windows(wanted.len())
                .any(|w| w == wanted.as_slice());
        if !found {
            missing.push(format!("{what} «{}»", value.trim()));
        }
    }
    if !missing.is_empty() {
        let showing = if shown.trim().is_empty() {
            "it shows no text".to_string()
        } else {
            format!(
                "it shows «{}»",
                shown.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        };
        let hint = if shown.contains('\u{FFFD}') {
            " (some text could not be decoded: embed a /ToUnicode map)"
        } else {
            ""
        };
        let message = format!(
            "page 1: {where_} must show the recipient's {}; {showing}{hint}",
            missing.join(" and ")
        );
        problems.push(Problem::new(
            ProblemCode::AddressNotInWindow,
            Some(1),
            message,
        ));
    }

    let allowed: HashSet<String> = [expected.name, expected.address, expected.postcode]
        .iter()
        .flat_map(|s| words(s))
        .map(|(_, n)| n)
        .collect();
    let mut foreign: Vec<&str> = Vec::new();
    let mut reported = HashSet::new();
    for (original, norm) in &seen {
        if !allowed.contains(norm) && reported.insert(norm) {
            foreign.push(original);
        }
    }
    if !foreign.is_empty() {
        let quoted = foreign
            .iter()
            .map(|w| format!("«{w}»"))
            .collect::<Vec<_>>()
            .join(", ");
        let message = format!(
            "page 1: {where_} shows words that are not part of the recipient's address: {quoted}"
        );
        problems.push(Problem::new(ProblemCode::WindowNotClear, Some(1), message));
    }

    let graphics: Vec<&&Mark> = inside
        .iter()
        .filter(|m| !matches!(m.kind, MarkKind::Text(_)))
        .collect();
    if !graphics.is_empty() {
        let mut listed: Vec<String> = graphics
            .iter()
            .take(GRAPHICS_LISTED)
            .map(|m| format!("{} at {}", describe(&m.kind), extent(&m.rect)))
            .collect();
        if graphics.len() > GRAPHICS_LISTED {
            listed.push(format!("{} more", graphics.len() - GRAPHICS_LISTED));
        }
        let message = format!(
            "page 1: {where_} must hold only the address text; it also shows {}",
            listed.join("; ")
        );
        problems.push(Problem::new(ProblemCode::WindowNotClear, Some(1), message));
    }
}

/// The text marks joined as a reader would: lines top to bottom, each left to right. Shows
/// on one line are glued unless a gap separates them, since some generators place glyph by
/// glyph.
fn reading_order(marks: &[&Mark]) -> String {
    let mut texts: Vec<(&Rect, &str)> = marks
        .iter()
        .filter_map(|m| match &m.kind {
            MarkKind::Text(t) => Some((&m.rect, t.as_str())),
            _ => None,
        })
        .collect();
    let middle = |r: &Rect| (r.y0 + r.y1) / 2.0;
    texts.sort_by(|a, b| middle(a.0).total_cmp(&middle(b.0)));
    // Assign line numbers: a show starts a new line when its middle is below the line's
    // middle by more than a third of its height.
    let mut lines: Vec<(usize, &Rect, &str)> = Vec::new();
    let (mut line, mut line_middle) = (0, f64::NEG_INFINITY);
    for (rect, text) in texts {
        if middle(rect) - line_middle > (rect.y1 - rect.y0) / 3.0 {
            line += 1;
            line_middle = middle(rect);
        }
        lines.push((line, rect, text));
    }
    lines.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.x0.total_cmp(&b.1.x0)));
    let mut out = String::new();
    let mut previous: Option<(usize, &Rect)> = None;
    for (line, rect, text) in lines {
        match previous {
            Some((l, _)) if l != line => out.push('\n'),
            Some((_, p)) if rect.x0 - p.x1 > 0.15 * (rect.y1 - rect.y0) => out.push(' '),
            _ => {}
        }
        out.push_str(text);
        previous = Some((line, rect));
    }
    out
}

/// Words as (original, normalised): runs of letters and digits.
fn words(text: &str) -> Vec<(String, String)> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| (w.to_string(), w.to_lowercase().replace('ё', "е")))
        .collect()
}
