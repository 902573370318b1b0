//! `distorch serve` observed from outside: JSON log lines that name the
//! instance and its trace, and spans exported over OTLP/HTTP to the
//! endpoint in `OTEL_EXPORTER_OTLP_ENDPOINT`.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{CHAIN, Node, Process, TempFolder, started_id, wait_until_final, workflows_folder};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The trace the test's requests come from.
const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const PATIENCE: Duration = Duration::from_secs(30);

/// An embedded node running the `chain` definition with an echo worker.
/// The folder goes with the node: it holds the node's SQLite file.
fn node(name: &str, args: &[&str], env: &[(&'static str, String)]) -> (TempFolder, Process) {
    let folder = workflows_folder(name, "chain", CHAIN);
    let _ = std::fs::remove_file(folder.join("node.db"));
    let node = Node::new(&folder)
        .exec("work=echo '{}'")
        .args(args)
        .env(env)
        .spawn();
    (folder, node)
}

/// Starts `chain` in the test's trace and waits for it to complete.
async fn run_traced_workflow(node: &Process) -> String {
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{url}/api/v1/workflows"))
        .header("traceparent", TRACEPARENT)
        .json(&json!({"definition": "chain", "input": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = started_id(response).await;
    let statuses = wait_until_final(&client, &url, std::slice::from_ref(&id), PATIENCE).await;
    assert_eq!(statuses, ["completed"]);
    id
}

/// Waits until `found` holds for the node's log, which it returns.
async fn wait_for_log(node: &Process, found: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let log = node.log();
        let lines: Vec<Value> = log
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|error| {
                    panic!("a log line that is not JSON ({error}): {line}\n{log}")
                })
            })
            .collect();
        if found(&lines) {
            return lines;
        }
        assert!(Instant::now() < deadline, "not in the log:\n{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_name_the_instance_and_its_trace() {
    let (_folder, node) = node("tracing-json", &["--log-format", "json"], &[]);

    let id = run_traced_workflow(&node).await;

    let about = |line: &Value| line["span"]["instance_id"] == id.as_str();
    let lines = wait_for_log(&node, |lines| {
        lines
            .iter()
            .any(|line| about(line) && line["message"] == "workflow finished")
    })
    .await;
    let started = lines
        .iter()
        .find(|line| about(line) && line["message"] == "workflow started")
        .expect("a `workflow started` line");
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["span"]["definition"], "chain");
    assert_eq!(started["span"]["trace_id"], TRACE_ID);
    assert!(started["timestamp"].is_string(), "{started}");
    let finished = lines
        .iter()
        .find(|line| about(line) && line["message"] == "workflow finished")
        .unwrap();
    assert_eq!(finished["status"], "completed");
    assert_eq!(finished["span"]["trace_id"], TRACE_ID);
    assert!(
        lines.iter().any(|line| line["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("listening on http://")),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_over_otlp_when_an_endpoint_is_set() {
    let collector = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&collector)
        .await;
    let (_folder, node) = node(
        "tracing-otlp",
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.uri()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ],
    );

    run_traced_workflow(&node).await;

    let trace_id: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&TRACE_ID[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let exports = collector.received_requests().await.unwrap_or_default();
        // The protobuf export holds trace ids as 16 raw bytes and the
        // service name as a string.
        let ours = exports.iter().any(|export| {
            export.url.path() == "/v1/traces"
                && export.body.windows(16).any(|bytes| bytes == trace_id)
                && export
                    .body
                    .windows(b"distorch-engine".len())
                    .any(|bytes| bytes == b"distorch-engine")
        });
        if ours {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no span of the workflow's trace exported ({} exports); node log:\n{}",
            exports.len(),
            node.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
