//! The calendar against the shipped data and against made-up layers.

use super::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/calendar")
}

fn shipped() -> Calendar {
    Calendar::from_toml_strs([
        include_str!("../../config/calendar/ru-2025.toml"),
        include_str!("../../config/calendar/ru-2026.toml"),
        include_str!("../../config/calendar/ru-2027.toml"),
    ])
    .unwrap()
}

const OVERLAY: &str = r#"
    layer = "overlay"
    name = "test republic"
    years = [2026]
    source = "test law"
    confirmed = true
    holidays = [{ date = 2026-11-06, note = "Constitution Day" }]
"#;

#[test]
fn shipped_files_load_from_strings_and_cover_three_years() {
    assert_eq!(shipped().covered_years(), vec![2025, 2026, 2027]);
    assert!(!shipped().year_source(2027).unwrap().confirmed);
}

#[test]
fn transfers_and_working_saturdays_are_applied() {
    let cal = shipped();
    let off = [
        (2025, 5, 2),
        (2025, 11, 3),
        (2025, 12, 31),
        (2026, 1, 9),
        (2026, 3, 9),
    ];
    let off2027 = [(2027, 2, 22), (2027, 5, 10), (2027, 6, 14), (2027, 11, 5)];
    for (y, m, day) in off.into_iter().chain(off2027) {
        assert!(!cal.is_working_day(d(y, m, day)).unwrap(), "{y}-{m}-{day}");
    }
    for (y, m, day) in [(2025, 11, 1), (2026, 1, 12), (2027, 2, 20), (2027, 6, 15)] {
        assert!(cal.is_working_day(d(y, m, day)).unwrap(), "{y}-{m}-{day}");
    }
}

#[test]
fn a_year_without_data_is_an_error_not_a_guess() {
    let err = shipped().is_working_day(d(2028, 3, 1)).unwrap_err();
    assert!(matches!(err, CalendarError::YearNotCovered { year: 2028 }));
    assert!(err.to_string().contains("ru-2028.toml"));
}

#[test]
fn the_provisional_2028_file_holds_only_what_the_labour_code_fixes() {
    let cal =
        Calendar::from_toml_strs([include_str!("../../config/calendar/ru-2028.toml")]).unwrap();
    let source = cal.year_source(2028).unwrap();
    assert!(!source.confirmed);
    assert!(source.source.contains("provisional"), "{}", source.source);
    // Sat 4 Nov moves its day off to Mon 6 Nov by art. 112 itself; the New Year weekend
    // days wait for the decree, so the first working week after them stays working.
    assert!(!cal.is_working_day(d(2028, 11, 6)).unwrap());
    assert!(!cal.is_working_day(d(2028, 1, 7)).unwrap());
    assert!(cal.is_working_day(d(2028, 1, 10)).unwrap());
}

#[test]
fn an_overlay_adds_days_off_and_narrows_coverage() {
    let mut cal = shipped();
    assert!(cal.is_working_day(d(2026, 11, 6)).unwrap());
    cal.add_toml("overlay", OVERLAY).unwrap();
    assert!(!cal.is_working_day(d(2026, 11, 6)).unwrap());
    assert!(matches!(
        cal.is_working_day(d(2025, 3, 3)),
        Err(CalendarError::OverlayYearNotCovered { year: 2025, .. })
    ));
    assert_eq!(cal.covered_years(), vec![2026]);
}

#[test]
fn contradicting_layers_and_duplicate_years_are_rejected() {
    let mut cal = shipped();
    let working_sat = OVERLAY
        .replace("holidays", "working_weekends")
        .replace("11-06", "11-07");
    cal.add_toml("ok", &working_sat).unwrap();
    let bad = OVERLAY.replace("2026-11-06", "2026-11-07");
    assert!(matches!(
        cal.add_toml("bad", &bad),
        Err(CalendarError::Conflict { .. })
    ));
    let again = include_str!("../../config/calendar/ru-2026.toml");
    assert!(matches!(
        cal.add_toml("dup", again),
        Err(CalendarError::DuplicateYear { year: 2026, .. })
    ));
}

#[test]
fn malformed_files_are_rejected_with_their_origin() {
    for bad in [
        OVERLAY.replace("2026-11-06", "2025-11-06"),
        OVERLAY.replace("2026-11-06", "\"2026-11-06\""),
        OVERLAY
            .replace("holidays", "working_weekends")
            .replace("11-06", "11-05"),
        OVERLAY.replace("[2026]", "[]"),
        OVERLAY.replace("confirmed", "confirmd"),
    ] {
        let err = Calendar::from_toml_strs([bad.as_str()]).unwrap_err();
        assert!(matches!(err, CalendarError::Malformed { .. }), "{err}");
    }
}

#[test]
fn loads_the_config_directory_and_a_missing_overlay_is_an_io_error() {
    let cal = Calendar::load_dir(config_dir()).unwrap();
    assert_eq!(cal.covered_years(), vec![2025, 2026, 2027, 2028]);
    let err = cal
        .load_overlay(&config_dir(), "no-such-region")
        .unwrap_err();
    assert!(matches!(err, CalendarError::Io { .. }));
}

#[test]
fn overlays_that_name_regions_make_one_calendar_per_region() {
    let federal = Calendar::load_dir(config_dir()).unwrap();
    let regions = federal.load_regions(&config_dir(), &[]).unwrap();
    assert_eq!(regions.keys().collect::<Vec<_>>(), ["RU-TA"]);
    assert!(!regions["RU-TA"].is_working_day(d(2026, 11, 6)).unwrap());
    assert!(federal.is_working_day(d(2026, 11, 6)).unwrap());
    // Applied to everybody already: not again per region.
    let all = federal
        .load_regions(&config_dir(), &["tatarstan".into()])
        .unwrap();
    assert!(all.is_empty());
    // No overlays directory: no regional calendars, not an error.
    let empty = tempfile::tempdir().unwrap();
    assert!(federal.load_regions(empty.path(), &[]).unwrap().is_empty());
}

#[test]
fn region_codes_are_checked_and_only_overlays_name_them() {
    assert!(is_region_code("RU-TA") && is_region_code("RU-MOW"));
    for bad in ["RU-T", "ru-ta", "RU-TATA", "TA", "RU-T4"] {
        assert!(!is_region_code(bad), "{bad}");
    }
    let named = OVERLAY.replace(
        "confirmed = true",
        "confirmed = true\n    regions = [\"Tatarstan\"]",
    );
    let err = shipped().add_toml("overlay", &named).unwrap_err();
    assert!(err.to_string().contains("'Tatarstan'"), "{err}");
    let base = include_str!("../../config/calendar/ru-2026.toml").replacen(
        "confirmed =",
        "regions = [\"RU-TA\"]\nconfirmed =",
        1,
    );
    let err = Calendar::from_toml_strs([base.as_str()]).unwrap_err();
    assert!(err.to_string().contains("base calendar"), "{err}");
}

#[test]
fn working_day_helpers_skip_the_new_year_holidays() {
    let cal = shipped();
    let (dec29, dec30, jan12) = (d(2025, 12, 29), d(2025, 12, 30), d(2026, 1, 12));
    assert_eq!(cal.nth_working_day_after(dec30, 1).unwrap(), jan12);
    assert_eq!(cal.nth_working_day_before(jan12, 2).unwrap(), dec29);
    assert_eq!(
        cal.nth_working_day_after(d(2026, 1, 3), 0).unwrap(),
        d(2026, 1, 3)
    );
    assert_eq!(cal.next_working_day_from(d(2026, 1, 1)).unwrap(), jan12);
    let between = cal.working_days_between(dec29, d(2026, 1, 13)).unwrap();
    assert_eq!(between, vec![dec30, jan12]);
    assert!(cal.nth_working_day_after(d(2027, 12, 30), 2).is_err());
}
