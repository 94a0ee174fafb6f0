//! Where ink lands: inside the printable area, measured through forms, clips and real files.

use lopdf::Object;

use super::builder::{A4, DEJAVU, Draw, Page, XObject};
use super::*;

#[test]
fn fonts_and_marks_inside_forms_are_checked() {
    // A form whose own resources declare Helvetica, drawn 2 mm from the left edge.
    let mut inner = Draw::new((0.0, 0.0));
    inner.helvetica(0.0, 0.0, 10.0, "Barcode 0001");
    let mut d = good_page(A4);
    d.raw("Do", vec!["Fm1".into()]);
    let mut page = Page::new(A4, &d);
    let at = [1.0, 0.0, 0.0, 1.0, 2.0 * 72.0 / 25.4, 150.0];
    let form = XObject::Form {
        matrix: at,
        bbox: [0.0, -5.0, 200.0, 20.0],
        ops: inner.ops,
        helvetica: true,
    };
    page.xobjects.push(("Fm1", form));
    let problems = check(&one_page(page));
    assert_eq!(
        codes(&problems),
        [
            (ProblemCode::OutsidePrintableArea, Some(1)),
            (ProblemCode::FontNotEmbedded, Some(1))
        ]
    );
    assert!(
        problems[0].message.contains("text «Barcode 0001» at x 2–"),
        "{}",
        problems[0].message
    );
    assert!(
        problems[0].message.contains("within 2 mm of the left edge"),
        "{}",
        problems[0].message
    );
}

#[test]
fn text_3_mm_from_the_left_edge_is_outside_the_printable_area() {
    let mut d = good_page(A4);
    d.text(3.0, 150.0, 11.0, "Лицевой счёт 1234567");
    let problems = check(&one_page(Page::new(A4, &d)));
    assert_eq!(
        codes(&problems),
        [(ProblemCode::OutsidePrintableArea, Some(1))]
    );
    let message = &problems[0].message;
    assert!(
        message.starts_with("page 1: text «Лицевой счёт 1234567» at x 3–"),
        "{message}"
    );
    assert!(
        message.ends_with(
            "comes within 3 mm of the left edge; nothing may be printed within 10 mm of an edge"
        ),
        "{message}"
    );
}

#[test]
fn text_running_past_the_right_margin_is_measured_with_the_font_widths() {
    let line = "Задолженность по лицевому счёту составляет 1234,56 руб.";
    let mut d = good_page(A4);
    d.text(70.0, 200.0, 12.0, line);
    let problems = check(&one_page(Page::new(A4, &d)));
    assert_eq!(
        codes(&problems),
        [(ProblemCode::OutsidePrintableArea, Some(1))]
    );
    let glyphs = line.chars().count() as f64;
    let width_mm = DEJAVU.width_em(line) * 12.0 * 25.4 / 72.0;
    assert!(glyphs > 0.0 && width_mm > 130.0 && 70.0 + width_mm < 210.0);
    let right = format!("x 70–{:.1} mm", 70.0 + width_mm);
    assert!(
        problems[0].message.contains(&right),
        "{} vs {right}",
        problems[0].message
    );
    assert!(
        problems[0].message.contains("of the right edge"),
        "{}",
        problems[0].message
    );
}

#[test]
fn a_rectangle_bleeding_off_the_page_is_outside_the_printable_area() {
    let mut d = good_page(A4);
    d.rect(180.0, 250.0, 40.0, 20.0);
    let problems = check(&one_page(Page::new(A4, &d)));
    assert_eq!(
        codes(&problems),
        [(ProblemCode::OutsidePrintableArea, Some(1))]
    );
    assert_eq!(
        problems[0].message,
        "page 1: a drawn path at x 180–210 mm, y 250–270 mm reaches the right edge; \
         nothing may be printed within 10 mm of an edge"
    );
}

#[test]
fn clipped_and_invisible_content_is_not_a_mark() {
    let mut d = Draw::new(A4);
    // A full-page image clipped to the printable area, and invisible (OCR-style) text at 3 mm.
    d.raw("q", vec![])
        .raw(
            "re",
            [28.35, 28.35, 538.58, 785.2]
                .map(|v| Object::Real(v as f32))
                .to_vec(),
        )
        .raw("W", vec![])
        .raw("n", vec![])
        .place("Im1", 0.0, 0.0, 210.0, 297.0)
        .raw("Q", vec![])
        .raw("Tr", vec![3.into()])
        .text(3.0, 150.0, 11.0, "Лицевой счёт")
        .raw("Tr", vec![0.into()]);
    let mut page = Page::new(A4, &d);
    page.xobjects.push(("Im1", XObject::Image));
    validate(&one_page(page), &Rules::default(), None).unwrap();
}

/// LibreOffice 7.4 output (`soffice --headless --convert-to pdf libreoffice-letter.fodt`):
/// subset TrueType fonts with WinAnsi and /ToUnicode, kerned TJ, a page clip. The letter
/// is US Letter and has an advert frame 3 mm from the left edge; the window is right.
#[test]
fn a_libreoffice_letter_is_read_like_poppler_reads_it() {
    let pdf = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/libreoffice-letter.pdf"
    ))
    .unwrap();
    let problems = check(&pdf);
    assert_eq!(
        codes(&problems),
        [
            (ProblemCode::PageSize, Some(1)),
            (ProblemCode::OutsidePrintableArea, Some(1))
        ]
    );
    // pdftotext -bbox puts the two words at x 3.0–24.5 and 29.3–38.9 mm.
    assert!(
        problems[1]
            .message
            .starts_with("page 1: text «РЕКЛАМА у края» at x 3–38.9 mm"),
        "{}",
        problems[1].message
    );
}

/// Damaged files must come back as problems, never as a panic.
#[test]
fn truncated_and_corrupted_letters_do_not_panic() {
    let pdf = one_page(Page::new(A4, &good_page(A4)));
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for cut in (0..pdf.len()).step_by(pdf.len() / 12) {
        let _ = validate(&pdf[..cut], &Rules::default(), Some(&expected()));
    }
    for _ in 0..40 {
        let mut bad = pdf.clone();
        for _ in 0..4 {
            let at = (next() as usize) % bad.len();
            bad[at] = next() as u8;
        }
        let _ = validate(&bad, &Rules::default(), Some(&expected()));
    }
}
