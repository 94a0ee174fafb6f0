//! `vestnik import`: one mailing from a CSV of recipients (docs/import.md).
//!
//! Two streaming passes, so a file of a million rows needs the memory of one batch:
//! 1. check every row with intake's own parser and hash the file; any bad row stops the
//!    import before anything is sent, unless `--skip-bad`;
//! 2. read the file again and post one intent per `--batch` good rows, each under the
//!    idempotency key `import:<file sha256>:<batch number>`, printing the intent ids.
//!
//! Re-running the same command after a crash replays the batches already accepted (the
//! server answers with the original intent) and sends the rest.

mod columns;
mod progress;
mod scan;
mod submit;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use scan::{Row, Scan};
use submit::{Rows, Submitter};

use crate::intents::{IntentKind, MAX_RECIPIENTS, parse_event};
use crate::validation::FieldErrors;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// planned_outage, meter_visit, debt_warning, tariff_change or appeal_reply.
    #[arg(long, value_parser = crate::cli::parse_kind)]
    pub kind: IntentKind,
    /// A JSON file holding the event: the kind's fields (docs/intents.md).
    #[arg(long)]
    pub event: PathBuf,
    /// The CSV of recipients, UTF-8 (docs/import.md).
    #[arg(long)]
    pub recipients: PathBuf,
    /// The Vestnik server to submit to.
    #[arg(long, env = "VESTNIK_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// A bearer token with the ingest or admin role.
    #[arg(long, env = "VESTNIK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Send the good rows even if some are bad (the bad ones are listed and left out).
    #[arg(long)]
    pub skip_bad: bool,
    /// Recipients per intent.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=MAX_RECIPIENTS as u64))]
    pub batch: u64,
    /// External ids are `<prefix>-00001`, `<prefix>-00002`…; default `import-<file hash>`.
    #[arg(long)]
    pub external_id_prefix: Option<String>,
    /// The cell delimiter: `,` or `;` (Russian Excel exports), or a tab.
    #[arg(long, default_value = ",", value_parser = parse_delimiter)]
    pub delimiter: u8,
    /// Record notices whose deadline has passed as late instead of refusing them.
    #[arg(long)]
    pub accept_late: bool,
    /// Check the file only; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Bad rows listed at most (all are counted).
    #[arg(long, default_value_t = 1000)]
    pub max_errors: u64,
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "," | ";" | "|" => Ok(s.as_bytes()[0]),
        "\\t" | "\t" | "tab" => Ok(b'\t'),
        _ => Err(format!(
            "'{s}' is not a delimiter: use ',', ';', '|' or tab"
        )),
    }
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let event = read_event(&args.event, args.kind)?;
    let (good, file_sha256, stamp) = check(&args)?;
    if args.dry_run {
        eprintln!("dry run: nothing sent");
        return Ok(());
    }
    let token = args
        .token
        .clone()
        .context("a token is needed: --token or VESTNIK_TOKEN")?;
    anyhow::ensure!(
        stamp == file_stamp(&args.recipients)?,
        "{} changed since it was checked",
        args.recipients.display()
    );
    crate::channels::install_crypto_provider();
    let prefix = args
        .external_id_prefix
        .clone()
        .unwrap_or_else(|| format!("import-{}", &file_sha256[..12]));
    anyhow::ensure!(
        !prefix.trim().is_empty() && prefix.chars().count() <= 180,
        "--external-id-prefix must be 1-180 characters"
    );
    let submitter = Submitter {
        http: reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Intake of one batch is a single transaction; give a loaded server time.
            .timeout(Duration::from_secs(300))
            .build()
            .context("building the HTTP client")?,
        url: format!("{}/v1/intents", args.server.trim_end_matches('/')),
        token,
        head: format!(
            "{{\"kind\":\"{}\",\"accept_late\":{},\"event\":{}",
            args.kind.as_str(),
            args.accept_late,
            event
        ),
        external_id_prefix: prefix,
        file_sha256,
        skip_bad: args.skip_bad,
        file: args.recipients.display().to_string(),
    };
    send(&args, &submitter, good).await
}

/// The event file, checked as intake checks `event`, as compact JSON.
fn read_event(path: &Path, kind: IntentKind) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let event: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    let mut errors = FieldErrors::default();
    if parse_event(kind, &event, &mut errors).is_none() {
        let listed: Vec<String> = errors
            .into_vec()
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.reason))
            .collect();
        bail!("{}:\n  {}", path.display(), listed.join("\n  "));
    }
    Ok(event.to_string())
}

/// Pass 1: every row checked and every bad one listed. Returns the good rows, the file's
/// SHA-256 and its size and mtime (to notice the file changing before pass 2).
fn check(args: &ImportArgs) -> anyhow::Result<(u64, String, (u64, SystemTime))> {
    let path = &args.recipients;
    let stamp = file_stamp(path)?;
    let bar = progress::checking(stamp.0);
    let mut scan = Scan::open(path, args.delimiter, args.kind)?;
    let (mut good, mut bad) = (0u64, 0u64);
    while let Some(row) = scan.next_row()? {
        match row {
            Row::Good { .. } => good += 1,
            Row::Bad { line, problems } => {
                bad += 1;
                if bad <= args.max_errors {
                    bar.suspend(|| {
                        for problem in problems {
                            eprintln!("{}:{line}: {problem}", path.display());
                        }
                    });
                }
            }
        }
        if (good + bad) % 4096 == 0 {
            bar.set_position(scan.byte_offset());
            bar.set_message(format!("{} rows", good + bad));
        }
    }
    let sha = scan.finish();
    bar.finish_and_clear();
    if bad > args.max_errors {
        eprintln!("… and {} more bad rows", bad - args.max_errors);
    }
    eprintln!(
        "{}: {} rows, {good} good, {bad} bad",
        path.display(),
        good + bad
    );
    if bad > 0 && !args.skip_bad {
        bail!(
            "{bad} bad rows: nothing was sent (fix them, or use --skip-bad to send the {good} good rows)"
        );
    }
    if good == 0 {
        bail!("no good rows: nothing to send");
    }
    Ok((good, sha, stamp))
}

/// Pass 2: the good rows again, one batch at a time.
async fn send(args: &ImportArgs, submitter: &Submitter, good: u64) -> anyhow::Result<()> {
    let bar = progress::sending(good);
    let mut scan = Scan::open(&args.recipients, args.delimiter, args.kind)?;
    let mut rows: Rows = Vec::new();
    let (mut number, mut intents, mut sent) = (0u64, 0u64, 0u64);
    loop {
        let row = scan.next_row()?;
        let at_end = row.is_none();
        if let Some(Row::Good { line, recipient }) = row {
            rows.push((line, recipient.to_string()));
        }
        if rows.len() as u64 == args.batch || (at_end && !rows.is_empty()) {
            number += 1;
            let count = rows.len() as u64;
            if let Some(id) = submitter.submit(number, &mut rows, &bar).await? {
                // Each id as soon as its batch is in: a crash later still leaves a record.
                let mut out = std::io::stdout().lock();
                writeln!(out, "{id}")?;
                out.flush()?;
                intents += 1;
                sent += rows.len() as u64;
            }
            bar.inc(count);
            rows.clear();
        }
        if at_end {
            break;
        }
    }
    bar.finish_and_clear();
    if scan.finish() != submitter.file_sha256 {
        bail!(
            "{} changed during the import: the intents above were sent from a different version of it",
            args.recipients.display()
        );
    }
    eprintln!("sent {sent} recipients in {intents} intents");
    Ok(())
}

fn file_stamp(path: &Path) -> anyhow::Result<(u64, SystemTime)> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((meta.len(), meta.modified()?))
}
