//! `distorch start DEFINITION`: starts a workflow on a running node.

use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, FixedOffset};
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
    /// Start later, at this time (RFC 3339, e.g. 2026-12-24T18:00:00+01:00):
    /// the workflow is `scheduled` until then.
    #[arg(long, value_parser = parse_time)]
    at: Option<DateTime<FixedOffset>>,
    #[command(flatten)]
    connection: Connection,
}

pub fn run(arguments: StartArguments) -> anyhow::Result<ExitCode> {
    let input: Value = serde_json::from_str(&arguments.input).context("--input is not JSON")?;
    let client = Client::new(&arguments.connection);
    block_on(async move {
        let body = json!({
            "definition": arguments.definition, "version": arguments.version, "input": input,
            "start_at": arguments.at,
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

fn parse_time(text: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(text).map_err(|error| format!("not an RFC 3339 time: {error}"))
}
