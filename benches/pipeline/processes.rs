//! The processes under test and their surroundings: one config file per Vestnik process
//! (database, gateways, temp paths), starting and stopping `vestnik serve` / `vestnik
//! worker`, and scratch PostgreSQL databases.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::Result;
use crate::gateway;

/// The generic-json profile's `[limits]` in the bench: the fake answers in microseconds
/// and has no rate limit, so Vestnik's own limits must not be what is measured. The rate
/// is set far above anything reachable (the limiter still runs, as in production); 64
/// requests in flight per process keep a loopback gateway busy without queueing inside it.
pub const GATEWAY_RATE_PER_SEC: i64 = 1_000_000;
pub const GATEWAY_CONCURRENCY: i64 = 64;

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn pg_admin_url() -> String {
    std::env::var("VESTNIK_BENCH_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into())
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Where a scenario's Vestnik processes send.
pub struct Gateways<'a> {
    /// The fake SMS gateway's base URL: `channels.sms = "profile"` (generic-json).
    pub sms: Option<&'a str>,
    /// SMS per request to it (`sms.batch_size`; generic-json's batch endpoint above 1).
    pub sms_per_request: usize,
    /// The SMTP sink's port: `channels.email = "smtp"`.
    pub smtp_port: Option<u16>,
}

/// Writes `<dir>/<name>.toml` for one Vestnik process of a scenario. Everything a process
/// writes (outbox, documents, admin token) goes into `dir`; read-only data (templates,
/// calendar, policies) comes from the repository, as a developer runs it. Only what the
/// scenario needs is set; the rest are the shipped defaults (dispatch.batch_size 500,
/// dispatch.concurrency 4, database.max_connections 8, …), and VESTNIK_* variables in the
/// environment still override them.
pub fn write_config(dir: &Path, name: &str, db_url: &str, gateways: &Gateways) -> Result<PathBuf> {
    let mut config = toml::Table::new();
    let mut section = |name: &str, pairs: Vec<(&str, toml::Value)>| {
        let table = config
            .entry(name)
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .expect("a section is a table");
        for (k, v) in pairs {
            table.insert(k.into(), v);
        }
    };
    let path = |p: PathBuf| toml::Value::from(p.display().to_string());
    section("database", vec![("url", db_url.into())]);
    section("outbox", vec![("dir", path(dir.join("outbox")))]);
    section(
        "letters",
        vec![("documents_dir", path(dir.join("documents")))],
    );
    section(
        "auth",
        vec![("admin_token_file", path(dir.join("admin.token")))],
    );
    section(
        "deadlines",
        vec![("plans_file", path(plans_without_windows(dir)?))],
    );
    if let Some(base_url) = gateways.sms {
        let secrets: toml::Table = [
            ("GENERIC_SMS_TOKEN", gateway::TOKEN),
            ("GENERIC_SMS_WEBHOOK_SECRET", gateway::WEBHOOK_SECRET),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into()))
        .collect();
        section("channels", vec![("sms", "profile".into())]);
        section(
            "sms",
            vec![
                ("profile", "generic-json".into()),
                ("profiles_dir", path(profiles_dir(dir)?)),
                ("base_url", base_url.into()),
                ("secrets", secrets.into()),
                ("batch_size", (gateways.sms_per_request as i64).into()),
            ],
        );
    }
    if let Some(port) = gateways.smtp_port {
        section("channels", vec![("email", "smtp".into())]);
        section(
            "smtp",
            vec![
                ("host", "127.0.0.1".into()),
                ("port", i64::from(port).into()),
            ],
        );
    }
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, toml::to_string(&config)?)?;
    Ok(file)
}

/// A copy of the shipped `channels/` with generic-json's limits raised (see
/// [`GATEWAY_RATE_PER_SEC`]).
fn profiles_dir(dir: &Path) -> Result<PathBuf> {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("channels");
    let profiles = dir.join("channels");
    std::fs::create_dir_all(&profiles)?;
    for entry in std::fs::read_dir(&shipped)? {
        let entry = entry?;
        std::fs::copy(entry.path(), profiles.join(entry.file_name()))?;
    }
    let file = profiles.join("generic-json.toml");
    let mut profile: toml::Table = std::fs::read_to_string(&file)?.parse()?;
    let limits = profile
        .get_mut("limits")
        .and_then(|l| l.as_table_mut())
        .ok_or("generic-json.toml has no [limits]")?;
    limits.insert("rate_per_sec".into(), GATEWAY_RATE_PER_SEC.into());
    limits.insert("concurrency".into(), GATEWAY_CONCURRENCY.into());
    std::fs::write(&file, toml::to_string(&profile)?)?;
    Ok(profiles)
}

/// The shipped channel plans without sending windows: SMS quiet hours would make the
/// result depend on the hour the bench runs at.
fn plans_without_windows(dir: &Path) -> Result<PathBuf> {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/channel_plans.toml");
    let mut plans: toml::Table = std::fs::read_to_string(&shipped)?.parse()?;
    plans.remove("windows");
    let path = dir.join("channel_plans.toml");
    std::fs::write(&path, toml::to_string(&plans)?)?;
    Ok(path)
}

/// VESTNIK_* settings in our environment that reach the processes under test, as
/// `KEY=value` (the bench's own VESTNIK_BENCH_* are kept away from them).
pub fn setting_overrides() -> Vec<String> {
    let mut vars: Vec<String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("VESTNIK_") && !k.starts_with("VESTNIK_BENCH_"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    vars.sort();
    vars
}

/// A child process, stopped with SIGTERM (then SIGKILL) when dropped, whatever happened.
pub struct Process {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// `vestnik --config <config> <args>`, run from the repository root (the shipped
    /// config's relative paths lead there), output into `<dir>/<name>.log`.
    pub fn vestnik(name: &str, config: &Path, args: &[&str], dir: &Path) -> Result<Process> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vestnik"));
        cmd.arg("--config").arg(config).args(args);
        // The server reads every VESTNIK_* variable as a setting and refuses unknown ones
        // (VESTNIK_BENCH_RECIPIENTS would be `bench_recipients`): keep ours away from it.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("VESTNIK_BENCH_") {
                cmd.env_remove(key);
            }
        }
        cmd.env_remove("VESTNIK_CONFIG");
        Self::spawn(name, cmd, dir)
    }

    /// Any command, from the repository root, output into `<dir>/<name>.log`.
    pub fn spawn(name: &str, mut cmd: Command, dir: &Path) -> Result<Process> {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)?;
        let child = cmd
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .map_err(|e| format!("cannot start {name} ({cmd:?}): {e}"))?;
        Ok(Process {
            name: name.to_owned(),
            child,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An error with the end of its log if the process has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(format!(
                "{} exited ({status}); its log ends:\n{}",
                self.name,
                self.log_tail()
            )
            .into()),
        }
    }

    pub fn terminate(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain kill(2) on our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} ignored SIGTERM for 30 s; killing it", self.name);
        self.child.kill()?;
        Ok(self.child.wait()?)
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Waits for the process to exit on its own and returns its status, peak RSS (KiB)
    /// and CPU time, from wait4(2): a process that has exited has no /proc entry to read.
    pub async fn wait_with_usage(self, budget: Duration) -> Result<(ExitStatus, u64, Duration)> {
        let deadline = Instant::now() + budget;
        let pid = self.child.id() as libc::pid_t;
        loop {
            let mut status = 0;
            // SAFETY: an all-zero rusage is valid; wait4 on our own unreaped child.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            let got = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
            if got == pid {
                use std::os::unix::process::ExitStatusExt;
                let cpu = |t: libc::timeval| {
                    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
                };
                let cpu = cpu(usage.ru_utime) + cpu(usage.ru_stime);
                // Reaped: make sure Drop does not signal a pid that may be reused.
                let exit = ExitStatus::from_raw(status);
                std::mem::forget(self);
                return Ok((exit, usage.ru_maxrss as u64, cpu));
            }
            if got < 0 {
                return Err(format!(
                    "wait4 on {}: {}",
                    self.name,
                    std::io::Error::last_os_error()
                )
                .into());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} still running after {} s; its log ends:\n{}",
                    self.name,
                    budget.as_secs(),
                    self.log_tail()
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Err(e) = self.terminate() {
            eprintln!("could not stop {}: {e}", self.name);
        }
    }
}

/// A scratch PostgreSQL database, dropped when done (or on drop).
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub fn create(admin_url: &str) -> Result<Self> {
        let name = format!("vestnik_bench_{}", uuid::Uuid::now_v7().simple());
        psql(admin_url, &format!("CREATE DATABASE {name}")).map_err(|e| {
            format!("cannot create the database on {admin_url} (set VESTNIK_BENCH_PG_URL): {e}")
        })?;
        let (without_query, query) = match admin_url.split_once('?') {
            Some((u, q)) => (u, format!("?{q}")),
            None => (admin_url, String::new()),
        };
        let scheme_end = without_query.find("://").map_or(0, |i| i + 3);
        let server = match without_query[scheme_end..].find('/') {
            Some(slash) => &without_query[..scheme_end + slash],
            None => without_query,
        };
        let url = format!("{server}/{name}{query}");
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn size(&self) -> Result<u64> {
        let out = psql(
            &self.admin_url,
            &format!("SELECT pg_database_size('{}')", self.name),
        )?;
        Ok(out
            .trim()
            .parse()
            .map_err(|e| format!("pg_database_size gave {out:?}: {e}"))?)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if std::env::var_os("VESTNIK_BENCH_KEEP").is_some() {
            eprintln!("kept database {} (VESTNIK_BENCH_KEEP)", self.name);
            return;
        }
        if let Err(e) = psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ) {
            eprintln!("could not drop database {}: {e}", self.name);
        }
    }
}

pub fn psql(url: &str, sql: &str) -> Result<String> {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-t", "-A", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
