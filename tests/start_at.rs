//! `start_at`: a workflow asked to start later exists at once as
//! `scheduled`, starts at that time on whichever node is up (the time is a
//! timer row, so killing the node that accepted it loses nothing), and can
//! be cancelled before. Embedded and on PostgreSQL + RabbitMQ, through REST
//! and the CLI's `--at`.

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use support::{Node, Process, Services, distorch, get_json, wait_until_final, workflows_folder};

const LATER: &str = r#"
name: later
version: 1
steps:
  only: { type: noop }
"#;

async fn start_at(client: &reqwest::Client, url: &str, at: DateTime<Utc>) -> String {
    let response = client
        .post(format!("{url}/api/v1/workflows"))
        .json(&json!({"definition": "later", "input": {}, "start_at": at}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The workflow's status once the read models show it.
async fn shown_status(client: &reqwest::Client, url: &str, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = get_json(client, &format!("{url}/api/v1/workflows/{id}")).await;
        if let Some(status) = state["status"].as_str() {
            return status.to_owned();
        }
        assert!(Instant::now() < deadline, "{id} never shown: {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A later start made, seen `scheduled`, and another made an hour ahead
/// through the CLI and cancelled: the ids and the time asked for the first.
struct Accepted {
    soon: String,
    far: String,
    at: DateTime<Utc>,
}

async fn accept(client: &reqwest::Client, url: &str) -> Accepted {
    let at = Utc::now() + chrono::Duration::seconds(3);
    let soon = start_at(client, url, at).await;
    assert_eq!(shown_status(client, url, &soon).await, "scheduled");

    let hour = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let output = distorch(&["start", "later", "--at", &hour, "--server", url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let far = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_eq!(shown_status(client, url, &far).await, "scheduled");
    let cancelled = client
        .post(format!("{url}/api/v1/workflows/{far}/cancel"))
        .json(&json!({"compensate": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        cancelled.status(),
        200,
        "{}",
        cancelled.text().await.unwrap()
    );
    Accepted { soon, far, at }
}

/// The first completes, not before its time; the cancelled one stays so.
async fn finish(client: &reqwest::Client, url: &str, accepted: Accepted) {
    let Accepted { soon, far, at } = accepted;
    let ids = [soon.clone(), far];
    let statuses = wait_until_final(client, url, &ids, Duration::from_secs(60)).await;
    assert_eq!(statuses, ["completed", "cancelled"]);
    let events = get_json(client, &format!("{url}/api/v1/workflows/{soon}/events")).await;
    let events = events["items"].as_array().unwrap();
    let types: Vec<&str> = events
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert_eq!(types[..2], ["WorkflowStarted", "ScheduledStartReached"]);
    let reached: DateTime<Utc> = serde_json::from_value(events[1]["occurred_at"].clone()).unwrap();
    assert!(reached >= at, "started at {reached}, asked for {at}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_start_waits_scheduled_and_can_be_cancelled_embedded() {
    let folder = workflows_folder("start-at", "later", LATER);
    let node = Node::new(&folder).spawn();
    let client = reqwest::Client::new();
    let url = node.url.clone().unwrap();
    let accepted = accept(&client, &url).await;
    finish(&client, &url, accepted).await;
    drop(node);
    std::fs::remove_dir_all(folder).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_start_survives_the_node_that_accepted_it() {
    let services = Services::new().await;
    let folder = workflows_folder("start-at-pg", "later", LATER);
    let accepting: Process = Node::new(&folder).env(&services.env()).spawn();
    let survivor = Node::new(&folder).env(&services.env()).spawn();
    let client = reqwest::Client::new();
    let accepted = accept(&client, accepting.url.as_deref().unwrap()).await;
    drop(accepting);
    finish(&client, survivor.url.as_deref().unwrap(), accepted).await;
    drop(survivor);
    services.remove().await;
    std::fs::remove_dir_all(folder).ok();
}
