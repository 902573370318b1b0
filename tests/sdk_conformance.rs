//! The worker protocol's conformance cases (sdk/conformance/cases.json),
//! written once and run against the Python SDK, the TypeScript SDK and the
//! built-in `distorch worker --exec`, on RabbitMQ (a vhost per test): each
//! case's task is published to `distorch.task.conformance`, and the results
//! the worker publishes to `distorch.results` (objects or arrays of them),
//! and what it dead-letters, must match the case's `expect`.

mod sdk_support;
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use sdk_support::{Implementation, built_in_worker, root, sdk_script};
use serde_json::{Value, json};
use support::Services;

/// How long the results of all cases may take (the slowest case sleeps 1.5 s).
const PATIENCE: Duration = Duration::from_secs(90);

fn fixture() -> Value {
    let path = root().join("sdk/conformance/cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path:?}: {error}"));
    serde_json::from_str(&text).expect("cases.json is JSON")
}

/// A task sent for a case, and the case.
struct Sent<'a> {
    task: Value,
    case: &'a Value,
}

fn task_for(case: &Value, queue: &str) -> Value {
    let instance = uuid::Uuid::now_v7().to_string();
    let step = case["name"].as_str().unwrap();
    let spec = &case["task"];
    let kind = spec["kind"].as_str().unwrap_or("forward");
    let attempt = spec["attempt"].as_u64().unwrap_or(1);
    let key = match kind {
        "compensation" => format!("{instance}:{step}:compensate"),
        _ => format!("{instance}:{step}"),
    };
    let mut task = json!({
        "task_id": format!("{instance}:{step}:{kind}:{attempt}"),
        "instance_id": instance, "workflow": "conformance", "step": step,
        "attempt": attempt, "kind": kind, "queue": queue,
        "input": spec["input"], "idempotency_key": key, "priority": 0,
    });
    if let Some(ms) = spec["deadline_in_ms"].as_i64() {
        task["deadline"] = json!(Utc::now() + chrono::Duration::milliseconds(ms));
    }
    for field in ["heartbeat_timeout_ms", "traceparent", "secrets"] {
        if !spec[field].is_null() {
            task[field] = spec[field].clone();
        }
    }
    task
}

fn applies(case: &Value, implementation: Implementation) -> bool {
    case["only"]
        .as_array()
        .is_none_or(|only| only.iter().any(|name| name == implementation.name()))
}

async fn conforms(implementation: Implementation) {
    let fixture = fixture();
    let queue = fixture["queue"].as_str().unwrap();
    let services = Services::new().await;
    let connection = Connection::connect(&services.amqp_url, ConnectionProperties::default())
        .await
        .expect("a connection to the test's vhost");
    let channel = connection.create_channel().await.unwrap();
    infrastructure::bus::declare_topology(&channel, &[queue])
        .await
        .unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();

    let secrets: Vec<(String, String)> = fixture["secrets"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| {
            let variable = format!("DISTORCH_SECRET_{}", name.to_uppercase());
            (variable, value.as_str().unwrap().to_owned())
        })
        .collect();
    let mut env = vec![("AMQP_URL", services.amqp_url.clone())];
    env.extend(
        secrets
            .iter()
            .map(|(name, value)| (name.as_str(), value.clone())),
    );
    let worker = match implementation {
        Implementation::BuiltIn => {
            built_in_worker(queue, "python3 sdk/conformance/exec_function.py", &env)
        }
        Implementation::Python => sdk_script(
            implementation,
            "sdk/conformance/python_worker",
            &["amqp", &services.amqp_url],
            &env,
        ),
        Implementation::TypeScript => sdk_script(
            implementation,
            "sdk/conformance/typescript_worker",
            &["amqp", &services.amqp_url],
            &env,
        ),
    };

    // Tasks go out once it consumes, so their deadlines do not run out
    // while it starts.
    let ready = Instant::now() + PATIENCE;
    while !worker.log().contains("working on") {
        assert!(
            Instant::now() < ready,
            "the worker did not start:\n{}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cases: Vec<&Value> = fixture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|case| applies(case, implementation))
        .collect();
    let mut sent = Vec::new();
    let mut garbage = 0;
    for case in &cases {
        let body = match case["raw_body"].as_str() {
            Some(raw) => {
                garbage += 1;
                raw.as_bytes().to_vec()
            }
            None => {
                for _ in 0..case["copies"].as_u64().unwrap_or(1) {
                    let task = task_for(case, queue);
                    publish(&channel, queue, serde_json::to_vec(&task).unwrap()).await;
                    sent.push(Sent { task, case });
                }
                continue;
            }
        };
        publish(&channel, queue, body).await;
    }

    let finals = sent.len();
    let (results, dead) = collect(&channel, queue, finals, garbage).await;
    let mut problems = Vec::new();
    let secret = fixture["secrets"]["api_token"].as_str().unwrap();
    for result in &results {
        if result.to_string().contains(secret) {
            problems.push(format!("a result carries a resolved secret: {result}"));
        }
    }
    let mut by_task: HashMap<&str, Vec<&Value>> = HashMap::new();
    for result in &results {
        by_task
            .entry(result["task_id"].as_str().unwrap_or_default())
            .or_default()
            .push(result);
    }
    for Sent { task, case } in &sent {
        let reports = by_task
            .remove(task["task_id"].as_str().unwrap())
            .unwrap_or_default();
        for problem in check(task, &case["expect"], &reports) {
            problems.push(format!("{}: {problem}", case["name"].as_str().unwrap()));
        }
    }
    if dead != garbage {
        problems.push(format!(
            "{garbage} unreadable task(s) sent, {dead} dead-lettered"
        ));
    }
    for (task_id, reports) in by_task {
        problems.push(format!(
            "results for a task never sent ({task_id}): {reports:?}"
        ));
    }
    let shown: Vec<String> = problems
        .iter()
        .map(|problem| problem.chars().take(600).collect())
        .collect();
    assert!(
        problems.is_empty(),
        "{} does not conform:\n  {}\nworker log:\n{}",
        implementation.name(),
        shown.join("\n  "),
        worker.log()
    );
    drop(worker);
    drop(connection);
    services.remove().await;
}

async fn publish(channel: &lapin::Channel, queue: &str, body: Vec<u8>) {
    let confirm = channel
        .basic_publish(
            "distorch.tasks".into(),
            queue.into(),
            BasicPublishOptions::default(),
            &body,
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .unwrap();
    assert!(
        confirm.await.unwrap().is_ack(),
        "the broker stored the task"
    );
}

/// Every result published (arrays flattened), in order, once `finals`
/// final results came and `garbage` tasks were dead-lettered (or the
/// patience ran out); and how many were dead-lettered.
async fn collect(
    channel: &lapin::Channel,
    queue: &str,
    finals: usize,
    garbage: usize,
) -> (Vec<Value>, usize) {
    let deadline = Instant::now() + PATIENCE;
    let (mut results, mut dead) = (Vec::new(), 0);
    let is_final = |result: &Value| {
        ["completed", "failed"].contains(&result["outcome"].as_str().unwrap_or_default())
    };
    while Instant::now() < deadline {
        let got = channel
            .basic_get("distorch.results".into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap();
        if let Some(message) = got {
            match serde_json::from_slice::<Value>(&message.delivery.data) {
                Ok(Value::Array(many)) => results.extend(many),
                Ok(one) => results.push(one),
                Err(error) => results.push(json!({ "unreadable": error.to_string() })),
            }
            continue;
        }
        if dead < garbage {
            let letter = channel
                .basic_get(
                    format!("distorch.dlq.{queue}").as_str().into(),
                    BasicGetOptions { no_ack: true },
                )
                .await
                .unwrap();
            dead += usize::from(letter.is_some());
        }
        if results.iter().filter(|result| is_final(result)).count() >= finals && dead >= garbage {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (results, dead)
}

/// What is wrong with the results one task got, against the case's `expect`.
fn check(task: &Value, expect: &Value, reports: &[&Value]) -> Vec<String> {
    let mut problems = Vec::new();
    let finals: Vec<&&Value> = reports
        .iter()
        .filter(|result| {
            ["completed", "failed"].contains(&result["outcome"].as_str().unwrap_or_default())
        })
        .collect();
    let [last] = finals.as_slice() else {
        return vec![format!(
            "{} final results (want one): {reports:?}",
            finals.len()
        )];
    };
    for report in reports {
        for field in ["task_id", "instance_id", "step", "attempt", "kind"] {
            if report[field] != task[field] {
                problems.push(format!(
                    "`{field}` is {} in {report}, not {}",
                    report[field], task[field]
                ));
            }
        }
    }
    if last["outcome"] != expect["outcome"] {
        problems.push(format!(
            "outcome {} (want {}): {last}",
            last["outcome"], expect["outcome"]
        ));
    }
    if expect["outcome"] == "completed" {
        let mut output = expect["output"].to_string();
        output = output.replace("{instance_id}", task["instance_id"].as_str().unwrap());
        let output: Value = serde_json::from_str(&output).unwrap();
        if last["output"] != output || last.get("output").is_none() {
            problems.push(format!("output {} (want {output})", last["output"]));
        }
    }
    if expect["outcome"] == "failed" {
        if last["error"]["retryable"] != expect["retryable"] {
            problems.push(format!(
                "retryable {} (want {})",
                last["error"]["retryable"], expect["retryable"]
            ));
        }
        let message = last["error"]["message"].as_str().unwrap_or_default();
        if let Some(part) = expect["message_contains"].as_str()
            && !message.contains(part)
        {
            problems.push(format!("the message `{message}` does not say `{part}`"));
        }
    }
    let position = |outcome: &str| {
        reports
            .iter()
            .position(|result| result["outcome"] == outcome)
    };
    let final_at = position(last["outcome"].as_str().unwrap()).unwrap();
    let named = |value: &Value| value.as_str().is_some_and(|name| !name.is_empty());
    // A worker reports the start once: a `started` before the result, or
    // (a quick task) its name in the result's `started_by`.
    let started = position("started");
    match (started, named(&last["started_by"])) {
        (Some(at), false) if at < final_at && named(&reports[at]["worker"]) => {}
        (None, true) if expect["start"] != "started" => {}
        _ => problems.push(format!(
            "want the start reported once ({}): {reports:?}",
            match expect["start"].as_str() {
                Some("started") => "`started`, naming the worker, before the result",
                _ => "`started` before the result, or `started_by` in it",
            }
        )),
    }
    let beats: Vec<&&Value> = reports
        .iter()
        .filter(|result| result["outcome"] == "heartbeat")
        .collect();
    if let Some(least) = expect["heartbeats_at_least"].as_u64()
        && (beats.len() as u64) < least
    {
        problems.push(format!(
            "{} heartbeats (want at least {least})",
            beats.len()
        ));
    }
    if !expect["progress"].is_null()
        && !beats
            .iter()
            .any(|beat| beat["progress"] == expect["progress"])
    {
        problems.push(format!(
            "no heartbeat with progress {}: {beats:?}",
            expect["progress"]
        ));
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_conforms() {
    conforms(Implementation::Python).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_conforms() {
    conforms(Implementation::TypeScript).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_worker_conforms() {
    conforms(Implementation::BuiltIn).await;
}
