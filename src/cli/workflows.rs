//! `distorch workflows ...`: the workflows of a running node, listed,
//! shown, followed and steered from the terminal (the REST API's client).

use std::process::ExitCode;

use serde_json::{Value, json};

use super::client::{Answer, Client, Connection, block_on, exit, segment};
use super::table::{self, Output, cell, time};
use super::watch;

#[derive(Debug, clap::Args)]
pub struct WorkflowsArguments {
    #[command(subcommand)]
    command: WorkflowsCommand,
    #[command(flatten)]
    connection: Connection,
    /// `table` for people, `json` (the node's answer) for tools.
    #[arg(long, value_enum, default_value_t = Output::Table, global = true)]
    output: Output,
}

#[derive(Debug, clap::Subcommand)]
enum WorkflowsCommand {
    /// List workflows, newest first.
    List {
        /// Only in this status (running, paused, compensating, completed,
        /// failed, compensated, compensation_failed, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// Only of this definition.
        #[arg(long)]
        definition: Option<String>,
        /// Only created after this time (RFC 3339).
        #[arg(long)]
        created_after: Option<String>,
        /// Only created before this time (RFC 3339).
        #[arg(long)]
        created_before: Option<String>,
        /// At most this many (1 to 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The page after this cursor (printed under a full page).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// A workflow: its state, its steps, and why it ended if it did not complete.
    Show { id: String },
    /// A workflow's history, from the event log.
    Events { id: String },
    /// Follow a workflow's steps live until it ends; exits by its final status.
    Watch {
        id: String,
        /// Stop waiting after this long (`30s`, `5m`); exit 6 if it still runs.
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<std::time::Duration>,
    },
    /// Cancel a workflow (its completed steps are undone unless --no-compensate).
    Cancel {
        id: String,
        /// End it without undoing its completed steps.
        #[arg(long)]
        no_compensate: bool,
    },
    /// Pause a workflow: no new step starts until it is resumed.
    Pause { id: String },
    /// Resume a paused workflow.
    Resume { id: String },
    /// Run a failed step once more.
    Retry { id: String, step: String },
    /// Skip a pending or failed step, with the output its dependants read.
    Skip {
        id: String,
        step: String,
        /// The step's output, as JSON.
        #[arg(long = "with-output", value_name = "JSON", default_value = "{}")]
        with_output: String,
    },
    /// Send a signal to a workflow (`POST .../signals/NAME`): the payload
    /// becomes the output of the `signal` step that waits for it.
    Signal {
        id: String,
        /// The signal's name, as a `signal` step of its definition names it.
        name: String,
        /// The payload, as JSON.
        #[arg(long, default_value = "null")]
        payload: String,
    },
    /// Approve an approval step.
    Approve {
        id: String,
        step: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject an approval step.
    Reject {
        id: String,
        step: String,
        #[arg(long)]
        comment: Option<String>,
    },
}

pub fn run(arguments: WorkflowsArguments) -> anyhow::Result<ExitCode> {
    let client = Client::new(&arguments.connection);
    let output = arguments.output;
    block_on(async move {
        use WorkflowsCommand::*;
        let answer = match arguments.command {
            List {
                status,
                definition,
                created_after,
                created_before,
                limit,
                cursor,
            } => {
                let query = query(&[
                    ("status", status),
                    ("definition", definition),
                    ("created_after", created_after),
                    ("created_before", created_before),
                    ("limit", Some(limit.to_string())),
                    ("cursor", cursor),
                ]);
                let answer = client.get(&format!("/api/v1/workflows{query}")).await?;
                return Ok(shown(answer, output, list_table));
            }
            Show { id } => {
                let answer = client.get(&workflow(&id, "")).await?;
                return Ok(shown(answer, output, show_table));
            }
            Events { id } => return events(&client, &id, output).await,
            Watch { id, timeout } => return watch::watch(&client, &id, timeout, output).await,
            Cancel { id, no_compensate } => {
                let body = json!({"compensate": !no_compensate});
                client.post(&workflow(&id, "/cancel"), &body).await?
            }
            Pause { id } => client.post(&workflow(&id, "/pause"), &Value::Null).await?,
            Resume { id } => client.post(&workflow(&id, "/resume"), &Value::Null).await?,
            Retry { id, step } => {
                client
                    .post(&task(&id, &step, "retry"), &Value::Null)
                    .await?
            }
            Skip {
                id,
                step,
                with_output,
            } => {
                let output: Value = serde_json::from_str(&with_output)
                    .map_err(|error| anyhow::anyhow!("--with-output is not JSON: {error}"))?;
                let body = json!({"output": output});
                client.post(&task(&id, &step, "skip"), &body).await?
            }
            Signal { id, name, payload } => {
                let payload: Value = serde_json::from_str(&payload)
                    .map_err(|error| anyhow::anyhow!("--payload is not JSON: {error}"))?;
                let path = workflow(&id, &format!("/signals/{}", segment(&name)));
                client.post(&path, &payload).await?
            }
            Approve { id, step, comment } => {
                let body = json!({"comment": comment});
                client.post(&task(&id, &step, "approve"), &body).await?
            }
            Reject { id, step, comment } => {
                let body = json!({"comment": comment});
                client.post(&task(&id, &step, "reject"), &body).await?
            }
        };
        Ok(shown(answer, output, |state| {
            println!("{} {}", cell(&state["id"]), cell(&state["status"]));
        }))
    })
}

/// Prints a successful answer (JSON, or by `table`), or reports the
/// refusal; the exit code.
pub fn shown(answer: Answer, output: Output, table: impl FnOnce(&Value)) -> ExitCode {
    match answer {
        Ok(body) => {
            match output {
                Output::Json => table::json(&body),
                Output::Table => table(&body),
            }
            ExitCode::from(exit::OK)
        }
        Err(refusal) => refusal.report(),
    }
}

/// `?a=1&b=2` of the pairs that have a value.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let present: Vec<String> = pairs
        .iter()
        .filter_map(|(name, value)| Some(format!("{name}={}", segment(value.as_ref()?))))
        .collect();
    match present.is_empty() {
        true => String::new(),
        false => format!("?{}", present.join("&")),
    }
}

pub fn workflow(id: &str, rest: &str) -> String {
    format!("/api/v1/workflows/{}{rest}", segment(id))
}

fn task(id: &str, step: &str, command: &str) -> String {
    format!("/api/v1/tasks/{}:{}/{command}", segment(id), segment(step))
}

fn list_table(page: &Value) {
    let items = page["items"].as_array().map_or(&[][..], Vec::as_slice);
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            vec![
                cell(&item["id"]),
                format!("{} v{}", cell(&item["definition"]), cell(&item["version"])),
                cell(&item["status"]),
                time(&item["created_at"]),
                cell(&item["current_steps"]),
            ]
        })
        .collect();
    table::print(
        &["ID", "DEFINITION", "STATUS", "CREATED", "CURRENT STEPS"],
        &rows,
    );
    if let Some(cursor) = page["next_cursor"].as_str() {
        eprintln!("more: --cursor {cursor}");
    }
}

fn show_table(state: &Value) {
    println!("id:          {}", cell(&state["id"]));
    println!(
        "definition:  {} v{}",
        cell(&state["definition"]),
        cell(&state["version"])
    );
    println!("status:      {}", cell(&state["status"]));
    println!("created:     {}", time(&state["created_at"]));
    if !state["finished_at"].is_null() {
        println!("finished:    {}", time(&state["finished_at"]));
    }
    if let Some(error) = state["error"].as_str() {
        println!("error:       {error}");
    }
    if !state["output"].is_null() {
        println!("output:      {}", state["output"]);
    }
    let steps = state["steps"].as_array().map_or(&[][..], Vec::as_slice);
    let rows: Vec<Vec<String>> = steps
        .iter()
        .map(|step| {
            vec![
                cell(&step["id"]),
                cell(&step["type"]),
                cell(&step["status"]),
                cell(&step["attempt"]),
                cell(&step["compensation"]),
                cell(&step["last_error"]),
            ]
        })
        .collect();
    println!();
    table::print(
        &["STEP", "TYPE", "STATUS", "ATTEMPT", "UNDO", "LAST ERROR"],
        &rows,
    );
}

/// Every event of a workflow, page after page.
async fn events(client: &Client, id: &str, output: Output) -> anyhow::Result<ExitCode> {
    let items = match watch::history(client, id, 0).await? {
        Ok(items) => items,
        Err(refusal) => return Ok(refusal.report()),
    };
    match output {
        Output::Json => table::json(&json!({ "items": items })),
        Output::Table => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|event| {
                    vec![
                        cell(&event["version"]),
                        time(&event["occurred_at"]),
                        cell(&event["actor"]),
                        watch::summary(event),
                    ]
                })
                .collect();
            table::print(&["VERSION", "TIME", "ACTOR", "EVENT"], &rows);
        }
    }
    Ok(ExitCode::from(exit::OK))
}
