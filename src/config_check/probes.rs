//! The checks behind `vestnik config check`, one per thing `serve` would trip over. Each
//! returns the problems it found as sentences; none of them changes anything on disk.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{Datelike, Months, NaiveDate};
use secrecy::ExposeSecret;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::calendar::Calendar;
use crate::channels::profiles::{Kind, load_profile_file};
use crate::deadlines::{Policies, Rulebook};
use crate::plans::Plans;
use crate::settings::{GatewayName, Settings};
use crate::templates::Renderer;

/// How long the database may take to answer before it counts as unreachable.
const DB_TIMEOUT: Duration = Duration::from_secs(5);

/// The database answers a query. A SQLite file that does not exist yet is fine when it
/// can be created (`serve` creates it); an existing one is opened read-only.
pub async fn database(settings: &Settings) -> Vec<String> {
    let url = &settings.database.url;
    // One plain connection, not a pool: a pool retries a refused connection until its
    // timeout and then reports only that it timed out.
    let probe = async {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?;
            let file = options.get_filename().to_path_buf();
            if !file.exists() {
                return creatable(&file);
            }
            let mut conn = options.read_only(true).connect().await?;
            sqlx::query("SELECT 1").execute(&mut conn).await?;
            conn.close().await?;
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let mut conn = PgConnectOptions::from_str(url)?.connect().await?;
            sqlx::query("SELECT 1").execute(&mut conn).await?;
            conn.close().await?;
        } else {
            anyhow::bail!("database.url must start with sqlite:// or postgres://");
        }
        Ok(())
    };
    let shown = crate::config_check::redact::redact_url(url);
    match tokio::time::timeout(DB_TIMEOUT, probe).await {
        Ok(Ok(())) => vec![],
        Ok(Err(e)) => vec![format!("database {shown} is unreachable: {e:#}")],
        Err(_) => vec![format!(
            "database {shown} did not answer within {}s",
            DB_TIMEOUT.as_secs()
        )],
    }
}

/// A missing SQLite file can be created: its nearest existing ancestor is a writable
/// directory.
fn creatable(file: &Path) -> anyhow::Result<()> {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d.as_os_str().is_empty() {
            dir = Some(Path::new("."));
            continue;
        }
        if d.exists() {
            anyhow::ensure!(d.is_dir(), "{} is not a directory", d.display());
            rustix::fs::access(d, rustix::fs::Access::WRITE_OK)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", file.display()))?;
            return Ok(());
        }
        dir = d.parent();
    }
    anyhow::bail!("cannot create {}", file.display())
}

/// Every gateway profile the settings refer to loads, with its secrets, and sends what
/// its channel needs (SMS profiles for `[sms]`, mail for `[mail]`, fax for `[fax]`).
pub fn profiles(settings: &Settings) -> Vec<String> {
    let sms = &settings.sms;
    let mut referenced: Vec<(&str, Kind, &str, &str, &str)> = Vec::new();
    if settings.channels.sms == GatewayName::Profile {
        if sms.providers.is_empty() {
            referenced.push((
                "sms",
                Kind::Sms,
                &sms.profile,
                &sms.base_url,
                &sms.callback_url,
            ));
        }
        for p in &sms.providers {
            let callback = if p.callback_url.is_empty() {
                &sms.callback_url
            } else {
                &p.callback_url
            };
            referenced.push(("sms", Kind::Sms, &p.profile, &p.base_url, callback));
        }
    }
    for (channel, kind, name, chosen) in [
        ("mail", Kind::Mail, settings.channels.mail, &settings.mail),
        ("fax", Kind::Fax, settings.channels.fax, &settings.fax),
    ] {
        if name == GatewayName::Profile {
            referenced.push((
                channel,
                kind,
                &chosen.profile,
                &chosen.base_url,
                &chosen.callback_url,
            ));
        }
    }
    let secrets = || {
        sms.secrets
            .iter()
            .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
            .collect()
    };
    let mut problems = Vec::new();
    for (channel, kind, name, base_url, callback_url) in referenced {
        let file = sms.profiles_dir.join(format!("{name}.toml"));
        match load_profile_file(
            &sms.profiles_dir,
            name,
            secrets(),
            Some(base_url.to_owned()),
            Some(callback_url.to_owned()),
        ) {
            Ok(p) if p.kind() != kind => problems.push(format!(
                "gateway profile {} sends {}, but channels.{channel} uses it for {}",
                file.display(),
                p.kind().as_str(),
                kind.as_str()
            )),
            Ok(_) => {}
            // The error names the profile file already.
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    problems
}

/// Every template compiles, as at start-up.
pub fn templates(settings: &Settings) -> Vec<String> {
    let dir = &settings.templates.dir;
    match Renderer::load(dir) {
        Ok(_) => vec![],
        Err(e) => vec![format!("templates in {}: {e:#}", dir.display())],
    }
}

/// The calendar (with its overlays) loads and covers every year from `today` to 12
/// months on: a notice planned into a year without one is refused at intake.
pub fn calendar(settings: &Settings, today: NaiveDate) -> Vec<String> {
    let d = &settings.deadlines;
    let loaded = Calendar::load_dir(&d.calendar_dir).and_then(|c| {
        d.calendar_overlays
            .iter()
            .try_fold(c, |c, overlay| c.load_overlay(&d.calendar_dir, overlay))
    });
    let calendar = match loaded {
        Ok(c) => c,
        Err(e) => return vec![format!("calendar in {}: {e}", d.calendar_dir.display())],
    };
    let regions = match calendar.load_regions(&d.calendar_dir, &d.calendar_overlays) {
        Ok(r) => r,
        Err(e) => {
            return vec![format!(
                "regional calendars in {}: {e}",
                d.calendar_dir.display()
            )];
        }
    };
    let until = today + Months::new(12);
    let mut problems: Vec<String> = (today.year()..=until.year())
        .filter_map(|year| calendar.year_source(year).err())
        .map(|e| {
            format!(
                "calendar in {} (needed until {until}): {e}",
                d.calendar_dir.display()
            )
        })
        .collect();
    if problems.is_empty() {
        // A region's recipients would be refused where its overlay has no data.
        problems.extend(regions.iter().flat_map(|(region, calendar)| {
            (today.year()..=until.year())
                .filter_map(|year| calendar.year_source(year).err())
                .map(move |e| format!("calendar of {region} (needed until {until}): {e}"))
        }));
    }
    problems
}

/// Policies and channel plans load as [`Rulebook::load`] loads them. When the calendar
/// does not load (reported by [`calendar`]), `Rulebook::load` stops at it, so policies
/// and plans are then loaded one by one.
pub fn rulebook(settings: &Settings, calendar_reported: bool) -> Vec<String> {
    let d = &settings.deadlines;
    match Rulebook::load(d) {
        Ok(_) => vec![],
        Err(e)
            if calendar_reported
                && ["calendar", "regional calendars"]
                    .iter()
                    .any(|p| e.to_string().starts_with(p)) =>
        {
            let policies = std::fs::read_to_string(&d.policies_file)
                .map_err(anyhow::Error::from)
                .and_then(|text| Ok(Policies::from_toml_str(&text)?))
                .err()
                .map(|e| {
                    format!(
                        "deadline rules: policies in {}: {e:#}",
                        d.policies_file.display()
                    )
                });
            let plans = Plans::load(&d.plans_file)
                .err()
                .map(|e| format!("deadline rules: {e:#}"));
            policies.into_iter().chain(plans).collect()
        }
        Err(e) => vec![format!("deadline rules: {e:#}")],
    }
}
