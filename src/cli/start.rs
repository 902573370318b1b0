//! `distorch start DEFINITION`: starts a workflow on a running node.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};

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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/workflows", arguments.server.trim_end_matches('/')))
            .json(&json!({ "definition": arguments.definition, "version": arguments.version, "input": input }))
            .send()
            .await
            .with_context(|| format!("reaching {}", arguments.server))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            println!("{}", body["id"].as_str().unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        } else {
            let detail = body["detail"].as_str().map_or_else(|| body.to_string(), str::to_owned);
            eprintln!("error: {status}: {detail}");
            Ok(ExitCode::from(1))
        }
    })
}
