//! Workers that speak HTTP only: they long-poll `GET /api/v1/tasks/poll`
//! for a task and report on it with `POST /api/v1/tasks/{id}/complete`,
//! against a real node, embedded and on PostgreSQL + RabbitMQ.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Node, Services, get_json, start, wait_until_final, workflows_folder};

const POLLED: &str = r#"
name: polled
version: 1
steps:
  charge: { type: task, queue: payments, timeout: 5m }
  receipt: { type: task, queue: payments, needs: [charge] }
output:
  charged: "${ steps.charge.output.charged }"
"#;

async fn poll(client: &reqwest::Client, url: &str, wait: u64) -> reqwest::Response {
    client
        .get(format!(
            "{url}/api/v1/tasks/poll?queue=payments&wait={wait}"
        ))
        .send()
        .await
        .unwrap()
}

async fn complete(client: &reqwest::Client, url: &str, task: &Value, output: Value) {
    let task_id = task["task_id"].as_str().unwrap();
    let completed = client
        .post(format!("{url}/api/v1/tasks/{task_id}/complete"))
        .json(&json!({ "output": output }))
        .send()
        .await
        .unwrap();
    assert_eq!(completed.status(), 200, "{task_id}");
}

/// One worker's life: a poll that waits is woken by the task the start
/// dispatches; each task is handed out once, completed over HTTP; the
/// workflow completes; an empty queue answers 204 after the wait.
async fn work_through_http(url: &str) {
    let client = reqwest::Client::new();
    let waiting = tokio::spawn({
        let (client, url) = (client.clone(), url.to_owned());
        async move { poll(&client, &url, 20).await }
    });
    let id = start(&client, url, "polled", json!({})).await;
    let first = waiting.await.unwrap();
    assert_eq!(first.status(), 200);
    let task: Value = first.json().await.unwrap();
    assert_eq!(task["instance_id"], id.as_str());
    assert_eq!(task["step"], "charge");
    assert_eq!(task["kind"], "forward");
    assert_eq!(task["attempt"], 1);
    assert_eq!(task["queue"], "payments");
    assert_eq!(task["idempotency_key"], format!("{id}:charge"));
    assert!(task["deadline"].is_string(), "{task}");

    let history: Value = get_json(&client, &format!("{url}/api/v1/workflows/{id}/events")).await;
    let started = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["type"] == "StepStarted")
        .unwrap_or_else(|| panic!("the hand-out records the start: {history}"));
    assert_eq!(started["data"]["worker"], "http:anonymous", "{started}");

    complete(&client, url, &task, json!({ "charged": 42 })).await;
    let second = poll(&client, url, 20).await;
    assert_eq!(second.status(), 200);
    let receipt: Value = second.json().await.unwrap();
    assert_eq!(receipt["step"], "receipt");
    complete(&client, url, &receipt, json!({})).await;
    let statuses = wait_until_final(
        &client,
        url,
        std::slice::from_ref(&id),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(statuses, ["completed"]);
    let done: Value = get_json(&client, &format!("{url}/api/v1/workflows/{id}")).await;
    assert_eq!(done["output"], json!({ "charged": 42 }));

    let empty = poll(&client, url, 1).await;
    assert_eq!(empty.status(), 204);
    assert!(empty.bytes().await.unwrap().is_empty());
    let again = client
        .post(format!(
            "{url}/api/v1/tasks/{}/complete",
            task["task_id"].as_str().unwrap()
        ))
        .json(&json!({ "output": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409, "a second report changes nothing");
    for bad in ["queue=http", "queue=..", "queue=payments&wait=31", "wait=1"] {
        let refused = client
            .get(format!("{url}/api/v1/tasks/poll?{bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_worker_polls_and_completes_tasks_on_an_embedded_node() {
    let folder = workflows_folder("http-workers-embedded", "polled", POLLED);
    let node = Node::new(&folder).spawn();
    work_through_http(node.url.as_deref().unwrap()).await;
    drop(node);
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_worker_polls_and_completes_tasks_on_postgres_and_rabbitmq() {
    let services = Services::new().await;
    let folder = workflows_folder("http-workers-cluster", "polled", POLLED);
    let node = Node::new(&folder).env(&services.env()).spawn();
    work_through_http(node.url.as_deref().unwrap()).await;
    drop(node);
    services.remove().await;
    std::fs::remove_dir_all(folder).ok();
}

/// The task queues RabbitMQ holds in `vhost`.
fn broker_queues(vhost: &str) -> Vec<String> {
    support::rabbitmqctl(&[
        "list_queues",
        "-p",
        vhost,
        "name",
        "--quiet",
        "--no-table-headers",
    ])
    .lines()
    .map(|line| line.trim().to_owned())
    .filter(|name| name.starts_with("distorch.task.") || name.starts_with("distorch.dlq."))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_queues_no_definition_names_creates_none_in_rabbitmq() {
    let services = Services::new().await;
    let folder = workflows_folder("http-workers-unknown", "polled", POLLED);
    let node = Node::new(&folder).env(&services.env()).spawn();
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();
    for n in 0..20 {
        let wait = if n == 0 { 2 } else { 0 };
        let response = client
            .get(format!(
                "{url}/api/v1/tasks/poll?queue=unknown-{n}-{}&wait={wait}",
                uuid::Uuid::now_v7().simple()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }
    let queues = broker_queues(&services.vhost);
    assert!(
        queues.iter().all(|name| !name.contains("unknown-")),
        "polls created queues: {queues:?}"
    );

    // A deployed definition's queue appears with its first task, and a
    // poll that was waiting for it takes the task.
    let waiting = tokio::spawn({
        let (client, url) = (client.clone(), url.clone());
        async move { poll(&client, &url, 20).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id = start(&client, &url, "polled", json!({})).await;
    let task: Value = waiting.await.unwrap().json().await.unwrap();
    assert_eq!(task["instance_id"], id.as_str());
    assert!(broker_queues(&services.vhost).contains(&"distorch.task.payments".to_owned()));
    drop(node);
    services.remove().await;
    std::fs::remove_dir_all(folder).ok();
}
