//! A node's answer to the CLI's requests (`deploy`, `start`, `workflows`).

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

/// POSTs `body` as JSON to `path` on the node at `server` (on a runtime of
/// its own); the status and the JSON body.
pub fn post(server: &str, path: &str, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let url = format!("{}{path}", server.trim_end_matches('/'));
    let request = reqwest::Client::new().post(url).json(body);
    runtime.block_on(answer(request, server))
}
