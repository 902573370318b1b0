//! `distorch projections rebuild` on the embedded node's file: after
//! workflows ran, the rebuilt read models serve the same JSON as before.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{CHAIN, Node, distorch, get_json, start, wait_until_final, workflows_folder};

fn node(folder: &std::path::Path) -> support::Process {
    Node::new(folder).exec("work=echo '{\"ok\": true}'").spawn()
}

/// The list and every workflow with its steps, as the API serves them.
async fn snapshot(client: &reqwest::Client, url: &str) -> Vec<Value> {
    let list: Value = get_json(client, &format!("{url}/api/v1/workflows?limit=100")).await;
    let mut all = vec![list.clone()];
    for item in list["items"].as_array().unwrap() {
        let id = item["id"].as_str().unwrap();
        let workflow: Value = get_json(client, &format!("{url}/api/v1/workflows/{id}")).await;
        all.push(workflow);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_serves_the_same_workflows_as_before() {
    let folder = workflows_folder("projections-rebuild", "chain", CHAIN);
    let data = folder.join("node.db");
    let client = reqwest::Client::new();
    let first = node(&folder);
    let url = first.url.clone().unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(start(&client, &url, "chain", json!({})).await);
    }
    let cancelled = start(&client, &url, "chain", json!({})).await;
    let cancel = client
        .post(format!("{url}/api/v1/workflows/{cancelled}/cancel"))
        .json(&json!({"compensate": false}))
        .send()
        .await
        .unwrap();
    assert!(cancel.status().is_success() || cancel.status() == 409);
    ids.push(cancelled);
    let statuses = wait_until_final(&client, &url, &ids, Duration::from_secs(30)).await;
    assert!(statuses.iter().all(|s| !s.is_empty()), "{statuses:?}");
    let before = snapshot(&client, &url).await;
    assert_eq!(before[0]["items"].as_array().unwrap().len(), 4);
    assert_eq!(before[1]["steps"].as_array().unwrap().len(), 4);
    drop(first);

    let rebuilt = tokio::task::block_in_place(|| {
        distorch(&["projections", "rebuild", "--data", data.to_str().unwrap()])
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    });
    let stderr = String::from_utf8_lossy(&rebuilt.stderr);
    assert_eq!(rebuilt.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("rebuilt the read models from"), "{stderr}");

    let second = node(&folder);
    let url = second.url.clone().unwrap();
    assert_eq!(snapshot(&client, &url).await, before);
    drop(second);
    std::fs::remove_dir_all(folder).ok();
}
