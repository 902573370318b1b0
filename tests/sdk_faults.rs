//! The SDK workers (sdk/python/tests/e2e_worker.py,
//! sdk/typescript/test/e2e_worker.js) through faults, against `distorch
//! serve` on PostgreSQL + RabbitMQ: SIGTERM and the engine's drain
//! (`POST /api/v1/workers/{id}/drain`) drain them (the running tasks finish
//! and are reported, no new one is taken, the worker says goodbye); a hung function is cut at its
//! deadline and the next attempt completes; the broker closing the
//! connections mid-run (and, `#[ignore]`d, a broker restart) loses no result
//! and runs no function twice.

mod sdk_support;
mod support;

use std::future::Future;
use std::time::{Duration, Instant};

use sdk_support::{Implementation, sdk_script};
use serde_json::{Value, json};
use support::{
    Node, Process, Services, get_json, rabbitmqctl, start, wait_until_final_states,
    workflows_folder,
};

const SLOW: &str = r#"
name: slow
version: 1
steps:
  nap: { type: task, queue: slow, timeout: 2m, input: { seconds: "${ input.seconds }" } }
output:
  by: "${ steps.nap.output.by }"
"#;

const HUNG: &str = r#"
name: hung
version: 1
steps:
  stuck: { type: task, queue: hung, timeout: 3s, retry: { max_attempts: 2, initial: 100ms } }
output:
  attempt: "${ steps.stuck.output.attempt }"
"#;

const PATIENCE: Duration = Duration::from_secs(60);

struct Cluster {
    services: Services,
    node: Process,
    url: String,
    client: reqwest::Client,
    _folder: support::TempFolder,
}

impl Cluster {
    async fn start(name: &str) -> Self {
        let services = Services::new().await;
        let folder = workflows_folder(name, "slow", SLOW);
        std::fs::write(folder.join("hung.yaml"), HUNG).unwrap();
        let node = Node::new(&folder).env(&services.env()).spawn();
        let url = node.url.clone().unwrap();
        Self {
            services,
            node,
            url,
            client: reqwest::Client::new(),
            _folder: folder,
        }
    }

    fn worker(&self, implementation: Implementation, name: &str) -> Process {
        let script = match implementation {
            Implementation::Python => "sdk/python/tests/e2e_worker",
            _ => "sdk/typescript/test/e2e_worker",
        };
        sdk_script(
            implementation,
            script,
            &["amqp", &self.services.amqp_url, name],
            &[],
        )
    }

    async fn start_slow(&self, count: usize, seconds: f64) -> Vec<String> {
        let mut ids = Vec::new();
        for _ in 0..count {
            ids.push(
                start(
                    &self.client,
                    &self.url,
                    "slow",
                    json!({ "seconds": seconds }),
                )
                .await,
            );
        }
        ids
    }

    async fn final_states(&self, ids: &[String]) -> Vec<Value> {
        wait_until_final_states(&self.client, &self.url, ids, PATIENCE).await
    }

    /// How many times each step of the workflow completed in its history.
    async fn completions(&self, id: &str) -> usize {
        let history = get_json(
            &self.client,
            &format!("{}/api/v1/workflows/{id}/events", self.url),
        )
        .await;
        history["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["type"] == "StepCompleted")
            .count()
    }

    /// Waits until the worker named `name` is listed at `/api/v1/workers`
    /// and `holds`.
    async fn listed(&self, name: &str, holds: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let workers = get_json(&self.client, &format!("{}/api/v1/workers", self.url)).await;
            let found = workers["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|worker| worker["name"] == name && holds(worker));
            if let Some(worker) = found {
                return worker.clone();
            }
            assert!(Instant::now() < deadline, "worker {name}: {workers:#}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn stop(self) {
        drop(self.node);
        self.services.remove().await;
    }
}

/// Waits until `worker` logged `times` lines holding `what`.
async fn logged(worker: &Process, what: &str, times: usize) {
    let deadline = Instant::now() + PATIENCE;
    while worker.log().matches(what).count() < times {
        assert!(
            Instant::now() < deadline,
            "waited for {times} × `{what}`:\n{}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn outputs_by(states: &[Value]) -> Vec<&str> {
    states
        .iter()
        .map(|state| state["output"]["by"].as_str().unwrap_or_default())
        .collect()
}

/// How a worker is asked to drain.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    /// SIGTERM.
    Signal,
    /// `POST /api/v1/workers/{id}/drain` (protocol section 12).
    Engine,
}

async fn sigterm_drains(implementation: Implementation) {
    drains(implementation, Stop::Signal).await;
}

async fn drains(implementation: Implementation, stop: Stop) {
    let name = match stop {
        Stop::Signal => format!("sdk-drain-{}", implementation.name()),
        Stop::Engine => format!("sdk-drained-{}", implementation.name()),
    };
    let cluster = Cluster::start(&name).await;
    let mut first = cluster.worker(implementation, "first");
    let listed = cluster
        .listed("first", |worker| worker["status"] == "idle")
        .await;
    assert_eq!(listed["queues"], json!(["hung", "slow"]), "{listed}");
    let running = cluster.start_slow(3, 2.0).await;
    logged(&first, "] running ", 3).await;
    match stop {
        Stop::Signal => {
            first.terminate();
            logged(&first, "stopping", 1).await;
        }
        Stop::Engine => {
            let id = listed["id"].as_str().unwrap();
            let drain = cluster
                .client
                .post(format!("{}/api/v1/workers/{id}/drain", cluster.url))
                .send()
                .await
                .unwrap();
            assert_eq!(drain.status(), 202);
            logged(&first, "asked to drain", 1).await;
        }
    }
    let later = cluster.start_slow(1, 0.0).await;
    let exit = tokio::task::block_in_place(|| first.wait_for_exit(PATIENCE));
    assert!(
        exit.is_some_and(|status| status.success()),
        "the worker exits 0 after its drain ({exit:?}):\n{}",
        first.log()
    );
    let states = cluster.final_states(&running).await;
    assert_eq!(
        outputs_by(&states),
        ["first"; 3],
        "the running tasks finished and were reported: {states:#?}\n{}",
        first.log()
    );
    for state in &states {
        assert_eq!(state["steps"][0]["attempt"], 1, "{state:#}");
    }
    assert_eq!(
        first.log().matches("] running ").count(),
        3,
        "no task taken after SIGTERM:\n{}",
        first.log()
    );

    let gone = cluster
        .listed("first", |worker| worker["status"] == "offline")
        .await;
    assert_eq!(gone["completed"], 3, "{gone}");

    let second = cluster.worker(implementation, "second");
    let states = cluster.final_states(&later).await;
    assert_eq!(
        outputs_by(&states),
        ["second"],
        "{states:#?}\n{}",
        second.log()
    );
    drop(second);
    cluster.stop().await;
}

async fn cuts_a_hung_function(implementation: Implementation) {
    let cluster = Cluster::start(&format!("sdk-hung-{}", implementation.name())).await;
    let worker = cluster.worker(implementation, "cutter");
    let id = start(&cluster.client, &cluster.url, "hung", json!({})).await;
    let states = cluster.final_states(std::slice::from_ref(&id)).await;
    assert_eq!(
        states[0]["status"],
        "completed",
        "{:#}\n{}",
        states[0],
        worker.log()
    );
    assert_eq!(
        states[0]["output"],
        json!({ "attempt": 2 }),
        "{:#}",
        states[0]
    );
    assert!(
        worker.log().contains(
            ":stuck:forward:1: failed (retryable) timed out: the task ran past its deadline"
        ),
        "attempt 1 was cut at its deadline and reported:\n{}",
        worker.log()
    );
    drop(worker);
    cluster.stop().await;
}

/// Slow tasks running when `fault` strikes all finish once, reported once.
async fn survives<F, Fut>(implementation: Implementation, name: &str, fault: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let cluster = Cluster::start(&format!("sdk-{name}-{}", implementation.name())).await;
    let worker = cluster.worker(implementation, "steady");
    let ids = cluster.start_slow(6, 2.0).await;
    logged(&worker, "] running ", 6).await;
    fault(cluster.services.vhost.clone()).await;
    logged(&worker, "working on", 2).await;
    let states = cluster.final_states(&ids).await;
    let context = || format!("{states:#?}\nworker:\n{}", worker.log());
    assert_eq!(outputs_by(&states), ["steady"; 6], "{}", context());
    for id in &ids {
        assert_eq!(
            worker.log().matches(&format!("] running {id}")).count(),
            1,
            "{id} ran once: {}",
            context()
        );
        assert_eq!(
            cluster.completions(id).await,
            1,
            "{id} completed once: {}",
            context()
        );
    }
    drop(worker);
    cluster.stop().await;
}

async fn close_connections(vhost: String) {
    tokio::task::spawn_blocking(move || {
        rabbitmqctl(&["close_all_connections", "-p", &vhost, "test: forced close"])
    })
    .await
    .unwrap();
}

async fn restart_broker(_vhost: String) {
    tokio::task::spawn_blocking(|| {
        rabbitmqctl(&["stop_app"]);
        std::thread::sleep(Duration::from_secs(2));
        rabbitmqctl(&["start_app"]);
        rabbitmqctl(&["await_startup"]);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_python_worker() {
    sigterm_drains(Implementation::Python).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_typescript_worker() {
    sigterm_drains(Implementation::TypeScript).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_drains_a_python_worker() {
    drains(Implementation::Python, Stop::Engine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_drains_a_typescript_worker() {
    drains(Implementation::TypeScript, Stop::Engine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_worker_cuts_a_hung_function_at_its_deadline() {
    cuts_a_hung_function(Implementation::Python).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typescript_worker_cuts_a_hung_function_at_its_deadline() {
    cuts_a_hung_function(Implementation::TypeScript).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_worker_loses_nothing_when_the_broker_closes_its_connection() {
    survives(Implementation::Python, "closed", close_connections).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typescript_worker_loses_nothing_when_the_broker_closes_its_connection() {
    survives(Implementation::TypeScript, "closed", close_connections).await;
}

/// Restarts the shared broker: `scripts/test` runs it alone, after the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the shared broker: scripts/test runs it alone, after the rest"]
async fn a_python_worker_loses_nothing_when_the_broker_restarts() {
    survives(Implementation::Python, "restart", restart_broker).await;
}

/// Restarts the shared broker: `scripts/test` runs it alone, after the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the shared broker: scripts/test runs it alone, after the rest"]
async fn a_typescript_worker_loses_nothing_when_the_broker_restarts() {
    survives(Implementation::TypeScript, "restart", restart_broker).await;
}
