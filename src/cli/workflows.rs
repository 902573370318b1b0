//! `distorch workflows signal ID NAME`: sends a signal to a workflow on a
//! running node (`POST /api/v1/workflows/{id}/signals/{name}`).

use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;

use super::answer::{detail, post};

#[derive(Debug, clap::Args)]
pub struct WorkflowsArguments {
    #[command(subcommand)]
    command: WorkflowsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum WorkflowsCommand {
    /// Send a signal to a workflow; prints the workflow's status after it.
    Signal(SignalArguments),
}

#[derive(Debug, clap::Args)]
struct SignalArguments {
    /// The workflow's id.
    id: String,
    /// The signal's name, as a `signal` step of its definition names it.
    name: String,
    /// The payload, as JSON.
    #[arg(long, default_value = "null")]
    payload: String,
    /// The node's address.
    #[arg(long, env = "DISTORCH_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
}

pub fn run(arguments: WorkflowsArguments) -> anyhow::Result<ExitCode> {
    let WorkflowsCommand::Signal(arguments) = arguments.command;
    let payload: Value =
        serde_json::from_str(&arguments.payload).context("--payload is not JSON")?;
    let path = format!(
        "/api/v1/workflows/{}/signals/{}",
        arguments.id, arguments.name
    );
    let (status, body) = post(&arguments.server, &path, &payload)?;
    if status.is_success() {
        println!("{}", body["status"].as_str().unwrap_or_default());
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: {status}: {}", detail(&body));
        Ok(ExitCode::from(1))
    }
}
