//! The example Python worker (examples/workers/python/worker.py), an
//! external process speaking the wire protocol of docs/worker-protocol.md,
//! against `distorch serve` on PostgreSQL and RabbitMQ: a completed step
//! with the output it built, a permanent failure that compensates the step
//! before it (on a queue served by `distorch worker`), and a retryable
//! failure that succeeds on the second attempt.
//!
//! Needs python3 with pika: `pip install -r examples/workers/python/requirements.txt`
//! (scripts/test installs it). Without them the test fails and says so.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

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

/// A child process, killed when dropped. Its stderr is kept (the last
/// lines) to show when something goes wrong.
struct Process {
    child: Child,
    url: Option<String>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Process {
    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(mut command: Command, env: &[(&str, String)], wait_for_url: bool) -> Process {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("DATABASE_URL")
        .env_remove("AMQP_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("the process starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (sender, receiver) = std::sync::mpsc::channel();
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("listening on ") {
                let _ = sender.send(url.to_owned());
            }
            let mut lines = lines.lock().unwrap();
            lines.push(line);
            if lines.len() > 200 {
                lines.remove(0);
            }
        }
    });
    let url = wait_for_url.then(|| {
        receiver
            .recv_timeout(Duration::from_secs(30))
            .expect("the node says where it listens")
    });
    Process { child, url, log }
}

fn distorch(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_distorch"));
    command.args(args);
    command
}

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

fn workflows_folder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("distorch-python-worker-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("checkout.yaml"), WORKFLOW).unwrap();
    dir
}

async fn start(client: &reqwest::Client, url: &str, input: Value) -> String {
    let response = client
        .post(format!("{url}/api/v1/workflows"))
        .json(&json!({"definition": "checkout", "input": input}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn state(client: &reqwest::Client, url: &str, id: &str) -> Option<Value> {
    let response = client
        .get(format!("{url}/api/v1/workflows/{id}"))
        .send()
        .await
        .ok()?;
    response.json().await.ok()
}

async fn wait_until_final(
    client: &reqwest::Client,
    url: &str,
    ids: &[String],
    within: Duration,
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let mut states = Vec::new();
        for id in ids {
            states.push(state(client, url, id).await.unwrap_or_default());
        }
        let done = states.iter().all(|state| {
            ["completed", "compensated", "failed", "cancelled"]
                .contains(&state["status"].as_str().unwrap_or_default())
        });
        if done || Instant::now() > deadline {
            return states;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn step<'a>(state: &'a Value, id: &str) -> &'a Value {
    state["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|step| step["id"] == id))
        .unwrap_or_else(|| panic!("no step `{id}` in {state:#}"))
}

/// A database and a vhost of their own, removed afterwards.
struct Services {
    database_url: String,
    admin_url: String,
    database: String,
    amqp_url: String,
    vhost: String,
}

impl Services {
    async fn new() -> Self {
        let admin_url =
            std::env::var("DATABASE_URL").expect("DATABASE_URL is set (scripts/test sets it)");
        let amqp_base = std::env::var("AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        let database = format!("distorch_e2e_{suffix}");
        let pool = sqlx::PgPool::connect(&admin_url)
            .await
            .expect("PostgreSQL answers at DATABASE_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {database}")))
            .execute(&pool)
            .await
            .unwrap();
        let database_url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{database}"),
            None => panic!("DATABASE_URL has no database name"),
        };
        let vhost = format!("distorch-e2e-{suffix}");
        rabbitmqctl(&["add_vhost", &vhost]);
        rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]);
        let amqp_url = match amqp_base.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{vhost}"),
            None => panic!("AMQP_URL has no vhost"),
        };
        Self {
            database_url,
            admin_url,
            database,
            amqp_url,
            vhost,
        }
    }

    async fn remove(self) {
        rabbitmqctl(&["delete_vhost", &self.vhost]);
        let pool = sqlx::PgPool::connect(&self.admin_url).await.unwrap();
        let drop = format!("drop database if exists {} with (force)", self.database);
        sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(&pool)
            .await
            .unwrap();
    }
}

fn rabbitmqctl(args: &[&str]) {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl runs (RabbitMQ is installed)");
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_worker_completes_fails_for_good_and_retries() {
    require_python_and_pika();
    let services = Services::new().await;
    let folder = workflows_folder();
    let env = vec![
        ("DATABASE_URL", services.database_url.clone()),
        ("AMQP_URL", services.amqp_url.clone()),
    ];
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
    let folder_arg = folder.to_str().unwrap();
    let node = spawn(
        distorch(&["serve", "--addr", "127.0.0.1:0", "--workflows", folder_arg]),
        &env,
        true,
    );
    let _undo = spawn(
        distorch(&["worker", "--queue", "undo", "--exec", "echo '{}'"]),
        &env,
        false,
    );
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();
    let ids = vec![
        start(
            &client,
            &url,
            json!({"amount": 1250, "fee": 25, "flaky": false}),
        )
        .await,
        start(
            &client,
            &url,
            json!({"amount": 1250, "fee": -5, "flaky": false}),
        )
        .await,
        start(
            &client,
            &url,
            json!({"amount": 40, "fee": 1, "flaky": true}),
        )
        .await,
    ];
    let states = wait_until_final(&client, &url, &ids, Duration::from_secs(60)).await;
    let context = || format!("{states:#?}\npython worker:\n{}", python.log());
    let statuses: Vec<&str> = states
        .iter()
        .map(|state| state["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        statuses,
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
