//! kill -9 while 200 workflows run: an engine node and an HTTP worker are
//! killed mid-run, the node is started again, and a test HTTP service that
//! records effects by `Idempotency-Key` sees every effect, each key's effect
//! applied once however often it was asked.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use support::{Node, Services, distorch, spawn, start, wait_until_final, workflows_folder};

/// Requests seen per idempotency key.
type Effects = Arc<Mutex<HashMap<String, u32>>>;

async fn effect(State(effects): State<Effects>, headers: HeaderMap) -> Json<Value> {
    let key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("missing")
        .to_owned();
    let mut effects = effects.lock().unwrap();
    let seen = effects.entry(key).or_default();
    *seen += 1;
    // An idempotent service: a repeated key returns the first answer.
    Json(json!({ "applied": *seen == 1 }))
}

async fn effects_service() -> (String, Effects) {
    let effects = Effects::default();
    let app = Router::new()
        .route("/effects/{step}", post(effect))
        .with_state(effects.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, effects)
}

fn http_worker(env: &[(&str, String)]) -> support::Process {
    spawn(distorch(&["worker", "--http"]), env, false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_nodes_and_workers_lose_nothing_and_apply_each_effect_once() {
    const WORKFLOWS: usize = 200;
    let services = Services::new().await;
    let (base, effects) = effects_service().await;
    let definition = format!(
        r#"
name: effects
version: 1
steps:
  reserve:
    type: http
    request: {{ method: POST, url: "{base}/effects/reserve" }}
  charge:
    type: http
    needs: [reserve]
    request: {{ method: POST, url: "{base}/effects/charge" }}
  ship:
    type: http
    needs: [reserve]
    request: {{ method: POST, url: "{base}/effects/ship" }}
  notify:
    type: http
    needs: [charge, ship]
    request: {{ method: POST, url: "{base}/effects/notify" }}
"#
    );
    let folder = workflows_folder("crash", "effects", &definition);
    let env = services.env();
    let first = Node::new(&folder).env(&env).spawn();
    let second = Node::new(&folder).env(&env).spawn();
    let doomed_worker = http_worker(&env);
    let _worker = http_worker(&env);
    let client = reqwest::Client::new();
    let (first_url, second_url) = (first.url.clone().unwrap(), second.url.clone().unwrap());

    // Kill mid-run, while earlier workflows are still under way: the first
    // node after a third of the starts (the rest go to the survivor), one of
    // the two workers after two thirds.
    let mut ids = Vec::with_capacity(WORKFLOWS);
    let mut first = Some(first);
    let mut doomed_worker = Some(doomed_worker);
    for n in 0..WORKFLOWS {
        let url = if first.is_some() && n % 2 == 0 {
            &first_url
        } else {
            &second_url
        };
        ids.push(start(&client, url, "effects", json!({})).await);
        if n == WORKFLOWS / 3 {
            drop(first.take());
        }
        if n == 2 * WORKFLOWS / 3 {
            drop(doomed_worker.take());
        }
    }
    // The killed node comes back on the same database and broker.
    let restarted = Node::new(&folder).env(&env).spawn();

    let statuses = wait_until_final(&client, &second_url, &ids, Duration::from_secs(120)).await;
    let completed = statuses.iter().filter(|s| *s == "completed").count();
    assert_eq!(completed, WORKFLOWS, "{statuses:?}");

    let effects = effects.lock().unwrap().clone();
    assert!(
        !effects.contains_key("missing"),
        "a request came without a key"
    );
    assert_eq!(
        effects.len(),
        WORKFLOWS * 4,
        "every step's effect, under its own key, and nothing else"
    );
    let repeated = effects.values().filter(|&&seen| seen > 1).count();
    eprintln!(
        "{} effects, {} requests, {repeated} keys asked more than once (deduplicated by the service)",
        effects.len(),
        effects.values().sum::<u32>()
    );
    drop(restarted);
    drop(second);
    services.remove().await;
    std::fs::remove_dir_all(folder).ok();
}
