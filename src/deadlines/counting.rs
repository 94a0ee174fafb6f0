//! The counting itself: from an event day and a rule to the deadline day, with the days
//! counted and skipped recorded so that every deadline can explain itself.

use chrono::{Days, Months, NaiveDate};
use serde::Serialize;

use super::DeadlineError;
use super::rules::{BeforeConvention, Unit};
use crate::calendar::{Calendar, DayStatus};

/// One month counted by a month rule, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MonthSpan {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Why a day did not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    Weekend,
    Holiday,
}

/// A day that a working-day rule or a holiday shift stepped over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedDay {
    pub date: NaiveDate,
    pub reason: SkipReason,
    /// The calendar's note, e.g. "day off transferred from Sun 5 Jan".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The outcome of counting, before it is turned into an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub day: NaiveDate,
    pub counted_days: Vec<NaiveDate>,
    pub counted_months: Vec<MonthSpan>,
    pub skipped: Vec<SkippedDay>,
    /// For a "within" deadline moved off a day off: the day it first fell on.
    pub shifted_from: Option<NaiveDate>,
    /// Whether the production calendar was consulted (calendar-day rules need none).
    pub used_calendar: bool,
}

impl Counted {
    fn new(day: NaiveDate) -> Self {
        Self {
            day,
            counted_days: Vec::new(),
            counted_months: Vec::new(),
            skipped: Vec::new(),
            shifted_from: None,
            used_calendar: false,
        }
    }
}

fn out_of_range(date: NaiveDate) -> DeadlineError {
    DeadlineError::DateOutOfRange { date }
}

fn add_days(date: NaiveDate, n: u32) -> Result<NaiveDate, DeadlineError> {
    date.checked_add_days(Days::new(n.into()))
        .ok_or_else(|| out_of_range(date))
}

fn sub_days(date: NaiveDate, n: u32) -> Result<NaiveDate, DeadlineError> {
    date.checked_sub_days(Days::new(n.into()))
        .ok_or_else(|| out_of_range(date))
}

/// chrono clamps to the month's last day (31 Jan + 1 month = 28/29 Feb), as the rule wants.
fn add_months(date: NaiveDate, n: u32) -> Result<NaiveDate, DeadlineError> {
    date.checked_add_months(Months::new(n))
        .ok_or_else(|| out_of_range(date))
}

/// Every day from `from` to `to`, both included.
fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

/// The non-working days among `from..=to`.
fn skipped(
    cal: &Calendar,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<SkippedDay>, DeadlineError> {
    let mut out = Vec::new();
    for date in days(from, to) {
        let (reason, note) = match cal.day_status(date)? {
            DayStatus::Weekend => (SkipReason::Weekend, None),
            DayStatus::Holiday { note } => (SkipReason::Holiday, note),
            DayStatus::Working | DayStatus::WorkingWeekend { .. } => continue,
        };
        out.push(SkippedDay { date, reason, note });
    }
    Ok(out)
}

/// The month spans `base + (k-1) months + 1 day ..= base + k months`, k = 1..=n; each end is
/// computed from `base` directly so that clamping in a short month does not drift.
fn month_spans(base: NaiveDate, n: u32) -> Result<Vec<MonthSpan>, DeadlineError> {
    (1..=n)
        .map(|k| {
            let from = add_days(add_months(base, k - 1)?, 1)?;
            Ok(MonthSpan {
                from,
                to: add_months(base, k)?,
            })
        })
        .collect()
}

/// The latest delivery day that still leaves `amount` units before the event day.
pub fn before(
    cal: &Calendar,
    event_day: NaiveDate,
    amount: u32,
    unit: Unit,
    convention: BeforeConvention,
) -> Result<Counted, DeadlineError> {
    let delivery_counts = convention == BeforeConvention::DeliveryDayCounts;
    let last_counted = sub_days(event_day, 1)?;
    match unit {
        Unit::CalendarDays => {
            let day = sub_days(event_day, amount + u32::from(!delivery_counts))?;
            let first_counted = sub_days(event_day, amount)?;
            let mut out = Counted::new(day);
            out.counted_days = days(first_counted, last_counted).collect();
            Ok(out)
        }
        Unit::WorkingDays => {
            let nth = cal.nth_working_day_before(event_day, amount)?;
            let day = if delivery_counts {
                nth
            } else {
                sub_days(nth, 1)?
            };
            let mut out = Counted::new(day);
            out.counted_days = cal.working_days_between(sub_days(nth, 1)?, event_day)?;
            out.skipped = skipped(cal, nth, last_counted)?;
            out.used_calendar = true;
            Ok(out)
        }
        Unit::Months => {
            let fits = |d: NaiveDate| -> Result<bool, DeadlineError> {
                let end = add_months(d, amount)?;
                Ok(if delivery_counts {
                    end <= event_day
                } else {
                    end < event_day
                })
            };
            // The answer lies in the month `amount` months before the event, at most three
            // days past the clamped same-day date (a short event month); scan down from there.
            let mut day = add_days(
                event_day
                    .checked_sub_months(Months::new(amount))
                    .ok_or_else(|| out_of_range(event_day))?,
                4,
            )?;
            let mut steps = 0;
            while !fits(day)? {
                day = sub_days(day, 1)?;
                steps += 1;
                if steps > 40 {
                    return Err(out_of_range(event_day));
                }
            }
            let mut out = Counted::new(day);
            let base = if delivery_counts {
                sub_days(day, 1)?
            } else {
                day
            };
            out.counted_months = month_spans(base, amount)?;
            Ok(out)
        }
    }
}

/// The last day of a period of `amount` units starting the day after `registered`.
pub fn within(
    cal: &Calendar,
    registered: NaiveDate,
    amount: u32,
    unit: Unit,
    shift_off_days: bool,
) -> Result<Counted, DeadlineError> {
    let mut out = match unit {
        Unit::CalendarDays => {
            let day = add_days(registered, amount)?;
            let mut out = Counted::new(day);
            out.counted_days = days(add_days(registered, 1)?, day).collect();
            out
        }
        Unit::WorkingDays => {
            let day = cal.nth_working_day_after(registered, amount)?;
            let mut out = Counted::new(day);
            out.counted_days = cal.working_days_between(registered, add_days(day, 1)?)?;
            out.skipped = skipped(cal, add_days(registered, 1)?, day)?;
            out.used_calendar = true;
            out
        }
        Unit::Months => {
            let mut out = Counted::new(add_months(registered, amount)?);
            out.counted_months = month_spans(registered, amount)?;
            out
        }
    };
    if shift_off_days {
        out.used_calendar = true;
        let moved = cal.next_working_day_from(out.day)?;
        if moved != out.day {
            out.skipped
                .extend(skipped(cal, out.day, sub_days(moved, 1)?)?);
            out.shifted_from = Some(out.day);
            out.day = moved;
        }
    }
    Ok(out)
}
