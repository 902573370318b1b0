//! The worker registry on PostgreSQL (statements in `worker_rows.rs`).

use application::Error;
use application::fleet::WorkerRecord;
use application::ports::{BoxFuture, WorkerRegistry};
use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::worker_rows::{self, WorkerRow, capacity, count, records};
use super::{PgReadModels, database};

impl WorkerRegistry for PgReadModels {
    fn put<'a>(&'a self, record: &'a WorkerRecord) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            sqlx::query(worker_rows::PUT)
                .bind(&record.id)
                .bind(&record.name)
                .bind(&record.host)
                .bind(&record.version)
                .bind(record.transport.as_str())
                .bind(Json(&record.queues))
                .bind(capacity(record.capacity))
                .bind(Json(&record.in_flight))
                .bind(count(record.completed))
                .bind(count(record.failed))
                .bind(record.started_at)
                .bind(record.last_seen)
                .bind(record.draining)
                .bind(record.gone)
                .execute(self.pool())
                .await
                .map_err(database)?;
            Ok(())
        })
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<WorkerRecord>, Error>> {
        Box::pin(async move {
            let row: Option<WorkerRow> = sqlx::query_as(sqlx::AssertSqlSafe(worker_rows::get()))
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .map_err(database)?;
            row.map(WorkerRecord::try_from).transpose()
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<WorkerRecord>, Error>> {
        Box::pin(async move {
            let rows: Vec<WorkerRow> = sqlx::query_as(sqlx::AssertSqlSafe(worker_rows::list()))
                .fetch_all(self.pool())
                .await
                .map_err(database)?;
            records(rows)
        })
    }

    fn holding<'a>(
        &'a self,
        task_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<WorkerRecord>, Error>> {
        Box::pin(async move {
            let statement = worker_rows::holding("in_flight @> jsonb_build_array($1::text)");
            let row: Option<WorkerRow> = sqlx::query_as(sqlx::AssertSqlSafe(statement))
                .bind(task_id)
                .fetch_optional(self.pool())
                .await
                .map_err(database)?;
            row.map(WorkerRecord::try_from).transpose()
        })
    }

    fn mark_draining<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            let done = sqlx::query(worker_rows::MARK_DRAINING)
                .bind(id)
                .execute(self.pool())
                .await
                .map_err(database)?;
            Ok(done.rows_affected() > 0)
        })
    }

    fn forget(&self, before: DateTime<Utc>) -> BoxFuture<'_, Result<u64, Error>> {
        Box::pin(async move {
            let done = sqlx::query(worker_rows::FORGET)
                .bind(before)
                .execute(self.pool())
                .await
                .map_err(database)?;
            Ok(done.rows_affected())
        })
    }
}
