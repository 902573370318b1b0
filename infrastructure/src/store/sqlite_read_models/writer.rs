//! The projection writer on SQLite: a batch's rows and the checkpoint in
//! one transaction (one process, so one projector; SQLite's write lock
//! serialises the batch and its checkpoint).

use std::collections::BTreeMap;

use application::Error;
use application::ports::{ApplyOutcome, ProjectionBatch, ProjectionWriter};
use chrono::{DateTime, Utc};
use domain::InstanceId;

use super::changes::apply_change;
use super::{SqliteReadModels, time};
use crate::store::{database, unreadable};

const PROJECTION: &str = "read_models";

impl ProjectionWriter for SqliteReadModels {
    async fn checkpoint(&self) -> Result<i64, Error> {
        sqlx::query_scalar("select position from projection_checkpoints where name = ?1")
            .bind(PROJECTION)
            .fetch_one(&self.pool)
            .await
            .map_err(database)
    }

    async fn oldest_unprojected(&self) -> Result<Option<DateTime<Utc>>, Error> {
        let recorded: Option<String> = sqlx::query_scalar(
            "select recorded_at from events
             where global_position > (select position from projection_checkpoints where name = ?1)
             order by global_position limit 1",
        )
        .bind(PROJECTION)
        .fetch_optional(&self.pool)
        .await
        .map_err(database)?;
        recorded
            .map(|text| {
                DateTime::parse_from_rfc3339(&text)
                    .map(|time| time.with_timezone(&Utc))
                    .map_err(|error| unreadable("events.recorded_at", error))
            })
            .transpose()
    }

    async fn log_head(&self) -> Result<i64, Error> {
        sqlx::query_scalar("select coalesce(max(global_position), 0) from events")
            .fetch_one(&self.pool)
            .await
            .map_err(database)
    }

    async fn apply(&self, batch: &ProjectionBatch) -> Result<ApplyOutcome, Error> {
        let mut writing = self.writer.begin(&self.pool).await?;
        let position: i64 =
            sqlx::query_scalar("select position from projection_checkpoints where name = ?1")
                .bind(PROJECTION)
                .fetch_one(&mut *writing.tx)
                .await
                .map_err(database)?;
        if position != batch.after {
            return Ok(ApplyOutcome::Moved);
        }
        let mut touched: BTreeMap<InstanceId, DateTime<Utc>> = BTreeMap::new();
        for change in &batch.changes {
            apply_change(&mut writing.tx, change).await?;
            touched.insert(change.instance, change.at);
        }
        for (instance, at) in touched {
            sqlx::query(
                "update workflow_instances set updated_at = ?2,
                     current_steps = (select json_group_array(step) from (select step
                         from workflow_steps where instance_id = ?1
                         and status in ('scheduled', 'running', 'waiting') order by position)),
                     failed_steps = (select json_group_array(step) from (select step
                         from workflow_steps where instance_id = ?1 and status = 'failed'
                         order by position))
                 where id = ?1",
            )
            .bind(instance.0.to_string())
            .bind(time(at))
            .execute(&mut *writing.tx)
            .await
            .map_err(database)?;
        }
        sqlx::query("update projection_checkpoints set position = ?2 where name = ?1")
            .bind(PROJECTION)
            .bind(batch.through)
            .execute(&mut *writing.tx)
            .await
            .map_err(database)?;
        writing.tx.commit().await.map_err(database)?;
        Ok(ApplyOutcome::Applied)
    }

    async fn reset(&self) -> Result<(), Error> {
        let mut writing = self.writer.begin(&self.pool).await?;
        for statement in [
            "delete from workflow_steps",
            "delete from workflow_instances",
            "update projection_checkpoints set position = 0",
        ] {
            sqlx::query(statement)
                .execute(&mut *writing.tx)
                .await
                .map_err(database)?;
        }
        writing.tx.commit().await.map_err(database)
    }

    async fn record_progress(
        &self,
        instance: InstanceId,
        step: &str,
        progress: u8,
    ) -> Result<(), Error> {
        let _writing = self.writer.lock().await;
        sqlx::query(
            "update workflow_steps set progress = ?3
             where instance_id = ?1 and step = ?2 and status = 'running'",
        )
        .bind(instance.0.to_string())
        .bind(step)
        .bind(i64::from(progress.min(100)))
        .execute(&self.pool)
        .await
        .map_err(database)?;
        Ok(())
    }
}
