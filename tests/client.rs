//! The client commands against a real node, embedded and on PostgreSQL +
//! RabbitMQ, with authentication on: `start`, `workflows
//! list|show|events|watch|cancel|pause|resume|retry|skip|approve|reject`,
//! `definitions list|show`, `approvals`; their tables, `--output json`, and
//! exit codes that mirror outcomes (0 completed or done, 1 ended otherwise,
//! 3 refused, 4 denied, 5 not found).

mod support;

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Node, Services, api_key, distorch, workflows_folder};

const REVIEW: &str = r#"
name: review
version: 1
steps:
  prepare: { type: task, queue: work }
  sign_off: { type: approval, needs: [prepare], approvers: [role:manager] }
  finish: { type: noop, needs: [sign_off] }
output: { by: "${ steps.sign_off.output.by }" }
"#;

const STUCK: &str = r#"
name: stuck
version: 1
steps:
  wait_for_nobody: { type: task, queue: nobody }
  broken: { type: fail, message: "out of order", on_error: fail }
"#;

/// `distorch ARGS` against the node at `url` (`--url`) with `token` in
/// `DISTORCH_TOKEN`; its exit code, stdout and stderr.
fn cli(url: &str, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut command = distorch(args);
    command.args(["--url", url]).env_remove("DISTORCH_TOKEN");
    if let Some(token) = token {
        command.env("DISTORCH_TOKEN", token);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn ok(url: &str, token: &str, args: &[&str]) -> String {
    let (code, stdout, stderr) = cli(url, Some(token), args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    stdout
}

fn json(url: &str, token: &str, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.extend(["--output", "json"]);
    serde_json::from_str(&ok(url, token, &args)).unwrap()
}

/// Polls `workflows show` until `done` holds for the workflow.
fn wait_for(url: &str, token: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = json(url, token, &["workflows", "show", id]);
        if done(&state) {
            return state;
        }
        assert!(Instant::now() < deadline, "{state:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn step_status<'a>(state: &'a Value, step: &str) -> &'a str {
    let steps = state["steps"].as_array().map_or(&[][..], Vec::as_slice);
    steps
        .iter()
        .find(|found| found["id"] == step)
        .and_then(|found| found["status"].as_str())
        .unwrap_or_default()
}

fn the_client_commands_operate_a_node(services: Option<&Services>) {
    let kind = if services.is_some() { "pg" } else { "embedded" };
    let folder = workflows_folder(&format!("client-{kind}"), "review", REVIEW);
    std::fs::write(folder.join("stuck.yaml"), STUCK).unwrap();
    let data = folder.join("node.db");
    let data = data.to_str().unwrap();
    let database: Vec<_> = services
        .map(|services| vec![("DATABASE_URL", services.database_url.clone())])
        .unwrap_or_default();
    let operator = api_key(&database, data, &["operator"]);
    let viewer = api_key(&database, data, &["viewer"]);
    let manager = api_key(&database, data, &["approver", "manager"]);
    let mut node = Node::new(&folder).exec("work=cat");
    if let Some(services) = services {
        node = node.env(&services.env());
    }
    let node = node.spawn();
    let url = node.url.clone().unwrap();
    let url = url.as_str();

    // Authentication: none is 401 (exit 4), a viewer may not start (403).
    let (code, _, stderr) = cli(url, None, &["start", "review"]);
    assert_eq!((code, stderr.contains("401")), (4, true), "{stderr}");
    let (code, _, stderr) = cli(url, Some(&viewer), &["start", "review"]);
    assert_eq!((code, stderr.contains("403")), (4, true), "{stderr}");
    let id = ok(url, &operator, &["start", "review"]).trim().to_owned();

    // The approval waits for the manager: listed as theirs, decided by them.
    wait_for(url, &viewer, &id, |state| {
        step_status(state, "sign_off") == "waiting"
    });
    // The approvals list is read from the read models, which trail the log.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mine = loop {
        let mine = ok(url, &manager, &["approvals"]);
        if mine.contains(&id) || Instant::now() > deadline {
            break mine;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        mine.contains(&id) && mine.contains("sign_off") && mine.contains("role:manager"),
        "{mine}"
    );
    let viewers = json(url, &viewer, &["approvals"]);
    assert_eq!(
        viewers["items"],
        serde_json::json!([]),
        "a viewer decides nothing"
    );
    let (code, _, stderr) = cli(
        url,
        Some(&viewer),
        &["workflows", "approve", &id, "sign_off"],
    );
    assert_eq!(code, 4, "{stderr}");
    let (code, _, stderr) = cli(
        url,
        Some(&manager),
        &["workflows", "approve", &id, "no_such_step"],
    );
    assert_eq!(code, 5, "{stderr}");
    ok(
        url,
        &manager,
        &["workflows", "approve", &id, "sign_off", "--comment", "fine"],
    );

    // Watch follows it to its end: exit 0, the output printed.
    let (code, stdout, stderr) = cli(url, Some(&viewer), &["workflows", "watch", &id]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("{id} completed")), "{stdout}");
    assert!(stderr.contains("WorkflowCompleted"), "{stderr}");
    let watched = json(url, &viewer, &["workflows", "watch", &id]);
    assert_eq!(
        watched["output"]["by"],
        format!("apikey:{}", manager.split('_').nth(1).unwrap())
    );

    let shown = ok(url, &viewer, &["workflows", "show", &id]);
    assert!(
        shown.contains("status:      completed") && shown.contains("sign_off"),
        "{shown}"
    );
    let events = ok(url, &viewer, &["workflows", "events", &id]);
    assert!(
        events.contains("ApprovalGranted sign_off") && events.contains("WorkflowCompleted"),
        "{events}"
    );
    let listed = json(
        url,
        &viewer,
        &["workflows", "list", "--status", "completed"],
    );
    assert_eq!(listed["items"][0]["id"], id.as_str());
    let table = ok(
        url,
        &viewer,
        &["workflows", "list", "--definition", "review"],
    );
    assert!(
        table.starts_with("ID") && table.contains(&id) && table.contains("review v1"),
        "{table}"
    );

    // Pause, a pause that does not apply (409: exit 3), resume, cancel:
    // watched to its end, a cancelled workflow exits 1.
    let stuck = ok(url, &operator, &["start", "stuck"]).trim().to_owned();
    wait_for(url, &viewer, &stuck, |state| state["status"] == "failed");
    ok(url, &operator, &["workflows", "retry", &stuck, "broken"]);
    wait_for(url, &viewer, &stuck, |state| {
        let events = json(url, &viewer, &["workflows", "events", &stuck]);
        let failures = events["items"].as_array().unwrap().iter();
        state["status"] == "failed"
            && failures
                .filter(|event| event["type"] == "WorkflowFailed")
                .count()
                == 2
    });
    ok(
        url,
        &operator,
        &[
            "workflows",
            "skip",
            &stuck,
            "broken",
            "--with-output",
            r#"{"fixed": true}"#,
        ],
    );
    wait_for(url, &viewer, &stuck, |state| state["status"] == "running");
    let (code, _, stderr) = cli(url, Some(&operator), &["workflows", "resume", &stuck]);
    assert_eq!(code, 3, "{stderr}");
    ok(url, &operator, &["workflows", "pause", &stuck]);
    ok(url, &operator, &["workflows", "resume", &stuck]);
    ok(
        url,
        &operator,
        &["workflows", "cancel", &stuck, "--no-compensate"],
    );
    let (code, stdout, _) = cli(url, Some(&viewer), &["workflows", "watch", &stuck]);
    assert_eq!((code, stdout.contains("cancelled")), (1, true), "{stdout}");

    let missing = "0190e2a4-0000-7000-8000-000000000000";
    let (code, _, _) = cli(url, Some(&viewer), &["workflows", "show", missing]);
    assert_eq!(code, 5);

    let definitions = ok(url, &viewer, &["definitions", "list"]);
    assert!(
        definitions.contains("review") && definitions.contains("stuck"),
        "{definitions}"
    );
    let version = ok(
        url,
        &viewer,
        &["definitions", "show", "review", "--version", "1"],
    );
    assert!(
        version.contains("role:manager") && version.contains("queue: work"),
        "{version}"
    );
    let versions = json(url, &viewer, &["definitions", "show", "review"]);
    assert_eq!(versions["versions"][0]["version"], 1);
}

#[test]
fn the_client_commands_operate_an_embedded_node() {
    the_client_commands_operate_a_node(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_commands_operate_a_node_on_postgres_and_rabbitmq() {
    let services = Services::new().await;
    tokio::task::block_in_place(|| the_client_commands_operate_a_node(Some(&services)));
    services.remove().await;
}
