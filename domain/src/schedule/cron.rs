//! A cron expression of five fields (minute granularity) or six (seconds
//! first), evaluated in an IANA time zone. Daylight-saving changes follow
//! croner (the Open Cron Pattern Specification): a fixed time that falls in
//! the spring-forward gap runs at the first instant after it; a fixed time
//! in the repeated autumn hour runs once; wildcard fields run on every real
//! instant that matches.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// Why a schedule's cron or time zone was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "`{expression}` has {fields} fields; a cron takes 5 (minute hour day month weekday) or 6 (seconds first)"
    )]
    FieldCount { expression: String, fields: usize },
    #[error("`{expression}` is not a cron expression: {reason}")]
    InvalidCron { expression: String, reason: String },
    #[error("`{0}` is not an IANA time zone (such as Europe/Paris or UTC)")]
    UnknownTimeZone(String),
    #[error("`{0}` never fires")]
    NeverFires(String),
    #[error("`{0}` is not a duration (such as 30s, 5m or 1h)")]
    InvalidDuration(String),
}

/// A duration as schedules write it (`30s`, `5m`, `1h 30m`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, ScheduleError> {
    humantime::parse_duration(text).map_err(|_| ScheduleError::InvalidDuration(text.to_owned()))
}

/// A validated cron expression and its time zone.
#[derive(Clone)]
pub struct CronSchedule {
    expression: String,
    cron: Cron,
    timezone: Tz,
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronSchedule({} in {})", self.expression, self.timezone)
    }
}

impl CronSchedule {
    pub fn parse(expression: &str, timezone: &str) -> Result<Self, ScheduleError> {
        let fields = expression.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(ScheduleError::FieldCount {
                expression: expression.to_owned(),
                fields,
            });
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expression)
            .map_err(|error| ScheduleError::InvalidCron {
                expression: expression.to_owned(),
                reason: error.to_string(),
            })?;
        let timezone = Tz::from_str(timezone)
            .map_err(|_| ScheduleError::UnknownTimeZone(timezone.to_owned()))?;
        let schedule = Self {
            expression: expression.to_owned(),
            cron,
            timezone,
        };
        // A pattern such as `0 0 31 2 *` parses but never matches.
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        if schedule.next_after(epoch).is_none() {
            return Err(ScheduleError::NeverFires(expression.to_owned()));
        }
        Ok(schedule)
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn timezone(&self) -> &str {
        self.timezone.name()
    }

    /// The first tick strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.timezone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|tick| tick.with_timezone(&Utc))
    }

    /// The first tick at or after `from`.
    pub fn first_from(&self, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = from.with_timezone(&self.timezone);
        self.cron
            .find_next_occurrence(&local, true)
            .ok()
            .map(|tick| tick.with_timezone(&Utc))
    }

    /// The next `count` ticks after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut ticks = Vec::with_capacity(count);
        let mut cursor = after;
        while ticks.len() < count {
            let Some(tick) = self.next_after(cursor) else {
                break;
            };
            ticks.push(tick);
            cursor = tick;
        }
        ticks
    }
}
