//! `distorch run`: a workflow run to its end in embedded mode by the real
//! binary, with exec workers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("distorch-run-test-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn distorch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_distorch"));
    command
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")));
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the distorch binary runs")
}

/// `distorch run` of the saga file with the input `{"item": "book"}` and
/// these exec workers (`QUEUE=COMMAND`); its final state in JSON on stdout.
fn run_saga(file: &Path, workers: &[&str]) -> Output {
    let mut args = vec!["run", file.to_str().unwrap()];
    args.extend(["--input", r#"{"item": "book"}"#, "--output", "json"]);
    for worker in workers {
        args.extend(["--exec", worker]);
    }
    distorch(&args, &[])
}

fn final_state(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "stdout is not JSON:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Event lines (`HH:MM:SS.mmm  Summary`) printed on stderr, summaries only.
fn events(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|line| line.split_once("  ").map(|(_, summary)| summary.to_owned()))
        .filter(|summary| !summary.starts_with(' '))
        .collect()
}

const SAGA: &str = r#"
name: saga
version: 1
input:
  schema: { type: object, required: [item] }
defaults:
  retry: { max_attempts: 2, initial: 100ms, jitter: false }
steps:
  reserve:
    type: task
    queue: stock
    input: { item: "${ input.item }" }
    compensate: { type: task, queue: undo, input: { release: "${ steps.reserve.output.id }" } }
  charge:
    type: task
    queue: pay
    needs: [reserve]
    compensate: { type: task, queue: undo }
  ship:
    type: task
    queue: ship
    needs: [charge]
output:
  reservation: "${ steps.reserve.output.id }"
  shipped: "${ steps.ship.output }"
"#;

#[test]
fn runs_a_workflow_to_completion_with_exec_workers() {
    let scratch = Scratch::new("complete");
    let file = scratch.file("saga.yaml", SAGA);
    let output = run_saga(
        &file,
        &[
            r#"stock=cat > /dev/null; echo '{"id": "r-1"}'"#,
            "pay=echo '{}'",
            "ship=cat",
            "undo=echo '{}'",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let state = final_state(&output);
    assert_eq!(state["status"], "completed");
    assert_eq!(state["output"]["reservation"], "r-1");
    assert_eq!(
        state["output"]["shipped"],
        serde_json::json!({}),
        "ship echoed its input: an empty object"
    );
    let events = events(&output);
    assert_eq!(events.first().map(String::as_str), Some("WorkflowStarted"));
    assert_eq!(events.last().map(String::as_str), Some("WorkflowCompleted"));
}

#[test]
fn retries_then_compensates_in_reverse_order() {
    let scratch = Scratch::new("compensate");
    let file = scratch.file("saga.yaml", SAGA);
    let output = run_saga(
        &file,
        &[
            r#"stock=echo '{"id": "r-1"}'"#,
            "pay=echo '{}'",
            "ship=echo 'carrier down' >&2; exit 1",
            "undo=cat",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(final_state(&output)["status"], "compensated");
    let events = events(&output);
    let tail: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .skip_while(|e| *e != "StepFailed ship#2")
        .collect();
    assert_eq!(
        tail,
        [
            "StepFailed ship#2",
            "CompensationStarted",
            "CompensationScheduled charge#1",
            "CompensationCompleted charge#1",
            "CompensationScheduled reserve#1",
            "CompensationCompleted reserve#1",
            "WorkflowCompensated",
        ],
        "{events:?}"
    );
    assert!(events.contains(&"StepRetryScheduled ship#2".to_owned()));
    assert!(String::from_utf8_lossy(&output.stderr).contains("carrier down"));
}

#[test]
fn exit_code_2_fails_a_task_without_retrying() {
    let scratch = Scratch::new("permanent");
    let file = scratch.file("saga.yaml", SAGA);
    let output = run_saga(
        &file,
        &["stock=echo 'no such item' >&2; exit 2", "undo=echo '{}'"],
    );
    assert_eq!(output.status.code(), Some(1));
    let events = events(&output);
    assert!(events.contains(&"StepFailed reserve#1".to_owned()));
    assert!(
        !events.iter().any(|e| e.starts_with("StepRetryScheduled")),
        "{events:?}"
    );
    assert_eq!(final_state(&output)["status"], "compensated");
}

#[test]
fn refuses_input_that_breaks_the_schema() {
    let scratch = Scratch::new("schema");
    let file = scratch.file("saga.yaml", SAGA);
    let output = distorch(&["run", file.to_str().unwrap(), "--input", "{}"], &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("input schema") && stderr.contains("item"),
        "{stderr}"
    );
}

const APPROVAL: &str = r#"
name: approval
version: 1
steps:
  review:
    type: approval
    approvers: [role:manager]
  done:
    type: noop
    needs: [review]
    output: { approved_by: "${ steps.review.output.by }" }
"#;

#[test]
fn approvals_are_decided_by_flags_or_refused_without_a_terminal() {
    let scratch = Scratch::new("approval");
    let file = scratch.file("approval.yaml", APPROVAL);
    let approved = distorch(
        &[
            "run",
            file.to_str().unwrap(),
            "--approve",
            "review",
            "--output",
            "json",
        ],
        &[],
    );
    assert_eq!(
        approved.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    assert_eq!(
        final_state(&approved)["output"]["done"]["approved_by"],
        "cli"
    );

    let rejected = distorch(
        &[
            "run",
            file.to_str().unwrap(),
            "--reject",
            "review",
            "--output",
            "json",
        ],
        &[],
    );
    assert_eq!(rejected.status.code(), Some(1));
    assert_eq!(final_state(&rejected)["steps"]["review"], "failed");

    let undecided = distorch(&["run", file.to_str().unwrap()], &[]);
    assert_eq!(undecided.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&undecided.stderr)
            .contains("pass --approve review or --reject review")
    );
}

const USER_APPROVAL: &str = r#"
name: user-approval
version: 1
steps:
  sign_off:
    type: approval
    approvers: [user:alice]
  done:
    type: noop
    needs: [sign_off]
    output: { approved_by: "${ steps.sign_off.output.by }" }
"#;

#[test]
fn an_approval_for_a_named_user_is_decided_by_the_flag_as_that_user() {
    let scratch = Scratch::new("user-approval");
    let file = scratch.file("user-approval.yaml", USER_APPROVAL);
    let file = file.to_str().unwrap();
    let approved = distorch(
        &["run", file, "--approve", "sign_off", "--output", "json"],
        &[],
    );
    let stderr = String::from_utf8_lossy(&approved.stderr);
    assert_eq!(approved.status.code(), Some(0), "{stderr}");
    assert_eq!(
        final_state(&approved)["output"]["done"]["approved_by"],
        "alice"
    );
}

#[test]
fn a_flag_naming_no_approval_step_is_an_error_before_anything_runs() {
    let scratch = Scratch::new("unknown-approval");
    let file = scratch.file("approval.yaml", APPROVAL);
    for (flag, step) in [("--approve", "reveiw"), ("--reject", "done")] {
        let output = distorch(&["run", file.to_str().unwrap(), flag, step], &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "{flag} {step}: `approval` has no approval step `{step}` (it has review)"
            )),
            "{stderr}"
        );
        assert!(!stderr.contains("started"), "{stderr}");
    }
}

#[test]
fn secrets_reach_the_worker_but_never_the_event_log() {
    let scratch = Scratch::new("secrets");
    let file = scratch.file(
        "secret.yaml",
        r#"
name: secret
version: 1
steps:
  call:
    type: task
    queue: api
    input: { auth: "Bearer ${ secrets.api_token }" }
"#,
    );
    let data = scratch.0.join("run.db");
    let output = distorch(
        &[
            "run",
            file.to_str().unwrap(),
            "--output",
            "json",
            "--data",
            data.to_str().unwrap(),
            "--exec",
            r#"api=grep -q 'Bearer hunter2' && echo '{"ok": true}'"#,
        ],
        &[("DISTORCH_SECRET_API_TOKEN", "hunter2")],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut stored = Vec::new();
    for suffix in ["", "-wal"] {
        stored.extend(std::fs::read(format!("{}{suffix}", data.display())).unwrap_or_default());
    }
    assert!(!stored.is_empty());
    let text = String::from_utf8_lossy(&stored);
    assert!(
        text.contains("secrets.api_token"),
        "the reference is stored"
    );
    assert!(
        !text.contains("hunter2"),
        "the secret value must not be stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_steps_call_services_with_idempotency_keys_and_undo_them() {
    use wiremock::matchers::{header_exists, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/reservations"))
        .and(header_exists("idempotency-key"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": "r-7"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/reservations/r-7"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/payments"))
        .respond_with(ResponseTemplate::new(402).set_body_string("card declined"))
        .expect(1)
        .mount(&server)
        .await;
    let scratch = Scratch::new("http");
    let workflow = format!(
        r#"
name: http-saga
version: 1
steps:
  reserve:
    type: http
    request: {{ method: POST, url: "{base}/reservations", body: {{ sku: "${{ input.sku }}" }} }}
    compensate:
      type: http
      request: {{ method: DELETE, url: "{base}/reservations/${{ steps.reserve.output.body.id }}" }}
  pay:
    type: http
    needs: [reserve]
    request: {{ method: POST, url: "{base}/payments" }}
"#,
        base = server.uri()
    );
    let file = scratch.file("http.yaml", &workflow);
    let output = tokio::task::spawn_blocking(move || {
        distorch(
            &[
                "run",
                file.to_str().unwrap(),
                "--input",
                r#"{"sku": "b-1"}"#,
                "--output",
                "json",
            ],
            &[],
        )
    })
    .await
    .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let state = final_state(&output);
    assert_eq!(state["status"], "compensated");
    let events = events(&output);
    assert!(
        events.contains(&"StepFailed pay#1".to_owned()),
        "a 402 is not retried: {events:?}"
    );
    assert!(!events.iter().any(|e| e.starts_with("StepRetryScheduled")));
    let requests = server.received_requests().await.unwrap();
    let reserve = requests
        .iter()
        .find(|r| r.url.path() == "/reservations")
        .unwrap();
    let body: Value = serde_json::from_slice(&reserve.body).unwrap();
    assert_eq!(body, serde_json::json!({"sku": "b-1"}));
    let key = reserve
        .headers
        .get("idempotency-key")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(key.ends_with(":reserve"), "{key}");
    server.verify().await;
}
