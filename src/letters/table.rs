//! Pipe tables: column widths, wrapped cells, thin borders, and the header row repeated
//! at the top of every page the table continues on.

use super::LetterError;
use super::fonts::face;
use super::layout::{Flow, Role, Rule, baseline_offset, bold, line_height, put};
use super::markup::{Align, Inline, Table};
use super::wrap::{Line, wrap};

const TABLE_PT: f32 = 10.0;
const CELL_PAD_X_MM: f32 = 1.5;
const CELL_PAD_Y_MM: f32 = 1.0;
const RULE_PT: f32 = 0.5;

/// Borders, bold header (repeated after a page break), proportional column widths.
pub(super) fn table_block(flow: &mut Flow, table: &Table, index: usize) -> Result<(), LetterError> {
    let (x, width) = (flow.g.content_left_mm(), flow.g.content_width_mm());
    let header: Vec<Inline> = table.header.iter().map(|c| bold(c)).collect();
    let widths = column_widths(std::iter::once(&header).chain(&table.rows), width);
    let wrap_row = |cells: &[Inline]| -> Vec<Vec<Line>> {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| {
                wrap(
                    c,
                    TABLE_PT,
                    w - 2.0 * CELL_PAD_X_MM,
                    w - 2.0 * CELL_PAD_X_MM,
                    false,
                )
            })
            .collect()
    };
    let height = |row: &[Vec<Line>]| {
        2.0 * CELL_PAD_Y_MM
            + row.iter().map(Vec::len).max().unwrap_or(0).max(1) as f32 * line_height(TABLE_PT)
    };
    let header = wrap_row(&header);
    let rows: Vec<_> = table.rows.iter().map(|r| wrap_row(r)).collect();
    let page_mm = flow.bottom() - flow.g.margin_top_mm;
    for (i, row) in rows.iter().enumerate() {
        if height(&header) + height(row) > page_mm {
            return Err(LetterError::TableRowTooTall {
                table: index,
                row: i + 1,
                height_mm: height(row),
                page_mm,
            });
        }
    }
    let draw = |flow: &mut Flow, row: &[Vec<Line>], top_rule: bool| {
        let (top, h) = (flow.y, height(row));
        let page = flow.page();
        let mut rule = |x1, y1, x2, y2| {
            page.rules.push(Rule {
                x1_mm: x1,
                y1_mm: y1,
                x2_mm: x2,
                y2_mm: y2,
                width_pt: RULE_PT,
            })
        };
        if top_rule {
            rule(x, top, x + width, top);
        }
        rule(x, top + h, x + width, top + h);
        let mut cell_x = x;
        rule(cell_x, top, cell_x, top + h);
        for ((lines, w), align) in row.iter().zip(&widths).zip(&table.align) {
            for (i, line) in lines.iter().enumerate() {
                let inner = w - 2.0 * CELL_PAD_X_MM;
                let offset = match align {
                    Align::Left => 0.0,
                    Align::Center => (inner - line.width) / 2.0,
                    Align::Right => inner - line.width,
                };
                let baseline = top
                    + CELL_PAD_Y_MM
                    + i as f32 * line_height(TABLE_PT)
                    + baseline_offset(TABLE_PT);
                put(
                    page,
                    line,
                    cell_x + CELL_PAD_X_MM + offset,
                    baseline,
                    TABLE_PT,
                    Role::Table,
                );
            }
            cell_x += w;
            page.rules.push(Rule {
                x1_mm: cell_x,
                y1_mm: top,
                x2_mm: cell_x,
                y2_mm: top + h,
                width_pt: RULE_PT,
            });
        }
        flow.y += h;
        flow.fresh = false;
    };
    flow.ensure(height(&header) + rows.first().map_or(0.0, |r| height(r)));
    draw(flow, &header, true);
    for row in &rows {
        if flow.y + height(row) > flow.bottom() {
            flow.ensure(f32::INFINITY);
            draw(flow, &header, true);
        }
        draw(flow, row, false);
    }
    Ok(())
}

/// Columns as wide as their content wants when that fits; otherwise every column gets its
/// longest word and the rest is shared in proportion to what each still wants.
fn column_widths<'a>(rows: impl Iterator<Item = &'a Vec<Inline>>, width: f32) -> Vec<f32> {
    let mut natural: Vec<f32> = Vec::new();
    let mut minimum: Vec<f32> = Vec::new();
    for row in rows {
        natural.resize(row.len().max(natural.len()), 0.0);
        minimum.resize(natural.len(), 0.0);
        for (c, cell) in row.iter().enumerate() {
            let whole: f32 = cell
                .iter()
                .map(|s| face(s.bold).width(&s.text, TABLE_PT))
                .sum();
            let word = cell
                .iter()
                .flat_map(|s| {
                    s.text
                        .split(' ')
                        .map(move |w| face(s.bold).width(w, TABLE_PT))
                })
                .fold(0.0, f32::max);
            natural[c] = natural[c].max(whole + 2.0 * CELL_PAD_X_MM);
            minimum[c] = minimum[c].max(word + 2.0 * CELL_PAD_X_MM);
        }
    }
    let sum = |v: &[f32]| v.iter().sum::<f32>();
    let (total_natural, total_minimum) = (sum(&natural), sum(&minimum));
    if total_natural <= width {
        natural.iter().map(|n| n * width / total_natural).collect()
    } else if total_minimum >= width {
        minimum.iter().map(|m| m * width / total_minimum).collect()
    } else {
        let flex = total_natural - total_minimum;
        natural
            .iter()
            .zip(&minimum)
            .map(|(n, m)| m + (width - total_minimum) * (n - m) / flex)
            .collect()
    }
}
