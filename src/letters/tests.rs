//! End-to-end tests: layout positions, and the PDF bytes read back with pdf-extract.

use super::fixtures::{debt_letter, long_letter};
use super::*;

/// Extracted text with every run of whitespace (line breaks, justified gaps) as one space.
fn extract(pdf: &[u8]) -> String {
    let text = pdf_extract::extract_text_from_mem(pdf).expect("pdf-extract reads the PDF");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn contains(text: &str, needle: &str) {
    assert!(
        text.contains(needle),
        "{needle:?} not found in extracted text:\n{text}"
    );
}

#[test]
fn debt_letter_text_extracts_with_every_field() {
    let pdf = render(&debt_letter(), &Geometry::default()).unwrap();
    let text = extract(&pdf);
    for needle in [
        "АО «Энергосбыт Плюс»",
        "тел. +7 (495) 123-45-67",
        "info@energosbyt.example",
        "Исх. № ЭС-2026/11-0457 от 28.11.2026",
        "Иванову Ивану Ивановичу",
        "ул. Садовая, д. 5, кв. 12,",
        "г. Тула, Тульская обл.",
        "300041",
        "Уведомление о задолженности за электрическую энергию",
        "12 345,67 ₽",
        "Расчётный период",
        "Сентябрь 2026",
        "4 102,18",
        "погасить задолженность",
        "Постановлением Правительства РФ № 442.",
        "Начальник отдела",
        "П. П. Петров",
        "Исп. Сидорова А. В., тел. +7 (495) 123-45-68",
    ] {
        contains(&text, needle);
    }
    assert!(
        !text.contains("Страница"),
        "a one-page letter has no page number"
    );
}

#[test]
fn rendering_is_deterministic() {
    let letter = debt_letter();
    let first = render(&letter, &Geometry::default()).unwrap();
    let second = render(&letter, &Geometry::default()).unwrap();
    assert!(first == second, "two renders of the same letter differ");
    // Fonts are shared between threads; concurrent renders must not disturb each other.
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let letter = letter.clone();
            std::thread::spawn(move || render(&letter, &Geometry::default()).unwrap())
        })
        .collect();
    for thread in threads {
        assert!(
            thread.join().unwrap() == first,
            "a concurrent render differs"
        );
    }
    let mut other = letter.clone();
    other.outgoing_number.push('1');
    assert_ne!(first, render(&other, &Geometry::default()).unwrap());
}

#[test]
fn page_is_a4_portrait() {
    let pdf = render(&debt_letter(), &Geometry::default()).unwrap();
    let doc = pdf_extract::Document::load_mem(&pdf).unwrap();
    let pages = doc.get_pages();
    assert_eq!(pages.len(), 1);
    for id in pages.values() {
        let page = doc.get_dictionary(*id).unwrap();
        let media_box = page.get(b"MediaBox").unwrap().as_array().unwrap();
        let n: Vec<f32> = media_box.iter().map(|o| o.as_float().unwrap()).collect();
        assert_eq!((n[0], n[1]), (0.0, 0.0));
        assert!(
            (n[2] - 595.28).abs() < 0.01 && (n[3] - 841.89).abs() < 0.01,
            "{n:?}"
        );
    }
}

#[test]
fn long_body_flows_onto_numbered_pages() {
    let letter = long_letter(120);
    let layout = layout(&letter, &Geometry::default()).unwrap();
    let count = layout.pages.len();
    assert!(count > 1);
    for (i, page) in layout.pages.iter().enumerate() {
        let numbers: Vec<_> = page
            .texts
            .iter()
            .filter(|t| t.role == Role::PageNumber)
            .collect();
        assert_eq!(numbers.len(), 1);
        assert_eq!(numbers[0].text, format!("Страница {} из {count}", i + 1));
    }
    let last = layout.pages.last().unwrap();
    assert!(last.texts.iter().any(|t| t.role == Role::Signatory));
    assert!(last.texts.iter().any(|t| t.role == Role::Executor));

    let text = extract(&render(&letter, &Geometry::default()).unwrap());
    contains(&text, &format!("Страница {count} из {count}"));
    contains(&text, "Абзац 120. Расчёт стоимости");
    contains(
        &text,
        "Заключительный абзац: вопросы можно задать в центре обслуживания клиентов.",
    );
}

fn overlaps(t: &TextBox, w: &Window) -> bool {
    t.x_mm < w.right_mm()
        && t.x_mm + t.width_mm > w.left_mm
        && t.top_mm < w.bottom_mm()
        && t.bottom_mm > w.top_mm
}

/// The print house's two rules, checked on positions.
fn assert_print_house_rules(layout: &Layout, g: &Geometry) {
    let w = &g.window;
    let first = &layout.pages[0];
    let recipient: Vec<_> = first
        .texts
        .iter()
        .filter(|t| t.role == Role::Recipient)
        .collect();
    assert!(!recipient.is_empty());
    for t in &recipient {
        assert!(
            t.x_mm >= w.left_mm
                && t.x_mm + t.width_mm <= w.right_mm()
                && t.top_mm >= w.top_mm
                && t.bottom_mm <= w.bottom_mm(),
            "recipient text outside the window: {t:?}"
        );
    }
    for t in first.texts.iter().filter(|t| t.role != Role::Recipient) {
        assert!(!overlaps(t, w), "non-recipient text in the window: {t:?}");
    }
    for r in &first.rules {
        let (x0, x1) = (r.x1_mm.min(r.x2_mm), r.x1_mm.max(r.x2_mm));
        let (y0, y1) = (r.y1_mm.min(r.y2_mm), r.y1_mm.max(r.y2_mm));
        assert!(
            x1 < w.left_mm || x0 > w.right_mm() || y1 < w.top_mm || y0 > w.bottom_mm(),
            "rule in window: {r:?}"
        );
    }
    let (lo_x, hi_x) = (PRINTABLE_INSET_MM, PAGE_WIDTH_MM - PRINTABLE_INSET_MM);
    let (lo_y, hi_y) = (PRINTABLE_INSET_MM, PAGE_HEIGHT_MM - PRINTABLE_INSET_MM);
    for page in &layout.pages {
        for t in &page.texts {
            assert!(
                t.x_mm >= lo_x
                    && t.x_mm + t.width_mm <= hi_x
                    && t.top_mm >= lo_y
                    && t.bottom_mm <= hi_y,
                "text outside the printable area: {t:?}"
            );
        }
        for r in &page.rules {
            for (x, y) in [(r.x1_mm, r.y1_mm), (r.x2_mm, r.y2_mm)] {
                assert!(
                    (lo_x..=hi_x).contains(&x) && (lo_y..=hi_y).contains(&y),
                    "rule outside: {r:?}"
                );
            }
        }
    }
}

#[test]
fn recipient_block_is_alone_in_the_window_and_everything_is_printable() {
    let g = Geometry::default();
    let layout = layout(&debt_letter(), &g).unwrap();
    assert_print_house_rules(&layout, &g);
    let recipient: Vec<&str> = layout.pages[0]
        .texts
        .iter()
        .filter(|t| t.role == Role::Recipient)
        .map(|t| t.text.as_str())
        .collect();
    assert_eq!(
        recipient,
        [
            "Иванову Ивану Ивановичу",
            "ул. Садовая, д. 5, кв. 12,",
            "г. Тула, Тульская обл.",
            "300041"
        ]
    );
    assert_print_house_rules(&super::layout(&long_letter(120), &g).unwrap(), &g);

    // One long address line wraps inside the window.
    let mut letter = debt_letter();
    letter.recipient.address = "Российская Федерация, Тульская область, Ленинский район, \
        посёлок Плеханово, улица Заводская, дом 15, корпус 2, квартира 148"
        .into();
    let laid = super::layout(&letter, &g).unwrap();
    let lines = laid.pages[0]
        .texts
        .iter()
        .filter(|t| t.role == Role::Recipient)
        .count();
    assert!(lines > 4, "address wrapped: {lines} lines");
    assert_print_house_rules(&laid, &g);

    // Another window position and margins: the rules hold there too.
    let g: Geometry = toml::from_str(
        "margin_left_mm = 25\nmargin_bottom_mm = 25\n[window]\nleft_mm = 100\ntop_mm = 50\nwidth_mm = 95\nheight_mm = 40\n",
    )
    .unwrap();
    assert_print_house_rules(&layout_of(&long_letter(30), &g), &g);
}

fn layout_of(letter: &Letter, g: &Geometry) -> Layout {
    layout(letter, g).unwrap()
}

#[test]
fn long_recipient_shrinks_then_fails_with_numbers() {
    let g = Geometry::default();
    let mut letter = debt_letter();
    letter.recipient.address =
        "ул. Длинная, д. 1\nкорп. 2, стр. 3\nкв. 4\nпос. Новый\nр-н Центральный\nг. Тула".into();
    let laid = layout(&letter, &g).unwrap();
    let sizes: Vec<f32> = laid.pages[0]
        .texts
        .iter()
        .filter(|t| t.role == Role::Recipient)
        .map(|t| t.size_pt)
        .collect();
    assert_eq!(sizes.len(), 8);
    assert!(sizes[0] < 11.0, "shrunk to fit: {sizes:?}");
    assert_print_house_rules(&laid, &g);

    letter
        .recipient
        .address
        .push_str("\nТульская обл.\nРоссия\nещё строка\nи ещё одна");
    let err = layout(&letter, &g).unwrap_err();
    assert!(
        matches!(err, LetterError::RecipientDoesNotFit { lines: 12, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("envelope window holds 37.0 mm"),
        "{err}"
    );
}

#[test]
fn invalid_input_is_rejected_precisely() {
    let g = Geometry::default();
    let with_body = |body: &str| Letter {
        body: body.into(),
        ..debt_letter()
    };
    assert_eq!(
        layout(&with_body("  \n\n"), &g).unwrap_err(),
        LetterError::EmptyBody
    );
    assert_eq!(
        layout(&with_body("# Только заголовок"), &g).unwrap_err(),
        LetterError::EmptyBody
    );
    let err = layout(&with_body("Текст 🙂"), &g).unwrap_err();
    assert_eq!(
        err.to_string(),
        "character U+1F642 ('🙂') in `body` has no glyph in the embedded PT Serif font"
    );
    let mut letter = debt_letter();
    letter.recipient.name = " \u{200b} ".into();
    assert_eq!(
        layout(&letter, &g).unwrap_err().to_string(),
        "required field `recipient.name` is empty"
    );
    let bad = Geometry {
        margin_top_mm: 5.0,
        ..g
    };
    assert!(matches!(
        render(&debt_letter(), &bad),
        Err(LetterError::InvalidGeometry { .. })
    ));
    let tall = format!("| a | b |\n|---|---|\n| {} | x |", "слово ".repeat(3000));
    assert!(matches!(
        layout(&with_body(&tall), &g),
        Err(LetterError::TableRowTooTall {
            table: 1,
            row: 1,
            ..
        })
    ));
}

#[test]
fn wide_words_tables_and_lists_stay_in_the_text_column() {
    let g = Geometry::default();
    let mut body = String::from(
        "Счёт 40702810000000000000000000000000000000000000000000000000000000000000001 указан.\n\n",
    );
    body.push_str("| № | Период | Сумма |\n|:-:|---|--:|\n");
    for i in 1..=80 {
        body.push_str(&format!("| {i} | {i:02}.2026 | {i} 000,00 |\n"));
    }
    body.push_str("\n- пункт один\n- пункт два");
    let laid = layout(
        &Letter {
            body,
            ..debt_letter()
        },
        &g,
    )
    .unwrap();
    assert!(laid.pages.len() > 1);
    let right = g.content_right_mm() + 1e-3;
    for t in laid.pages.iter().flat_map(|p| &p.texts) {
        assert!(
            t.x_mm >= g.content_left_mm() - 1e-3 || t.role == Role::Recipient,
            "{t:?}"
        );
        assert!(t.x_mm + t.width_mm <= right, "{t:?}");
    }
    // The header row is bold and repeated at the top of the continuation page.
    let second = &laid.pages[1];
    assert!(
        second
            .texts
            .iter()
            .any(|t| t.role == Role::Table && t.bold && t.text == "Период")
    );
    assert!(!second.rules.is_empty());
    assert_print_house_rules(&laid, &g);
}

#[test]
fn signature_shares_a_line_and_executor_sits_at_the_bottom() {
    let g = Geometry::default();
    let laid = layout(&debt_letter(), &g).unwrap();
    let page = laid.pages.last().unwrap();
    let sig: Vec<_> = page
        .texts
        .iter()
        .filter(|t| t.role == Role::Signatory)
        .collect();
    let name = sig.iter().find(|t| t.text == "П. П. Петров").unwrap();
    let position_last = sig
        .iter()
        .filter(|t| t.text != name.text)
        .max_by(|a, b| a.baseline_mm.total_cmp(&b.baseline_mm))
        .unwrap();
    assert_eq!(name.baseline_mm, position_last.baseline_mm);
    assert!((name.x_mm + name.width_mm - g.content_right_mm()).abs() < 1e-3);
    assert_eq!(position_last.x_mm, g.content_left_mm());
    let exec = page
        .texts
        .iter()
        .find(|t| t.role == Role::Executor)
        .unwrap();
    assert!((exec.bottom_mm - g.content_bottom_mm()).abs() < 1e-3);
    assert!(exec.size_pt < name.size_pt);
}

#[test]
fn oversized_sender_block_is_an_error_not_an_overflow() {
    let mut letter = debt_letter();
    letter.sender.address = "строка адреса\n".repeat(60);
    let err = layout(&letter, &Geometry::default()).unwrap_err();
    assert!(matches!(err, LetterError::SenderDoesNotFit { .. }), "{err}");
    assert!(
        err.to_string().contains("shorten the sender's details"),
        "{err}"
    );
}
