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

const GATED: &str = "name: gated\nversion: 1\nsteps:\n  sign_off:\n    type: approval\n    approvers: [role:approver]\n  after: { type: noop, needs: [sign_off] }\n";

/// Skipping an approval with a forged decision, or retrying it, needs the
/// authority to decide it: an operator is refused (403), an admin may, and
/// the event records who did it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_who_may_decide_an_approval_may_skip_it() {
    let folder = workflows_folder("auth-approval", "gated", GATED);
    let data = folder.join("node.db");
    let data = data.to_str().unwrap();
    let _ = std::fs::remove_file(data);
    let key = |role: &str| {
        let created = apikey(data, &["create", "--role", role]);
        String::from_utf8(created.stdout).unwrap().trim().to_owned()
    };
    let (operator, admin) = (key("operator"), key("admin"));
    let node = Node::new(&folder).spawn();
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();
    let started = client
        .post(format!("{url}/api/v1/workflows"))
        .header("x-api-key", &operator)
        .json(&json!({"definition": "gated"}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 201);
    let id = started.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged = json!({"output": {"approved": true, "by": "user:ceo"}});
    let skip = |key: &str| {
        client
            .post(format!("{url}/api/v1/tasks/{id}:sign_off/skip"))
            .header("x-api-key", key)
            .json(&forged)
            .send()
    };
    assert_eq!(skip(&operator).await.unwrap().status(), 403);
    assert_eq!(skip(&admin).await.unwrap().status(), 200);
    let history: serde_json::Value = client
        .get(format!("{url}/api/v1/workflows/{id}/events"))
        .header("x-api-key", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let skipped = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["type"] == "StepSkipped")
        .unwrap_or_else(|| panic!("{history}"));
    let admin_id = admin.split('_').nth(1).unwrap();
    assert_eq!(skipped["actor"], format!("apikey:{admin_id}"), "{skipped}");
}
