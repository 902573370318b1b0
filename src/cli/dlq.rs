//! `distorch dlq`: the dead-letter queue of a task queue — how many tasks
//! wait there, and sending them back once their cause is fixed.

use std::process::ExitCode;

use anyhow::Context;
use infrastructure::bus::{RabbitBus, RabbitConfig};

#[derive(Debug, clap::Args)]
pub struct DlqArguments {
    #[command(subcommand)]
    action: Action,
    /// RabbitMQ.
    #[arg(long, env = "AMQP_URL", global = true)]
    amqp_url: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// How many tasks of QUEUE were dead-lettered.
    Count { queue: String },
    /// Move every dead-lettered task of QUEUE back onto it.
    Redrive { queue: String },
}

pub fn run(arguments: DlqArguments) -> anyhow::Result<ExitCode> {
    let url = arguments
        .amqp_url
        .context("set AMQP_URL (or --amqp-url): dead-letter queues live in RabbitMQ")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = RabbitConfig {
            url,
            connection_name: "distorch-dlq".into(),
        };
        let bus = RabbitBus::connect(config)
            .await
            .context("connecting to RabbitMQ")?;
        match arguments.action {
            Action::Count { queue } => println!("{}", bus.dead_letter_count(&queue).await?),
            Action::Redrive { queue } => {
                let moved = bus.redrive(&queue).await?;
                eprintln!(
                    "moved {moved} tasks from distorch.dlq.{queue} back to distorch.task.{queue}"
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
