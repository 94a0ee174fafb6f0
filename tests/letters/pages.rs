//! The file and its pages: readable, unencrypted, A4 portrait, not too many, fonts embedded.

use lopdf::{Object, StringFormat};
use sha2::{Digest, Sha256};

use super::builder::{A4, Draw, Letter, Page, US_LETTER};
use super::*;

#[test]
fn a_good_letter_passes() {
    let pdf = one_page(Page::new(A4, &good_page(A4)));
    let report = validate(&pdf, &Rules::default(), Some(&expected())).unwrap();
    assert_eq!(report.pages, 1);
    assert_eq!(report.sha256, hex::encode(Sha256::digest(&pdf)));
    assert!(validate(&pdf, &Rules::default(), None).is_ok());
}

#[test]
fn us_letter_is_the_wrong_page_size() {
    let problems = check(&one_page(Page::new(US_LETTER, &good_page(US_LETTER))));
    assert_eq!(codes(&problems), [(ProblemCode::PageSize, Some(1))]);
    assert_eq!(
        problems[0].message,
        "page 1 is 215.9 × 279.4 mm (US Letter?); A4 is 210 × 297 mm ± 2 mm"
    );
}

#[test]
fn landscape_a4_is_the_wrong_orientation() {
    let landscape = (A4.1, A4.0);
    let problems = check(&one_page(Page::new(landscape, &good_page(landscape))));
    assert_eq!(codes(&problems), [(ProblemCode::Orientation, Some(1))]);
    assert!(
        problems[0].message.contains("297 × 210 mm, landscape"),
        "{}",
        problems[0].message
    );
}

#[test]
fn a_portrait_box_turned_by_rotate_is_landscape() {
    let mut page = Page::new(A4, &Draw::new(A4));
    page.rotate = Some(90);
    let problems = validate(&one_page(page), &Rules::default(), None).unwrap_err();
    assert_eq!(codes(&problems), [(ProblemCode::Orientation, Some(1))]);
}

#[test]
fn a_landscape_box_turned_upright_passes_with_the_window_in_place() {
    // Content drawn for portrait, mapped into the landscape user space that /Rotate 90
    // turns upright: portrait (x, y) → landscape (842 − y, x).
    let portrait = good_page(A4);
    let mut d = Draw::new(A4);
    d.raw(
        "cm",
        [0.0, 1.0, -1.0, 0.0, A4.1, 0.0]
            .map(|v| Object::Real(v as f32))
            .to_vec(),
    );
    d.ops.extend(portrait.ops);
    let mut page = Page::new((A4.1, A4.0), &d);
    page.rotate = Some(90);
    assert!(validate(&one_page(page), &Rules::default(), Some(&expected())).is_ok());
}

#[test]
fn the_crop_box_and_an_inherited_media_box_give_the_size() {
    let mut letter = Letter::default();
    letter.inherited_media_box = Some([0.0, 0.0, 842.0, 1191.0]);
    let mut page = Page::new(A4, &good_page(A4));
    page.crop_box = Some([0.0, 0.0, A4.0, A4.1]);
    letter.add(page);
    assert!(validate(&letter.bytes(), &Rules::default(), Some(&expected())).is_ok());

    let mut letter = Letter::default();
    letter.inherited_media_box = Some([0.0, 0.0, 842.0, 1191.0]);
    letter.add(Page::new(A4, &Draw::new(A4)));
    let problems = validate(&letter.bytes(), &Rules::default(), None).unwrap_err();
    assert!(
        problems[0]
            .message
            .starts_with("page 1 is 297 × 420.2 mm (A3?)"),
        "{}",
        problems[0].message
    );
}

#[test]
fn eleven_pages_are_too_many() {
    let mut letter = Letter::default();
    letter.add(Page::new(A4, &good_page(A4)));
    for _ in 2..=11 {
        let mut d = Draw::new(A4);
        body(&mut d);
        letter.add(Page::new(A4, &d));
    }
    let problems = check(&letter.bytes());
    assert_eq!(codes(&problems), [(ProblemCode::TooManyPages, None)]);
    assert_eq!(
        problems[0].message,
        "the letter has 11 pages; at most 10 are accepted"
    );
}

#[test]
fn a_pdf_without_pages_is_rejected() {
    let problems = check(&Letter::default().bytes());
    assert_eq!(codes(&problems), [(ProblemCode::NoPages, None)]);
}

#[test]
fn helvetica_is_not_embedded() {
    let mut letter = Letter::default();
    letter.add(Page::new(A4, &good_page(A4)));
    let mut d = Draw::new(A4);
    d.helvetica(20.0, 30.0, 11.0, "Page 2");
    let mut page = Page::new(A4, &d);
    page.helvetica = true;
    letter.add(page);
    let problems = check(&letter.bytes());
    assert_eq!(codes(&problems), [(ProblemCode::FontNotEmbedded, Some(2))]);
    assert!(
        problems[0]
            .message
            .starts_with("font «Helvetica» is not embedded (page 2)"),
        "{}",
        problems[0].message
    );
}

#[test]
fn garbage_is_unreadable() {
    let problems = check(b"this is not a PDF at all");
    assert_eq!(codes(&problems), [(ProblemCode::Unreadable, None)]);
    assert!(
        problems[0].message.starts_with("not a readable PDF"),
        "{}",
        problems[0].message
    );
    let problems = check(b"%PDF-1.7\n%\xe2\xe3\n1 0 obj << /Type /Catalog");
    assert_eq!(problems[0].code, ProblemCode::Unreadable);
}

#[test]
fn encrypted_letters_are_refused_with_or_without_a_user_password() {
    for user_password in ["secret", ""] {
        let mut letter = Letter::default();
        letter.add(Page::new(A4, &good_page(A4)));
        let mut doc = letter.document();
        let id = Object::String(b"0123456789abcdef".to_vec(), StringFormat::Hexadecimal);
        doc.trailer.set("ID", vec![id.clone(), id]);
        let state = lopdf::EncryptionState::try_from(lopdf::EncryptionVersion::V2 {
            document: &doc,
            owner_password: "owner",
            user_password,
            key_length: 128,
            permissions: lopdf::Permissions::all(),
        })
        .unwrap();
        doc.encrypt(&state).unwrap();
        let mut pdf = Vec::new();
        doc.save_to(&mut pdf).unwrap();
        let problems = check(&pdf);
        assert_eq!(
            codes(&problems),
            [(ProblemCode::Encrypted, None)],
            "user password {user_password:?}"
        );
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut letter = Letter::default();
    let mut d = good_page(US_LETTER);
    d.text(115.0, 82.0, 14.0, "РЕКЛАМА")
        .helvetica(30.0, 4.0, 9.0, "Printed by Acme");
    let mut page = Page::new(US_LETTER, &d);
    page.helvetica = true;
    letter.add(page);
    let landscape = (A4.1, A4.0);
    letter.add(Page::new(landscape, &good_page(landscape)));
    for _ in 3..=12 {
        letter.add(Page::new(A4, &Draw::new(A4)));
    }
    let problems = check(&letter.bytes());
    assert_eq!(
        codes(&problems),
        [
            (ProblemCode::TooManyPages, None),
            (ProblemCode::PageSize, Some(1)),
            (ProblemCode::OutsidePrintableArea, Some(1)),
            (ProblemCode::WindowNotClear, Some(1)),
            (ProblemCode::FontNotEmbedded, Some(1)),
            (ProblemCode::Orientation, Some(2)),
        ]
    );
    assert!(
        problems[2].message.contains("«Printed by Acme»"),
        "{}",
        problems[2].message
    );
}

#[test]
fn problems_and_rules_speak_json() {
    let problems = check(b"junk");
    let json = serde_json::to_value(&problems).unwrap();
    assert_eq!(json[0]["code"], "unreadable");
    assert_eq!(json[0]["page"], serde_json::Value::Null);
    assert_eq!(
        serde_json::to_value(ProblemCode::AddressNotInWindow).unwrap(),
        "address_not_in_window"
    );

    let rules: Rules =
        serde_json::from_str(r#"{"max_pages": 4, "window": {"left_mm": 20}}"#).unwrap();
    assert_eq!(rules.max_pages, 4);
    assert_eq!(
        (
            rules.window.left_mm,
            rules.window.top_mm,
            rules.page_height_mm
        ),
        (20.0, 45.0, 297.0)
    );
    assert!(serde_json::from_str::<Rules>(r#"{"margin_mm": 5}"#).is_err());
}
