//! Precompiled-letter preflight on PDFs built here with lopdf: shared fixtures here, the
//! checks by subject in `pages`, `marks` and `window`.

mod builder;
mod marks;
mod pages;
mod window;

use builder::{Draw, Letter, Page};
use vestnik::letters::check::validate::{Expected, Problem, ProblemCode, Rules, validate};

const NAME: &str = "Семёнов Пётр Алексеевич";
const ADDRESS: &str = "ул. Лесная, д. 5, кв. 12, г. Москва";
const POSTCODE: &str = "123456";

fn expected() -> Expected<'static> {
    Expected {
        name: NAME,
        postcode: POSTCODE,
        address: ADDRESS,
    }
}

/// Sender block, logo, the recipient in the window (ё spelt е, as templates often do), body.
fn letterhead(d: &mut Draw) -> &mut Draw {
    d.rect(20.0, 12.0, 30.0, 12.0)
        .text(20.0, 32.0, 10.0, "АО «Энергосбыт»")
        .text(20.0, 37.0, 9.0, "г. Москва, ул. Тверская, д. 1")
}

fn window(d: &mut Draw) -> &mut Draw {
    d.text(115.0, 55.0, 11.0, "Семенов Петр Алексеевич")
        .text(115.0, 61.0, 11.0, "ул. Лесная, д. 5, кв. 12")
        .text(115.0, 67.0, 11.0, "г. Москва")
        .text(115.0, 73.0, 11.0, "123456")
}

fn body(d: &mut Draw) -> &mut Draw {
    d.text(20.0, 110.0, 12.0, "Уважаемый Пётр Алексеевич!")
        .text(
            20.0,
            120.0,
            11.0,
            "Сообщаем о плановом отключении электроэнергии 12 марта.",
        )
        .text(20.0, 265.0, 8.0, "Страница 1")
}

fn good_page(size: (f64, f64)) -> Draw {
    let mut d = Draw::new(size);
    body(window(letterhead(&mut d)));
    d
}

fn one_page(page: Page) -> Vec<u8> {
    let mut letter = Letter::default();
    letter.add(page);
    letter.bytes()
}

fn check(pdf: &[u8]) -> Vec<Problem> {
    validate(pdf, &Rules::default(), Some(&expected())).expect_err("problems expected")
}

/// Codes and pages, for comparing; messages are printed when the comparison fails.
fn codes(problems: &[Problem]) -> Vec<(ProblemCode, Option<usize>)> {
    for p in problems {
        println!("{:?} {:?}: {}", p.code, p.page, p.message);
    }
    problems.iter().map(|p| (p.code, p.page)).collect()
}
