//! `distorch workers list|show|drain`: the fleet as a node sees it.

use std::process::ExitCode;

use serde_json::Value;

use super::answer::{answer, detail};

#[derive(Debug, clap::Args)]
pub struct WorkersArguments {
    #[command(subcommand)]
    command: WorkersCommand,
    /// The node's address.
    #[arg(
        long,
        env = "DISTORCH_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    server: String,
    /// An API key or a JWT, sent as `Authorization: Bearer`.
    #[arg(long, env = "DISTORCH_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum WorkersCommand {
    /// One line per worker: id, status, name, queues, tasks in flight, counts, last seen.
    List {
        /// Print the JSON answer instead.
        #[arg(long)]
        json: bool,
    },
    /// One worker, as JSON.
    Show { id: String },
    /// Ask a worker to finish its tasks and take no new one.
    Drain { id: String },
}

pub fn run(arguments: WorkersArguments) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let base = format!("{}/api/v1/workers", arguments.server.trim_end_matches('/'));
        let client = reqwest::Client::new();
        let request = match &arguments.command {
            WorkersCommand::List { .. } => client.get(&base),
            WorkersCommand::Show { id } => client.get(format!("{base}/{}", segment(id))),
            WorkersCommand::Drain { id } => client.post(format!("{base}/{}/drain", segment(id))),
        };
        let request = match &arguments.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let (status, body) = answer(request, &arguments.server).await?;
        if !status.is_success() {
            eprintln!("error: {status}: {}", detail(&body));
            return Ok(ExitCode::from(1));
        }
        match arguments.command {
            WorkersCommand::List { json: false } => print_table(&body),
            _ => println!("{}", serde_json::to_string_pretty(&body)?),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// A worker id as one path segment.
fn segment(id: &str) -> String {
    id.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn print_table(body: &Value) {
    println!("ID\tSTATUS\tNAME\tQUEUES\tIN FLIGHT\tCOMPLETED\tFAILED\tLAST SEEN");
    for worker in body["items"].as_array().into_iter().flatten() {
        let queues: Vec<&str> = worker["queues"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            worker["id"].as_str().unwrap_or_default(),
            worker["status"].as_str().unwrap_or_default(),
            worker["name"].as_str().unwrap_or_default(),
            queues.join(","),
            worker["in_flight"].as_array().map_or(0, Vec::len),
            worker["completed"],
            worker["failed"],
            worker["last_seen"].as_str().unwrap_or_default(),
        );
    }
}
