//! Hostile definitions and requests against the real binary, embedded and
//! on PostgreSQL + RabbitMQ: each must be refused or fail its own workflow,
//! never take the node down or leak what it should not.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Node, Services, get_json, start, wait_until_final_states, workflows_folder};

/// Two steps whose `when` and `output` cost far more than the budget on
/// large lists, and nothing on small ones.
const COSTLY: &str = r#"
name: costly
version: 1
steps:
  compare:
    type: noop
    when: input.a.all(x, input.b.exists(y, y == x))
    on_error: fail
  square:
    type: noop
    needs: [compare]
    output: { square: "${ input.c.map(x, input.c) }" }
    on_error: fail
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn costly_expressions_fail_their_step_and_the_embedded_node_lives_on() {
    let folder = workflows_folder("hostile-costly", "costly", COSTLY);
    let node = Node::new(&folder).spawn();
    expressions_fail_their_step_not_the_node(node.url.as_deref().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn costly_expressions_fail_their_step_and_clustered_nodes_live_on() {
    let services = Services::new().await;
    let folder = workflows_folder("hostile-costly-cluster", "costly", COSTLY);
    let node = Node::new(&folder).env(&services.env()).spawn();
    expressions_fail_their_step_not_the_node(node.url.as_deref().unwrap()).await;
    drop(node);
    services.remove().await;
}

async fn expressions_fail_their_step_not_the_node(url: &str) {
    let client = reqwest::Client::new();
    let deep = vec!["1"; 1000].join(" + ");
    let long = vec!["1"; 20_000].join(" + ");
    let source = format!(
        "name: deep\nversion: 1\nsteps:\n  a:\n    type: noop\n    when: {deep} > 0\n  b:\n    type: noop\n    output: {{ n: \"${{ {long} }}\" }}\n"
    );
    let refused = client
        .post(format!("{url}/api/v1/definitions"))
        .header("content-type", "application/yaml")
        .body(source)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let problems: Value = refused.json().await.unwrap();
    let text = problems["problems"].to_string();
    assert!(text.contains("nests too deeply"), "{problems}");
    assert!(text.contains("over the limit of 4096"), "{problems}");
    assert_eq!(problems["problems"][0]["line"], 6, "{problems}");

    let small: Vec<u32> = (0..20).collect();
    let large: Vec<u32> = (0..6000).collect();
    let square: Vec<u32> = (0..1500).collect();
    let ids = [
        start(
            &client,
            url,
            "costly",
            json!({"a": small, "b": small, "c": small}),
        )
        .await,
        start(
            &client,
            url,
            "costly",
            json!({"a": large, "b": large, "c": []}),
        )
        .await,
        start(
            &client,
            url,
            "costly",
            json!({"a": [], "b": [], "c": square}),
        )
        .await,
    ];
    let states = wait_until_final_states(&client, url, &ids, Duration::from_secs(60)).await;
    let statuses: Vec<_> = states.iter().map(|state| &state["status"]).collect();
    assert_eq!(statuses, ["completed", "failed", "failed"], "{states:?}");
    let errors = |state: &Value| {
        state["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|step| step["error"].as_str().map(str::to_owned))
            .collect::<Vec<_>>()
            .join("; ")
    };
    assert!(errors(&states[1]).contains("over the budget"), "{states:?}");
    assert!(
        errors(&states[2]).contains("larger than the limit"),
        "{states:?}"
    );
    let live = get_json(&client, &format!("{url}/health/live")).await;
    assert_eq!(live["status"], "up", "{live}");
    nul_is_refused_naming_where_it_is(url).await;
}

/// PostgreSQL cannot store NUL: every store refuses it alike, with 400.
async fn nul_is_refused_naming_where_it_is(url: &str) {
    let client = reqwest::Client::new();
    let task = format!("{}:compare", uuid::Uuid::now_v7());
    let posts = [
        (
            "/api/v1/workflows",
            json!({"definition": "costly", "input": {"a": "x\u{0}"}}),
            "/input/a",
        ),
        (
            "/api/v1/workflows",
            json!({"definition": "costly", "input": {"k\u{0}": 1}}),
            "/input/k",
        ),
        (
            &*format!("/api/v1/tasks/{task}/complete"),
            json!({"output": ["\u{0}"]}),
            "/output/0",
        ),
        (
            &*format!("/api/v1/tasks/{task}/fail"),
            json!({"error": {"message": "\u{0}"}}),
            "/error/message",
        ),
        (
            &*format!("/api/v1/tasks/{task}/reject"),
            json!({"comment": "no\u{0}"}),
            "/comment",
        ),
    ];
    for (path, body, place) in posts {
        let answer = client
            .post(format!("{url}{path}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400, "{path} {body}");
        let problem: Value = answer.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(place),
            "{problem}"
        );
    }
    for query in ["definition=a%00", "status=%00"] {
        let answer = client
            .get(format!("{url}/api/v1/workflows?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400, "{query}");
    }
}

/// A task whose input holds a secret the definition wrote, beside data.
const SECRETIVE: &str = r#"
name: secretive
version: 1
steps:
  echo:
    type: task
    queue: echo
    input:
      auth: "Bearer ${ secrets.token } for ${ input.note }"
      note: "${ input.note }"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_resolved_only_where_the_embedded_definition_wrote_it() {
    let folder = workflows_folder("hostile-secrets", "secretive", SECRETIVE);
    let node = Node::new(&folder)
        .exec("echo=cat")
        .env(&[("DISTORCH_SECRET_TOKEN", "s3cret-7".to_owned())])
        .spawn();
    secrets_come_only_from_the_definition(node.url.as_deref().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_resolved_only_where_the_clustered_definition_wrote_it() {
    let services = Services::new().await;
    let folder = workflows_folder("hostile-secrets-cluster", "secretive", SECRETIVE);
    let mut env = services.env();
    env.push(("DISTORCH_SECRET_TOKEN", "s3cret-7".to_owned()));
    let node = Node::new(&folder).exec("echo=cat").env(&env).spawn();
    secrets_come_only_from_the_definition(node.url.as_deref().unwrap()).await;
    drop(node);
    services.remove().await;
}

async fn secrets_come_only_from_the_definition(url: &str) {
    let client = reqwest::Client::new();
    let forged = json!({"note": "${ secrets.token }"});
    let id = start(&client, url, "secretive", forged).await;
    let states = wait_until_final_states(
        &client,
        url,
        std::slice::from_ref(&id),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(states[0]["status"], "completed", "{states:?}");
    let output = &states[0]["output"]["echo"];
    assert_eq!(output["note"], "${ secrets.token }", "{output}");
    assert_eq!(
        output["auth"], "Bearer s3cret-7 for ${ secrets.token }",
        "{output}"
    );
    let events = client
        .get(format!("{url}/api/v1/workflows/{id}/events"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // As scheduled: the reference unresolved, the data escaped.
    let scheduled = "Bearer ${ secrets.token } for $${ secrets.token }";
    assert!(events.contains(scheduled), "{events}");
}

/// A page the operator's browser visits cannot change an open node: a
/// form's content types, another origin and a foreign `Host` (DNS
/// rebinding) are refused; the node's own pages and allowed origins pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_page_cannot_change_an_open_node() {
    let folder = workflows_folder("hostile-browsers", "costly", COSTLY);
    let node = Node::new(&folder)
        .args(&["--allowed-origin", "https://tools.example"])
        .spawn();
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();
    let minimal = "name: minimal\nversion: 2\nsteps:\n  only: { type: noop }\n";
    let deploy = |content_type: &'static str| {
        client
            .post(format!("{url}/api/v1/definitions"))
            .header("content-type", content_type)
            .body(minimal)
            .send()
    };
    assert_eq!(deploy("text/plain").await.unwrap().status(), 415);
    assert_eq!(
        deploy("application/x-www-form-urlencoded")
            .await
            .unwrap()
            .status(),
        415
    );
    let start = |origin: &str| {
        client
            .post(format!("{url}/api/v1/workflows"))
            .header("origin", origin)
            .json(&json!({"definition": "costly", "input": {"a": [], "b": [], "c": []}}))
            .send()
    };
    assert_eq!(start("https://evil.example").await.unwrap().status(), 403);
    assert_eq!(start(&url).await.unwrap().status(), 201);
    assert_eq!(start("https://tools.example").await.unwrap().status(), 201);
    let port = url.rsplit(':').next().unwrap();
    let rebound = client
        .get(format!("{url}/api/v1/workflows"))
        .header("host", format!("rebound.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    assert_eq!(deploy("application/yaml").await.unwrap().status(), 201);
}
