//! `distorch start DEFINITION`: starts a workflow on a running node.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};

use super::answer::{detail, post};

#[derive(Debug, clap::Args)]
pub struct StartArguments {
    /// The definition's name.
    definition: String,
    /// A version (default: the latest deployed).
    #[arg(long)]
    version: Option<u32>,
    /// The input, as JSON.
    #[arg(long, default_value = "{}")]
    input: String,
    /// The node's address.
    #[arg(long, env = "DISTORCH_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
}

pub fn run(arguments: StartArguments) -> anyhow::Result<ExitCode> {
    let input: Value = serde_json::from_str(&arguments.input).context("--input is not JSON")?;
    let body = json!({
        "definition": arguments.definition, "version": arguments.version, "input": input
    });
    let (status, body) = post(&arguments.server, "/api/v1/workflows", &body)?;
    if status.is_success() {
        println!("{}", body["id"].as_str().unwrap_or_default());
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: {status}: {}", detail(&body));
        Ok(ExitCode::from(1))
    }
}
