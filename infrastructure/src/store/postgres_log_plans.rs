//! The reads of the PostgreSQL log keep their index on a log of realistic
//! size: each statement's generic plan (what a prepared statement runs once
//! PostgreSQL stops planning it per call) is an index scan in the order the
//! read asks for, with no sort and no sequential scan. The projector and the
//! feed run these after every append: a plan that scans the log makes every
//! workflow cost more than the one before.

use sqlx::{AssertSqlSafe, PgPool};

use super::postgres::{LOAD, READ_ALL};
use super::postgres_log_head::{HEAD, READ_ORDER_OF};
use super::postgres_read_models::OLDEST_UNPROJECTED;

/// About 65,000 events of 3,800 streams, written in 200 transactions as
/// appends write them: every `tx` below the running transactions, spread
/// over many values, so the planner sees the log a node has after a few
/// thousand workflows.
async fn fill(pool: &PgPool) {
    let mut connection = pool.acquire().await.unwrap();
    sqlx::query("set synchronous_commit = off")
        .execute(&mut *connection)
        .await
        .unwrap();
    for batch in 0..200_i64 {
        sqlx::query(
            "insert into events (stream_id, version, type, schema_version, data, metadata)
             select ('00000000-0000-0000-0000-' || lpad(to_hex(g / 17), 12, '0'))::uuid,
                    g % 17 + 1, 'StepCompleted', 1,
                    jsonb_build_object('step', 's' || g % 5, 'attempt', 1, 'output', '{}'::jsonb),
                    jsonb_build_object('actor', 'test', 'event_id', gen_random_uuid())
             from generate_series($1::bigint, $1::bigint + 324) as g",
        )
        .bind(batch * 325)
        .execute(&mut *connection)
        .await
        .unwrap();
    }
    sqlx::query("analyze events")
        .execute(&mut *connection)
        .await
        .unwrap();
}

/// The generic plan of `sql` run with `arguments`, as EXPLAIN prints it.
async fn generic_plan(pool: &PgPool, sql: &str, arguments: &str) -> String {
    let mut connection = pool.acquire().await.unwrap();
    sqlx::query("set plan_cache_mode = force_generic_plan")
        .execute(&mut *connection)
        .await
        .unwrap();
    sqlx::query(AssertSqlSafe(format!("prepare log_read as {sql}")))
        .execute(&mut *connection)
        .await
        .unwrap();
    let execute = if arguments.is_empty() {
        "explain execute log_read".to_owned()
    } else {
        format!("explain execute log_read({arguments})")
    };
    let lines: Vec<String> = sqlx::query_scalar(AssertSqlSafe(execute))
        .fetch_all(&mut *connection)
        .await
        .unwrap();
    sqlx::query("deallocate log_read")
        .execute(&mut *connection)
        .await
        .unwrap();
    lines.join("\n")
}

fn assert_ordered_by(plan: &str, index: &str, read: &str) {
    assert!(
        plan.contains(&format!("using {index} on events")),
        "{read} does not use {index}:\n{plan}"
    );
    assert!(
        !plan.contains("Sort") && !plan.contains("Seq Scan") && !plan.contains("Bitmap"),
        "{read} sorts or scans the log instead of reading {index} in order:\n{plan}"
    );
}

#[sqlx::test(migrator = "crate::store::POSTGRES_MIGRATIONS")]
async fn every_read_of_the_log_keeps_to_its_index(pool: PgPool) {
    fill(&pool).await;
    let end: i64 = sqlx::query_scalar("select max(global_position) from events")
        .fetch_one(&pool)
        .await
        .unwrap();

    let caught_up = generic_plan(&pool, READ_ALL, &format!("{end}, 500")).await;
    assert_ordered_by(&caught_up, "events_commit_order", "read_all, caught up");
    let from_start = generic_plan(&pool, READ_ALL, "0, 500").await;
    assert_ordered_by(
        &from_start,
        "events_commit_order",
        "read_all, from the start",
    );
    let head = generic_plan(&pool, HEAD, "").await;
    assert_ordered_by(&head, "events_commit_order", "head");
    let order_of = generic_plan(&pool, READ_ORDER_OF, &(end / 2).to_string()).await;
    assert_ordered_by(&order_of, "events_pkey", "read_order_of");
    let stream = generic_plan(&pool, LOAD, "'00000000-0000-0000-0000-000000000007', 0").await;
    assert_ordered_by(&stream, "events_stream_version", "load");
    let unprojected = generic_plan(&pool, OLDEST_UNPROJECTED, "'read_models'").await;
    assert_ordered_by(&unprojected, "events_pkey", "oldest_unprojected");
}
