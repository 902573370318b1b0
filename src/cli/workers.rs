//! `distorch workers list|show|drain`: the fleet as a node sees it.

use std::process::ExitCode;

use serde_json::Value;

use super::client::{Client, Connection, block_on, segment};

#[derive(Debug, clap::Args)]
pub struct WorkersArguments {
    #[command(subcommand)]
    command: WorkersCommand,
    #[command(flatten)]
    connection: Connection,
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
    let client = Client::new(&arguments.connection);
    block_on(async move {
        let answer = match &arguments.command {
            WorkersCommand::List { .. } => client.get("/api/v1/workers").await?,
            WorkersCommand::Show { id } => {
                client
                    .get(&format!("/api/v1/workers/{}", segment(id)))
                    .await?
            }
            WorkersCommand::Drain { id } => {
                let path = format!("/api/v1/workers/{}/drain", segment(id));
                client.post(&path, &Value::Null).await?
            }
        };
        let body = match answer {
            Ok(body) => body,
            Err(refusal) => return Ok(refusal.report()),
        };
        match arguments.command {
            WorkersCommand::List { json: false } => print_table(&body),
            _ => println!("{}", serde_json::to_string_pretty(&body)?),
        }
        Ok(ExitCode::SUCCESS)
    })
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
