//! Helpers shared by the end-to-end tests that run the `distorch` binary
//! (tests/serve.rs, tests/faults.rs, tests/python_worker.rs, tests/crash.rs): child
//! processes, a database and a vhost per test, a workflows folder, and the
//! REST API calls the tests make.
//!
//! Each test binary compiles this module on its own, so the items only some
//! of them use allow `dead_code`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The definition `chain` (`chain.yaml`): four steps on queue `work`, the
/// first with a compensation.
#[allow(dead_code)]
pub const CHAIN: &str = r#"
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

/// How many of its last stderr lines a `Process` keeps.
const LOG_LINES: usize = 200;

/// A child process, killed when dropped. Its stderr is kept (the last
/// lines) to show when something goes wrong.
pub struct Process {
    child: Child,
    /// Where it listens, when spawned with `wait_for_url`.
    #[allow(dead_code)]
    pub url: Option<String>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// The stderr lines kept so far.
    #[allow(dead_code)]
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Whether it still runs, and the end of what it wrote.
    #[allow(dead_code)]
    pub fn report(&mut self, name: &str) -> String {
        let state = match self.child.try_wait() {
            Ok(None) => "running".to_owned(),
            Ok(Some(status)) => format!("exited ({status})"),
            Err(error) => format!("unknown ({error})"),
        };
        let log = self.log.lock().unwrap();
        let tail = log[log.len().saturating_sub(40)..].join("\n  ");
        format!("{name} {state}; stderr:\n  {tail}")
    }
}

impl Process {
    /// Sends it SIGTERM (a graceful stop).
    #[allow(dead_code)]
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM to {}", self.child.id());
    }

    /// Its exit status once it exited, or `None` if it still runs after `within`.
    #[allow(dead_code)]
    pub fn wait_for_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `distorch` binary under test, with these arguments.
pub fn distorch(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_distorch"));
    command.args(args);
    command
}

/// Starts `command` without `DATABASE_URL` and `AMQP_URL` from the test's
/// own environment but with `env`, keeping its stderr; with `wait_for_url`,
/// waits until it says `listening on URL`.
pub fn spawn(mut command: Command, env: &[(&str, String)], wait_for_url: bool) -> Process {
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
            // A text line ends with the URL; a JSON line quotes it.
            if let Some((_, rest)) = line.split_once("listening on ") {
                let url = rest.split(['"', ' ']).next().unwrap_or(rest);
                let _ = sender.send(url.to_owned());
            }
            let mut lines = lines.lock().unwrap();
            lines.push(line);
            if lines.len() > LOG_LINES {
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

/// `distorch serve` on a port of its own with the definitions in `folder`,
/// once it listens.
#[allow(dead_code)]
pub fn serve(folder: &Path, env: &[(&str, String)]) -> Process {
    let folder = folder.to_str().unwrap();
    let args = ["serve", "--addr", "127.0.0.1:0", "--workflows", folder];
    spawn(distorch(&args), env, true)
}

/// `distorch worker` running `exec` for the tasks on `queue`.
#[allow(dead_code)]
pub fn worker(queue: &str, exec: &str, env: &[(&str, String)]) -> Process {
    let args = ["worker", "--queue", queue, "--exec", exec];
    spawn(distorch(&args), env, false)
}

/// A folder `distorch-{name}-{pid}` in the temporary directory holding
/// `{definition}.yaml`; removed, with whatever a node wrote in it (its
/// SQLite file), when dropped, whether the test passed or not.
#[allow(dead_code)]
pub fn workflows_folder(name: &str, definition: &str, yaml: &str) -> TempFolder {
    let dir = std::env::temp_dir().join(format!("distorch-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{definition}.yaml")), yaml).unwrap();
    TempFolder(dir)
}

/// A folder removed when dropped.
#[allow(dead_code)]
#[derive(Debug)]
pub struct TempFolder(PathBuf);

impl std::ops::Deref for TempFolder {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for TempFolder {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Asks the node to start a workflow, whatever it answers.
pub async fn request_start(
    client: &reqwest::Client,
    url: &str,
    definition: &str,
    input: Value,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{url}/api/v1/workflows"))
        .json(&json!({"definition": definition, "input": input}))
        .send()
        .await
}

/// The id of the workflow a start answered with.
pub async fn started_id(response: reqwest::Response) -> String {
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Starts one workflow; the node must accept it.
#[allow(dead_code)]
pub async fn start(client: &reqwest::Client, url: &str, definition: &str, input: Value) -> String {
    let response = request_start(client, url, definition, input).await.unwrap();
    assert_eq!(response.status(), 201);
    started_id(response).await
}

/// The workflow as the API shows it, if the node answers.
pub async fn state(client: &reqwest::Client, url: &str, id: &str) -> Option<Value> {
    let response = client
        .get(format!("{url}/api/v1/workflows/{id}"))
        .send()
        .await
        .ok()?;
    response.json().await.ok()
}

/// Waits until every workflow is in a final state, or `within` has passed;
/// returns their states (`null` for one the node did not show).
pub async fn wait_until_final_states(
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

/// `wait_until_final_states`, as the statuses only (empty for a workflow
/// the node did not show).
#[allow(dead_code)]
pub async fn wait_until_final(
    client: &reqwest::Client,
    url: &str,
    ids: &[String],
    within: Duration,
) -> Vec<String> {
    wait_until_final_states(client, url, ids, within)
        .await
        .iter()
        .map(|state| state["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A database and a vhost of their own, removed afterwards: by `remove`,
/// or when dropped (a test that failed leaves nothing behind either).
#[allow(dead_code)]
pub struct Services {
    pub database_url: String,
    admin_url: String,
    pub database: String,
    pub amqp_url: String,
    pub vhost: String,
    removed: bool,
}

#[allow(dead_code)]
impl Services {
    pub async fn new() -> Self {
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
            removed: false,
        }
    }

    /// `DATABASE_URL` and `AMQP_URL`, in that order, for `spawn`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", self.database_url.clone()),
            ("AMQP_URL", self.amqp_url.clone()),
        ]
    }

    pub async fn remove(mut self) {
        rabbitmqctl(&["delete_vhost", &self.vhost]);
        drop_database(&self.admin_url, &self.database)
            .await
            .unwrap();
        self.removed = true;
    }
}

async fn drop_database(admin_url: &str, database: &str) -> Result<(), sqlx::Error> {
    let pool = sqlx::PgPool::connect(admin_url).await?;
    let drop = format!("drop database if exists {database} with (force)");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(&pool)
        .await?;
    Ok(())
}

impl Drop for Services {
    /// Removes what `remove` did not (the test panicked), on a thread of
    /// its own: a drop may run inside the test's runtime. Never panics.
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let (vhost, admin_url, database) = (
            self.vhost.clone(),
            self.admin_url.clone(),
            self.database.clone(),
        );
        let cleanup = std::thread::spawn(move || {
            let _ = Command::new("rabbitmqctl")
                .args(["delete_vhost", &vhost])
                .output();
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = runtime.block_on(drop_database(&admin_url, &database));
            }
        });
        let _ = cleanup.join();
    }
}

/// Runs `rabbitmqctl`, which must succeed; returns what it printed.
#[allow(dead_code)]
pub fn rabbitmqctl(args: &[&str]) -> String {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl runs (RabbitMQ is installed)");
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
