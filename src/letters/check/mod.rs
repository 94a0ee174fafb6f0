//! Precompiled PDF letters for postal mail and fax, checked as a print house would.
//!
//! `validate` is the entry point; the other files serve it: `page` (size, turn, margins),
//! `content` (where marks land; `geometry` its boxes and matrices), `fonts` (embedding and
//! advances; `cmap` the text codes spell) and `window` (the envelope window).

mod cmap;
mod content;
mod fonts;
mod geometry;
mod page;
pub mod validate;
mod window;
