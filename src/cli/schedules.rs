//! `distorch schedules ...`: manage the cron schedules of a running node.

use std::process::ExitCode;

use anyhow::Context;
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Client, Connection, block_on};

#[derive(Debug, clap::Args)]
pub struct SchedulesArguments {
    #[command(subcommand)]
    command: SchedulesCommand,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Debug, clap::Subcommand)]
enum SchedulesCommand {
    /// Every schedule with its next fire time.
    List,
    /// Create a schedule.
    Create {
        name: String,
        /// The definition each tick starts.
        #[arg(long)]
        definition: String,
        /// Five fields, or six with seconds first (quote it).
        #[arg(long)]
        cron: String,
        /// An IANA time zone (default UTC).
        #[arg(long)]
        timezone: Option<String>,
        /// The input of every start, as JSON.
        #[arg(long, default_value = "{}")]
        input: String,
        /// skip, buffer_one, allow or cancel_previous (default skip).
        #[arg(long)]
        overlap: Option<String>,
        /// How late a tick may still fire after downtime (e.g. 10m).
        #[arg(long)]
        catchup_window: Option<String>,
        /// A definition version (default: the latest at each tick).
        #[arg(long)]
        version: Option<u32>,
    },
    /// One schedule as JSON, with its next fire times.
    Show {
        name: String,
    },
    Pause {
        name: String,
    },
    Resume {
        name: String,
    },
    Delete {
        name: String,
    },
}

pub fn run(arguments: SchedulesArguments) -> anyhow::Result<ExitCode> {
    let base = "/api/v1/schedules".to_owned();
    let (method, url, body) = match arguments.command {
        SchedulesCommand::List => (Method::GET, base, None),
        SchedulesCommand::Create {
            name,
            definition,
            cron,
            timezone,
            input,
            overlap,
            catchup_window,
            version,
        } => {
            let input: Value = serde_json::from_str(&input).context("--input is not JSON")?;
            let body = json!({
                "name": name, "definition": definition, "cron": cron, "timezone": timezone,
                "input": input, "overlap": overlap, "catchup_window": catchup_window,
                "version": version,
            });
            (Method::POST, base, Some(body))
        }
        SchedulesCommand::Show { name } => (Method::GET, format!("{base}/{name}"), None),
        SchedulesCommand::Pause { name } => (Method::POST, format!("{base}/{name}/pause"), None),
        SchedulesCommand::Resume { name } => (Method::POST, format!("{base}/{name}/resume"), None),
        SchedulesCommand::Delete { name } => (Method::DELETE, format!("{base}/{name}"), None),
    };
    let client = Client::new(&arguments.connection);
    block_on(async move {
        let mut request = client.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let body = match client.send(request).await? {
            Ok(body) => body,
            Err(refusal) => return Ok(refusal.report()),
        };
        match body["items"].as_array() {
            Some(items) => {
                for item in items {
                    println!("{}", line(item));
                }
            }
            None if body.is_null() => {}
            None => println!("{}", serde_json::to_string_pretty(&body)?),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `name  cron (timezone)  definition  next: TIME | paused`.
fn line(schedule: &Value) -> String {
    let next = if schedule["paused"].as_bool().unwrap_or(false) {
        "paused".to_owned()
    } else {
        format!(
            "next: {}",
            schedule["next_fire_times"][0].as_str().unwrap_or("never")
        )
    };
    format!(
        "{}\t{} ({})\t{}\t{next}",
        schedule["name"].as_str().unwrap_or("?"),
        schedule["cron"].as_str().unwrap_or("?"),
        schedule["timezone"].as_str().unwrap_or("?"),
        schedule["definition"].as_str().unwrap_or("?"),
    )
}
