//! A node's answer to the CLI's requests (`deploy`, `start`).

use anyhow::Context;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

/// Sends `request` to the node at `server`; the status and the JSON body
/// (null when there is none).
pub async fn answer(request: RequestBuilder, server: &str) -> anyhow::Result<(StatusCode, Value)> {
    let response = request
        .send()
        .await
        .with_context(|| format!("reaching {server}"))?;
    let status = response.status();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// What a problem document says (its `detail`), or the whole body.
pub fn detail(body: &Value) -> String {
    body["detail"]
        .as_str()
        .map_or_else(|| body.to_string(), str::to_owned)
}
