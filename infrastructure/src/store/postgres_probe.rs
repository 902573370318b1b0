//! What a node's PostgreSQL says at scrape time (work in progress, outbox
//! and timer backlog, pool use) and whether it is ready (reachable, every
//! migration of this build applied). The work in progress is counted on the
//! read models' live rows (partial indexes), never on the event log.

use std::collections::BTreeSet;

use application::Error;
use application::ports::{BoxFuture, Check, StoreProbe, StoreSample, WaitingSteps};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use super::{POSTGRES_MIGRATIONS, database};

#[derive(Clone, Debug)]
pub struct PgStoreProbe {
    pool: PgPool,
}

impl PgStoreProbe {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn take_sample(&self, now: DateTime<Utc>) -> Result<StoreSample, Error> {
        let mut sample = StoreSample {
            connections_in_use: self.pool.size().saturating_sub(self.pool.num_idle() as u32),
            connections_idle: self.pool.num_idle() as u32,
            ..StoreSample::default()
        };
        for row in sqlx::query(include_str!("sql/live_instances.sql"))
            .fetch_all(&self.pool)
            .await
            .map_err(database)?
        {
            let definition = text(&row, "definition")?;
            let count: i64 = row.try_get("count").map_err(database)?;
            let bucket = if text(&row, "status")? == "compensation_failed" {
                &mut sample.compensation_failed
            } else {
                &mut sample.running
            };
            match bucket.iter_mut().find(|(name, _)| *name == definition) {
                Some((_, total)) => *total += count,
                None => bucket.push((definition, count)),
            }
        }
        for row in sqlx::query(include_str!("sql/approvals_waiting.sql"))
            .fetch_all(&self.pool)
            .await
            .map_err(database)?
        {
            sample.approvals_waiting.push((
                text(&row, "definition")?,
                row.try_get("count").map_err(database)?,
            ));
        }
        for row in sqlx::query(include_str!("sql/waiting_steps.sql"))
            .fetch_all(&self.pool)
            .await
            .map_err(database)?
        {
            sample.waiting_steps.push(WaitingSteps {
                definition: text(&row, "definition")?,
                step: text(&row, "step")?,
                compensation: row.try_get("compensation").map_err(database)?,
                count: row.try_get("count").map_err(database)?,
                oldest: row.try_get("oldest").map_err(database)?,
            });
        }
        let outbox = sqlx::query("select count(*) as count, min(created_at) as oldest from outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(database)?;
        sample.outbox_pending = outbox.try_get("count").map_err(database)?;
        sample.outbox_oldest = outbox.try_get("oldest").map_err(database)?;
        let timers = sqlx::query(
            "select count(*) as count, min(due_at) as oldest from timers where due_at <= $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(database)?;
        sample.timers_due = timers.try_get("count").map_err(database)?;
        sample.timers_oldest_due = timers.try_get("oldest").map_err(database)?;
        Ok(sample)
    }

    async fn run_checks(&self) -> Vec<Check> {
        let applied: Result<Vec<i64>, _> =
            sqlx::query_scalar("select version from _sqlx_migrations where success")
                .fetch_all(&self.pool)
                .await;
        let applied: BTreeSet<i64> = match applied {
            Ok(applied) => applied.into_iter().collect(),
            Err(error) => {
                return vec![
                    Check::failed("database", error.to_string()),
                    Check::failed("migrations", "unknown: the database did not answer"),
                ];
            }
        };
        let missing: Vec<String> = POSTGRES_MIGRATIONS
            .iter()
            .filter(|migration| !migration.migration_type.is_down_migration())
            .filter(|migration| !applied.contains(&migration.version))
            .map(|migration| format!("{} {}", migration.version, migration.description))
            .collect();
        let migrations = if missing.is_empty() {
            Check::passed("migrations")
        } else {
            Check::failed("migrations", format!("not applied: {}", missing.join(", ")))
        };
        vec![Check::passed("database"), migrations]
    }
}

fn text(row: &sqlx::postgres::PgRow, column: &str) -> Result<String, Error> {
    let value: Option<String> = row.try_get(column).map_err(database)?;
    Ok(value.unwrap_or_else(|| "unknown".to_owned()))
}

impl StoreProbe for PgStoreProbe {
    fn sample(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<StoreSample, Error>> {
        Box::pin(self.take_sample(now))
    }

    fn checks(&self) -> BoxFuture<'_, Vec<Check>> {
        Box::pin(self.run_checks())
    }
}
