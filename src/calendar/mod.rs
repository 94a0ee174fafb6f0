//! The Russian production calendar (производственный календарь): which days are working days.
//!
//! The data lives in `config/calendar/*.toml`, one base file per year, plus optional regional
//! overlays in `config/calendar/overlays/` (the file format is documented at the top of each
//! data file). Nothing here knows a holiday by heart: a year without data is
//! [`CalendarError::YearNotCovered`], because a guessed calendar would silently produce wrong
//! legal deadlines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// Why a calendar could not be loaded or could not answer.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// No base calendar file covers the year: we refuse to guess its holidays.
    #[error(
        "the production calendar does not cover {year}: add config/calendar/ru-{year}.toml \
         (from the government decree on transferring days off in {year})"
    )]
    YearNotCovered { year: i32 },
    /// A regional overlay is loaded but says nothing about the year.
    #[error(
        "the regional calendar overlay '{overlay}' does not cover {year}: add {year} to its data"
    )]
    OverlayYearNotCovered { year: i32, overlay: String },
    /// Reading a calendar file or directory failed.
    #[error("cannot read calendar data at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A calendar file is not valid TOML or does not follow the format.
    #[error("calendar file {origin} is malformed: {message}")]
    Malformed { origin: String, message: String },
    /// Two base files claim the same year.
    #[error("year {year} is defined twice: in '{first}' and in '{second}'")]
    DuplicateYear {
        year: i32,
        first: String,
        second: String,
    },
    /// Two statements about one date disagree (holiday vs working weekend).
    #[error("{date} is a holiday in '{holiday_in}' but a working weekend in '{working_in}'")]
    Conflict {
        date: NaiveDate,
        holiday_in: String,
        working_in: String,
    },
    /// A date fell outside what the calendar arithmetic can represent.
    #[error("date arithmetic overflowed near {date}")]
    OutOfRange { date: NaiveDate },
}

/// Whether a file is the federal calendar or a region's additions to it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Layer {
    Base,
    Overlay,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileData {
    layer: Layer,
    name: String,
    years: Vec<i32>,
    source: String,
    confirmed: bool,
    /// Overlays only: the regions (ISO 3166-2 codes) whose recipients it applies to.
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    holidays: Vec<EntryData>,
    #[serde(default)]
    working_weekends: Vec<EntryData>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryData {
    // TOML has a native date type; `toml::value::Datetime` keeps the file free of quoted dates.
    date: toml::value::Datetime,
    note: Option<String>,
}

/// Where a covered year's data comes from; shown in deadline explanations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct YearSource {
    pub year: i32,
    /// The `name` of the layer.
    pub layer: String,
    /// The legal act the data follows.
    pub source: String,
    /// False while the act has not been checked against its official text.
    pub confirmed: bool,
}

/// What kind of day a date is, with the data's note when the calendar lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DayStatus {
    /// An ordinary Monday–Friday.
    Working,
    /// A Saturday or Sunday made a working day by a transfer.
    WorkingWeekend { note: Option<String> },
    /// An ordinary Saturday or Sunday.
    Weekend,
    /// A holiday or a transferred day off.
    Holiday { note: Option<String> },
}

impl DayStatus {
    /// True for days on which the working-day rules count.
    pub fn is_working(&self) -> bool {
        matches!(self, Self::Working | Self::WorkingWeekend { .. })
    }
}

#[derive(Debug, Clone)]
struct DayEntry {
    holiday: bool,
    note: Option<String>,
    layer: String,
}

/// The merged production calendar: base years plus any regional overlays.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    base_years: BTreeMap<i32, YearSource>,
    /// Each overlay's name and the years it is complete for.
    overlays: Vec<(String, BTreeSet<i32>)>,
    days: BTreeMap<NaiveDate, DayEntry>,
}

impl Calendar {
    /// Loads every `*.toml` directly in `dir` (not its subdirectories, so regional overlays in
    /// `dir/overlays/` are only applied when asked for via [`Calendar::load_overlay`]).
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, CalendarError> {
        let dir = dir.as_ref();
        let io = |source| CalendarError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.is_file() && path.extension().is_some_and(|e| e == "toml") {
                paths.push(path);
            }
        }
        // Sorted so that error messages and overlay order do not depend on the file system.
        paths.sort();
        let mut calendar = Self::default();
        for path in paths {
            calendar.add_file(&path)?;
        }
        Ok(calendar)
    }

    /// Merges the overlay `dir/overlays/<name>.toml` into this calendar.
    pub fn load_overlay(mut self, dir: &Path, name: &str) -> Result<Self, CalendarError> {
        let path = dir.join("overlays").join(format!("{name}.toml"));
        self.add_file(&path)?;
        Ok(self)
    }

    /// One calendar per region for the overlays in `dir/overlays/` that name `regions`:
    /// this calendar plus the region's overlays. Overlays in `skip` (already merged into
    /// this one for everybody) are left out; a region without an overlay uses this one.
    pub fn load_regions(
        &self,
        dir: &Path,
        skip: &[String],
    ) -> Result<BTreeMap<String, Calendar>, CalendarError> {
        let dir = dir.join("overlays");
        let io = |source| CalendarError::Io {
            path: dir.clone(),
            source,
        };
        let mut paths = Vec::new();
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let path = entry.map_err(io)?.path();
                    let stem = path
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or_default();
                    if path.extension().is_some_and(|e| e == "toml")
                        && !skip.iter().any(|s| s == stem)
                    {
                        paths.push(path);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        paths.sort();
        let mut regions: BTreeMap<String, Calendar> = BTreeMap::new();
        for path in paths {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|source| CalendarError::Io {
                path: path.clone(),
                source,
            })?;
            let data: FileData = toml::from_str(&text).map_err(|e| CalendarError::Malformed {
                origin: origin.clone(),
                message: e.to_string(),
            })?;
            for region in data.regions {
                let calendar = regions.entry(region).or_insert_with(|| self.clone());
                calendar.add_toml(&origin, &text)?;
            }
        }
        Ok(regions)
    }

    /// Builds a calendar from file contents, merged in order.
    pub fn from_toml_strs<'a>(
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, CalendarError> {
        let mut calendar = Self::default();
        for (i, text) in texts.into_iter().enumerate() {
            calendar.add_toml(&format!("<string #{}>", i + 1), text)?;
        }
        Ok(calendar)
    }

    fn add_file(&mut self, path: &Path) -> Result<(), CalendarError> {
        let text = std::fs::read_to_string(path).map_err(|source| CalendarError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.add_toml(&path.display().to_string(), &text)
    }

    /// Merges one calendar file; `origin` names it in error messages.
    pub fn add_toml(&mut self, origin: &str, text: &str) -> Result<(), CalendarError> {
        let malformed = |message: String| CalendarError::Malformed {
            origin: origin.to_owned(),
            message,
        };
        let data: FileData = toml::from_str(text).map_err(|e| malformed(e.to_string()))?;
        if data.years.is_empty() {
            return Err(malformed("`years` is empty".into()));
        }
        if let Some(code) = data.regions.iter().find(|c| !is_region_code(c)) {
            return Err(malformed(format!(
                "region '{code}' is not an ISO 3166-2 code of a Russian region (e.g. RU-TA)"
            )));
        }
        if matches!(data.layer, Layer::Base) && !data.regions.is_empty() {
            return Err(malformed(
                "a base calendar applies to every region; `regions` is for overlays".into(),
            ));
        }
        let years: BTreeSet<i32> = data.years.iter().copied().collect();
        // Validate the whole file before touching `self`, so a failed merge changes nothing.
        let mut entries = Vec::new();
        for (holiday, list) in [(true, &data.holidays), (false, &data.working_weekends)] {
            for entry in list {
                let date = toml_date(&entry.date).ok_or_else(|| {
                    malformed(format!("`{}` is not a plain date (YYYY-MM-DD)", entry.date))
                })?;
                if !years.contains(&date.year()) {
                    return Err(malformed(format!(
                        "{date} is outside the file's years {years:?}"
                    )));
                }
                if !holiday && !is_weekend(date) {
                    return Err(malformed(format!(
                        "working weekend {date} is not a Saturday or Sunday"
                    )));
                }
                entries.push((date, holiday, entry.note.clone()));
            }
        }
        let mut seen = BTreeMap::new();
        for (date, holiday, _) in &entries {
            let earlier = (seen.insert(*date, *holiday).map(|h| (h, &data.name)))
                .or_else(|| self.days.get(date).map(|old| (old.holiday, &old.layer)));
            if let Some((_, layer)) = earlier.filter(|(h, _)| h != holiday) {
                let (hol, work) = if *holiday {
                    (&data.name, layer)
                } else {
                    (layer, &data.name)
                };
                return Err(CalendarError::Conflict {
                    date: *date,
                    holiday_in: hol.clone(),
                    working_in: work.clone(),
                });
            }
        }
        match data.layer {
            Layer::Base => {
                let taken = years.iter().find_map(|y| self.base_years.get_key_value(y));
                if let Some((&year, old)) = taken {
                    return Err(CalendarError::DuplicateYear {
                        year,
                        first: old.layer.clone(),
                        second: data.name.clone(),
                    });
                }
                self.base_years.extend(years.iter().map(|&year| {
                    let source = data.source.clone();
                    let layer = data.name.clone();
                    (
                        year,
                        YearSource {
                            year,
                            layer,
                            source,
                            confirmed: data.confirmed,
                        },
                    )
                }));
            }
            Layer::Overlay => self.overlays.push((data.name.clone(), years)),
        }
        for (date, holiday, note) in entries {
            self.days.entry(date).or_insert(DayEntry {
                holiday,
                note,
                layer: data.name.clone(),
            });
        }
        Ok(())
    }

    /// The years every loaded layer covers.
    pub fn covered_years(&self) -> Vec<i32> {
        let mut years = self.base_years.keys().copied().collect::<Vec<_>>();
        years.retain(|y| self.overlays.iter().all(|(_, ys)| ys.contains(y)));
        years
    }

    /// The source of `year`'s data, or why there is none.
    pub fn year_source(&self, year: i32) -> Result<&YearSource, CalendarError> {
        let source = self
            .base_years
            .get(&year)
            .ok_or(CalendarError::YearNotCovered { year })?;
        if let Some((name, _)) = self.overlays.iter().find(|(_, ys)| !ys.contains(&year)) {
            return Err(CalendarError::OverlayYearNotCovered {
                year,
                overlay: name.clone(),
            });
        }
        Ok(source)
    }

    /// Classifies a date; errors when its year has no data.
    pub fn day_status(&self, date: NaiveDate) -> Result<DayStatus, CalendarError> {
        self.year_source(date.year())?;
        Ok(match self.days.get(&date) {
            Some(e) if e.holiday => DayStatus::Holiday {
                note: e.note.clone(),
            },
            Some(e) => DayStatus::WorkingWeekend {
                note: e.note.clone(),
            },
            None if is_weekend(date) => DayStatus::Weekend,
            None => DayStatus::Working,
        })
    }

    /// True when `date` is a working day by the production calendar.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.day_status(date)?.is_working())
    }

    /// The working days strictly between `from` and `to` (both excluded), in date order.
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<NaiveDate>, CalendarError> {
        let mut days = Vec::new();
        let mut day = from;
        while let Some(next) = day.succ_opt().filter(|d| *d < to) {
            if self.is_working_day(next)? {
                days.push(next);
            }
            day = next;
        }
        Ok(days)
    }

    /// The `n`-th working day after `date` (`date` itself excluded); `n = 0` gives `date`.
    pub fn nth_working_day_after(
        &self,
        date: NaiveDate,
        n: u32,
    ) -> Result<NaiveDate, CalendarError> {
        self.walk(date, n, NaiveDate::succ_opt)
    }

    /// The `n`-th working day before `date` (`date` itself excluded); `n = 0` gives `date`.
    pub fn nth_working_day_before(
        &self,
        date: NaiveDate,
        n: u32,
    ) -> Result<NaiveDate, CalendarError> {
        self.walk(date, n, NaiveDate::pred_opt)
    }

    /// The first working day on or after `date`.
    pub fn next_working_day_from(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let mut day = date;
        while !self.is_working_day(day)? {
            day = day
                .succ_opt()
                .ok_or(CalendarError::OutOfRange { date: day })?;
        }
        Ok(day)
    }

    fn walk(
        &self,
        start: NaiveDate,
        n: u32,
        step: fn(&NaiveDate) -> Option<NaiveDate>,
    ) -> Result<NaiveDate, CalendarError> {
        let (mut day, mut left) = (start, n);
        // Terminates: every step either counts a day or reaches an uncovered year, which errors.
        while left > 0 {
            day = step(&day).ok_or(CalendarError::OutOfRange { date: day })?;
            if self.is_working_day(day)? {
                left -= 1;
            }
        }
        Ok(day)
    }
}

fn toml_date(value: &toml::value::Datetime) -> Option<NaiveDate> {
    match (value.date, value.time, value.offset) {
        (Some(d), None, None) => {
            NaiveDate::from_ymd_opt(i32::from(d.year), d.month.into(), d.day.into())
        }
        _ => None,
    }
}

/// `RU-` and two or three capital letters: the ISO 3166-2 form of a Russian region's code
/// (`RU-TA` Tatarstan, `RU-MOW` Moscow). Which regions have their own days off is data.
pub fn is_region_code(code: &str) -> bool {
    code.strip_prefix("RU-")
        .is_some_and(|c| (2..=3).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_uppercase()))
}

/// Saturday or Sunday, before any transfer is applied.
pub fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

#[cfg(test)]
mod tests;
