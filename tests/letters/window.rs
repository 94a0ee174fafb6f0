//! The envelope window: the recipient, and nothing else.

use lopdf::{Object, StringFormat};

use super::builder::{A4, DEJAVU, Draw, Page, XObject};
use super::*;

#[test]
fn an_address_outside_the_window_is_reported() {
    let mut d = Draw::new(A4);
    letterhead(&mut d);
    d.text(20.0, 55.0, 11.0, "Семенов Петр Алексеевич").text(
        20.0,
        61.0,
        11.0,
        "ул. Лесная, д. 5, кв. 12, г. Москва, 123456",
    );
    body(&mut d);
    let problems = check(&one_page(Page::new(A4, &d)));
    assert_eq!(
        codes(&problems),
        [(ProblemCode::AddressNotInWindow, Some(1))]
    );
    assert_eq!(
        problems[0].message,
        "page 1: the address window (x 110–200 mm, y 45–90 mm) must show the recipient's \
         name «Семёнов Пётр Алексеевич» and postcode «123456»; it shows no text"
    );
}

#[test]
fn someone_else_in_the_window_is_reported() {
    let mut d = Draw::new(A4);
    d.text(115.0, 55.0, 11.0, "Иванов Иван Иванович").text(
        115.0,
        61.0,
        11.0,
        "ул. Лесная, д. 5, кв. 12, 123456",
    );
    let problems = check(&one_page(Page::new(A4, &d)));
    assert_eq!(
        codes(&problems),
        [
            (ProblemCode::AddressNotInWindow, Some(1)),
            (ProblemCode::WindowNotClear, Some(1))
        ]
    );
    assert!(
        problems[0]
            .message
            .contains("name «Семёнов Пётр Алексеевич»; it shows «Иванов Иван Иванович ул. Лесная")
    );
    assert!(
        problems[1]
            .message
            .ends_with("«Иванов», «Иван», «Иванович»"),
        "{}",
        problems[1].message
    );
}

#[test]
fn an_extra_word_in_the_window_is_reported() {
    let mut d = good_page(A4);
    d.text(115.0, 82.0, 14.0, "РЕКЛАМА");
    let problems = check(&one_page(Page::new(A4, &d)));
    assert_eq!(codes(&problems), [(ProblemCode::WindowNotClear, Some(1))]);
    assert_eq!(
        problems[0].message,
        "page 1: the address window (x 110–200 mm, y 45–90 mm) shows words that are not part of \
         the recipient's address: «РЕКЛАМА»"
    );
}

#[test]
fn text_grazing_the_window_edge_counts_and_graphics_do_too() {
    // The date's box reaches 1 mm into the window from above; a QR-code image sits inside.
    let mut d = good_page(A4);
    d.text(150.0, 46.0 - 0.2 * 10.0 * 25.4 / 72.0, 10.0, "15.03.2026")
        .place("Im1", 180.0, 75.0, 12.0, 12.0);
    let mut page = Page::new(A4, &d);
    page.xobjects.push(("Im1", XObject::Image));
    let problems = check(&one_page(page));
    assert_eq!(
        codes(&problems),
        [
            (ProblemCode::WindowNotClear, Some(1)),
            (ProblemCode::WindowNotClear, Some(1))
        ]
    );
    assert!(
        problems[0].message.ends_with("«15», «03», «2026»"),
        "{}",
        problems[0].message
    );
    assert!(
        problems[1]
            .message
            .ends_with("it also shows an image at x 180–192 mm, y 75–87 mm"),
        "{}",
        problems[1].message
    );
}

#[test]
fn words_spaced_by_kerning_and_split_shows_are_read_as_words() {
    let mut d = Draw::new(A4);
    letterhead(&mut d);
    let show = |s: &str| Object::String(DEJAVU.encode(s), StringFormat::Hexadecimal);
    // "Семенов Петр Алексеевич" with TJ gaps instead of spaces; the street split in two shows.
    d.raw("BT", vec![])
        .raw("Tf", vec!["F1".into(), 11.into()])
        .raw("Td", vec![326.into(), 686.into()])
        .raw(
            "TJ",
            vec![Object::Array(vec![
                show("Семенов"),
                (-350).into(),
                show("Петр"),
                (-350).into(),
                show("Алексеевич"),
            ])],
        )
        .raw("Td", vec![0.into(), (-17).into()])
        .raw("Tj", vec![show("ул. Лес")])
        .raw("Tj", vec![show("ная, д. 5, кв. 12")])
        .raw("ET", vec![])
        .text(115.0, 67.0, 11.0, "г. Москва 123456");
    validate(
        &one_page(Page::new(A4, &d)),
        &Rules::default(),
        Some(&expected()),
    )
    .unwrap();
}
