//! What the benchmarks (`distorch bench`, `bench-reads`) need of PostgreSQL
//! beyond the ports: a database of their own, the server's raw commit rate,
//! its transaction counts, and read models seeded in bulk.

use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, PgPool};
use uuid::Uuid;

use super::pg_options;

/// A database created for one run on a server, dropped by [`drop`]
/// (with whatever connections are still open to it).
///
/// [`drop`]: ScratchDatabase::drop
#[derive(Debug)]
pub struct ScratchDatabase {
    admin: PgPool,
    server: PgConnectOptions,
    name: String,
}

impl ScratchDatabase {
    /// Creates database `name` on the server `url` points to. The name is
    /// the caller's: letters, digits and `_` only.
    pub async fn create(url: &str, name: &str) -> Result<Self, sqlx::Error> {
        let server = pg_options(url)?;
        let admin = PgPool::connect_with(server.clone()).await?;
        sqlx::query(AssertSqlSafe(format!("create database {name}")))
            .execute(&admin)
            .await?;
        Ok(Self {
            admin,
            server,
            name: name.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// How to connect to it.
    pub fn options(&self) -> PgConnectOptions {
        self.server.clone().database(&self.name)
    }

    pub async fn drop(self) -> Result<(), sqlx::Error> {
        let drop = format!("drop database if exists {} with (force)", self.name);
        sqlx::query(AssertSqlSafe(drop))
            .execute(&self.admin)
            .await?;
        Ok(())
    }
}

/// Single-row inserts into a table of its own, each its own commit, for
/// `during`: how many per second, and how many in all.
pub async fn raw_commit_rate(pool: &PgPool, during: Duration) -> Result<(f64, u32), sqlx::Error> {
    sqlx::query(
        "create table if not exists bench_commits
             (id bigint generated always as identity, at timestamptz default now())",
    )
    .execute(pool)
    .await?;
    let started = Instant::now();
    let mut commits = 0u32;
    while started.elapsed() < during {
        sqlx::query("insert into bench_commits default values")
            .execute(pool)
            .await?;
        commits += 1;
    }
    sqlx::query("drop table bench_commits")
        .execute(pool)
        .await?;
    Ok((
        f64::from(commits) / started.elapsed().as_secs_f64(),
        commits,
    ))
}

/// The transactions the server counted for `database`: commits and
/// rollbacks (its statistics lag by up to a second).
pub async fn transaction_counts(pool: &PgPool, database: &str) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as("select xact_commit, xact_rollback from pg_stat_database where datname = $1")
        .bind(database)
        .fetch_one(pool)
        .await
}

/// Read models of `workflows` finished `bench-order` workflows, five
/// completed steps each, written in bulk; their ids.
pub async fn seed_finished_workflows(
    pool: &PgPool,
    workflows: u32,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query(
        "insert into workflow_instances
             (id, definition, definition_version, status, input, output, started_by,
              created_at, updated_at, finished_at)
         select gen_random_uuid(), 'bench-order', 1, 'completed', jsonb_build_object('n', n),
                jsonb_build_object('receipt', n), 'bench', now(), now(), now()
         from generate_series(1, $1) as n",
    )
    .bind(workflows as i32)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into workflow_steps
             (instance_id, step, position, kind, status, attempt, scheduled_at, started_at,
              finished_at, worker, output)
         select i.id, s.step, s.position, 'task', 'completed', 1, now(), now(), now(), 'echo', '{}'
         from workflow_instances i cross join (values ('reserve', 0), ('charge', 1), ('ship', 2),
             ('confirm', 3), ('notify', 4)) as s(step, position)",
    )
    .execute(pool)
    .await?;
    sqlx::query("analyze").execute(pool).await?;
    sqlx::query_scalar("select id from workflow_instances")
        .fetch_all(pool)
        .await
}
