//! `distorch definitions list|show`: the definitions a running node knows.

use std::process::ExitCode;

use serde_json::Value;

use super::client::{Client, Connection, block_on, segment};
use super::table::{self, Output, cell, time};
use super::workflows::shown;

#[derive(Debug, clap::Args)]
pub struct DefinitionsArguments {
    #[command(subcommand)]
    command: DefinitionsCommand,
    #[command(flatten)]
    connection: Connection,
    /// `table` for people, `json` (the node's answer) for tools.
    #[arg(long, value_enum, default_value_t = Output::Table, global = true)]
    output: Output,
}

#[derive(Debug, clap::Subcommand)]
enum DefinitionsCommand {
    /// Every definition with its versions.
    List,
    /// A definition's versions; with --version, that version's steps and source.
    Show {
        name: String,
        #[arg(long)]
        version: Option<u32>,
    },
}

pub fn run(arguments: DefinitionsArguments) -> anyhow::Result<ExitCode> {
    let client = Client::new(&arguments.connection);
    let output = arguments.output;
    block_on(async move {
        Ok(match arguments.command {
            DefinitionsCommand::List => {
                shown(client.get("/api/v1/definitions").await?, output, list_table)
            }
            DefinitionsCommand::Show {
                name,
                version: None,
            } => {
                let path = format!("/api/v1/definitions/{}", segment(&name));
                shown(client.get(&path).await?, output, versions_table)
            }
            DefinitionsCommand::Show {
                name,
                version: Some(version),
            } => {
                let path = format!("/api/v1/definitions/{}/versions/{version}", segment(&name));
                shown(client.get(&path).await?, output, version_table)
            }
        })
    })
}

fn items(value: &Value) -> &[Value] {
    value.as_array().map_or(&[][..], Vec::as_slice)
}

fn list_table(list: &Value) {
    let rows: Vec<Vec<String>> = items(&list["items"])
        .iter()
        .map(|item| {
            vec![
                cell(&item["name"]),
                cell(&item["latest_version"]),
                cell(&item["versions"]),
                cell(&item["description"]),
            ]
        })
        .collect();
    table::print(&["NAME", "LATEST", "VERSIONS", "DESCRIPTION"], &rows);
}

fn versions_table(found: &Value) {
    let rows: Vec<Vec<String>> = items(&found["versions"])
        .iter()
        .map(|version| {
            vec![
                cell(&version["version"]),
                time(&version["created_at"]),
                cell(&version["hash"]),
                cell(&version["description"]),
            ]
        })
        .collect();
    table::print(&["VERSION", "DEPLOYED", "HASH", "DESCRIPTION"], &rows);
}

fn version_table(found: &Value) {
    let rows: Vec<Vec<String>> = items(&found["graph"]["steps"])
        .iter()
        .map(|step| {
            let runs_on = match &step["queue"] {
                Value::Null => cell(&step["approvers"]),
                queue => cell(queue),
            };
            vec![
                cell(&step["id"]),
                cell(&step["type"]),
                cell(&step["needs"]),
                runs_on,
            ]
        })
        .collect();
    table::print(&["STEP", "TYPE", "NEEDS", "QUEUE / APPROVERS"], &rows);
    println!();
    print!("{}", found["source"].as_str().unwrap_or_default());
}
