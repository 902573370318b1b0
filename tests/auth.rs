//! Authentication as users meet it: keys made with `distorch apikey`, a node
//! that turns authentication on because a key exists, revocation that takes
//! effect on the running node, and a refusal to serve a public address open.

mod support;

use std::process::Output;

use serde_json::json;
use support::{Node, distorch, workflows_folder};

const NOOP: &str = "name: noop\nversion: 1\nsteps:\n  only: { type: noop }\n";

fn apikey(data: &str, args: &[&str]) -> Output {
    let mut command = distorch(&["apikey"]);
    command
        .args(args)
        .args(["--data", data])
        .env_remove("DATABASE_URL");
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_a_key_refuses_callers_without_it_and_forgets_it_once_revoked() {
    let folder = workflows_folder("auth-keys", "noop", NOOP);
    let data = folder.join("node.db");
    let data = data.to_str().unwrap();
    let _ = std::fs::remove_file(data);
    let created = apikey(data, &["create", "--role", "operator", "--name", "e2e"]);
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let id = key.split('_').nth(1).unwrap().to_owned();
    let node = Node::new(&folder).spawn();
    assert!(
        node.log().contains("authentication: 1 active API keys"),
        "{}",
        node.log()
    );
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();
    let start = |key: Option<&str>| {
        let mut request = client
            .post(format!("{url}/api/v1/workflows"))
            .json(&json!({"definition": "noop"}));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        request.send()
    };
    assert_eq!(start(None).await.unwrap().status(), 401);
    assert_eq!(start(Some(&key)).await.unwrap().status(), 201);

    let listed = String::from_utf8(apikey(data, &["list"]).stdout).unwrap();
    assert!(listed.contains(&id) && listed.contains("operator") && !listed.contains(&key));
    apikey(data, &["revoke", &id]);
    assert_eq!(start(Some(&key)).await.unwrap().status(), 401);
}

#[tokio::test]
async fn a_public_address_without_authentication_is_refused_unless_insecure() {
    let folder = workflows_folder("auth-refuse", "noop", NOOP);
    let data = folder.join("open.db");
    let public = || Node::new(&folder).data(&data).addr("0.0.0.0:0");
    let refused = public().refused();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("refusing to serve on 0.0.0.0:0 without authentication"),
        "{stderr}"
    );

    let node = public().args(&["--insecure"]).spawn();
    assert!(
        node.log().contains("the API is open to anyone"),
        "{}",
        node.log()
    );
}
