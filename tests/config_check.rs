//! `vestnik config check`: the real binary on a broken config, one problem class per test.

use std::path::{Path, PathBuf};
use std::process::Output;

use chrono::Datelike;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Runs `vestnik [--config FILE] config check` from the repository (where the default
/// relative paths point), on a SQLite file in `dir`, with `env` added.
fn check(dir: &Path, config: Option<&str>, env: &[(&str, &str)]) -> (Output, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vestnik"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    // Nothing from the caller's environment may leak in as a setting.
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("VESTNIK_")) {
        cmd.env_remove(name);
    }
    cmd.env(
        "VESTNIK_DATABASE__URL",
        format!("sqlite://{}", dir.join("vestnik.db").display()),
    );
    if let Some(text) = config {
        let file = dir.join("local.toml");
        std::fs::write(&file, text).unwrap();
        cmd.arg("--config").arg(&file);
    }
    cmd.envs(env.iter().copied()).args(["config", "check"]);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

fn assert_problem(out: &Output, stderr: &str, needles: &[&str]) {
    assert!(!out.status.success(), "must fail:\n{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
}

#[test]
fn the_shipped_config_passes_and_secrets_print_as_stars() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[smtp]\nusername = \"mailer\"\n[sms.secrets]\nSMSRU_API_ID = \"s3cret-api-id\"\n";
    let (out, stdout, stderr) = check(
        dir.path(),
        Some(config),
        &[("VESTNIK_SMTP__PASSWORD", "hunter2-password")],
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("configuration OK"), "{stderr}");
    let shown: toml::Table = stdout.parse().expect("stdout is TOML");
    assert_eq!(shown["smtp"]["password"].as_str(), Some("***"));
    assert_eq!(shown["smtp"]["username"].as_str(), Some("mailer"));
    assert_eq!(
        shown["sms"]["secrets"]["SMSRU_API_ID"].as_str(),
        Some("***")
    );
    assert_eq!(shown["server"]["listen"].as_str(), Some("127.0.0.1:8080"));
    assert!(
        !stdout.contains("hunter2") && !stdout.contains("s3cret"),
        "{stdout}"
    );
    // The DKIM key path is where a secret is, not a secret.
    assert!(shown["smtp"]["dkim"].get("key_file").is_some());
}

#[test]
fn unknown_keys_are_named_with_the_file_or_variable_they_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _, stderr) = check(
        dir.path(),
        Some("[server]\nlissten = \"127.0.0.1:9\"\n[smtp]\nhots = \"mx\"\n"),
        &[("VESTNIK_DISPATCH__BATCHSIZE", "10")],
    );
    let file = dir.path().join("local.toml").display().to_string();
    assert_problem(
        &out,
        &stderr,
        &[
            &format!("unknown key 'server.lissten' in {file}"),
            &format!("unknown key 'smtp.hots' in {file}"),
            "unknown key 'dispatch.batchsize' from the environment variable VESTNIK_DISPATCH__BATCHSIZE",
            "expected `listen` or `body_limit_bytes`",
            "3 problem(s)",
        ],
    );
}

#[test]
fn an_unreachable_database_is_a_problem_and_its_password_stays_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let (out, stdout, stderr) = check(
        dir.path(),
        None,
        // Port 1 on loopback: refused at once.
        &[(
            "VESTNIK_DATABASE__URL",
            "postgres://vestnik:pa55word@127.0.0.1:1/vestnik",
        )],
    );
    assert_problem(
        &out,
        &stderr,
        &["database postgres://vestnik:***@127.0.0.1:1/vestnik is unreachable"],
    );
    assert!(!stderr.contains("pa55word") && !stdout.contains("pa55word"));
}

#[test]
fn a_gateway_profile_that_does_not_parse_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("channels");
    std::fs::create_dir(&profiles).unwrap();
    std::fs::write(
        profiles.join("broken.toml"),
        "name = \"broken\"\nkind = [unclosed\n",
    )
    .unwrap();
    let config = format!(
        "[channels]\nsms = \"profile\"\n[sms]\nprofile = \"broken\"\nprofiles_dir = \"{}\"\n",
        profiles.display()
    );
    let (out, _, stderr) = check(dir.path(), Some(&config), &[]);
    assert_problem(
        &out,
        &stderr,
        &[&format!(
            "gateway profile {}",
            profiles.join("broken.toml").display()
        )],
    );
}

#[test]
fn a_template_that_does_not_compile_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    copy_dir(&repo("templates"), &templates);
    std::fs::write(
        templates.join("planned_outage/sms.hbs"),
        "{{#if event.area}}unclosed",
    )
    .unwrap();
    let config = format!("[templates]\ndir = \"{}\"\n", templates.display());
    let (out, _, stderr) = check(dir.path(), Some(&config), &[]);
    assert_problem(
        &out,
        &stderr,
        &[&format!("templates in {}", templates.display())],
    );
}

#[test]
fn a_missing_calendar_year_within_twelve_months_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let calendar = dir.path().join("calendar");
    copy_dir(&repo("config/calendar"), &calendar);
    // Take away the year after this one: dates 12 months ahead reach into it.
    let next = chrono::Utc::now().year() + 1;
    let _ = std::fs::remove_file(calendar.join(format!("ru-{next}.toml")));
    let config = format!("[deadlines]\ncalendar_dir = \"{}\"\n", calendar.display());
    let (out, _, stderr) = check(dir.path(), Some(&config), &[]);
    assert_problem(&out, &stderr, &[&format!("does not cover {next}")]);
}

#[test]
fn a_regional_calendar_without_this_years_data_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let calendar = dir.path().join("calendar");
    copy_dir(&repo("config/calendar"), &calendar);
    std::fs::write(
        calendar.join("overlays/testland.toml"),
        "layer = \"overlay\"\nname = \"Testland\"\nregions = [\"RU-XX\"]\nyears = [2025]\n\
         source = \"test\"\nconfirmed = true\n",
    )
    .unwrap();
    let config = format!("[deadlines]\ncalendar_dir = \"{}\"\n", calendar.display());
    let (out, _, stderr) = check(dir.path(), Some(&config), &[]);
    let year = chrono::Utc::now().year();
    assert_problem(
        &out,
        &stderr,
        &[
            "calendar of RU-XX",
            &format!("'Testland' does not cover {year}"),
        ],
    );
}

#[test]
fn broken_policies_or_channel_plans_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[[rules]]\nkind = \"no_such_kind\"\n").unwrap();
    for key in ["policies_file", "plans_file"] {
        let config = format!("[deadlines]\n{key} = \"{}\"\n", broken.display());
        let (out, _, stderr) = check(dir.path(), Some(&config), &[]);
        assert_problem(
            &out,
            &stderr,
            &["deadline rules", &broken.display().to_string()],
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
