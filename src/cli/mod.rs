//! Subcommands of `distorch`.

mod answer;
mod apikey;
mod bench;
mod bench_feeds;
mod bench_reads;
mod deploy;
mod dlq;
mod graph;
mod logging;
mod migrate;
mod node;
mod projections;
mod run;
mod serve;
mod start;
mod stores;
mod test;
mod validate;
mod worker;
mod workflows;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "distorch",
    version,
    about = "A durable workflow engine: YAML-declared DAGs, sagas, event-sourced state."
)]
pub struct Arguments {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check workflow files; prints `file:line:col: message` for every problem.
    Validate {
        /// Workflow files (YAML or JSON).
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
        format: ValidateFormat,
    },
    /// Draw a workflow's step graph (Mermaid by default, or Graphviz DOT).
    Graph {
        file: std::path::PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// Run workflow test files (`workflows/tests/*.test.yaml`) offline through the pure engine.
    Test(test::TestArguments),
    /// Print the JSON Schema of workflow files (for editors).
    Schema,
    /// Print the GraphQL schema of `/graphql` (SDL).
    GraphqlSchema,
    /// Run one workflow to its end in embedded mode (SQLite, in-process bus, exec workers).
    Run(run::RunArguments),
    /// Run an engine node: embedded by default, PostgreSQL + RabbitMQ with DATABASE_URL and AMQP_URL.
    Serve(serve::ServeArguments),
    /// Run a worker on RabbitMQ: a command per task, or the HTTP executor.
    Worker(worker::WorkerArguments),
    /// Measure the order saga: throughput, latency, CPU and memory.
    Bench(bench::BenchArguments),
    /// Measure `GET /api/v1/workflows/{id}` under concurrent clients on seeded read models.
    BenchReads(bench_reads::BenchReadsArguments),
    /// Start a workflow on a running node (prints its id).
    Start(start::StartArguments),
    /// Act on a workflow of a running node (`signal`).
    Workflows(workflows::WorkflowsArguments),
    /// Deploy workflow definitions to a running node (stored, then startable on every node).
    Deploy(deploy::DeployArguments),
    /// Bring the database to the current schema.
    Migrate(migrate::MigrateArguments),
    /// Inspect and re-drive dead-lettered tasks (RabbitMQ).
    Dlq(dlq::DlqArguments),
    /// Manage the read models (`rebuild` them from the event log).
    Projections(projections::ProjectionsArguments),
    /// Create, list and revoke API keys.
    Apikey(apikey::ApiKeyArguments),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ValidateFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

pub fn run(arguments: Arguments) -> anyhow::Result<ExitCode> {
    match arguments.command {
        Command::Validate { files, format } => validate::run(&files, format),
        Command::Graph { file, format } => graph::run(&file, format),
        Command::Test(arguments) => test::run(arguments),
        Command::Run(arguments) => run::run(arguments),
        Command::Serve(arguments) => serve::run(arguments),
        Command::Worker(arguments) => worker::run(arguments),
        Command::Bench(arguments) => bench::run(arguments),
        Command::BenchReads(arguments) => bench_reads::run(arguments),
        Command::Start(arguments) => start::run(arguments),
        Command::Deploy(arguments) => deploy::run(arguments),
        Command::Workflows(arguments) => workflows::run(arguments),
        Command::Migrate(arguments) => migrate::run(arguments),
        Command::Dlq(arguments) => dlq::run(arguments),
        Command::Projections(arguments) => projections::run(arguments),
        Command::Apikey(arguments) => apikey::run(arguments),
        Command::Schema => {
            print!("{}", domain::definition::schema::workflow_schema_text());
            Ok(ExitCode::SUCCESS)
        }
        Command::GraphqlSchema => {
            print!("{}", api::graphql::sdl());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads a workflow file, refusing one over the size limit before reading it whole.
fn read_source(path: &std::path::Path) -> Result<String, String> {
    let limit = domain::definition::ReadLimits::default().max_bytes;
    let metadata = std::fs::metadata(path).map_err(|error| format!("cannot read it: {error}"))?;
    if metadata.len() > limit as u64 {
        return Err(format!(
            "the file is {} bytes, more than the limit of {limit} bytes",
            metadata.len()
        ));
    }
    std::fs::read_to_string(path).map_err(|error| format!("cannot read it: {error}"))
}
