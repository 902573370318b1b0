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
}
