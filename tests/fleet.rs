//! The worker registry through the real binary: `distorch worker`
//! processes announce themselves to a node on PostgreSQL + RabbitMQ, one
//! killed -9 shows offline, a drained one finishes its task, takes no new
//! one and exits; embedded, the node's in-process workers and an HTTP
//! poller are listed, drained and seen going offline.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    Node, Process, Services, distorch, get_json, spawn, start, state, wait_until_final,
    workflows_folder,
};

const SLOW: &str = r#"
name: slow
version: 1
steps:
  work: { type: task, queue: slow }
"#;

/// The promise of docs/worker-protocol.md: a dead worker shows offline
/// within 60 s.
const OFFLINE_WITHIN: Duration = Duration::from_secs(60);

fn named_worker(name: &str, exec: &str, env: &[(&'static str, String)]) -> Process {
    let args = ["worker", "--queue", "slow", "--exec", exec, "--name", name];
    spawn(distorch(&args), env, false)
}

async fn workers(client: &reqwest::Client, url: &str) -> Vec<Value> {
    let listed = get_json(client, &format!("{url}/api/v1/workers")).await;
    listed["items"].as_array().cloned().unwrap_or_default()
}

/// Waits until the worker named `name` satisfies `holds`; that worker.
async fn wait_for_worker(
    client: &reqwest::Client,
    url: &str,
    name: &str,
    within: Duration,
    holds: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let found = workers(client, url)
            .await
            .into_iter()
            .find(|worker| worker["name"] == name);
        if let Some(worker) = found.filter(|worker| holds(worker)) {
            return worker;
        }
        assert!(
            Instant::now() < deadline,
            "worker {name} never got there: {:?}",
            workers(client, url).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn status_is(status: &'static str) -> impl Fn(&Value) -> bool {
    move |worker| worker["status"] == status
}

#[tokio::test]
async fn two_workers_register_and_one_killed_shows_offline_within_a_minute() {
    let services = Services::new().await;
    let folder = workflows_folder("fleet-offline", "slow", SLOW);
    let node = Node::new(&folder).env(&services.env()).spawn();
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();
    let first = named_worker("first", "echo '{}'", &services.env());
    let second = named_worker("second", "echo '{}'", &services.env());

    for name in ["first", "second"] {
        let worker = wait_for_worker(
            &client,
            &url,
            name,
            Duration::from_secs(30),
            status_is("idle"),
        )
        .await;
        assert_eq!(worker["queues"], serde_json::json!(["slow"]), "{worker}");
        assert_eq!(worker["transport"], "bus");
        assert!(worker["capacity"].as_u64().unwrap() >= 1, "{worker}");
        let shown = get_json(
            &client,
            &format!("{url}/api/v1/workers/{}", worker["id"].as_str().unwrap()),
        )
        .await;
        assert_eq!(shown["name"], name);
    }

    drop(second); // SIGKILL: no goodbye
    let killed = Instant::now();
    wait_for_worker(
        &client,
        &url,
        "second",
        OFFLINE_WITHIN,
        status_is("offline"),
    )
    .await;
    assert!(killed.elapsed() < OFFLINE_WITHIN);
    let survivor = wait_for_worker(&client, &url, "first", Duration::from_secs(1), |_| true).await;
    assert_eq!(
        survivor["status"], "idle",
        "the other worker is still alive"
    );

    let id = start(&client, &url, "slow", serde_json::json!({})).await;
    assert_eq!(
        wait_until_final(&client, &url, &[id], Duration::from_secs(60)).await,
        ["completed"]
    );
    let survivor = wait_for_worker(&client, &url, "first", Duration::from_secs(30), |worker| {
        worker["completed"] == 1
    })
    .await;
    assert_eq!(survivor["failed"], 0);
    drop(first);
    drop(node);
    services.remove().await;
}

#[tokio::test]
async fn a_drained_worker_finishes_its_task_takes_no_new_one_and_exits() {
    let services = Services::new().await;
    let folder = workflows_folder("fleet-drain", "slow", SLOW);
    let node = Node::new(&folder).env(&services.env()).spawn();
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();
    let mut drained = named_worker("drained", "sleep 4; echo '{}'", &services.env());
    wait_for_worker(
        &client,
        &url,
        "drained",
        Duration::from_secs(30),
        status_is("idle"),
    )
    .await;

    let first = start(&client, &url, "slow", serde_json::json!({})).await;
    let busy = wait_for_worker(
        &client,
        &url,
        "drained",
        Duration::from_secs(30),
        status_is("busy"),
    )
    .await;
    assert_eq!(
        busy["in_flight"].as_array().map(Vec::len),
        Some(1),
        "{busy}"
    );
    let id = busy["id"].as_str().unwrap().to_owned();
    let answer = client
        .post(format!("{url}/api/v1/workers/{id}/drain"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["status"], "draining");

    // The promise: no new task two seconds after the drain.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = start(&client, &url, "slow", serde_json::json!({})).await;
    let exited = drained.wait_for_exit(Duration::from_secs(60));
    assert!(
        exited.is_some_and(|status| status.success()),
        "{}",
        drained.report("the drained worker")
    );
    assert_eq!(
        wait_until_final(
            &client,
            &url,
            std::slice::from_ref(&first),
            Duration::from_secs(10)
        )
        .await,
        ["completed"],
        "the drained worker finished its task"
    );
    let waiting = state(&client, &url, &second).await.unwrap();
    assert_eq!(waiting["status"], "running", "{waiting}");
    let gone = wait_for_worker(&client, &url, "drained", Duration::from_secs(10), |_| true).await;
    assert_eq!(gone["status"], "offline", "it said goodbye: {gone}");
    assert_eq!(gone["completed"], 1, "it took no second task: {gone}");

    let _relief = named_worker("relief", "echo '{}'", &services.env());
    assert_eq!(
        wait_until_final(&client, &url, &[second], Duration::from_secs(60)).await,
        ["completed"],
        "the task the drained worker left is done by another: nothing lost"
    );
    drop(node);
    services.remove().await;
}

#[tokio::test]
async fn embedded_nodes_list_their_workers_and_http_pollers_and_drain_them() {
    let folder = workflows_folder("fleet-embedded", "slow", SLOW);
    let node = Node::new(&folder).exec("slow=echo '{}'").spawn();
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();

    let own = workers(&client, &url).await;
    let own = wait_for_in_process(&client, &url)
        .await
        .unwrap_or_else(|| panic!("{own:?}"));
    assert_eq!(own["transport"], "bus");
    assert_eq!(own["queues"], serde_json::json!(["slow", "http"]));

    let poll = |worker: &'static str| {
        let client = client.clone();
        let url = url.clone();
        async move {
            client
                .get(format!("{url}/api/v1/tasks/poll?queue=polled&wait=0&worker_id={worker}&name=poller-{worker}"))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(poll("p1").await.status(), 204);
    assert_eq!(poll("p2").await.status(), 204);
    for name in ["poller-p1", "poller-p2"] {
        let poller = wait_for_worker(
            &client,
            &url,
            name,
            Duration::from_secs(5),
            status_is("idle"),
        )
        .await;
        assert_eq!(poller["transport"], "http");
        assert_eq!(poller["queues"], serde_json::json!(["polled"]));
    }
    let drain = client
        .post(format!("{url}/api/v1/workers/p1/drain"))
        .send()
        .await
        .unwrap();
    assert_eq!(drain.status(), 202);
    let refused = poll("p1").await;
    assert_eq!(refused.status(), 204);
    assert_eq!(refused.headers()["distorch-worker-draining"], "true");

    let own_id = own["id"].as_str().unwrap().to_owned();
    let drain = client
        .post(format!("{url}/api/v1/workers/{own_id}/drain"))
        .send()
        .await
        .unwrap();
    assert_eq!(drain.status(), 202);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let id = start(&client, &url, "slow", serde_json::json!({})).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let waiting = state(&client, &url, &id).await.unwrap();
    assert_eq!(
        waiting["status"], "running",
        "the drained worker took no task: {waiting}"
    );

    // p2 stops polling, as a dead poller does.
    let stopped = Instant::now();
    wait_for_worker(
        &client,
        &url,
        "poller-p2",
        OFFLINE_WITHIN,
        status_is("offline"),
    )
    .await;
    assert!(stopped.elapsed() < OFFLINE_WITHIN);
    let missing = client
        .get(format!("{url}/api/v1/workers/nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let offline = client
        .post(format!("{url}/api/v1/workers/p2/drain"))
        .send()
        .await
        .unwrap();
    assert_eq!(offline.status(), 409);
}

/// The node's own worker (`node-<pid>@<host>`), once announced.
async fn wait_for_in_process(client: &reqwest::Client, url: &str) -> Option<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let found = workers(client, url).await.into_iter().find(|worker| {
            worker["name"]
                .as_str()
                .is_some_and(|name| name.starts_with("node-"))
        });
        if found.is_some() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}
