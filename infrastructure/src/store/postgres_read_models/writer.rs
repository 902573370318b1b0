//! The projection writer on PostgreSQL: a batch's rows and the checkpoint
//! in one transaction, under a transaction-level advisory lock so one node
//! projects at a time.

use std::collections::BTreeMap;

use application::Error;
use application::ports::{ApplyOutcome, ProjectionBatch, ProjectionWriter};
use chrono::{DateTime, Utc};
use domain::InstanceId;

use super::PgReadModels;
use super::changes::apply_change;
use crate::store::database;

/// The advisory lock that makes one node at a time the projector.
const PROJECTION_LOCK: i64 = i64::from_be_bytes(*b"distorch");
const PROJECTION: &str = "read_models";

impl ProjectionWriter for PgReadModels {
    async fn checkpoint(&self) -> Result<i64, Error> {
        sqlx::query_scalar("select position from projection_checkpoints where name = $1")
            .bind(PROJECTION)
            .fetch_one(&self.pool)
            .await
            .map_err(database)
    }

    async fn oldest_unprojected(&self) -> Result<Option<DateTime<Utc>>, Error> {
        sqlx::query_scalar(super::OLDEST_UNPROJECTED)
            .bind(PROJECTION)
            .fetch_optional(&self.pool)
            .await
            .map_err(database)
    }

    async fn log_head(&self) -> Result<i64, Error> {
        sqlx::query_scalar("select coalesce(max(global_position), 0) from events")
            .fetch_one(&self.pool)
            .await
            .map_err(database)
    }

    async fn apply(&self, batch: &ProjectionBatch) -> Result<ApplyOutcome, Error> {
        let mut tx = self.pool.begin().await.map_err(database)?;
        let locked: bool = sqlx::query_scalar("select pg_try_advisory_xact_lock($1)")
            .bind(PROJECTION_LOCK)
            .fetch_one(&mut *tx)
            .await
            .map_err(database)?;
        if !locked {
            return Ok(ApplyOutcome::Busy);
        }
        let position: i64 = sqlx::query_scalar(
            "select position from projection_checkpoints where name = $1 for update",
        )
        .bind(PROJECTION)
        .fetch_one(&mut *tx)
        .await
        .map_err(database)?;
        if position != batch.after {
            return Ok(ApplyOutcome::Moved);
        }
        let mut touched: BTreeMap<InstanceId, DateTime<Utc>> = BTreeMap::new();
        for change in &batch.changes {
            apply_change(&mut tx, change).await?;
            touched.insert(change.instance, change.at);
        }
        for (instance, at) in touched {
            sqlx::query(
                "update workflow_instances set updated_at = $2,
                     current_steps = (select coalesce(jsonb_agg(step order by position), '[]')
                         from workflow_steps where instance_id = $1
                         and status in ('scheduled', 'running', 'waiting')),
                     failed_steps = (select coalesce(jsonb_agg(step order by position), '[]')
                         from workflow_steps where instance_id = $1 and status = 'failed')
                 where id = $1",
            )
            .bind(instance.0)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(database)?;
        }
        sqlx::query("update projection_checkpoints set position = $2 where name = $1")
            .bind(PROJECTION)
            .bind(batch.through)
            .execute(&mut *tx)
            .await
            .map_err(database)?;
        tx.commit().await.map_err(database)?;
        Ok(ApplyOutcome::Applied)
    }

    async fn reset(&self) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(database)?;
        sqlx::query("select pg_advisory_xact_lock($1)")
            .bind(PROJECTION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(database)?;
        sqlx::query("truncate workflow_instances, workflow_steps")
            .execute(&mut *tx)
            .await
            .map_err(database)?;
        sqlx::query("update projection_checkpoints set position = 0 where name = $1")
            .bind(PROJECTION)
            .execute(&mut *tx)
            .await
            .map_err(database)?;
        tx.commit().await.map_err(database)
    }

    async fn record_progress(
        &self,
        instance: InstanceId,
        step: &str,
        progress: u8,
    ) -> Result<(), Error> {
        sqlx::query(
            "update workflow_steps set progress = $3
             where instance_id = $1 and step = $2 and status = 'running'",
        )
        .bind(instance.0)
        .bind(step)
        .bind(i16::from(progress.min(100)))
        .execute(&self.pool)
        .await
        .map_err(database)?;
        Ok(())
    }
}
