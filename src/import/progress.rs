//! Progress on stderr for the two passes of an import. Hidden when stderr is not a
//! terminal: a log file or a pipe gets the plain messages only, not redraw sequences.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

fn bar(len: u64, template: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    bar
}

/// The check pass: the row count is not known yet, so progress is by bytes of the file.
pub fn checking(file_len: u64) -> ProgressBar {
    bar(
        file_len,
        "checking [{bar:30}] {bytes}/{total_bytes} {msg}, {bytes_per_sec}, ETA {eta}",
    )
}

/// The submit pass, by rows (the check pass counted them).
pub fn sending(rows: u64) -> ProgressBar {
    bar(
        rows,
        "sending  [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, ETA {eta}",
    )
}
