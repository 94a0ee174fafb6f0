//! The body's Markdown subset, parsed into blocks.
//!
//! Letters are written by people in templates, not by Markdown experts, so the subset is
//! small and every construct degrades to plain text rather than failing: a stray `**`
//! prints as `**`, a `|` line without a separator row prints as a paragraph.
//!
//! Supported: `# ` headings (the first becomes the letter title), paragraphs separated by
//! blank lines (single newlines join with a space), `**bold**`, `- ` bullet items (one per
//! line), and pipe tables whose header row is followed by a `|---|---|` separator
//! (`:--`, `:-:`, `--:` set the column alignment). `\*`, `\|` and `\\` escape.

/// A run of text in one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub bold: bool,
}

/// Inline content: spans with whitespace already collapsed to single spaces.
pub type Inline = Vec<Span>;

/// Horizontal alignment of a table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub header: Vec<Inline>,
    pub align: Vec<Align>,
    /// Every row has exactly `header.len()` cells (short rows are padded).
    pub rows: Vec<Vec<Inline>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A `# ` heading other than the first (which is the title).
    Heading(Inline),
    Paragraph(Inline),
    List(Vec<Inline>),
    Table(Table),
}

/// A parsed body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Body {
    /// The first `# ` heading, wherever it was: the letter layout puts the title under the
    /// address block, so it is taken out of the flow.
    pub title: Option<Inline>,
    pub blocks: Vec<Block>,
}

pub fn parse(text: &str) -> Body {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut body = Body::default();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.is_empty() {
            flush_paragraph(&mut paragraph, &mut body);
            i += 1;
        } else if let Some(text) = heading_text(line) {
            flush_paragraph(&mut paragraph, &mut body);
            let heading = inline(text);
            if !heading.is_empty() {
                if body.title.is_none() {
                    body.title = Some(heading);
                } else {
                    body.blocks.push(Block::Heading(heading));
                }
            }
            i += 1;
        } else if line.starts_with("- ") {
            flush_paragraph(&mut paragraph, &mut body);
            let mut items = Vec::new();
            while let Some(item) = lines.get(i).and_then(|l| l.strip_prefix("- ")) {
                let item = inline(item);
                if !item.is_empty() {
                    items.push(item);
                }
                i += 1;
            }
            if !items.is_empty() {
                body.blocks.push(Block::List(items));
            }
        } else if let Some(align) = table_start(&lines, i) {
            flush_paragraph(&mut paragraph, &mut body);
            let header: Vec<Inline> = split_row(line).into_iter().map(inline).collect();
            let mut rows = Vec::new();
            i += 2;
            while let Some(row) = lines.get(i).filter(|l| l.starts_with('|')) {
                let mut cells: Vec<Inline> = split_row(row).into_iter().map(inline).collect();
                // Pad short rows; keep long rows' extra cells rather than drop text silently.
                cells.resize(header.len().max(cells.len()), Inline::new());
                rows.push(cells);
                i += 1;
            }
            body.blocks
                .push(Block::Table(normalise_table(header, align, rows)));
        } else {
            paragraph.push(line);
            i += 1;
        }
    }
    flush_paragraph(&mut paragraph, &mut body);
    body
}

fn flush_paragraph(lines: &mut Vec<&str>, body: &mut Body) {
    if lines.is_empty() {
        return;
    }
    let spans = inline(&lines.join(" "));
    lines.clear();
    if !spans.is_empty() {
        body.blocks.push(Block::Paragraph(spans));
    }
}

fn heading_text(line: &str) -> Option<&str> {
    if line == "#" {
        Some("")
    } else {
        line.strip_prefix("# ")
    }
}

/// If `lines[i]` is a table header (a `|` row followed by a matching separator row),
/// returns the column alignments.
fn table_start(lines: &[&str], i: usize) -> Option<Vec<Align>> {
    let header = lines[i];
    let separator = lines.get(i + 1)?;
    if !header.starts_with('|') || !separator.starts_with('|') {
        return None;
    }
    let cells = split_row(separator);
    let align = cells
        .iter()
        .map(|c| separator_align(c))
        .collect::<Option<Vec<_>>>()?;
    (align.len() == split_row(header).len()).then_some(align)
}

fn separator_align(cell: &str) -> Option<Align> {
    let left = cell.starts_with(':');
    let right = cell.len() > 1 && cell.ends_with(':');
    let dashes = cell.trim_start_matches(':').trim_end_matches(':');
    if dashes.is_empty() || !dashes.chars().all(|c| c == '-') {
        return None;
    }
    Some(match (left, right) {
        (true, true) => Align::Center,
        (false, true) => Align::Right,
        _ => Align::Left,
    })
}

/// Splits `| a | b \| c |` into `["a", "b \| c"]` (escapes stay for [`inline`]).
fn split_row(line: &str) -> Vec<&str> {
    let inner = line.strip_prefix('|').unwrap_or(line);
    let inner = match inner.strip_suffix('|') {
        Some(rest) if !rest.ends_with('\\') || rest.ends_with("\\\\") => rest,
        _ => inner,
    };
    let mut cells = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (pos, ch) in inner.char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '|' => {
                cells.push(inner[start..pos].trim());
                start = pos + 1;
            }
            _ => {}
        }
    }
    cells.push(inner[start..].trim());
    cells
}

fn normalise_table(
    mut header: Vec<Inline>,
    mut align: Vec<Align>,
    mut rows: Vec<Vec<Inline>>,
) -> Table {
    let columns = rows
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .max(header.len());
    header.resize(columns, Inline::new());
    align.resize(columns, Align::Left);
    for row in &mut rows {
        row.resize(columns, Inline::new());
    }
    Table {
        header,
        align,
        rows,
    }
}

/// Parses `**bold**` and escapes in one line of text, collapsing whitespace.
pub fn inline(text: &str) -> Inline {
    enum Token {
        Char(char),
        Star2,
    }
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' if matches!(chars.peek(), Some('\\' | '*' | '|')) => {
                tokens.push(Token::Char(chars.next().unwrap_or('\\')));
            }
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                tokens.push(Token::Star2);
            }
            _ => tokens.push(Token::Char(ch)),
        }
    }
    // An unpaired last `**` is literal text: a typo must not turn the rest of the letter bold.
    let markers = tokens.iter().filter(|t| matches!(t, Token::Star2)).count();
    let mut unpaired_left = markers % 2;
    let mut seen = 0;
    let mut bold = false;
    let mut spans: Inline = Vec::new();
    let push = |ch: char, bold: bool, spans: &mut Inline| {
        let ch = if ch.is_whitespace() && ch != '\u{a0}' && ch != '\u{202f}' {
            ' '
        } else {
            ch
        };
        let last_is_space = spans
            .last()
            .and_then(|s| s.text.chars().last())
            .is_none_or(|c| c == ' ');
        if ch == ' ' && last_is_space {
            return;
        }
        match spans.last_mut() {
            Some(span) if span.bold == bold => span.text.push(ch),
            _ => spans.push(Span {
                text: ch.to_string(),
                bold,
            }),
        }
    };
    for token in tokens {
        match token {
            Token::Char(ch) => push(ch, bold, &mut spans),
            Token::Star2 => {
                seen += 1;
                if unpaired_left == 1 && seen == markers {
                    unpaired_left = 0;
                    push('*', bold, &mut spans);
                    push('*', bold, &mut spans);
                } else {
                    bold = !bold;
                }
            }
        }
    }
    // Trailing space (leading ones were never pushed), then spans emptied by it.
    if let Some(last) = spans.last_mut() {
        let trimmed = last.text.trim_end_matches(' ').len();
        last.text.truncate(trimmed);
    }
    spans.retain(|s| !s.text.is_empty());
    spans
}

/// The plain text of inline content, for messages and metadata.
pub fn plain(spans: &[Span]) -> String {
    spans.iter().map(|s| s.text.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> Span {
        Span {
            text: text.into(),
            bold: false,
        }
    }
    fn b(text: &str) -> Span {
        Span {
            text: text.into(),
            bold: true,
        }
    }

    #[test]
    fn first_heading_is_the_title_and_later_ones_stay_in_the_flow() {
        let body = parse("Вводный абзац.\n\n# Уведомление\n\n# Раздел 2\nТекст");
        assert_eq!(body.title, Some(vec![r("Уведомление")]));
        assert_eq!(
            body.blocks,
            vec![
                Block::Paragraph(vec![r("Вводный абзац.")]),
                Block::Heading(vec![r("Раздел 2")]),
                Block::Paragraph(vec![r("Текст")]),
            ]
        );
    }

    #[test]
    fn paragraphs_join_single_newlines_and_split_on_blank_lines() {
        let body = parse("Первая строка\r\nвторая   строка\n\n\n  Второй абзац  ");
        assert_eq!(
            body.blocks,
            vec![
                Block::Paragraph(vec![r("Первая строка вторая строка")]),
                Block::Paragraph(vec![r("Второй абзац")]),
            ]
        );
    }

    #[test]
    fn bold_spans_unpaired_markers_and_escapes() {
        assert_eq!(
            inline("Долг **12 345,67 ₽** на дату"),
            vec![r("Долг "), b("12 345,67 ₽"), r(" на дату")]
        );
        assert_eq!(inline("**долг**, пени"), vec![b("долг"), r(", пени")]);
        assert_eq!(
            inline("a **b** c ** d"),
            vec![r("a "), b("b"), r(" c ** d")]
        );
        assert_eq!(inline(r"2 \*\* 3 \| x \\"), vec![r(r"2 ** 3 | x \")]);
        assert_eq!(inline("****"), Vec::<Span>::new());
        assert_eq!(inline("12\u{a0}345"), vec![r("12\u{a0}345")]);
    }

    #[test]
    fn list_items_follow_a_paragraph_without_a_blank_line() {
        let body = parse("Просим:\n- оплатить **долг**;\n- сообщить о платеже.\nС уважением");
        assert_eq!(
            body.blocks,
            vec![
                Block::Paragraph(vec![r("Просим:")]),
                Block::List(vec![
                    vec![r("оплатить "), b("долг"), r(";")],
                    vec![r("сообщить о платеже.")]
                ]),
                Block::Paragraph(vec![r("С уважением")]),
            ]
        );
    }

    #[test]
    fn pipe_table_with_alignment_escapes_and_ragged_rows() {
        let body = parse(
            "| Период | Начислено | Итого |\n|:---|:-:|---:|\n| 10.2026 | 1 \\| 2 | **5** |\n| 11.2026 |\n",
        );
        let Block::Table(table) = &body.blocks[0] else {
            panic!("{body:?}")
        };
        assert_eq!(
            table.header,
            vec![vec![r("Период")], vec![r("Начислено")], vec![r("Итого")]]
        );
        assert_eq!(table.align, vec![Align::Left, Align::Center, Align::Right]);
        assert_eq!(
            table.rows[0],
            vec![vec![r("10.2026")], vec![r("1 | 2")], vec![b("5")]]
        );
        assert_eq!(table.rows[1], vec![vec![r("11.2026")], vec![], vec![]]);
    }

    #[test]
    fn pipe_lines_without_a_separator_are_plain_text() {
        let body = parse("| не таблица |\n| вторая |");
        assert_eq!(
            body.blocks,
            vec![Block::Paragraph(vec![r("| не таблица | | вторая |")])]
        );
        let body = parse("| a | b |\n|---|\n| 1 | 2 |");
        assert!(
            matches!(body.blocks[0], Block::Paragraph(_)),
            "separator with wrong column count"
        );
    }

    #[test]
    fn anything_else_is_plain_text() {
        let body = parse("## не заголовок\n* не список\n-не список\n#тоже нет");
        assert_eq!(
            body.blocks,
            vec![Block::Paragraph(vec![r(
                "## не заголовок * не список -не список #тоже нет"
            )])]
        );
        assert_eq!(parse("").blocks, vec![]);
        assert_eq!(plain(&inline("a **b** c")), "a b c");
    }
}
