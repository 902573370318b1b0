//! Following a workflow on a running node with `run`'s live view: its
//! definition is fetched once, its history read as it grows and folded into
//! the same state `run` draws.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use domain::InstanceId;
use domain::definition::parse_workflow;
use domain::instance::{Event, WorkflowInstance, evolve};
use serde_json::Value;

use super::client::{Client, Refusal, exit, segment};
use super::live::LiveView;
use super::table::{self, Output};
use super::workflows::{query, workflow};

/// How often the history is read again while the workflow runs.
const POLL: Duration = Duration::from_millis(200);

/// The events of a workflow after stream version `after`, every page.
pub async fn history(
    client: &Client,
    id: &str,
    after: u64,
) -> anyhow::Result<Result<Vec<Value>, Refusal>> {
    let mut items = Vec::new();
    let mut after = after;
    loop {
        let path = workflow(id, "/events")
            + &query(&[
                ("after", Some(after.to_string())),
                ("limit", Some("500".to_owned())),
            ]);
        let page = match client.get(&path).await? {
            Ok(page) => page,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let found = page["items"].as_array().cloned().unwrap_or_default();
        items.extend(found);
        match page["next_after"].as_u64() {
            Some(next) if next > after => after = next,
            _ => return Ok(Ok(items)),
        }
    }
}

/// `Type step#attempt` of a history item, or its type when it does not
/// read as an event of this version.
pub fn summary(item: &Value) -> String {
    serde_json::from_value::<Event>(item["data"].clone())
        .map_or_else(|_| table::cell(&item["type"]), |event| event.summary())
}

/// Draws a workflow until it ends (or `timeout` runs out); exits by its
/// final status, printing its final state as `run` does.
pub async fn watch(
    client: &Client,
    id: &str,
    timeout: Option<Duration>,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let deadline = timeout.map(|timeout| Instant::now() + timeout);
    let started = match client.get(&workflow(id, "")).await? {
        Ok(state) => state,
        Err(refusal) => return Ok(refusal.report()),
    };
    let name = started["definition"].as_str().unwrap_or_default();
    let version = started["version"].as_u64().unwrap_or_default();
    let path = format!("/api/v1/definitions/{}/versions/{version}", segment(name));
    let source = match client.get(&path).await? {
        Ok(found) => found["source"].as_str().unwrap_or_default().to_owned(),
        Err(refusal) => return Ok(refusal.report()),
    };
    let definition =
        parse_workflow(&source).map_err(|problems| anyhow::anyhow!("{}", problems.render(name)))?;
    let instance = InstanceId(id.parse().context("not a workflow id")?);
    let mut state = WorkflowInstance::new(instance, Arc::new(definition));
    let view = LiveView::new(&state.definition);
    let mut seen = 0;
    loop {
        let items = match history(client, id, seen).await? {
            Ok(items) => items,
            Err(refusal) => return Ok(refusal.report()),
        };
        for item in &items {
            let event: Event = serde_json::from_value(item["data"].clone())
                .with_context(|| format!("reading event {}", item["version"]))?;
            let at = item["occurred_at"]
                .as_str()
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                .map_or_else(chrono::Utc::now, |at| at.with_timezone(&chrono::Utc));
            view.event(at, &event);
            state = evolve(state, &event);
            seen = item["version"].as_u64().unwrap_or(seen);
        }
        view.state(&state);
        if state.status.is_final() {
            view.finish();
            return ended(client, id, output).await;
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            view.finish();
            eprintln!("{id} is still {}", state.status);
            return Ok(ExitCode::from(exit::STILL_RUNNING));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Prints the workflow that ended (the node's view of it, once its read
/// model caught up with the log); exit 0 when it completed, 1 otherwise.
pub async fn ended(client: &Client, id: &str, output: Output) -> anyhow::Result<ExitCode> {
    let patience = Instant::now() + Duration::from_secs(10);
    loop {
        let state = match client.get(&workflow(id, "")).await? {
            Ok(state) => state,
            Err(refusal) => return Ok(refusal.report()),
        };
        if is_final(&state) || Instant::now() > patience {
            return Ok(final_state(&state, output));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn is_final(state: &Value) -> bool {
    !matches!(
        state["status"].as_str(),
        Some("running" | "paused" | "compensating")
    )
}

/// Prints a final state: JSON, or its status, cause and output; the exit
/// code its status maps to.
pub fn final_state(state: &Value, output: Output) -> ExitCode {
    let status = state["status"].as_str().unwrap_or_default();
    if !is_final(state) {
        eprintln!("{} is still {status}", table::cell(&state["id"]));
    }
    match output {
        Output::Json => table::json(state),
        Output::Table => {
            println!("{} {status}", table::cell(&state["id"]));
            if let Some(error) = state["error"].as_str() {
                println!("error: {error}");
            }
            if !state["output"].is_null() {
                println!("{}", state["output"]);
            }
        }
    }
    ExitCode::from(exit_code(state))
}

/// 0 completed, 1 ended otherwise, 6 not ended.
pub fn exit_code(state: &Value) -> u8 {
    match state["status"].as_str() {
        Some("completed") => exit::OK,
        _ if !is_final(state) => exit::STILL_RUNNING,
        _ => exit::NOT_COMPLETED,
    }
}
