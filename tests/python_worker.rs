//! The example Python worker (examples/workers/python/worker.py), an
//! external process speaking the wire protocol of docs/worker-protocol.md,
//! against `distorch serve` on PostgreSQL and RabbitMQ: a completed step
//! with the output it built, a permanent failure that compensates the step
//! before it (on a queue served by `distorch worker`), and a retryable
//! failure that succeeds on the second attempt.
//!
//! Needs python3 with pika: `pip install -r examples/workers/python/requirements.txt`
//! (scripts/test installs it). Without them the test fails and says so.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{
    Node, Services, spawn, start, statuses, wait_until_final_states, worker, workflows_folder,
};

const WORKFLOW: &str = r#"
name: checkout
version: 1
defaults:
  retry: { max_attempts: 3, initial: 100ms }
steps:
  charge:
    type: task
    queue: payments
    input: { amount: "${ input.amount }", flaky: "${ input.flaky }" }
    compensate: { type: task, queue: undo }
  charge_fee:
    type: task
    queue: payments
    needs: [charge]
    input: { amount: "${ input.fee }" }
"#;

const WORKER: &str = "examples/workers/python/worker.py";
const INSTALL: &str = "pip install -r examples/workers/python/requirements.txt";

/// Fails (never skips) when python3 or pika is missing, saying what to install.
fn require_python_and_pika() {
    let output = Command::new("python3")
        .args(["-c", "import pika; print(pika.__version__)"])
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "this test runs the Python example worker and needs python3 ({error}): \
                 install Python 3 (Debian/Ubuntu: sudo apt-get install python3 python3-pip; \
                 macOS: brew install python), then `{INSTALL}`"
            )
        });
    assert!(
        output.status.success(),
        "this test runs the Python example worker and needs the pika package, which \
         python3 cannot import: run `{INSTALL}` (or `pip install pika`); scripts/test \
         installs it\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn step<'a>(state: &'a Value, id: &str) -> &'a Value {
    state["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|step| step["id"] == id))
        .unwrap_or_else(|| panic!("no step `{id}` in {state:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_worker_completes_fails_for_good_and_retries() {
    require_python_and_pika();
    let services = Services::new().await;
    let folder = workflows_folder("python-worker", "checkout", WORKFLOW);
    let env = services.env();
    // The Python worker starts first, and waits for the engine to declare its
    // queue (it declares nothing itself).
    let mut python = Command::new("python3");
    python
        .arg("-u")
        .arg(WORKER)
        .arg("payments")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    let python = spawn(python, &env[1..], false);
    let waiting = Instant::now() + Duration::from_secs(30);
    while !python
        .log()
        .contains("waiting for the engine to declare distorch.task.payments")
    {
        assert!(
            Instant::now() < waiting,
            "the Python worker did not wait for its queue:\n{}",
            python.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let node = Node::new(&folder).env(&env).spawn();
    let _undo = worker("undo", "echo '{}'", &env);
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();
    let ids = vec![
        start(
            &client,
            &url,
            "checkout",
            json!({"amount": 1250, "fee": 25, "flaky": false}),
        )
        .await,
        start(
            &client,
            &url,
            "checkout",
            json!({"amount": 1250, "fee": -5, "flaky": false}),
        )
        .await,
        start(
            &client,
            &url,
            "checkout",
            json!({"amount": 40, "fee": 1, "flaky": true}),
        )
        .await,
    ];
    let states = wait_until_final_states(&client, &url, &ids, Duration::from_secs(60)).await;
    let context = || format!("{states:#?}\npython worker:\n{}", python.log());
    assert_eq!(
        statuses(&states),
        ["completed", "compensated", "completed"],
        "{}",
        context()
    );

    // Completed: the output is built from the idempotency key `<instance>:<step>`.
    let charge = step(&states[0], "charge");
    assert_eq!(charge["attempt"], 1, "{}", context());
    assert_eq!(
        charge["output"],
        json!({"charge_id": format!("ch-{}:charge", ids[0]), "amount": 1250}),
        "{}",
        context()
    );
    assert_eq!(
        step(&states[0], "charge_fee")["output"],
        json!({"charge_id": format!("ch-{}:charge_fee", ids[0]), "amount": 25})
    );

    // Permanent: no retry although 3 attempts are allowed, and the charge
    // before it is undone by the `undo` worker.
    let fee = step(&states[1], "charge_fee");
    assert_eq!(fee["status"], "failed", "{}", context());
    assert_eq!(fee["attempt"], 1, "a permanent failure is not retried");
    let error = fee["error"].as_str().unwrap_or_default();
    assert!(error.contains("negative"), "{error}");
    assert_eq!(step(&states[1], "charge")["status"], "completed");

    // Retryable: attempt 1 fails, attempt 2 completes with the same key.
    let flaky = step(&states[2], "charge");
    assert_eq!(flaky["status"], "completed", "{}", context());
    assert_eq!(flaky["attempt"], 2, "{}", context());
    assert_eq!(
        flaky["output"],
        json!({"charge_id": format!("ch-{}:charge", ids[2]), "amount": 40})
    );
    assert!(
        python.log().contains(":charge:forward:1: failed"),
        "the worker reported attempt 1 as failed:\n{}",
        python.log()
    );

    drop(node);
    drop(python);
    services.remove().await;
    std::fs::remove_dir_all(folder).ok();
}
