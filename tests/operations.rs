//! Operating a cluster node: after a tour of workflows through every path
//! (completion, retries, timeouts, compensation, a failed compensation, an
//! approval decided and one waiting, an SLA breach), every metric that the
//! Grafana dashboards and the alert rules name has data in `/metrics`;
//! `promtool` accepts the exposition and the rules; a real Prometheus
//! scrapes a node and a worker and every dashboard query returns data; and
//! `/health/ready` follows the database and the broker.
//!
//! Needs `promtool` and `prometheus` (Debian package `prometheus`).

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{
    Node, Process, Services, distorch, get_json, rabbitmqctl, spawn, start, workflows_folder,
};

/// Every path a workflow can take, chosen by `input.mode`: `ok` completes;
/// `fail` fails `charge` twice (one retry) and compensates; `slow` times
/// out `charge` twice and compensates; `badundo` fails `charge` and then the
/// undo of `reserve`, ending in `compensation_failed`; `wait` stops at an
/// approval nobody decides and runs past its `sla`.
const TOUR: &str = r#"
name: ops-tour
version: 1
sla: 2s
steps:
  reserve:
    type: task
    queue: ops
    input: { cmd: "reserve-${ input.mode }" }
    compensate:
      type: task
      queue: ops
      input: { cmd: "undo-${ input.mode }" }
      retry: { max_attempts: 1 }
  quick_ok:
    type: approval
    needs: [reserve]
    approvers: [role:boss]
    timeout: 1s
    on_timeout: approve
  big_ok:
    type: approval
    needs: [quick_ok]
    when: input.mode == 'wait'
    approvers: [role:boss]
  charge:
    type: task
    queue: ops
    needs: [quick_ok, big_ok]
    join: any
    input: { cmd: "charge-${ input.mode }" }
    heartbeat_timeout: 1s
    retry: { max_attempts: 2, initial: 100ms }
"#;

/// The worker's command: what each `cmd` does.
const TOUR_WORKER: &str = r#"input=$(cat)
case "$input" in
  *charge-fail*|*charge-badundo*) echo "charge refused" >&2; exit 1 ;;
  *charge-slow*) sleep 3; echo '{}' ;;
  *undo-badundo*) echo "cannot undo" >&2; exit 2 ;;
  *) echo '{}' ;;
esac
"#;

fn repository(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The tool, or a failed test that says how to get it: never a silent skip.
fn require(tool: &str) -> String {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found,
        "`{tool}` is needed: install the Debian package `prometheus` (apt-get install -y prometheus)"
    );
    tool.to_owned()
}

/// Every `distorch_*` name the dashboards and the alert rules mention.
fn metric_names_used() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for file in [
        "deploy/grafana/dashboards/overview.json",
        "deploy/grafana/dashboards/workflow.json",
        "deploy/prometheus/alerts.yml",
    ] {
        let text = std::fs::read_to_string(repository(file)).unwrap();
        for (start, _) in text.match_indices("distorch_") {
            let name: String = text[start..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            names.insert(name);
        }
    }
    names
}

/// Every PromQL expression of the dashboards, with Grafana's variables set.
fn dashboard_queries() -> Vec<String> {
    fn collect(value: &Value, into: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(expr)) = map.get("expr") {
                    into.push(expr.clone());
                }
                map.values().for_each(|value| collect(value, into));
            }
            Value::Array(items) => items.iter().for_each(|value| collect(value, into)),
            _ => {}
        }
    }
    let mut queries = Vec::new();
    for file in ["overview.json", "workflow.json"] {
        let path = repository(&format!("deploy/grafana/dashboards/{file}"));
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        collect(&dashboard["panels"], &mut queries);
    }
    queries
        .iter()
        .map(|query| {
            query
                .replace("$__rate_interval", "1m")
                .replace("$definition", "ops-tour")
        })
        .collect()
}

/// Names of the series with a sample in a text exposition.
fn series_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

async fn text(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

async fn status_of(client: &reqwest::Client, url: &str, id: &str) -> String {
    let state: Value = get_json(client, &format!("{url}/api/v1/workflows/{id}")).await;
    state["status"].as_str().unwrap_or_default().to_owned()
}

fn promtool_accepts_metrics(promtool: &str, exposition: &str) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Prometheus scraping the node and the worker every second, with the
/// alert rules loaded; returns it and its URL once it is ready.
async fn prometheus(folder: &Path, node: &str, worker: &str) -> (Process, String) {
    let host = |url: &str| url.trim_start_matches("http://").to_owned();
    let config = folder.join("prometheus.yml");
    let rules = repository("deploy/prometheus/alerts.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\n\
             rule_files: [\"{}\"]\n\
             scrape_configs:\n\
             - job_name: distorch-nodes\n  static_configs: [{{ targets: [\"{}\"] }}]\n\
             - job_name: distorch-workers\n  static_configs: [{{ targets: [\"{}\"] }}]\n",
            rules.display(),
            host(node),
            host(worker)
        ),
    )
    .unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let process = spawn(
        {
            let mut command = Command::new(require("prometheus"));
            command.args([
                format!("--config.file={}", config.display()),
                format!("--storage.tsdb.path={}", folder.join("tsdb").display()),
                format!("--web.listen-address={}", host(&url)),
            ]);
            command
        },
        &[],
        false,
    );
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .get(format!("{url}/-/ready"))
        .send()
        .await
        .is_ok_and(|response| response.status().is_success())
    {
        assert!(Instant::now() < deadline, "Prometheus did not get ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (process, url)
}

/// A worker of queue `ops` running `exec`, with its `/metrics`; and its URL.
fn ops_worker(services: &Services, exec: &str) -> (Process, String) {
    let worker = spawn(
        distorch(&[
            "worker",
            "--queue",
            "ops",
            "--exec",
            exec,
            "--metrics-addr",
            "127.0.0.1:0",
        ]),
        &services.env(),
        true,
    );
    let url = worker.url.clone().unwrap();
    (worker, url)
}

/// The alert rules against their `promtool test rules` cases
/// (`deploy/prometheus/alerts.test.yml`): Prometheus's own evaluator, so
/// the cases prove the rules as Prometheus will run them.
#[test]
fn alert_rules_pass_their_promtool_cases() {
    let promtool = require("promtool");
    let output = Command::new(promtool)
        .args(["test", "rules"])
        .arg(repository("deploy/prometheus/alerts.test.yml"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "promtool test rules: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Before its first workflow, a node and a worker already export every
/// series the dashboards and alerts read (at zero where the labels are
/// known: definitions, steps, statuses, queues), so no panel says "No data"
/// and `increase()` sees the first event; an embedded node reports no
/// broker and no database it does not sample.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_node_exports_the_series_of_the_dashboards_at_zero() {
    let services = Services::new().await;
    let folder = workflows_folder("operations-fresh", "ops-tour", TOUR);
    let node = Node::new(&folder).env(&services.env()).spawn();
    let url = node.url.clone().unwrap();
    let (worker, worker_url) = ops_worker(&services, "cat");
    let client = reqwest::Client::new();
    // The first scrape is an HTTP request the second one counts.
    text(&client, &format!("{url}/metrics")).await;
    let node_metrics = text(&client, &format!("{url}/metrics")).await;
    let worker_metrics = text(&client, &format!("{worker_url}/metrics")).await;
    let present: BTreeSet<String> = series_names(&node_metrics)
        .union(&series_names(&worker_metrics))
        .cloned()
        .collect();
    // Counted by event type as events are appended: none yet.
    let later = BTreeSet::from(["distorch_events_appended_total".to_owned()]);
    let missing: Vec<String> = metric_names_used()
        .difference(&present)
        .filter(|name| !later.contains(*name))
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "series the dashboards or alerts use that a fresh node lacks: {missing:?}\n{node_metrics}"
    );
    for line in [
        r#"distorch_workflow_sla_breaches_total{definition="ops-tour"} 0"#,
        r#"distorch_approvals_waiting{definition="ops-tour"} 0"#,
        r#"distorch_step_retries_total{definition="ops-tour",step="charge"} 0"#,
        r#"distorch_worker_tasks_total{queue="ops",outcome="failed"} 0"#,
    ] {
        let exported = node_metrics.contains(line) || worker_metrics.contains(line);
        assert!(exported, "no `{line}` in\n{node_metrics}\n{worker_metrics}");
    }
    drop(worker);
    drop(node);

    let embedded = Node::new(&folder).spawn();
    let embedded_url = embedded.url.clone().unwrap();
    let embedded_metrics = text(&client, &format!("{embedded_url}/metrics")).await;
    for gauge in ["distorch_database_up", "distorch_broker_up"] {
        assert!(
            !embedded_metrics.contains(gauge),
            "an embedded node reports {gauge}:\n{embedded_metrics}"
        );
    }
    assert!(
        embedded_metrics.contains(r#"distorch_workflows_started_total{definition="ops-tour"} 0"#),
        "{embedded_metrics}"
    );
    drop(embedded);
    std::fs::remove_dir_all(&folder).ok();
    services.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_and_alerts_read_metrics_that_nodes_and_workers_export_with_data() {
    let promtool = require("promtool");
    let services = Services::new().await;
    let folder = workflows_folder("operations", "ops-tour", TOUR);
    let script = folder.join("tour-worker.sh");
    std::fs::write(&script, TOUR_WORKER).unwrap();
    let node = Node::new(&folder).env(&services.env()).spawn();
    let url = node.url.clone().unwrap();
    let exec = format!("sh {}", script.display());
    let (worker, worker_url) = ops_worker(&services, &exec);
    let client = reqwest::Client::new();

    let tour = [
        ("ok", "completed"),
        ("ok", "completed"),
        ("fail", "compensated"),
        ("slow", "compensated"),
        ("badundo", "compensation_failed"),
        ("wait", "running"),
    ];
    let mut ids = Vec::new();
    for (mode, _) in tour {
        ids.push(start(&client, &url, "ops-tour", json!({ "mode": mode })).await);
    }
    let expected: Vec<&str> = tour.iter().map(|(_, status)| *status).collect();
    let needed = metric_names_used();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (statuses, missing, node_metrics, worker_metrics) = loop {
        let mut statuses = Vec::new();
        for id in &ids {
            statuses.push(status_of(&client, &url, id).await);
        }
        let node_metrics = text(&client, &format!("{url}/metrics")).await;
        let worker_metrics = text(&client, &format!("{worker_url}/metrics")).await;
        let present: BTreeSet<String> = series_names(&node_metrics)
            .union(&series_names(&worker_metrics))
            .cloned()
            .collect();
        let missing: Vec<String> = needed.difference(&present).cloned().collect();
        if (statuses == expected && missing.is_empty()) || Instant::now() > deadline {
            break (statuses, missing, node_metrics, worker_metrics);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(statuses, expected, "the tour ends as designed");
    assert!(
        missing.is_empty(),
        "metrics the dashboards or alerts use but /metrics lacks: {missing:?}\n{node_metrics}"
    );
    for line in [
        r#"distorch_workflows_compensation_failed{definition="ops-tour"} 1"#,
        r#"distorch_approvals_waiting{definition="ops-tour"} 1"#,
        r#"distorch_workflows_running{definition="ops-tour"} 1"#,
        r#"distorch_workflows_finished_total{definition="ops-tour",status="completed"} 2"#,
    ] {
        assert!(
            node_metrics.contains(line),
            "no `{line}` in\n{node_metrics}"
        );
    }
    assert!(
        worker_metrics.contains(r#"distorch_worker_tasks_total{queue="ops",outcome="completed"}"#),
        "{worker_metrics}"
    );
    for gauge in ["distorch_database_up", "distorch_broker_up"] {
        assert!(
            node_metrics.contains(&format!("{gauge} 1\n")),
            "the node reports {gauge}:\n{node_metrics}"
        );
        assert!(
            !worker_metrics.contains(gauge),
            "a worker has no {gauge} to report:\n{worker_metrics}"
        );
    }
    promtool_accepts_metrics(&promtool, &node_metrics);
    promtool_accepts_metrics(&promtool, &worker_metrics);
    let rules = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(repository("deploy/prometheus/alerts.yml"))
        .output()
        .unwrap();
    assert!(
        rules.status.success(),
        "promtool check rules: {}",
        String::from_utf8_lossy(&rules.stdout)
    );

    let (prometheus_process, prometheus_url) = prometheus(&folder, &url, &worker_url).await;
    let queries = dashboard_queries();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut empty = queries.clone();
    while !empty.is_empty() && Instant::now() < deadline {
        let mut still_empty = Vec::new();
        for query in empty {
            let asked = format!(
                "{prometheus_url}/api/v1/query?query={}",
                percent_encoded(&query)
            );
            let answer = get_json(&client, &asked).await;
            assert_eq!(answer["status"], "success", "{query}: {answer}");
            if answer["data"]["result"]
                .as_array()
                .is_none_or(|result| result.is_empty())
            {
                still_empty.push(query);
            }
        }
        empty = still_empty;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        empty.is_empty(),
        "dashboard queries Prometheus answers with no data: {empty:#?}"
    );
    drop(prometheus_process);
    drop(worker);
    drop(node);
    std::fs::remove_dir_all(&folder).ok();
    services.remove().await;
}

async fn readiness(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client
        .get(format!("{url}/health/ready"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Polls readiness until it answers `status`; returns the body.
async fn ready_becomes(client: &reqwest::Client, url: &str, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let (answered, body) = readiness(client, url).await;
        if answered == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/health/ready stayed {answered}, expected {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_goes_false_while_the_database_or_the_broker_is_unreachable() {
    let services = Services::new().await;
    let folder = workflows_folder("readiness", "ops-tour", TOUR);
    let node = Node::new(&folder).env(&services.env()).spawn();
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();
    let body = ready_becomes(&client, &url, 200).await;
    assert_eq!(
        body,
        json!({"status": "ready", "checks": {
            "database": {"status": "up"},
            "migrations": {"status": "up"},
            "projections": {"status": "up"},
            "broker": {"status": "up"},
        }})
    );

    let admin = sqlx::PgPool::connect(&std::env::var("DATABASE_URL").unwrap())
        .await
        .unwrap();
    let database = &services.database;
    let set_connections = |allowed: bool| {
        sqlx::AssertSqlSafe(format!(
            "alter database {database} with allow_connections {allowed}"
        ))
    };
    sqlx::query(set_connections(false))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1")
        .bind(database)
        .execute(&admin)
        .await
        .unwrap();
    let body = ready_becomes(&client, &url, 503).await;
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["database"]["status"], "down", "{body}");
    assert_eq!(body["checks"]["broker"]["status"], "up", "{body}");
    sqlx::query(set_connections(true))
        .execute(&admin)
        .await
        .unwrap();
    ready_becomes(&client, &url, 200).await;

    rabbitmqctl(&["delete_vhost", &services.vhost]);
    let body = ready_becomes(&client, &url, 503).await;
    assert_eq!(body["checks"]["broker"]["status"], "down", "{body}");
    assert_eq!(body["checks"]["database"]["status"], "up", "{body}");
    rabbitmqctl(&["add_vhost", &services.vhost]);
    rabbitmqctl(&[
        "set_permissions",
        "-p",
        &services.vhost,
        "guest",
        ".*",
        ".*",
        ".*",
    ]);
    ready_becomes(&client, &url, 200).await;

    drop(node);
    std::fs::remove_dir_all(&folder).ok();
    services.remove().await;
}
