//! The HTTP executor against a local mock server (wiremock on 127.0.0.1).

use std::time::{Duration, Instant};

use application::loops::Executor;
use application::messages::{TaskMessage, TaskOutcome};
use chrono::{DateTime, Utc};
use domain::instance::StepError;
use domain::instance::effects::TaskKind;
use domain::{InstanceId, StepId};
use infrastructure::http::HttpExecutor;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, body_string, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn task(input: Value, deadline: Option<DateTime<Utc>>) -> TaskMessage {
    let instance_id = InstanceId(uuid::Uuid::now_v7());
    TaskMessage {
        task_id: format!("{instance_id}:call:forward:1"),
        instance_id,
        workflow: "http-test".into(),
        step: StepId::from("call"),
        attempt: 1,
        kind: TaskKind::Forward,
        queue: "http".into(),
        input,
        idempotency_key: format!("{instance_id}:call"),
        deadline,
        priority: 0,
        heartbeat_timeout_ms: None,
        traceparent: None,
        secrets: Vec::new(),
    }
}

/// A task whose definition wrote secret references at `paths`.
fn with_secrets(task: TaskMessage, paths: &[&str]) -> TaskMessage {
    TaskMessage {
        secrets: paths.iter().map(|path| (*path).to_owned()).collect(),
        ..task
    }
}

fn executor() -> HttpExecutor {
    HttpExecutor::new().expect("an HTTP client")
}

async fn run(task: &TaskMessage) -> TaskOutcome {
    executor().execute(task).await
}

fn completed(outcome: TaskOutcome) -> Value {
    match outcome {
        TaskOutcome::Completed { output } => output,
        other => panic!("expected a completed task, got {other:?}"),
    }
}

fn failed(outcome: TaskOutcome) -> StepError {
    match outcome {
        TaskOutcome::Failed { error } => error,
        other => panic!("expected a failed task, got {other:?}"),
    }
}

/// A server on 127.0.0.1 answering `status` with `body` to any request.
async fn answering(status: u16, body: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/thing"))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn json_round_trip_with_method_headers_body_and_idempotency_key() {
    let server = MockServer::start().await;
    let task = task(json!(null), None);
    Mock::given(method("POST"))
        .and(path("/reservations"))
        .and(header("x-tenant", "acme"))
        .and(header("x-count", "3"))
        .and(header("content-type", "application/json"))
        .and(header("idempotency-key", task.idempotency_key.as_str()))
        .and(body_json(json!({"order_id": "o-1", "items": [1, 2]})))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("x-request-id", "r-9")
                .set_body_json(json!({"id": "res-7", "ok": true})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let task = TaskMessage {
        input: json!({
            "method": "POST",
            "url": format!("{}/reservations", server.uri()),
            "headers": {"X-Tenant": "acme", "X-Count": 3},
            "body": {"order_id": "o-1", "items": [1, 2]},
        }),
        ..task
    };

    let output = completed(run(&task).await);

    assert_eq!(output["status"], 201);
    assert_eq!(output["body"], json!({"id": "res-7", "ok": true}));
    assert_eq!(output["headers"]["x-request-id"], "r-9");
    assert_eq!(output["headers"]["content-type"], "application/json");
}

#[tokio::test]
async fn the_method_defaults_to_get_and_an_empty_body_is_null() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/thing"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let output = completed(
        run(&task(
            json!({"url": format!("{}/thing", server.uri())}),
            None,
        ))
        .await,
    );

    assert_eq!(output["status"], 204);
    assert_eq!(output["body"], Value::Null);
}

#[tokio::test]
async fn a_text_body_is_sent_and_received_as_text() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/notes"))
        .and(header("content-type", "text/plain; charset=utf-8"))
        .and(body_string("hello, world"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("stored: 12 bytes", "text/plain"))
        .expect(1)
        .mount(&server)
        .await;
    let input =
        json!({"method": "PUT", "url": format!("{}/notes", server.uri()), "body": "hello, world"});

    let output = completed(run(&task(input, None)).await);

    assert_eq!(output["status"], 200);
    assert_eq!(output["body"], "stored: 12 bytes");
}

#[tokio::test]
async fn a_non_2xx_answer_fails_quoting_the_body_retryably_for_5xx_and_429_only() {
    #[rustfmt::skip]
    let answers = [
        (500, "database is down", true),
        (404, "no such thing", false),
        (429, "slow down", true),
    ];
    for (status, body, retryable) in answers {
        let server = answering(status, body).await;

        let error = failed(
            run(&task(
                json!({"url": format!("{}/thing", server.uri())}),
                None,
            ))
            .await,
        );

        assert_eq!(error.retryable, retryable, "{status}");
        assert_eq!(error.message, format!("HTTP {status}: {body}"));
    }
}

#[tokio::test]
async fn a_response_later_than_the_deadline_times_out_retryably() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let deadline = Utc::now() + chrono::Duration::milliseconds(300);
    let started = Instant::now();

    let error = failed(
        run(&task(
            json!({"url": format!("{}/slow", server.uri())}),
            Some(deadline),
        ))
        .await,
    );

    assert!(error.retryable);
    assert!(error.message.contains("timed out"), "{}", error.message);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_refused_connection_fails_retryably() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };

    let error = failed(
        run(&task(
            json!({"url": format!("http://127.0.0.1:{port}/x")}),
            None,
        ))
        .await,
    );

    assert!(error.retryable, "{}", error.message);
}

#[tokio::test]
async fn an_invalid_request_fails_for_good_without_a_call() {
    for input in [
        json!({"url": "not a url"}),
        json!({"url": "http://127.0.0.1:1/x", "method": "BREW"}),
    ] {
        let error = failed(run(&task(input.clone(), None)).await);
        assert!(!error.retryable, "{input}: {}", error.message);
    }
}

#[tokio::test]
async fn a_missing_secret_fails_for_good_before_any_call() {
    let server = answering(200, "should not be called").await;
    let input = json!({
        "url": format!("{}/thing", server.uri()),
        "headers": {"Authorization": "Bearer ${ secrets.http_executor_test_never_set_8c1f }"},
    });

    let task = with_secrets(task(input, None), &["/headers/Authorization"]);
    let error = failed(run(&task).await);

    assert!(!error.retryable);
    assert!(error.message.contains("http_executor_test_never_set_8c1f"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// The secret's name; the test runs itself in a child process with
/// `DISTORCH_SECRET_<NAME>` set (setting the variable in this process would
/// need `unsafe`, which the workspace forbids).
const SECRET_NAME: &str = "http_executor_test_token_5e2a";
const SECRET_VARIABLE: &str = "DISTORCH_SECRET_HTTP_EXECUTOR_TEST_TOKEN_5E2A";
const SECRET_VALUE: &str = "s3cr3t-5e2a";

#[test]
fn secrets_are_resolved_from_the_environment() {
    if std::env::var_os(SECRET_VARIABLE).is_none() {
        let test = "secrets_are_resolved_from_the_environment";
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(SECRET_VARIABLE, SECRET_VALUE)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&child.stdout);
        assert!(
            child.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&child.stderr)
        );
        assert!(
            stdout.contains("1 passed"),
            "the child ran no test: {stdout}"
        );
        return;
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let server = MockServer::start().await;
            Mock::given(path("/secure"))
                .and(header(
                    "authorization",
                    format!("Bearer {SECRET_VALUE}").as_str(),
                ))
                .and(body_json(json!({"token": SECRET_VALUE, "n": 1})))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
                .expect(1)
                .mount(&server)
                .await;
            let reference = format!("${{ secrets.{SECRET_NAME} }}");
            let input = json!({
                "method": "POST",
                "url": format!("{}/secure", server.uri()),
                "headers": {"Authorization": format!("Bearer {reference}")},
                "body": {"token": reference, "n": 1},
            });

            let paths = ["/headers/Authorization", "/body/token"];
            let output = completed(run(&with_secrets(task(input, None), &paths)).await);

            assert_eq!(output["body"], json!({"ok": true}));
        });
}

#[tokio::test]
async fn secrets_can_come_from_another_store() {
    let server = MockServer::start().await;
    Mock::given(header("x-api-key", "from-the-vault"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let executor = executor().with_secrets(std::sync::Arc::new(|name: &str| {
        (name == "api_key").then(|| "from-the-vault".to_owned())
    }));
    let input = json!({"url": server.uri(), "headers": {"X-Api-Key": "${ secrets.api_key }"}});

    let task = with_secrets(task(input, None), &["/headers/X-Api-Key"]);
    let output = completed(executor.execute(&task).await);

    assert_eq!(output["status"], 200);
}

#[tokio::test]
async fn a_reference_the_definition_did_not_write_is_data() {
    let server = MockServer::start().await;
    Mock::given(body_json(json!({"note": "${ secrets.api_key }"})))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let executor = executor().with_secrets(std::sync::Arc::new(|_: &str| {
        Some("from-the-vault".to_owned())
    }));
    let input =
        json!({"method": "POST", "url": server.uri(), "body": {"note": "${ secrets.api_key }"}});

    let output = completed(executor.execute(&task(input, None)).await);

    assert_eq!(output["status"], 200);
}

#[tokio::test]
async fn an_error_never_quotes_a_resolved_secret() {
    let executor =
        executor().with_secrets(std::sync::Arc::new(|_: &str| Some("hunter2".to_owned())));
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let input = json!({"url": format!("http://127.0.0.1:{port}/x?key=${{ secrets.key }}")});

    let error = failed(
        executor
            .execute(&with_secrets(task(input, None), &["/url"]))
            .await,
    );

    assert!(error.retryable);
    assert!(!error.message.contains("hunter2"), "{}", error.message);
    assert!(
        error.message.contains("${ secrets.key }"),
        "{}",
        error.message
    );
}
