//! Page geometry of a letter: margins and the envelope window, in millimetres.
//!
//! The numbers come from the print house (envelope type, folding machine), so they are
//! configuration, not code. What *is* code is the set of rules the print house's own
//! validator enforces; [`Geometry::validate`] checks them up front so that a bad setting
//! fails on the first letter with a precise message instead of producing letters the
//! print house rejects.

use serde::Deserialize;

use super::LetterError;

/// A4 portrait width. Not configurable: the envelope windows and the folding machine are
/// made for A4, and the delivery proof assumes one page format.
pub const PAGE_WIDTH_MM: f32 = 210.0;
/// A4 portrait height.
pub const PAGE_HEIGHT_MM: f32 = 297.0;
/// The print house prints nothing closer than this to any paper edge (its printers cannot,
/// and its validator rejects the file if anything is there).
pub const PRINTABLE_INSET_MM: f32 = 10.0;
/// Room needed between the bottom margin and the printable edge for the page numbers.
pub const FOOTER_BAND_MIN_MM: f32 = 6.0;
/// Narrowest left column (sender block, outgoing number) that still reads as one.
pub const SENDER_COLUMN_MIN_MM: f32 = 50.0;
/// Gap between the sender column and the window.
pub const COLUMN_GAP_MM: f32 = 5.0;
/// Narrowest body column we lay out; below that tables and justified text fall apart.
const CONTENT_MIN_WIDTH_MM: f32 = 100.0;
/// Smallest window that holds a three-line address at the smallest size we try.
const WINDOW_MIN_WIDTH_MM: f32 = 40.0;
const WINDOW_MIN_HEIGHT_MM: f32 = 20.0;

/// Where things go on the page. All values in millimetres from the top-left paper corner.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Geometry {
    /// Left edge of the text column.
    pub margin_left_mm: f32,
    /// Right edge of the text column, measured from the right paper edge.
    pub margin_right_mm: f32,
    /// Top of the sender block (page 1) and of the text (further pages).
    pub margin_top_mm: f32,
    /// Bottom of the text column; page numbers go in the band below it.
    pub margin_bottom_mm: f32,
    /// The envelope window on page 1: only the recipient block is drawn inside it.
    pub window: Window,
}

/// The envelope window, as a rectangle on the unfolded page 1.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Window {
    pub left_mm: f32,
    pub top_mm: f32,
    pub width_mm: f32,
    pub height_mm: f32,
}

impl Default for Geometry {
    fn default() -> Self {
        // Russian business-letter margins (GOST R 7.0.97: 20 left, 10+ elsewhere), with
        // 15/15/20 chosen so that every edge stays clear of the 10 mm unprintable border.
        Self {
            margin_left_mm: 20.0,
            margin_right_mm: 15.0,
            margin_top_mm: 15.0,
            margin_bottom_mm: 20.0,
            window: Window::default(),
        }
    }
}

impl Default for Window {
    /// DL/C5 right-window envelope.
    fn default() -> Self {
        Self {
            left_mm: 110.0,
            top_mm: 45.0,
            width_mm: 90.0,
            height_mm: 45.0,
        }
    }
}

impl Window {
    pub fn right_mm(&self) -> f32 {
        self.left_mm + self.width_mm
    }

    pub fn bottom_mm(&self) -> f32 {
        self.top_mm + self.height_mm
    }
}

impl Geometry {
    /// x of the left edge of the text column.
    pub fn content_left_mm(&self) -> f32 {
        self.margin_left_mm
    }

    /// x of the right edge of the text column.
    pub fn content_right_mm(&self) -> f32 {
        PAGE_WIDTH_MM - self.margin_right_mm
    }

    pub fn content_width_mm(&self) -> f32 {
        self.content_right_mm() - self.content_left_mm()
    }

    /// y of the lowest point text may reach (descenders included).
    pub fn content_bottom_mm(&self) -> f32 {
        PAGE_HEIGHT_MM - self.margin_bottom_mm
    }

    /// Width of the sender column left of the window.
    pub fn sender_column_width_mm(&self) -> f32 {
        self.window.left_mm - COLUMN_GAP_MM - self.margin_left_mm
    }

    /// Checks the rules the print house enforces, plus what the layout needs to work.
    pub fn validate(&self) -> Result<(), LetterError> {
        let w = &self.window;
        let named = [
            ("margin_left_mm", self.margin_left_mm),
            ("margin_right_mm", self.margin_right_mm),
            ("margin_top_mm", self.margin_top_mm),
            ("margin_bottom_mm", self.margin_bottom_mm),
            ("window.left_mm", w.left_mm),
            ("window.top_mm", w.top_mm),
            ("window.width_mm", w.width_mm),
            ("window.height_mm", w.height_mm),
        ];
        for (name, value) in named {
            if !value.is_finite() || value < 0.0 {
                return Err(invalid(format!(
                    "{name} = {value} is not a non-negative number"
                )));
            }
        }
        for (name, value) in &named[..4] {
            if *value < PRINTABLE_INSET_MM {
                return Err(invalid(format!(
                    "{name} = {value} mm is inside the {PRINTABLE_INSET_MM} mm unprintable border"
                )));
            }
        }
        if self.margin_bottom_mm - PRINTABLE_INSET_MM < FOOTER_BAND_MIN_MM {
            return Err(invalid(format!(
                "margin_bottom_mm = {} mm leaves less than {FOOTER_BAND_MIN_MM} mm above the \
                 unprintable border for page numbers (need at least {} mm)",
                self.margin_bottom_mm,
                PRINTABLE_INSET_MM + FOOTER_BAND_MIN_MM
            )));
        }
        if self.content_width_mm() < CONTENT_MIN_WIDTH_MM {
            return Err(invalid(format!(
                "text column is {:.1} mm wide; at least {CONTENT_MIN_WIDTH_MM} mm is needed",
                self.content_width_mm()
            )));
        }
        if w.width_mm < WINDOW_MIN_WIDTH_MM || w.height_mm < WINDOW_MIN_HEIGHT_MM {
            return Err(invalid(format!(
                "window {} × {} mm is smaller than the minimum {WINDOW_MIN_WIDTH_MM} × \
                 {WINDOW_MIN_HEIGHT_MM} mm",
                w.width_mm, w.height_mm
            )));
        }
        let printable_right = PAGE_WIDTH_MM - PRINTABLE_INSET_MM;
        let printable_bottom = PAGE_HEIGHT_MM - PRINTABLE_INSET_MM;
        if w.left_mm < PRINTABLE_INSET_MM
            || w.top_mm < PRINTABLE_INSET_MM
            || w.right_mm() > printable_right
            || w.bottom_mm() > printable_bottom
        {
            return Err(invalid(format!(
                "window ({}, {})–({}, {}) mm extends outside the printable area \
                 ({PRINTABLE_INSET_MM}, {PRINTABLE_INSET_MM})–({printable_right}, {printable_bottom}) mm",
                w.left_mm,
                w.top_mm,
                w.right_mm(),
                w.bottom_mm()
            )));
        }
        // The layout puts the sender block left of the window, so only right-window
        // envelopes are supported; a left window would overlap the sender block.
        if self.sender_column_width_mm() < SENDER_COLUMN_MIN_MM {
            return Err(invalid(format!(
                "window.left_mm = {} mm leaves {:.1} mm for the sender block left of it; \
                 at least {SENDER_COLUMN_MIN_MM} mm is needed (only right-window envelopes \
                 are supported)",
                w.left_mm,
                self.sender_column_width_mm()
            )));
        }
        if w.bottom_mm() + 30.0 > self.content_bottom_mm() {
            return Err(invalid(format!(
                "window bottom at {} mm leaves less than 30 mm of body text on page 1",
                w.bottom_mm()
            )));
        }
        Ok(())
    }
}

fn invalid(reason: String) -> LetterError {
    LetterError::InvalidGeometry { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_a_right_window_envelope() {
        let g = Geometry::default();
        g.validate().unwrap();
        assert_eq!(g.window.right_mm(), 200.0);
        assert_eq!(g.content_width_mm(), 175.0);
    }

    #[test]
    fn partial_toml_keeps_defaults_and_unknown_fields_are_rejected() {
        let g: Geometry = toml::from_str("margin_left_mm = 25\n[window]\ntop_mm = 50\n").unwrap();
        assert_eq!(g.margin_left_mm, 25.0);
        assert_eq!(g.margin_right_mm, 15.0);
        assert_eq!(g.window.top_mm, 50.0);
        assert_eq!(g.window.width_mm, 90.0);
        assert!(toml::from_str::<Geometry>("margin_lft_mm = 25").is_err());
        assert!(toml::from_str::<Geometry>("[window]\nwidth = 25").is_err());
    }

    #[test]
    fn rules_of_the_print_house_are_enforced() {
        let mut g = Geometry {
            margin_right_mm: 8.0,
            ..Geometry::default()
        };
        let err = g.validate().unwrap_err().to_string();
        assert!(err.contains("margin_right_mm = 8 mm"), "{err}");

        g = Geometry::default();
        g.window.width_mm = 95.0; // right edge at 205 mm
        let err = g.validate().unwrap_err().to_string();
        assert!(err.contains("outside the printable area"), "{err}");

        g = Geometry::default();
        g.window.left_mm = 30.0;
        let err = g.validate().unwrap_err().to_string();
        assert!(err.contains("right-window"), "{err}");

        g = Geometry {
            margin_bottom_mm: 12.0,
            ..Geometry::default()
        };
        let err = g.validate().unwrap_err().to_string();
        assert!(err.contains("page numbers"), "{err}");
    }
}
