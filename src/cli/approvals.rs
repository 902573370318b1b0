//! `distorch approvals`: the approval steps waiting for the caller (or,
//! with --all, for anyone).

use std::process::ExitCode;

use super::client::{Client, Connection, block_on};
use super::table::{self, Output, cell, time};
use super::workflows::{query, shown};

#[derive(Debug, clap::Args)]
pub struct ApprovalsArguments {
    /// Every approval waiting, not only those the caller may decide.
    #[arg(long)]
    all: bool,
    /// Only this workflow's.
    #[arg(long)]
    workflow: Option<String>,
    #[command(flatten)]
    connection: Connection,
    /// `table` for people, `json` (the node's answer) for tools.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

pub fn run(arguments: ApprovalsArguments) -> anyhow::Result<ExitCode> {
    let client = Client::new(&arguments.connection);
    let mine = (!arguments.all).then(|| "me".to_owned());
    let path = "/api/v1/approvals".to_owned()
        + &query(&[("decidable_by", mine), ("workflow", arguments.workflow)]);
    block_on(async move {
        Ok(shown(client.get(&path).await?, arguments.output, |list| {
            let items = list["items"].as_array().map_or(&[][..], Vec::as_slice);
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|item| {
                    vec![
                        cell(&item["workflow_id"]),
                        format!("{} v{}", cell(&item["definition"]), cell(&item["version"])),
                        cell(&item["step"]),
                        time(&item["requested_at"]),
                        time(&item["due_at"]),
                        cell(&item["approvers"]),
                        if item["decidable"] == true {
                            "yes"
                        } else {
                            "no"
                        }
                        .to_owned(),
                    ]
                })
                .collect();
            table::print(
                &[
                    "WORKFLOW",
                    "DEFINITION",
                    "STEP",
                    "REQUESTED",
                    "DUE",
                    "APPROVERS",
                    "MINE",
                ],
                &rows,
            );
        }))
    })
}
