//! Schedules and their rounds (SQLite: one process, its writer turn
//! serialises the claims; the lease still guards a round against a
//! restarted node redoing it twice).

use std::time::Duration;

use application::Error;
use application::ports::{RoundOutcome, ScheduleRecord, ScheduleStore};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::store::schedule_rows::{COLUMNS, INSERT, UPSERT, millis, overlap_of};
use crate::store::{database, unreadable};

use super::queries::{parse_json, parse_time, required};
use super::{SqliteReadModels, time};

fn record(row: &SqliteRow) -> Result<ScheduleRecord, Error> {
    let read = || -> Result<ScheduleRecord, sqlx::Error> {
        Ok(ScheduleRecord {
            name: row.try_get("name")?,
            definition: row.try_get("definition")?,
            version: row.try_get::<Option<i64>, _>("version")?.map(|v| v as u32),
            input: required(parse_json(row.try_get("input")?)?, "input")?,
            cron: row.try_get("cron")?,
            timezone: row.try_get("timezone")?,
            overlap: Default::default(),
            catchup_window: Duration::from_millis(
                row.try_get::<i64, _>("catchup_window_ms")?.max(0) as u64,
            ),
            paused: row.try_get("paused")?,
            next_due: parse_time(row.try_get("next_due")?)?,
            buffered: parse_time(row.try_get("buffered_tick")?)?,
            last_instance: None,
            last_tick: parse_time(row.try_get("last_tick")?)?,
            missed: row.try_get::<i64, _>("missed")?.max(0) as u64,
            origin: row.try_get("origin")?,
            created_at: required(parse_time(row.try_get("created_at")?)?, "created_at")?,
            lease_until: parse_time(row.try_get("lease_until")?)?,
        })
    };
    let mut record = read().map_err(database)?;
    let overlap: String = row.try_get("overlap").map_err(database)?;
    record.overlap =
        overlap_of(&overlap).map_err(|error| unreadable("schedules.overlap", error))?;
    let last: Option<String> = row.try_get("last_instance").map_err(database)?;
    record.last_instance = last
        .map(|id| Uuid::parse_str(&id).map(InstanceId))
        .transpose()
        .map_err(|error| unreadable("schedules.last_instance", error))?;
    Ok(record)
}

impl SqliteReadModels {
    async fn write_schedule(&self, schedule: &ScheduleRecord, upsert: bool) -> Result<bool, Error> {
        let conflict = if upsert { UPSERT } else { INSERT };
        let query = sqlx::AssertSqlSafe(format!(
            "insert into schedules (name, definition, version, input, cron, timezone, overlap,
                 catchup_window_ms, paused, next_due, origin, created_at)
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) {conflict}"
        ));
        let _writing = self.writer.lock().await;
        let written = sqlx::query(query)
            .bind(&schedule.name)
            .bind(&schedule.definition)
            .bind(schedule.version.map(i64::from))
            .bind(schedule.input.to_string())
            .bind(&schedule.cron)
            .bind(&schedule.timezone)
            .bind(schedule.overlap.as_str())
            .bind(millis(schedule.catchup_window))
            .bind(schedule.paused)
            .bind(schedule.next_due.map(time))
            .bind(&schedule.origin)
            .bind(time(schedule.created_at))
            .execute(&self.pool)
            .await
            .map_err(database)?;
        Ok(written.rows_affected() == 1)
    }
}

impl ScheduleStore for SqliteReadModels {
    async fn insert_schedule(&self, schedule: &ScheduleRecord) -> Result<bool, Error> {
        self.write_schedule(schedule, false).await
    }

    async fn upsert_schedule(&self, schedule: &ScheduleRecord) -> Result<(), Error> {
        self.write_schedule(schedule, true).await.map(drop)
    }

    async fn schedule(&self, name: &str) -> Result<Option<ScheduleRecord>, Error> {
        let query = sqlx::AssertSqlSafe(format!("select {COLUMNS} from schedules where name = ?1"));
        let row = sqlx::query(query)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(database)?;
        row.as_ref().map(record).transpose()
    }

    async fn schedules(&self) -> Result<Vec<ScheduleRecord>, Error> {
        let query = sqlx::AssertSqlSafe(format!("select {COLUMNS} from schedules order by name"));
        let rows = sqlx::query(query)
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        rows.iter().map(record).collect()
    }

    async fn delete_schedule(&self, name: &str) -> Result<bool, Error> {
        let _writing = self.writer.lock().await;
        let deleted = sqlx::query("delete from schedules where name = ?1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(database)?;
        Ok(deleted.rows_affected() == 1)
    }

    async fn set_schedule_paused(
        &self,
        name: &str,
        paused: bool,
        next_due: Option<DateTime<Utc>>,
    ) -> Result<bool, Error> {
        let _writing = self.writer.lock().await;
        let updated = sqlx::query(
            "update schedules set paused = ?2, next_due = ?3, buffered_tick = null where name = ?1",
        )
        .bind(name)
        .bind(paused)
        .bind(next_due.map(time))
        .execute(&self.pool)
        .await
        .map_err(database)?;
        Ok(updated.rows_affected() == 1)
    }

    async fn claim_due_schedules(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<ScheduleRecord>, Error> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
        let query = sqlx::AssertSqlSafe(format!(
            "update schedules set lease_until = ?2
             where name in (
                 select name from schedules
                 where not paused and (next_due <= ?1 or buffered_tick is not null)
                   and (lease_until is null or lease_until < ?1)
                 order by next_due
                 limit ?3
             )
             returning {COLUMNS}"
        ));
        let _writing = self.writer.lock().await;
        let rows = sqlx::query(query)
            .bind(time(now))
            .bind(time(until))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        rows.iter().map(record).collect()
    }

    async fn finish_schedule_round(
        &self,
        name: &str,
        lease_until: DateTime<Utc>,
        outcome: &RoundOutcome,
    ) -> Result<bool, Error> {
        let _writing = self.writer.lock().await;
        let updated = sqlx::query(
            "update schedules set next_due = ?3, buffered_tick = ?4, last_instance = ?5,
                 last_tick = ?6, missed = missed + ?7, lease_until = null
             where name = ?1 and lease_until = ?2",
        )
        .bind(name)
        .bind(time(lease_until))
        .bind(outcome.next_due.map(time))
        .bind(outcome.buffered.map(time))
        .bind(outcome.last_instance.map(|id| id.0.to_string()))
        .bind(outcome.last_tick.map(time))
        .bind(i64::try_from(outcome.missed).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await
        .map_err(database)?;
        Ok(updated.rows_affected() == 1)
    }
}
