//! The REST calls the tests make of a running node.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

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
pub async fn wait_until_final(
    client: &reqwest::Client,
    url: &str,
    ids: &[String],
    within: Duration,
) -> Vec<String> {
    let states = wait_until_final_states(client, url, ids, within).await;
    statuses(&states).into_iter().map(str::to_owned).collect()
}

/// The `status` of each workflow state.
pub fn statuses(states: &[Value]) -> Vec<&str> {
    states
        .iter()
        .map(|state| state["status"].as_str().unwrap_or_default())
        .collect()
}

/// GETs `url`; the JSON it answers.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let response = client.get(url).send().await.unwrap();
    response.json().await.unwrap()
}
