//! Schedules as callers manage them: create (the cron, its time zone and
//! the start checked first), read with the next fire times, pause, resume,
//! delete. The rounds themselves run in [`crate::loops::SchedulePoller`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::WorkflowDefinition;
use domain::schedule::{CronSchedule, OverlapPolicy};
use serde_json::Value;

use crate::ports::{DefinitionStore, EventStore, IdempotencyKeys, ScheduleRecord, ScheduleStore};
use crate::starts::{self, Start};
use crate::{Engine, Error};

/// The catch-up window when none is given.
pub const DEFAULT_CATCHUP_WINDOW: Duration = Duration::from_secs(60);
/// How many fire times a schedule shows.
pub const SHOWN_FIRE_TIMES: usize = 5;
/// The longest schedule name: it is part of each tick's idempotency key.
pub const MAX_NAME_LEN: usize = 100;

/// A schedule to create.
#[derive(Clone, Debug, PartialEq)]
pub struct NewSchedule {
    pub name: String,
    pub definition: String,
    pub version: Option<u32>,
    pub input: Value,
    pub cron: String,
    /// An IANA time zone; UTC when absent.
    pub timezone: Option<String>,
    pub overlap: OverlapPolicy,
    pub catchup_window: Option<Duration>,
}

/// A schedule and when it fires next (none while paused).
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleView {
    pub schedule: ScheduleRecord,
    pub next_fire_times: Vec<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0}")]
    Invalid(String),
    #[error("a schedule named `{0}` exists")]
    Exists(String),
    #[error("schedule `{0}` not found")]
    NotFound(String),
    #[error(transparent)]
    Failed(#[from] Error),
}

/// The record of a new schedule, checked: its name, cron and time zone, and
/// a start of its definition with its input (a start that would be refused
/// at every tick is refused now).
pub async fn record_of<S, R>(
    engine: &Engine<S>,
    read_models: &R,
    new: NewSchedule,
    origin: &str,
) -> Result<ScheduleRecord, ScheduleError>
where
    S: EventStore,
    R: DefinitionStore,
{
    let name_ok = (1..=MAX_NAME_LEN).contains(&new.name.len())
        && new
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !name_ok {
        return Err(ScheduleError::Invalid(format!(
            "a schedule name is 1 to {MAX_NAME_LEN} letters, digits, `-`, `_` or `.`, not `{}`",
            new.name
        )));
    }
    let timezone = new.timezone.clone().unwrap_or_else(|| "UTC".to_owned());
    let cron = CronSchedule::parse(&new.cron, &timezone)
        .map_err(|error| ScheduleError::Invalid(error.to_string()))?;
    let start = Start {
        definition: new.definition.clone(),
        version: new.version,
        input: new.input.clone(),
        start_at: None,
    };
    starts::check(engine, read_models, &start)
        .await
        .map_err(|error| match error {
            Error::NotFound { .. } | Error::Rejected(_) | Error::Invalid { .. } => {
                ScheduleError::Invalid(format!("its start is refused: {error}"))
            }
            other => ScheduleError::Failed(other),
        })?;
    let now = engine.clock().now();
    Ok(fresh(new, timezone, &cron, origin, now))
}

/// A schedule's first record: it fires from its next tick after `now`.
fn fresh(
    new: NewSchedule,
    timezone: String,
    cron: &CronSchedule,
    origin: &str,
    now: DateTime<Utc>,
) -> ScheduleRecord {
    ScheduleRecord {
        name: new.name,
        definition: new.definition,
        version: new.version,
        input: new.input,
        cron: new.cron,
        timezone,
        overlap: new.overlap,
        catchup_window: new.catchup_window.unwrap_or(DEFAULT_CATCHUP_WINDOW),
        paused: false,
        next_due: cron.next_after(now),
        buffered: None,
        last_instance: None,
        last_tick: None,
        missed: 0,
        origin: origin.to_owned(),
        created_at: now,
        lease_until: None,
    }
}

pub async fn create<S, R>(
    engine: &Engine<S>,
    read_models: &R,
    new: NewSchedule,
) -> Result<ScheduleView, ScheduleError>
where
    S: EventStore,
    R: DefinitionStore + ScheduleStore,
{
    let record = record_of(engine, read_models, new, "api").await?;
    if !read_models.insert_schedule(&record).await? {
        return Err(ScheduleError::Exists(record.name));
    }
    Ok(view(record))
}

pub async fn list<R: ScheduleStore>(store: &R) -> Result<Vec<ScheduleView>, Error> {
    Ok(store.schedules().await?.into_iter().map(view).collect())
}

pub async fn show<R: ScheduleStore>(store: &R, name: &str) -> Result<ScheduleView, ScheduleError> {
    let found = store.schedule(name).await?;
    found
        .map(view)
        .ok_or_else(|| ScheduleError::NotFound(name.to_owned()))
}

pub async fn delete<R: ScheduleStore>(store: &R, name: &str) -> Result<(), ScheduleError> {
    if store.delete_schedule(name).await? {
        Ok(())
    } else {
        Err(ScheduleError::NotFound(name.to_owned()))
    }
}

/// Pauses a schedule: no tick fires until it is resumed.
pub async fn pause<R: ScheduleStore>(store: &R, name: &str) -> Result<ScheduleView, ScheduleError> {
    let current = show(store, name).await?.schedule;
    store
        .set_schedule_paused(name, true, current.next_due)
        .await?;
    show(store, name).await
}

/// Resumes a schedule from its next tick after now: the ticks while it was
/// paused do not fire.
pub async fn resume<S: EventStore, R: ScheduleStore>(
    engine: &Engine<S>,
    store: &R,
    name: &str,
) -> Result<ScheduleView, ScheduleError> {
    let current = show(store, name).await?.schedule;
    let next_due = cron_of(&current)?.next_after(engine.clock().now());
    store.set_schedule_paused(name, false, next_due).await?;
    show(store, name).await
}

/// A stored schedule's cron; stored ones were checked, so a failure is a
/// fault of the stored data.
pub(crate) fn cron_of(schedule: &ScheduleRecord) -> Result<CronSchedule, Error> {
    CronSchedule::parse(&schedule.cron, &schedule.timezone).map_err(|error| Error::Internal {
        reason: format!("schedule {}: {error}", schedule.name),
        source: None,
    })
}

fn view(schedule: ScheduleRecord) -> ScheduleView {
    let next_fire_times = match (schedule.paused, schedule.next_due, cron_of(&schedule)) {
        (false, Some(next), Ok(cron)) => std::iter::once(next)
            .chain(cron.upcoming(next, SHOWN_FIRE_TIMES - 1))
            .collect(),
        _ => Vec::new(),
    };
    ScheduleView {
        schedule,
        next_fire_times,
    }
}

/// The start a tick makes: idempotent under the schedule's name and the
/// tick's time, so a round redone by another node starts nothing twice.
pub(crate) fn tick_key(name: &str, tick: DateTime<Utc>) -> String {
    format!(
        "schedule:{name}:{}",
        tick.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    )
}

/// Stores the schedules a definition declares (`schedules:`), named
/// `<workflow>.<name>`, each starting the latest version at its ticks: new
/// ones from their next tick, known ones with their new settings (their
/// round state kept unless the cron or time zone changed).
pub async fn declare<R: ScheduleStore>(
    store: &R,
    definition: &WorkflowDefinition,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    for declared in &definition.schedules {
        let cron = CronSchedule::parse(&declared.cron, &declared.timezone).map_err(|error| {
            Error::Invalid {
                reason: error.to_string(),
            }
        })?;
        let new = NewSchedule {
            name: format!("{}.{}", definition.name, declared.name),
            definition: definition.name.clone(),
            version: None,
            input: declared.input.clone(),
            cron: declared.cron.clone(),
            timezone: None,
            overlap: declared.overlap,
            catchup_window: declared.catchup_window,
        };
        let record = fresh(new, declared.timezone.clone(), &cron, "definition", now);
        store.upsert_schedule(&record).await?;
    }
    Ok(())
}

/// Whether `R` can run schedule rounds: schedules, definitions and keys.
pub trait ScheduleRounds: ScheduleStore + DefinitionStore + IdempotencyKeys {}
impl<T: ScheduleStore + DefinitionStore + IdempotencyKeys> ScheduleRounds for T {}
