//! SMS text encoding and part count, exactly as operators bill them (3GPP TS 23.038 / 23.040).
//!
//! - GSM 7-bit default alphabet: every character of the basic table is one septet; the
//!   extension table (`^ { } \ [ ~ ] | €` and form feed) costs two (ESC + character).
//!   One part holds 160 septets; a concatenated part holds 153 (the UDH takes 7), and an
//!   escape pair never straddles two parts.
//! - Anything outside that alphabet (any Cyrillic letter) switches the whole message to
//!   UCS-2: 70 UTF-16 code units in one part, 67 per concatenated part, and a surrogate
//!   pair (emoji) never straddles two parts.
//!
//! An empty text is one (empty) part: operators bill it as one message.

/// The encoding a message goes out in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

impl SmsEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsEncoding::Gsm7 => "gsm7",
            SmsEncoding::Ucs2 => "ucs2",
        }
    }
}

/// What a text costs: its encoding, its length in units (GSM-7 septets or UTF-16 code
/// units) and the number of billed parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsText {
    pub encoding: SmsEncoding,
    pub units: usize,
    pub parts: usize,
}

pub const GSM7_SINGLE: usize = 160;
pub const GSM7_CONCAT: usize = 153;
pub const UCS2_SINGLE: usize = 70;
pub const UCS2_CONCAT: usize = 67;

/// The GSM 03.38 basic table (one septet each). `\u{1B}` (ESC) itself is not a character.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table reachable by ESC (two septets each).
const GSM7_EXTENSION: &str = "\u{0C}^{}\\[~]|€";

/// Septets for one character in GSM-7, or `None` if it is not in the alphabet.
pub fn gsm7_septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

impl SmsText {
    pub fn analyze(text: &str) -> SmsText {
        let septets: Option<Vec<usize>> = text.chars().map(gsm7_septets).collect();
        match septets {
            Some(widths) => SmsText {
                encoding: SmsEncoding::Gsm7,
                units: widths.iter().sum(),
                parts: count_parts(&widths, GSM7_SINGLE, GSM7_CONCAT),
            },
            None => {
                let widths: Vec<usize> = text.chars().map(char::len_utf16).collect();
                SmsText {
                    encoding: SmsEncoding::Ucs2,
                    units: widths.iter().sum(),
                    parts: count_parts(&widths, UCS2_SINGLE, UCS2_CONCAT),
                }
            }
        }
    }
}

/// Fits everything in one part if it can; otherwise packs characters greedily into
/// concatenated parts, never splitting one character's units across two parts.
fn count_parts(widths: &[usize], single: usize, concat: usize) -> usize {
    let total: usize = widths.iter().sum();
    if total <= single {
        return 1;
    }
    let mut parts = 1;
    let mut used = 0;
    for &w in widths {
        if used + w > concat {
            parts += 1;
            used = 0;
        }
        used += w;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(text: &str, encoding: SmsEncoding, units: usize, parts: usize) {
        assert_eq!(
            SmsText::analyze(text),
            SmsText {
                encoding,
                units,
                parts
            },
            "{text:?}"
        );
    }

    #[test]
    fn gsm7_boundaries() {
        use SmsEncoding::Gsm7;
        check("", Gsm7, 0, 1);
        check(&"a".repeat(160), Gsm7, 160, 1);
        check(&"a".repeat(161), Gsm7, 161, 2);
        check(&"a".repeat(306), Gsm7, 306, 2);
        check(&"a".repeat(307), Gsm7, 307, 3);
        check(
            "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\r\n",
            Gsm7,
            44,
            1,
        );
    }

    #[test]
    fn extension_characters_count_two() {
        use SmsEncoding::Gsm7;
        check("^{}\\[~]|€\u{0C}", Gsm7, 20, 1);
        check(&"€".repeat(80), Gsm7, 160, 1);
        // Concatenated: 76 pairs fill 152 of 153 septets, the 77th pair goes to the next part.
        check(&"€".repeat(81), Gsm7, 162, 2);
        check(&"€".repeat(153), Gsm7, 306, 3);
    }

    #[test]
    fn escape_pair_never_straddles_a_part() {
        use SmsEncoding::Gsm7;
        // 152 septets then a 2-septet char: the pair moves to part 2 (153 would split it).
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        check(&text, Gsm7, 164, 2);
        // 152 + € + 151 = 305 septets; split naïvely it would fit 2 parts (306), but the
        // pair moves: part 1 = 152, part 2 = 2 + 151 = 153 → still 2.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(151));
        check(&text, Gsm7, 305, 2);
        // …one more septet and it needs a third part, although 306 septets would fit 2.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        check(&text, Gsm7, 306, 3);
    }

    #[test]
    fn cyrillic_is_ucs2() {
        use SmsEncoding::Ucs2;
        check("Привет", Ucs2, 6, 1);
        check(&"ж".repeat(70), Ucs2, 70, 1);
        check(&"ж".repeat(71), Ucs2, 71, 2);
        check(&"ж".repeat(134), Ucs2, 134, 2);
        check(&"ж".repeat(135), Ucs2, 135, 3);
        // One Cyrillic letter turns a Latin text into UCS-2, extension chars count one.
        check(&format!("{}ж", "€".repeat(69)), Ucs2, 70, 1);
    }

    #[test]
    fn surrogate_pairs_count_two_and_never_split() {
        use SmsEncoding::Ucs2;
        check("😀", Ucs2, 2, 1);
        check(&"😀".repeat(35), Ucs2, 70, 1);
        // 66 units then an emoji: it moves to part 2.
        let text = format!("{}😀", "ж".repeat(66));
        check(&text, Ucs2, 68, 1);
        let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(10));
        check(&text, Ucs2, 78, 2);
        let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(66));
        check(&text, Ucs2, 134, 3);
    }

    #[test]
    fn a_realistic_notice() {
        let text = "Уважаемый абонент! 12.03 с 10:00 до 14:00 плановое отключение электроэнергии \
                    по адресу ул. Ленина, 5. Подробнее: 8-800-000-00-00";
        let sms = SmsText::analyze(text);
        assert_eq!(sms.encoding, SmsEncoding::Ucs2);
        assert_eq!(sms.parts, sms.units.div_ceil(UCS2_CONCAT));
    }

    proptest! {
        #[test]
        fn parts_never_decrease_when_a_char_is_appended(
            text in "[a-z€{ж😀 ]{0,400}",
            c in prop::char::any(),
        ) {
            let before = SmsText::analyze(&text);
            let after = SmsText::analyze(&format!("{text}{c}"));
            prop_assert!(after.parts >= before.parts, "{before:?} → {after:?}");
            // Units are septets in GSM-7 and UTF-16 units in UCS-2: only comparable within one.
            if after.encoding == before.encoding {
                prop_assert!(after.units > before.units);
            }
        }

        #[test]
        fn parts_bounded_by_units(text in "\\PC{0,500}") {
            let sms = SmsText::analyze(&text);
            let (single, concat) = match sms.encoding {
                SmsEncoding::Gsm7 => (GSM7_SINGLE, GSM7_CONCAT),
                SmsEncoding::Ucs2 => (UCS2_SINGLE, UCS2_CONCAT),
            };
            if sms.units <= single {
                prop_assert_eq!(sms.parts, 1);
            } else {
                // Greedy packing wastes at most one unit per part.
                prop_assert!(sms.parts >= sms.units.div_ceil(concat));
                prop_assert!(sms.parts <= sms.units.div_ceil(concat - 1));
            }
        }
    }
}
