//! Failures below the API on a real PostgreSQL: a fault of the code or the
//! data answers 500 with a problem that tells nothing of its cause; a
//! database out of reach answers 503, to be retried.

use std::sync::Arc;

use application::Engine;
use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::feed::{EventFeed, FeedConfig, FeedSignal};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use infrastructure::store::{PgEventStore, PgReadModels};
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

fn router(pool: PgPool) -> axum::Router {
    let engine = Arc::new(Engine::new(
        PgEventStore::new(pool.clone()),
        Arc::new(DefinitionRegistry::default()),
        Arc::new(SystemClock::default()),
    ));
    let feed = Arc::new(EventFeed::new(
        Arc::new(PgEventStore::new(pool.clone())),
        Arc::new(FeedSignal::default()),
        FeedConfig::default(),
    ));
    api::router(
        engine,
        PgReadModels::new(pool),
        feed,
        api::ApiConfig::default(),
    )
}

/// The status, the content type and the body of a GET.
async fn get(router: axum::Router, uri: &str) -> (StatusCode, String, String) {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_row_that_does_not_decode_answers_500_without_telling_why(pool: PgPool) {
    let id = Uuid::now_v7();
    sqlx::query("insert into workflow_steps (instance_id, step, position, kind) values ($1, 'a', 0, 'noop')")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    // The code reads `attempt` as a 32-bit integer: a decode bug.
    sqlx::query("alter table workflow_steps alter column attempt type bigint")
        .execute(&pool)
        .await
        .unwrap();

    let (status, content_type, body) = get(router(pool), &format!("/api/v1/workflows/{id}")).await;

    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(content_type, "application/problem+json");
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["type"], "https://distorch.dev/problems/internal");
    assert_eq!(problem["status"], 500);
    assert_eq!(problem["detail"], "an internal error occurred");
    for cause in ["attempt", "mismatched", "database", "INT8"] {
        assert!(!body.contains(cause), "the problem tells `{cause}`: {body}");
    }
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_database_out_of_reach_answers_503(pool: PgPool) {
    let router = router(pool.clone());
    pool.close().await;

    let (status, content_type, body) =
        get(router, &format!("/api/v1/workflows/{}", Uuid::now_v7())).await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(content_type, "application/problem+json");
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["type"], "https://distorch.dev/problems/unavailable");
    assert_eq!(
        problem["detail"],
        "a dependency is unavailable; retry later"
    );
}
