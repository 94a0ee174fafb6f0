//! Line breaking: styled spans into lines of a given width, justified on request.
//!
//! Greedy, no hyphenation (Russian hyphenation needs dictionaries and is not expected in
//! business letters); a word wider than the line is cut between characters instead of
//! running out of the column.

use super::fonts::face;
use super::markup::Span;

/// A stretch of one line in one style. `x` and `width` are in mm from the line start and
/// include justification.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub x: f32,
    pub width: f32,
    pub text: String,
    pub bold: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub runs: Vec<Run>,
    pub width: f32,
    /// Extra width of every space, in mm (non-zero on justified lines).
    pub word_spacing: f32,
}

/// A word: pieces in their styles, and the style of the space that follows, if any.
#[derive(Debug, Default)]
struct Word {
    pieces: Vec<(String, bool)>,
    width: f32,
    space_after: Option<bool>,
}

/// Breaks `spans` into lines: the first `first_width` mm wide (paragraph indent), the rest
/// `width`. Words wider than a line are cut between characters rather than overflow.
pub fn wrap(
    spans: &[Span],
    size_pt: f32,
    first_width: f32,
    width: f32,
    justify: bool,
) -> Vec<Line> {
    let space = |bold: bool| face(bold).width(" ", size_pt);
    let limit = first_width.min(width);
    let mut words: Vec<Word> = Vec::new();
    let mut current = Word::default();
    for span in spans {
        for ch in span.text.chars() {
            if ch == ' ' {
                if !current.pieces.is_empty() {
                    current.space_after = Some(span.bold);
                    words.extend(split_wide(std::mem::take(&mut current), size_pt, limit));
                }
            } else {
                match current.pieces.last_mut() {
                    Some((text, bold)) if *bold == span.bold => text.push(ch),
                    _ => current.pieces.push((ch.to_string(), span.bold)),
                }
            }
        }
    }
    if !current.pieces.is_empty() {
        words.extend(split_wide(current, size_pt, limit));
    }
    if let Some(last) = words.last_mut() {
        last.space_after = None;
    }

    let mut lines: Vec<&[Word]> = Vec::new();
    let (mut start, mut line_width) = (0, 0.0);
    for (i, word) in words.iter().enumerate() {
        let avail = if lines.is_empty() { first_width } else { width };
        let gap = if i > start {
            words[i - 1].space_after.map_or(0.0, space)
        } else {
            0.0
        };
        if i > start && line_width + gap + word.width > avail + 1e-3 {
            lines.push(&words[start..i]);
            (start, line_width) = (i, word.width);
        } else {
            line_width += gap + word.width;
        }
    }
    if start < words.len() {
        lines.push(&words[start..]);
    }

    let count = lines.len();
    lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let avail = if i == 0 { first_width } else { width };
            build_line(line, size_pt, avail, justify && i + 1 < count)
        })
        .collect()
}

fn measure(word: &mut Word, size_pt: f32) {
    word.width = word
        .pieces
        .iter()
        .map(|(t, b)| face(*b).width(t, size_pt))
        .sum();
}

/// Cuts a word wider than `limit` into chunks that fit, glued without spaces.
fn split_wide(mut word: Word, size_pt: f32, limit: f32) -> Vec<Word> {
    measure(&mut word, size_pt);
    if word.width <= limit {
        return vec![word];
    }
    let mut chunks = Vec::new();
    let mut chunk = Word::default();
    for (text, bold) in &word.pieces {
        for ch in text.chars() {
            let w = face(*bold).width(ch.encode_utf8(&mut [0; 4]), size_pt);
            if chunk.width + w > limit && !chunk.pieces.is_empty() {
                chunks.push(std::mem::take(&mut chunk));
            }
            match chunk.pieces.last_mut() {
                Some((t, b)) if b == bold => t.push(ch),
                _ => chunk.pieces.push((ch.to_string(), *bold)),
            }
            chunk.width += w;
        }
    }
    chunk.space_after = word.space_after;
    chunks.push(chunk);
    for chunk in &mut chunks {
        measure(chunk, size_pt);
    }
    chunks
}

fn build_line(words: &[Word], size_pt: f32, avail: f32, justify: bool) -> Line {
    let mut runs: Vec<Run> = Vec::new();
    let mut push = |text: &str, bold: bool| match runs.last_mut() {
        Some(run) if run.bold == bold => run.text.push_str(text),
        _ => runs.push(Run {
            x: 0.0,
            width: 0.0,
            text: text.to_owned(),
            bold,
        }),
    };
    for (i, word) in words.iter().enumerate() {
        for (text, bold) in &word.pieces {
            push(text, *bold);
        }
        if let (true, Some(bold)) = (i + 1 < words.len(), word.space_after) {
            push(" ", bold);
        }
    }
    let natural: f32 = runs
        .iter()
        .map(|r| face(r.bold).width(&r.text, size_pt))
        .sum();
    let spaces = runs
        .iter()
        .map(|r| r.text.matches(' ').count())
        .sum::<usize>();
    let word_spacing = if justify && spaces > 0 && natural < avail {
        (avail - natural) / spaces as f32
    } else {
        0.0
    };
    let mut x = 0.0;
    for run in &mut runs {
        run.x = x;
        run.width = face(run.bold).width(&run.text, size_pt)
            + word_spacing * run.text.matches(' ').count() as f32;
        x += run.width;
    }
    Line {
        runs,
        width: x,
        word_spacing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::letters::markup::inline;

    #[test]
    fn wrap_fits_lines_justifies_all_but_the_last_and_keeps_styles() {
        let spans = inline(
            "Просим **погасить задолженность** в срок до конца месяца, иначе будет ограничение",
        );
        let lines = wrap(&spans, 11.0, 50.0, 60.0, true);
        assert!(lines.len() > 2);
        assert!((lines[0].width - 50.0).abs() < 0.01, "{:?}", lines[0]);
        for line in &lines[1..lines.len() - 1] {
            assert!((line.width - 60.0).abs() < 0.01, "{line:?}");
        }
        assert_eq!(lines.last().unwrap().word_spacing, 0.0);
        assert!(
            lines
                .iter()
                .flat_map(|l| &l.runs)
                .any(|r| r.bold && r.text.contains("погасить"))
        );
        let text: Vec<String> = lines
            .iter()
            .map(|l| l.runs.iter().map(|r| r.text.as_str()).collect())
            .collect();
        assert_eq!(text.join(" "), crate::letters::markup::plain(&spans));
    }

    #[test]
    fn words_wider_than_the_line_are_cut() {
        let spans = inline("счёт 4070281000000000000000000000000000000000000000000000 оплачен");
        let lines = wrap(&spans, 11.0, 40.0, 40.0, false);
        assert!(lines.iter().all(|l| l.width <= 40.0 + 1e-3), "{lines:?}");
        let joined: String = lines
            .iter()
            .flat_map(|l| &l.runs)
            .map(|r| r.text.as_str())
            .collect();
        assert_eq!(
            joined.replace(' ', ""),
            "счёт4070281000000000000000000000000000000000000000000000оплачен"
        );
    }
}
