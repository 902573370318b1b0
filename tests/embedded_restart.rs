//! kill -9 of an embedded node (`serve` on a SQLite file) while its tasks
//! are queued, running in its exec worker and handed out to an HTTP long
//! poller: started again on the same file, it delivers every one of them
//! again and every workflow completes.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Node, get_json, start, wait_until_final, workflows_folder};

const DEFINITION: &str = r#"
name: restart
version: 1
steps:
  slow: { type: task, queue: work }
  polled: { type: task, queue: polled, needs: [slow] }
"#;

/// Workflows started before the kill: several rounds of the exec worker's
/// 16 tasks at a time.
const WORKFLOWS: usize = 48;

/// Takes one task of `polled` by long poll; `None` when none came or the
/// node did not answer.
async fn poll(client: &reqwest::Client, url: &str) -> Option<Value> {
    let response = client
        .get(format!("{url}/api/v1/tasks/poll?queue=polled&wait=5"))
        .send()
        .await
        .ok()?;
    match response.status().as_u16() {
        200 => response.json().await.ok(),
        _ => None,
    }
}

async fn complete(client: &reqwest::Client, url: &str, task_id: &str) -> u16 {
    client
        .post(format!("{url}/api/v1/tasks/{task_id}/complete"))
        .json(&json!({ "output": { "by": "poller" } }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The statuses of step `step` across the workflows.
async fn step_statuses(
    client: &reqwest::Client,
    url: &str,
    ids: &[String],
    step: &str,
) -> Vec<String> {
    let mut statuses = Vec::new();
    for id in ids {
        let state = get_json(client, &format!("{url}/api/v1/workflows/{id}")).await;
        let status = state["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|candidate| candidate["id"] == step)
            .and_then(|found| found["status"].as_str())
            .unwrap_or_default()
            .to_owned();
        statuses.push(status);
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_embedded_node_delivers_its_unacknowledged_tasks_again_and_every_workflow_completes()
 {
    let folder = workflows_folder("embedded-restart", "restart", DEFINITION);
    let worker = "work=cat > /dev/null; sleep 2; echo '{\"done\": true}'";
    let node = Node::new(&folder).exec(worker).spawn();
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();
    let mut ids = Vec::with_capacity(WORKFLOWS);
    for _ in 0..WORKFLOWS {
        ids.push(start(&client, &url, "restart", json!({})).await);
    }

    // An HTTP worker long-polls `polled` and keeps what it takes, reporting
    // nothing, until the node dies under its poll.
    let taken = Arc::new(Mutex::new(Vec::<String>::new()));
    let poller = {
        let (client, url, taken) = (client.clone(), url.clone(), taken.clone());
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if let Some(task) = poll(&client, &url).await {
                    taken
                        .lock()
                        .unwrap()
                        .push(task["task_id"].as_str().unwrap().to_owned());
                }
            }
        })
    };
    // Kill once tasks are in every state: handed out to the poller, running
    // in the exec worker, waiting in the queue.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let statuses = step_statuses(&client, &url, &ids, "slow").await;
        let running = statuses.iter().filter(|s| *s == "running").count();
        let waiting = statuses.iter().filter(|s| *s == "scheduled").count();
        if taken.lock().unwrap().len() >= 2 && running > 0 && waiting > 0 {
            eprintln!(
                "killing with {running} tasks running, {waiting} queued, {} handed out",
                taken.lock().unwrap().len()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never had tasks in every state: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(node); // SIGKILL
    poller.abort();
    let taken = taken.lock().unwrap().clone();

    let node = Node::new(&folder).exec(worker).spawn();
    let url = node.url.clone().unwrap();
    // The poller survived the node's restart: it reports what it took.
    for task_id in &taken {
        assert_eq!(complete(&client, &url, task_id).await, 200, "{task_id}");
    }
    // It polls again and completes whatever it gets, which must never be
    // one it already reported.
    let repeated = Arc::new(Mutex::new(Vec::<String>::new()));
    let again = {
        let (client, url) = (client.clone(), url.clone());
        let (taken, repeated) = (taken.clone(), repeated.clone());
        tokio::spawn(async move {
            loop {
                let Some(task) = poll(&client, &url).await else {
                    continue;
                };
                let task_id = task["task_id"].as_str().unwrap().to_owned();
                if taken.contains(&task_id) {
                    repeated.lock().unwrap().push(task_id.clone());
                }
                complete(&client, &url, &task_id).await;
            }
        })
    };
    let statuses = wait_until_final(&client, &url, &ids, Duration::from_secs(120)).await;
    again.abort();
    assert_eq!(
        *repeated.lock().unwrap(),
        Vec::<String>::new(),
        "reported tasks handed out again"
    );
    let completed = statuses.iter().filter(|s| *s == "completed").count();
    assert_eq!(completed, WORKFLOWS, "{statuses:?}\n{}", node.log());
    assert!(
        node.log()
            .contains("delivering again what the last run left unacknowledged"),
        "{}",
        node.log()
    );
    drop(node);
    std::fs::remove_dir_all(folder).ok();
}
