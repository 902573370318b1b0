//! `distorch serve` as users run it: the embedded default, and several
//! nodes on PostgreSQL and RabbitMQ with a separate worker process, one of
//! them killed with SIGKILL while workflows run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const WORKFLOW: &str = r#"
name: chain
version: 1
steps:
  reserve:
    type: task
    queue: work
    compensate: { type: task, queue: work }
  charge: { type: task, queue: work, needs: [reserve] }
  ship: { type: task, queue: work, needs: [reserve] }
  confirm: { type: task, queue: work, needs: [charge, ship] }
"#;

/// A running `distorch` process, killed when dropped.
struct Process {
    child: Child,
    url: Option<String>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str], env: &[(&str, String)], wait_for_url: bool) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_distorch"));
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("DATABASE_URL")
        .env_remove("AMQP_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("distorch starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("listening on ") {
                let _ = sender.send(url.to_owned());
            }
        }
    });
    let url = wait_for_url.then(|| {
        receiver
            .recv_timeout(Duration::from_secs(30))
            .expect("the node says where it listens")
    });
    Process { child, url }
}

fn workflows_folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("distorch-serve-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("chain.yaml"), WORKFLOW).unwrap();
    dir
}

async fn start(client: &reqwest::Client, url: &str) -> String {
    let response = client
        .post(format!("{url}/api/v1/workflows"))
        .json(&json!({"definition": "chain", "input": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn status(client: &reqwest::Client, url: &str, id: &str) -> Option<String> {
    let response = client
        .get(format!("{url}/api/v1/workflows/{id}"))
        .send()
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    body["status"].as_str().map(str::to_owned)
}

async fn wait_until_final(
    client: &reqwest::Client,
    url: &str,
    ids: &[String],
    within: Duration,
) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let mut statuses = Vec::new();
        for id in ids {
            statuses.push(status(client, url, id).await.unwrap_or_default());
        }
        let done = statuses
            .iter()
            .all(|s| ["completed", "compensated", "failed", "cancelled"].contains(&s.as_str()));
        if done || Instant::now() > deadline {
            return statuses;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_node_runs_workflows_started_over_http() {
    let folder = workflows_folder("embedded");
    let data = folder.join("node.db");
    let node = spawn(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--workflows",
            folder.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--exec",
            "work=echo '{}'",
        ],
        &[],
        true,
    );
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();
    let ids = vec![start(&client, &url).await, start(&client, &url).await];
    let statuses = wait_until_final(&client, &url, &ids, Duration::from_secs(30)).await;
    assert_eq!(statuses, ["completed", "completed"]);

    let missing = client
        .get(format!("{url}/api/v1/workflows/{}", uuid::Uuid::nil()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    let bad = client
        .post(format!("{url}/api/v1/workflows"))
        .json(&json!({"nope": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let cli = |definition: &str| {
        Command::new(env!("CARGO_BIN_EXE_distorch"))
            .args(["start", definition, "--server", &url, "--input", "{}"])
            .output()
            .unwrap()
    };
    let started = tokio::task::block_in_place(|| cli("chain"));
    assert_eq!(
        started.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let id = String::from_utf8(started.stdout).unwrap().trim().to_owned();
    assert_eq!(
        wait_until_final(&client, &url, &[id], Duration::from_secs(30)).await,
        ["completed"]
    );
    let unknown = tokio::task::block_in_place(|| cli("nope"));
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("definition nope not found"));
    let done = client
        .post(format!("{url}/api/v1/workflows/{}/pause", ids[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 409, "a completed workflow cannot be paused");
    drop(node);
    std::fs::remove_dir_all(folder).ok();
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
async fn nodes_on_postgres_and_rabbitmq_survive_one_of_them_being_killed() {
    let services = Services::new().await;
    let folder = workflows_folder("cluster");
    let env = vec![
        ("DATABASE_URL", services.database_url.clone()),
        ("AMQP_URL", services.amqp_url.clone()),
    ];
    let serve = |folder: &Path| {
        spawn(
            &[
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--workflows",
                folder.to_str().unwrap(),
            ],
            &env,
            true,
        )
    };
    let first = serve(&folder);
    let second = serve(&folder);
    let _worker = spawn(
        &[
            "worker",
            "--queue",
            "work",
            "--exec",
            "sleep 0.05; echo '{}'",
        ],
        &env,
        false,
    );
    let client = reqwest::Client::new();
    let (first_url, second_url) = (first.url.clone().unwrap(), second.url.clone().unwrap());
    let mut ids = Vec::new();
    for n in 0..30 {
        let url = if n % 2 == 0 { &first_url } else { &second_url };
        ids.push(start(&client, url).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // SIGKILL: no chance to finish anything it holds.
    drop(first);
    let statuses = wait_until_final(&client, &second_url, &ids, Duration::from_secs(90)).await;
    let completed = statuses.iter().filter(|s| *s == "completed").count();
    assert_eq!(completed, ids.len(), "{statuses:?}");
    drop(second);
    services.remove().await;
    std::fs::remove_dir_all(folder).ok();
}
