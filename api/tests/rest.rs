//! The REST API through the real router on a real PostgreSQL: definitions,
//! workflows from the read models, histories from the log, task commands,
//! statistics, and the problems (400, 403, 404, 409, 422) that change nothing.

mod support;

use std::sync::Arc;

use api::Caller;
use application::Engine;
use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::projection::Projector;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use infrastructure::store::{PgEventStore, PgReadModels};
use serde_json::{Value, json};
use sqlx::PgPool;
use support::EXPENSE;
use tower::ServiceExt;

struct Api {
    router: Router,
    projector: Projector<PgEventStore, PgReadModels>,
}

impl Api {
    fn new(pool: PgPool) -> Self {
        let engine = Arc::new(Engine::new(
            PgEventStore::new(pool.clone()),
            Arc::new(DefinitionRegistry::default()),
            Arc::new(SystemClock::default()),
        ));
        let read_models = PgReadModels::new(pool.clone());
        let feed = Arc::new(application::feed::EventFeed::new(
            Arc::new(PgEventStore::new(pool)),
            Arc::new(application::feed::FeedSignal::default()),
            application::feed::FeedConfig::default(),
        ));
        Self {
            router: api::router(
                engine.clone(),
                read_models.clone(),
                feed,
                api::ApiConfig::default(),
            ),
            projector: Projector::new(engine, read_models),
        }
    }

    /// The router as a caller with these roles (what an auth layer does).
    fn as_caller(&self, id: &str, roles: &[&str]) -> Router {
        self.router.clone().layer(axum::Extension(Caller {
            id: id.to_owned(),
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        }))
    }

    async fn send(
        &self,
        router: &Router,
        method: Method,
        uri: &str,
        body: Option<String>,
    ) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, Body::from))
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        if !status.is_success() {
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json",
                "{method} {uri}"
            );
        }
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            assert_eq!(value["status"], status.as_u16(), "{value}");
        }
        (status, value)
    }

    /// A GET once the read models caught up with the log.
    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.projector.catch_up().await.unwrap();
        self.send(&self.router, Method::GET, uri, None).await
    }

    async fn post_with_key(&self, uri: &str, key: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn post(&self, uri: &str, body: Value) -> (StatusCode, Value) {
        self.send(&self.router, Method::POST, uri, Some(body.to_string()))
            .await
    }

    async fn start(&self, input: Value) -> String {
        let (status, body) = self
            .post(
                "/api/v1/workflows",
                json!({"definition": "expense", "input": input}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    async fn deploy(&self, source: &str) -> (StatusCode, Value) {
        self.send(
            &self.router,
            Method::POST,
            "/api/v1/definitions",
            Some(source.to_owned()),
        )
        .await
    }
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn definitions_are_validated_stored_and_read_back(pool: PgPool) {
    let api = Api::new(pool.clone());
    let broken = "name: broken\nversion: 1\nsteps:\n  a: { type: teleport }\n  b: { type: task, queue: q, needs: [nowhere] }\n";
    let (status, problem) = api.deploy(broken).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let problems = problem["problems"].as_array().unwrap();
    assert!(problems.len() >= 2, "{problem}");
    for found in problems {
        assert!(found["line"].as_u64().unwrap() >= 4, "{found}");
        assert!(found["column"].as_u64().unwrap() >= 1, "{found}");
        assert!(found["message"].is_string());
    }

    let (status, created) = api.deploy(EXPENSE).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "expense");
    assert_eq!(created["version"], 1);
    let (status, _) = api.deploy(EXPENSE).await;
    assert_eq!(status, StatusCode::CREATED, "the same again is fine");
    let changed = EXPENSE.replace("queue: payments", "queue: elsewhere");
    let (status, clash) = api.deploy(&changed).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(clash["detail"].as_str().unwrap().contains("new version"));

    let (_, list) = api.get("/api/v1/definitions").await;
    assert_eq!(list["items"][0]["name"], "expense");
    assert_eq!(list["items"][0]["versions"], json!([1]));
    let (_, versions) = api.get("/api/v1/definitions/expense").await;
    assert_eq!(versions["versions"][0]["version"], 1);
    let (status, one) = api.get("/api/v1/definitions/expense/versions/1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["source"], EXPENSE);
    assert!(one["graph"]["mermaid"].as_str().unwrap().contains("charge"));
    assert_eq!(one["graph"]["steps"][1]["needs"], json!(["charge"]));
    for (uri, expected) in [
        ("/api/v1/definitions/nope", StatusCode::NOT_FOUND),
        (
            "/api/v1/definitions/expense/versions/2",
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/definitions/expense/versions/x",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        assert_eq!(api.get(uri).await.0, expected, "{uri}");
    }

    // Another node (a fresh registry on the same database) finds it.
    let other = Api::new(pool);
    let (status, _) = other
        .post(
            "/api/v1/workflows",
            json!({"definition": "expense", "input": {"amount": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_workflow_runs_through_task_reports_and_an_approval(pool: PgPool) {
    let api = Api::new(pool);
    api.deploy(EXPENSE).await;
    let (status, refused) = api
        .post(
            "/api/v1/workflows",
            json!({"definition": "expense", "input": {"amount": "lots"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (status, _) = api
        .post(
            "/api/v1/workflows",
            json!({"definition": "nope", "input": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let id = api.start(json!({"amount": 12})).await;
    let (status, workflow) = api.get(&format!("/api/v1/workflows/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(workflow["status"], "running");
    assert_eq!(workflow["input"], json!({"amount": 12}));
    assert_eq!(workflow["current_steps"], json!(["charge"]));
    assert_eq!(workflow["steps"][0]["status"], "scheduled");
    assert_eq!(workflow["steps"][1]["status"], "pending");

    let task = format!("{id}:charge:forward:1");
    let complete = format!("/api/v1/tasks/{task}/complete");
    let (status, done) = api.post(&complete, json!({"output": {"paid": true}})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["events"][0], "StepCompleted");
    let (status, again) = api.post(&complete, json!({"output": {}})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a second report changes nothing: {again}"
    );
    let (status, step) = api.get(&format!("/api/v1/tasks/{id}:charge")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(step["status"], "completed");
    assert_eq!(step["output"], json!({"paid": true}));

    // The caller here has no roles: not one of the approvers.
    let approve = format!("/api/v1/tasks/{id}:review/approve");
    let (status, forbidden) = api.post(&approve, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{forbidden}");
    let (_, workflow) = api.get(&format!("/api/v1/workflows/{id}")).await;
    assert_eq!(workflow["status"], "running");
    let approver = api.as_caller("alice", &["approver"]);
    let body = json!({"comment": "fine"}).to_string();
    let (status, approved) = api
        .send(&approver, Method::POST, &approve, Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    let (_, workflow) = api.get(&format!("/api/v1/workflows/{id}")).await;
    assert_eq!(workflow["status"], "completed");
    assert!(workflow["finished_at"].is_string());

    let pause = format!("/api/v1/workflows/{id}/pause");
    let (status, paused) = api.post(&pause, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        paused["detail"].as_str().unwrap().contains("completed"),
        "{paused}"
    );

    let (_, history) = api
        .get(&format!("/api/v1/workflows/{id}/events?limit=2"))
        .await;
    assert_eq!(history["items"][0]["type"], "WorkflowStarted");
    assert_eq!(history["items"][0]["actor"], "anonymous");
    let after = history["next_after"].as_u64().unwrap();
    let (_, rest) = api
        .get(&format!(
            "/api/v1/workflows/{id}/events?after={after}&limit=100"
        ))
        .await;
    let items = rest["items"].as_array().unwrap();
    let granted = items
        .iter()
        .find(|event| event["type"] == "ApprovalGranted")
        .unwrap();
    assert_eq!(granted["actor"], "alice");
    assert_eq!(items.last().unwrap()["type"], "WorkflowCompleted");
    assert!(rest["next_after"].is_null());
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn failed_steps_are_retried_or_skipped_by_operators(pool: PgPool) {
    let api = Api::new(pool);
    api.deploy(EXPENSE).await;
    let id = api.start(json!({"amount": 5})).await;
    let charge = format!("/api/v1/tasks/{id}:charge");
    let declined = json!({"message": "card declined", "retryable": false});
    let (status, failed) = api
        .post(&format!("{charge}:forward:1/fail"), declined)
        .await;
    assert_eq!(status, StatusCode::OK, "{failed}");
    let (_, workflow) = api.get(&format!("/api/v1/workflows/{id}")).await;
    assert_eq!(workflow["status"], "failed");
    assert_eq!(workflow["failed_steps"], json!(["charge"]));
    assert_eq!(workflow["steps"][0]["error"], "card declined");

    let (status, _) = api.post(&format!("{charge}/retry"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, workflow) = api.get(&format!("/api/v1/workflows/{id}")).await;
    assert_eq!(workflow["status"], "running");
    assert_eq!(workflow["steps"][0]["attempt"], 2);
    assert_eq!(workflow["steps"][0]["status"], "scheduled");
    assert_eq!(workflow["steps"][0]["last_error"], "card declined");

    let (status, _) = api
        .post(
            &format!("{charge}:forward:2/heartbeat"),
            json!({"progress": 40}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .post(
            &format!("{charge}:forward:2/fail"),
            json!({"message": "again", "retryable": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, skipped) = api
        .post(
            &format!("{charge}/skip"),
            json!({"output": {"paid": "by hand"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{skipped}");
    let (_, workflow) = api.get(&format!("/api/v1/workflows/{id}")).await;
    assert_eq!(workflow["status"], "running");
    assert_eq!(workflow["steps"][0]["status"], "skipped");
    assert_eq!(workflow["current_steps"], json!(["review"]));
    let reject = format!("/api/v1/tasks/{id}:review/reject");
    let body = json!({"comment": "no"}).to_string();
    let approver = api.as_caller("bob", &["approver"]);
    let (status, rejected) = api.send(&approver, Method::POST, &reject, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{rejected}");

    let nil = uuid::Uuid::nil();
    for (uri, expected) in [
        (format!("/api/v1/tasks/{id}:nowhere"), StatusCode::NOT_FOUND),
        (
            "/api/v1/tasks/not-a-task".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (format!("/api/v1/workflows/{nil}"), StatusCode::NOT_FOUND),
        (
            format!("/api/v1/workflows/{nil}/events"),
            StatusCode::NOT_FOUND,
        ),
        ("/api/v1/workflows/nope".to_owned(), StatusCode::BAD_REQUEST),
        (
            "/api/v1/workflows?limit=0".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/workflows?created_after=yesterday".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        assert_eq!(api.get(&uri).await.0, expected, "{uri}");
    }
    let (status, _) = api
        .post(&format!("{charge}/complete"), json!({"output": {}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a report names an attempt");
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn lists_page_by_cursor_and_stats_count_by_status(pool: PgPool) {
    let api = Api::new(pool);
    api.deploy(EXPENSE).await;
    let mut ids = Vec::new();
    for amount in 0..3 {
        ids.push(api.start(json!({"amount": amount})).await);
    }
    let cancel = format!("/api/v1/workflows/{}/cancel", ids[0]);
    let (status, _) = api.post(&cancel, json!({"compensate": false})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, first) = api.get("/api/v1/workflows?limit=2").await;
    let page: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|workflow| workflow["id"].as_str().unwrap())
        .collect();
    assert_eq!(page, [ids[2].as_str(), ids[1].as_str()], "newest first");
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = api
        .get(&format!("/api/v1/workflows?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(second["items"][0]["id"], ids[0].as_str());
    assert!(second["next_cursor"].is_null());
    let (_, cancelled) = api
        .get("/api/v1/workflows?status=cancelled&definition=expense")
        .await;
    assert_eq!(cancelled["items"].as_array().unwrap().len(), 1);
    let (_, none) = api
        .get("/api/v1/workflows?created_before=2000-01-01T00:00:00Z")
        .await;
    assert!(none["items"].as_array().unwrap().is_empty());

    let task = format!("/api/v1/tasks/{}:charge:forward:1/complete", ids[1]);
    let (status, _) = api.post(&task, json!({"output": {}})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, stats) = api.get("/api/v1/stats").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["counts"], json!({"cancelled": 1, "running": 2}));
    assert_eq!(stats["success_rate"], 0.0);
    assert_eq!(
        stats["definitions"]["expense"]["steps"]["charge"]["count"],
        1
    );
    let (status, bottlenecks) = api.get("/api/v1/analytics/bottlenecks").await;
    assert_eq!(status, StatusCode::OK);
    assert!(bottlenecks["items"].is_array());
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn an_idempotency_key_starts_one_workflow_and_batches_start_all_or_none(pool: PgPool) {
    let api = Api::new(pool.clone());
    api.deploy(EXPENSE).await;
    let request = json!({"definition": "expense", "input": {"amount": 3}});
    let (status, first) = api
        .post_with_key("/api/v1/workflows", "order-7", request.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = api
        .post_with_key("/api/v1/workflows", "order-7", request)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again["id"], first["id"]);
    let other = json!({"definition": "expense", "input": {"amount": 4}});
    let (status, _) = api
        .post_with_key("/api/v1/workflows", "order-7", other)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let refused = json!({"definition": "expense", "input": {}});
    let (status, _) = api
        .post_with_key("/api/v1/workflows", "order-8", refused)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fixed = json!({"definition": "expense", "input": {"amount": 8}});
    let (status, _) = api
        .post_with_key("/api/v1/workflows", "order-8", fixed)
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a refused start leaves its key free"
    );

    let count = || async {
        sqlx::query_scalar::<_, i64>("select count(distinct stream_id) from events")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 2);
    let good = json!({"definition": "expense", "input": {"amount": 1}});
    let bad = json!({"definition": "expense", "input": {"amount": "x"}});
    let (status, problem) = api
        .post(
            "/api/v1/workflows/batch",
            json!({"workflows": [good.clone(), bad, good.clone()]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["problems"][0]["index"], 1);
    assert_eq!(count().await, 2, "none of the batch started");
    let too_many = json!({"workflows": vec![good.clone(); 101]});
    let (status, _) = api.post("/api/v1/workflows/batch", too_many).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let batch = json!({"workflows": [good.clone(), good]});
    let (status, started) = api
        .post_with_key("/api/v1/workflows/batch", "batch-1", batch.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["ids"].as_array().unwrap().len(), 2);
    let (_, repeated) = api
        .post_with_key("/api/v1/workflows/batch", "batch-1", batch)
        .await;
    assert_eq!(repeated, started);
    assert_eq!(count().await, 4);
}
