//! Signals on a PostgreSQL + RabbitMQ node, through the real binary: a
//! workflow waiting for a signal sent after it reached the step (with
//! `distorch workflows signal`), one sent before it reached it (kept, then
//! taken), an unknown name refused with 409 and the names it waits for, a
//! payload that breaks the schema refused with 422.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{
    Node, Services, distorch, get_json, start, wait_until_final_states, workflows_folder,
};

/// `gate`, an approval, then `document`, the signal, then `decide`, a task
/// that echoes its input (the worker is `cat`).
const PAPERWORK: &str = r#"
name: paperwork
version: 1
steps:
  gate:
    type: approval
  document:
    type: signal
    name: document.uploaded
    needs: [gate]
    schema: { type: object, required: [url] }
  decide:
    type: task
    queue: work
    needs: [document]
    input: { url: "${ steps.document.output.url }" }
output:
  url: "${ steps.decide.output.url }"
"#;

async fn step_status(client: &reqwest::Client, url: &str, id: &str, step: &str) -> String {
    let workflow = get_json(client, &format!("{url}/api/v1/workflows/{id}")).await;
    let steps = workflow["steps"].as_array().cloned().unwrap_or_default();
    steps
        .iter()
        .find(|candidate| candidate["step"] == step || candidate["id"] == step)
        .and_then(|candidate| candidate["status"].as_str())
        .unwrap_or_default()
        .to_owned()
}

async fn wait_for_step(client: &reqwest::Client, url: &str, id: &str, step: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = step_status(client, url, id, step).await;
        if now == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{step} is {now:?}, never {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn approve_gate(client: &reqwest::Client, url: &str, id: &str) {
    let (status, body) = post(
        client,
        &format!("{url}/api/v1/tasks/{id}:gate/approve"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn signals_before_and_after_the_step_is_reached_on_postgres_and_rabbitmq() {
    let services = Services::new().await;
    let folder = workflows_folder("signals", "paperwork", PAPERWORK);
    let node = Node::new(&folder)
        .env(&services.env())
        .exec("work=cat")
        .spawn();
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();

    // After: the workflow waits at the signal step; the CLI sends it.
    let after = start(&client, &url, "paperwork", json!({})).await;
    approve_gate(&client, &url, &after).await;
    wait_for_step(&client, &url, &after, "document", "waiting").await;
    let sent = distorch(&[
        "workflows",
        "signal",
        &after,
        "document.uploaded",
        "--payload",
        r#"{"url": "s3://after"}"#,
        "--server",
        &url,
    ])
    .output()
    .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );

    // Before: the signal comes while the approval still holds the workflow.
    let before = start(&client, &url, "paperwork", json!({})).await;
    let signals = format!("{url}/api/v1/workflows/{before}/signals");
    let (status, body) = post(
        &client,
        &format!("{signals}/document.uploaded"),
        json!({"url": "s3://before"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        step_status(&client, &url, &before, "document").await,
        "pending"
    );

    // An unknown name, and a payload that breaks the schema: refused, nothing kept.
    let (status, body) = post(
        &client,
        &format!("{signals}/document.uploded"),
        json!({"url": "x"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["type"], "https://distorch.dev/problems/unknown-signal");
    assert_eq!(body["waits_for"], json!(["document.uploaded"]));
    let (status, body) = post(
        &client,
        &format!("{signals}/document.uploaded"),
        json!({"path": "x"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["type"],
        "https://distorch.dev/problems/signal-rejected"
    );

    approve_gate(&client, &url, &before).await;
    let states = wait_until_final_states(
        &client,
        &url,
        &[after.clone(), before.clone()],
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(states[0]["status"], "completed", "{}", states[0]);
    assert_eq!(states[0]["output"], json!({"url": "s3://after"}));
    assert_eq!(states[1]["status"], "completed", "{}", states[1]);
    assert_eq!(states[1]["output"], json!({"url": "s3://before"}));

    // The history shows who sent the signal, and that the step took it once.
    let history = get_json(&client, &format!("{url}/api/v1/workflows/{before}/events")).await;
    let types: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|event| event["type"].as_str())
        .filter(|name| name.starts_with("Signal"))
        .collect();
    assert_eq!(types, ["SignalReceived", "SignalAwaited", "SignalConsumed"]);

    drop(node);
    services.remove().await;
}
