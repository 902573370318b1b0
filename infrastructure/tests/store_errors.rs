//! Store failures told apart on the real databases: a database out of reach
//! is `Unavailable` (retry), a row or column that does not read and a broken
//! constraint are `Internal` (a fault retrying does not mend), and either
//! keeps its cause.

mod support;

use application::Error;
use application::ports::{ApiKeyRecord, ApiKeyStore, EventStore, ReadModelQueries};
use chrono::Utc;
use domain::InstanceId;
use infrastructure::store::{PgEventStore, PgReadModels, pg_pool_options};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};
use uuid::Uuid;

/// The error of reading a workflow's read-model row (written as the
/// projector would) after `corruption` ran.
async fn read_after(pool: PgPool, corruption: &'static str) -> Error {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into workflow_instances
             (id, definition, definition_version, status, input, started_by, created_at, updated_at)
         values ($1, 'order', 1, 'running', '{}', 'test', now(), now())",
    )
    .bind(id)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(corruption).execute(&pool).await.unwrap();
    PgReadModels::new(pool)
        .workflow(InstanceId(id))
        .await
        .unwrap_err()
}

fn assert_internal(error: &Error, cause: &str) {
    assert!(matches!(error, Error::Internal { .. }), "{error:?}");
    let told = error.report().to_string();
    assert!(told.contains(cause), "{told}");
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_column_of_another_type_is_internal_not_unavailable(pool: PgPool) {
    // The code reads `definition_version` as a 32-bit integer: a decode bug.
    let corruption = "alter table workflow_instances alter column definition_version type bigint";
    assert_internal(&read_after(pool, corruption).await, "mismatched types");
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_step_list_that_is_not_a_list_is_internal(pool: PgPool) {
    let corruption = "update workflow_instances set current_steps = '{\"a\": 1}'";
    assert_internal(&read_after(pool, corruption).await, "invalid type: map");
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_stored_key_without_roles_is_internal(pool: PgPool) {
    sqlx::query(
        "insert into api_keys (id, name, roles, secret_sha256, created_at)
         values ('k1', 'ci', ' ', '\\x00', now())",
    )
    .execute(&pool)
    .await
    .unwrap();

    let error = PgEventStore::new(pool).find("k1").await.unwrap_err();

    assert_internal(&error, "holds no role");
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_unique_violation_other_than_the_stream_version_is_no_conflict(pool: PgPool) {
    let store = PgEventStore::new(pool);
    let key = ApiKeyRecord {
        id: "k1".into(),
        name: "ci".into(),
        roles: vec!["viewer".into()],
        secret_sha256: vec![0; 32],
        created_at: Utc::now(),
        revoked_at: None,
    };
    store.insert(&key).await.unwrap();

    let error = store.insert(&key).await.unwrap_err();

    assert_internal(&error, "api_keys_pkey");
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_lost_connection_is_unavailable_and_the_next_call_reconnects(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    // One connection, not pinged before use: as a node's pool.
    let pool = pg_pool_options(1)
        .connect_with(options.clone())
        .await
        .unwrap();
    let store = PgEventStore::new(pool.clone());
    let stream = InstanceId(Uuid::now_v7());
    store.load(stream, 0).await.unwrap();
    let backend: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .unwrap();
    let mut operator = sqlx::PgConnection::connect_with(&options).await.unwrap();
    // With a timeout, it returns once the backend has exited.
    let terminated: bool = sqlx::query_scalar("select pg_terminate_backend($1, 10000)")
        .bind(backend)
        .fetch_one(&mut operator)
        .await
        .unwrap();
    assert!(terminated);

    let error = store.load(stream, 0).await.unwrap_err();

    assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
    assert!(std::error::Error::source(&error).is_some(), "{error:?}");
    assert_eq!(store.load(stream, 0).await.unwrap(), Vec::new());
}

#[tokio::test]
async fn sqlite_a_time_that_does_not_parse_is_internal_not_unavailable() {
    let (_dir, store) = support::sqlite_store().await;
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into workflow_instances
             (id, definition, definition_version, status, input, started_by, created_at, updated_at)
         values (?1, 'order', 1, 'running', '{}', 'test', 'yesterday', 'yesterday')",
    )
    .bind(id.to_string())
    .execute(store.pool())
    .await
    .unwrap();

    let error = store
        .read_models()
        .workflow(InstanceId(id))
        .await
        .unwrap_err();

    assert_internal(
        &error,
        "decoding column \"created_at\": invalid datetime: yesterday",
    );
}
