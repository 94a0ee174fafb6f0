//! What shown character codes spell: `/ToUnicode` CMaps, simple fonts' encodings, WinAnsi.
//!
//! The window check compares this text with the recipient's name, so it must come out as
//! Unicode whatever the generator did; codes we cannot map become U+FFFD.

use std::collections::HashMap;

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Object};

/// Guards against hostile CMaps: a `/ToUnicode` stream larger than this is ignored, and no
/// more code mappings than this are kept from one.
pub(crate) const MAX_CMAP_BYTES: usize = 4 << 20;
const MAX_CMAP_ENTRIES: usize = 1 << 17;

/// Text for each byte of a simple font without `/ToUnicode`: its `/Encoding` (lopdf reads
/// base encodings and `/Differences` glyph names) when it has one, else WinAnsi.
pub(crate) fn simple_byte_text(doc: &Document, font: &Dictionary) -> Vec<String> {
    let encoding = font
        .has(b"Encoding")
        .then(|| font.get_font_encoding_with_limit(doc, MAX_CMAP_BYTES).ok())
        .flatten();
    (0..=255u8)
        .map(|b| match &encoding {
            Some(e) => e.bytes_to_string(&[b]).unwrap_or_default(),
            None => win_ansi(b).to_string(),
        })
        .collect()
}

/// WinAnsiEncoding: Latin-1 except for the 0x80–0x9F block.
pub(crate) fn win_ansi(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{FFFD}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{FFFD}', 'Ž',
        '\u{FFFD}', '\u{FFFD}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ',
        '\u{FFFD}', 'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// Reads `bfchar` and `bfrange` of a ToUnicode CMap. Its PostScript syntax tokenizes like a
/// content stream, so lopdf's content parser does the lexing: the pairs or triples arrive as
/// operands of `endbfchar` / `endbfrange`.
pub(crate) fn parse_cmap(data: &[u8]) -> Option<HashMap<(usize, u32), String>> {
    let ops = Content::decode(data).ok()?.operations;
    let mut map = HashMap::new();
    let code = |o: &Object| -> Option<(usize, u32)> {
        let b = o.as_str().ok().filter(|b| (1..=4).contains(&b.len()))?;
        Some((
            b.len(),
            b.iter().fold(0u32, |acc, x| acc << 8 | u32::from(*x)),
        ))
    };
    let utf16 = |o: &Object| -> Option<Vec<u16>> {
        let b = o.as_str().ok()?;
        Some(
            b.chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect(),
        )
    };
    for op in ops {
        match op.operator.as_str() {
            "endbfchar" => {
                for pair in op.operands.chunks_exact(2) {
                    if let (Some(src), Some(dst)) = (code(&pair[0]), utf16(&pair[1])) {
                        map.insert(src, String::from_utf16_lossy(&dst));
                    }
                }
            }
            "endbfrange" => {
                for triple in op.operands.chunks_exact(3) {
                    let (Some((len, lo)), Some((_, hi))) = (code(&triple[0]), code(&triple[1]))
                    else {
                        continue;
                    };
                    for (k, c) in (lo..=hi).enumerate() {
                        if map.len() >= MAX_CMAP_ENTRIES {
                            return Some(map);
                        }
                        let dst = match &triple[2] {
                            Object::Array(list) => list.get(k).and_then(utf16),
                            // Consecutive codes map to consecutive characters: bump the last unit.
                            other => utf16(other).map(|mut u| {
                                if let Some(last) = u.last_mut() {
                                    *last = last.wrapping_add(k as u16);
                                }
                                u
                            }),
                        };
                        if let Some(dst) = dst {
                            map.insert((len, c), String::from_utf16_lossy(&dst));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Some(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bfchar_and_both_bfrange_forms_are_read() {
        let cmap = b"%!PS-Adobe-3.0 Resource-CMap\n/CIDInit /ProcSet findresource begin\n\
            12 dict begin begincmap /CMapName /Test def\n\
            1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
            2 beginbfchar <0003> <0020> <0011> <D835DC00> endbfchar\n\
            2 beginbfrange <0024> <0026> <0410> <0030> <0031> [<0451> <00660069>] endbfrange\n\
            endcmap CMapName currentdict /CMap defineresource pop end end";
        let map = parse_cmap(cmap).unwrap();
        let text = |code: u32| map.get(&(2, code)).map(String::as_str);
        assert_eq!(text(0x03), Some(" "));
        assert_eq!(text(0x11), Some("𝐀"));
        assert_eq!(
            (text(0x24), text(0x26), text(0x27)),
            (Some("А"), Some("В"), None)
        );
        assert_eq!((text(0x30), text(0x31)), (Some("ё"), Some("fi")));
    }

    #[test]
    fn win_ansi_differs_from_latin1_only_in_0x80_to_0x9f() {
        assert_eq!(
            (
                win_ansi(b'A'),
                win_ansi(0x80),
                win_ansi(0x96),
                win_ansi(0xE9)
            ),
            ('A', '€', '–', 'é')
        );
    }
}
