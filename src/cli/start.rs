//! `distorch start DEFINITION`: starts a workflow on a running node.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};

use super::client::{Client, Connection, block_on, exit};

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
    #[command(flatten)]
    connection: Connection,
}

pub fn run(arguments: StartArguments) -> anyhow::Result<ExitCode> {
    let input: Value = serde_json::from_str(&arguments.input).context("--input is not JSON")?;
    let client = Client::new(&arguments.connection);
    block_on(async move {
        let body = json!({
            "definition": arguments.definition, "version": arguments.version, "input": input
        });
        match client.post("/api/v1/workflows", &body).await? {
            Ok(started) => {
                println!("{}", started["id"].as_str().unwrap_or_default());
                Ok(ExitCode::from(exit::OK))
            }
            Err(refusal) => Ok(refusal.report()),
        }
    })
}
