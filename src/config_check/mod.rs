//! `vestnik config check`: the effective configuration, printed with its secrets masked,
//! and every problem that would stop `serve` or make it refuse intents, listed at once.
//!
//! Problems go to stderr, one per line, and the exit status is non-zero if there is
//! any; the configuration goes to stdout as TOML, so it can be diffed or kept.

mod keys;
mod probes;
pub mod redact;

use std::path::Path;

use crate::settings::Settings;

/// Everything wrong with the configuration, as sentences naming the key, file or path.
pub async fn check(file: Option<&Path>) -> (Option<toml::Value>, Vec<String>) {
    let mut problems = Vec::new();
    let merged = match Settings::layers(file).and_then(|f| keys::merged(&f)) {
        Ok(merged) => merged,
        Err(e) => return (None, vec![format!("{e:#}")]),
    };
    let report = keys::check(&merged, file);
    problems.extend(report.unknown);
    problems.extend(report.invalid);
    // The rest is checked even when keys were unknown: their settings minus those keys.
    if let Some(settings) = report.settings {
        problems.extend(probes::database(&settings).await);
        problems.extend(probes::profiles(&settings));
        problems.extend(probes::templates(&settings));
        let calendar = probes::calendar(&settings, chrono::Utc::now().date_naive());
        let calendar_reported = !calendar.is_empty();
        problems.extend(calendar);
        problems.extend(probes::rulebook(&settings, calendar_reported));
    }
    (Some(merged), problems)
}

pub async fn run(file: Option<&Path>) -> anyhow::Result<()> {
    let (merged, problems) = check(file).await;
    if let Some(mut shown) = merged {
        redact::redact(&mut shown);
        print!("{}", toml::to_string(&shown)?);
    }
    if problems.is_empty() {
        eprintln!("configuration OK");
        return Ok(());
    }
    eprintln!("{} problem(s) in the configuration:", problems.len());
    for problem in &problems {
        // One line per problem: parsers' messages may span several.
        eprintln!("  - {}", problem.trim().replace('\n', " "));
    }
    anyhow::bail!("the configuration has {} problem(s)", problems.len())
}
