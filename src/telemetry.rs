//! Logging through `tracing`: readable text by default, JSON for log shippers.
//!
//! Each request's span carries its request id, each delivery job's span the id of the
//! request that created its intent, so one id follows an intent from intake to the
//! gateway (see `api::router` and `Dispatcher::deliver`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global subscriber; `RUST_LOG` refines the default `info` level.
pub fn init(format: LogFormat) {
    init_writing_to(format, std::io::stderr);
}

/// As [`init`], writing to `writer` (tests read the log this way).
pub fn init_writing_to<W>(format: LogFormat, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,apalis=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
