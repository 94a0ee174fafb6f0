//! The printed page: its box and turn, its size, and its unprintable margin.
//!
//! Sizes and positions are reported as printed, in millimetres from the top-left corner,
//! because that is how the person fixing the template measures them.

use lopdf::{Dictionary, Document, Object};

use super::content::Mark;
use super::fonts::{number, resolve};
use super::geometry::Rect;
use super::validate::{Problem, ProblemCode, Rules, SLACK_MM, describe, extent, mm};

/// A page with more marks than this outside the printable area gets one summary problem
/// for the rest: one badly placed background would otherwise drown the report.
const MARGIN_PROBLEMS_PER_PAGE: usize = 5;
const MM_PER_PT: f64 = 25.4 / 72.0;

/// Page attributes inherit down the page tree (ISO 32000-1, 7.7.3.4).
pub(crate) fn inherited<'a>(
    doc: &'a Document,
    page: &'a Dictionary,
    key: &[u8],
) -> Option<&'a Object> {
    let mut node = page;
    for _ in 0..64 {
        if let Ok(value) = node.get(key) {
            return Some(value);
        }
        node = resolve(doc, node.get(b"Parent").ok()?).as_dict().ok()?;
    }
    None
}

/// The printed page: its box in user space and how it is turned.
pub(crate) struct Frame {
    /// MediaBox, cut to the CropBox when there is one (user space, points).
    pub page: Rect,
    /// Clockwise quarter turns applied when printing: 0, 90, 180 or 270.
    rotate: i64,
}

impl Frame {
    pub fn of(doc: &Document, page: &Dictionary) -> Option<Frame> {
        let rect = |key: &[u8]| -> Option<Rect> {
            let array = resolve(doc, inherited(doc, page, key)?).as_array().ok()?;
            let n: Vec<f64> = array
                .iter()
                .map(|o| number(resolve(doc, o)))
                .collect::<Option<_>>()?;
            let [x0, y0, x1, y1] = n.try_into().ok()?;
            Some(Rect::around([(x0, y0), (x1, y1)])).filter(|r| r.x1 > r.x0 && r.y1 > r.y0)
        };
        let media = rect(b"MediaBox")?;
        let page_box = match rect(b"CropBox").map(|crop| crop.intersect(&media)) {
            Some(cut) if cut.x1 > cut.x0 && cut.y1 > cut.y0 => cut,
            _ => media,
        };
        let rotate = inherited(doc, page, b"Rotate")
            .and_then(|o| number(resolve(doc, o)))
            .map(|r| (r as i64).rem_euclid(360))
            .filter(|r| r % 90 == 0)
            .unwrap_or(0);
        Some(Frame {
            page: page_box,
            rotate,
        })
    }

    /// Width × height as printed.
    pub fn size_mm(&self) -> (f64, f64) {
        let (w, h) = (
            (self.page.x1 - self.page.x0) * MM_PER_PT,
            (self.page.y1 - self.page.y0) * MM_PER_PT,
        );
        if self.rotate % 180 == 0 {
            (w, h)
        } else {
            (h, w)
        }
    }

    /// A user-space box as printed: millimetres right of the left edge (x) and below the top
    /// edge (y).
    pub fn to_display_mm(&self, r: &Rect) -> Rect {
        let p = &self.page;
        let point = |x: f64, y: f64| {
            let (dx, dy) = match self.rotate {
                90 => (y - p.y0, x - p.x0),
                180 => (p.x1 - x, y - p.y0),
                270 => (p.y1 - y, p.x1 - x),
                _ => (x - p.x0, p.y1 - y),
            };
            (dx * MM_PER_PT, dy * MM_PER_PT)
        };
        Rect::around([point(r.x0, r.y0), point(r.x1, r.y1)])
    }
}

/// Well-known sizes, to hint at what the generator was set to.
const KNOWN_SIZES: [(&str, f64, f64); 8] = [
    ("A4", 210.0, 297.0),
    ("US Letter", 215.9, 279.4),
    ("US Legal", 215.9, 355.6),
    ("A3", 297.0, 420.0),
    ("A5", 148.0, 210.0),
    ("B5", 176.0, 250.0),
    ("Executive", 184.2, 266.7),
    ("Tabloid", 279.4, 431.8),
];

pub(crate) fn check_size(no: usize, (w, h): (f64, f64), rules: &Rules) -> Option<Problem> {
    let (rw, rh, tol) = (
        rules.page_width_mm,
        rules.page_height_mm,
        rules.tolerance_mm,
    );
    let fits = |w: f64, h: f64| (w - rw).abs() <= tol && (h - rh).abs() <= tol;
    let wanted = if (rw - 210.0).abs() < 0.5 && (rh - 297.0).abs() < 0.5 {
        format!("A4 is {} × {} mm ± {} mm", mm(rw), mm(rh), mm(tol))
    } else {
        format!(
            "letters must be {} × {} mm ± {} mm",
            mm(rw),
            mm(rh),
            mm(tol)
        )
    };
    if fits(w, h) {
        return None;
    }
    if fits(h, w) {
        let (is, must) = if rw <= rh {
            ("landscape", "portrait")
        } else {
            ("portrait", "landscape")
        };
        let message = format!(
            "page {no} is {} × {} mm, {is}; letters must be {must}: {wanted}",
            mm(w),
            mm(h)
        );
        return Some(Problem::new(ProblemCode::Orientation, Some(no), message));
    }
    let near = |a: f64, b: f64| (a - b).abs() <= 2.0;
    let guess = KNOWN_SIZES.iter().find_map(|(name, kw, kh)| {
        if near(w, *kw) && near(h, *kh) {
            Some(format!(" ({name}?)"))
        } else if near(w, *kh) && near(h, *kw) {
            Some(format!(" ({name} landscape?)"))
        } else {
            None
        }
    });
    let message = format!(
        "page {no} is {} × {} mm{}; {wanted}",
        mm(w),
        mm(h),
        guess.unwrap_or_default()
    );
    Some(Problem::new(ProblemCode::PageSize, Some(no), message))
}

pub(crate) fn check_margins(
    no: usize,
    marks: &[Mark],
    (w, h): (f64, f64),
    rules: &Rules,
    problems: &mut Vec<Problem>,
) {
    let m = rules.printable_margin_mm;
    let outside: Vec<(&Mark, Vec<String>)> = marks
        .iter()
        .filter_map(|mark| {
            let r = &mark.rect;
            let edges: Vec<String> = [
                (r.x0, "left"),
                (w - r.x1, "right"),
                (r.y0, "top"),
                (h - r.y1, "bottom"),
            ]
            .into_iter()
            .filter(|(distance, _)| *distance < m - SLACK_MM)
            .map(|(distance, edge)| match distance {
                // Marks are cut to the page box, so one running off the page ends at 0.
                d if d < 0.05 => format!("reaches the {edge} edge"),
                d => format!("comes within {} mm of the {edge} edge", mm(d)),
            })
            .collect();
            (!edges.is_empty()).then_some((mark, edges))
        })
        .collect();
    for (mark, edges) in outside.iter().take(MARGIN_PROBLEMS_PER_PAGE) {
        let message = format!(
            "page {no}: {} at {} {}; nothing may be printed within {} mm of an edge",
            describe(&mark.kind),
            extent(&mark.rect),
            edges.join(" and "),
            mm(m)
        );
        problems.push(Problem::new(
            ProblemCode::OutsidePrintableArea,
            Some(no),
            message,
        ));
    }
    if let Some(rest) = outside
        .get(MARGIN_PROBLEMS_PER_PAGE..)
        .filter(|r| !r.is_empty())
    {
        let all = rest
            .iter()
            .map(|(mark, _)| mark.rect)
            .reduce(|a, b| a.union(&b))
            .expect("not empty");
        let message = format!(
            "page {no}: {} more marks reach into the {} mm margin, together spanning {}",
            rest.len(),
            mm(m),
            extent(&all)
        );
        problems.push(Problem::new(
            ProblemCode::OutsidePrintableArea,
            Some(no),
            message,
        ));
    }
}
