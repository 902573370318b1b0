//! `distorch run FILE`: runs one workflow to its end in embedded mode (a
//! SQLite file, the in-process bus, exec workers), printing each event as it
//! happens. Exit 0 when it completed, 1 when it failed or was compensated.

use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use application::clock::SystemClock;
use application::codec::decode;
use application::definitions::DefinitionRegistry;
use application::metrics::Metrics;
use application::ports::EventStore;
use application::{Engine, Error, Origin};
use domain::definition::{HTTP_QUEUE, StepKind, parse_workflow};
use domain::instance::{Actor, Command, InstanceStatus, Waiting, WorkflowInstance};
use infrastructure::local_bus::LocalBus;
use infrastructure::store::SqliteEventStore;
use serde_json::{Value, json};

use super::node::{parse_workers, spawn_loops};
use super::read_source;

#[derive(Debug, clap::Args)]
pub struct RunArguments {
    /// The workflow file.
    file: PathBuf,
    /// The instance's input, as JSON.
    #[arg(long, default_value = "{}")]
    input: String,
    /// A worker for a queue: QUEUE=COMMAND (run by `sh -c`, input on stdin, output JSON on stdout).
    #[arg(long = "exec", value_name = "QUEUE=COMMAND")]
    exec: Vec<String>,
    /// Approve this approval step when it is requested.
    #[arg(long, value_name = "STEP")]
    approve: Vec<String>,
    /// Reject this approval step when it is requested.
    #[arg(long, value_name = "STEP")]
    reject: Vec<String>,
    /// The SQLite file to keep the run in (default: a temporary file).
    #[arg(long)]
    data: Option<PathBuf>,
    /// `json` prints the final state as JSON on stdout.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    Text,
    Json,
}

pub fn run(arguments: RunArguments) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    super::logging::init_for_run();
    runtime.block_on(run_embedded(arguments))
}

async fn run_embedded(arguments: RunArguments) -> anyhow::Result<ExitCode> {
    let name = arguments.file.display().to_string();
    let source = match read_source(&arguments.file) {
        Ok(source) => source,
        Err(message) => {
            eprintln!("{name}:1:1: {message}");
            return Ok(ExitCode::from(1));
        }
    };
    let definition = match parse_workflow(&source) {
        Ok(definition) => definition,
        Err(problems) => {
            eprint!("{}", problems.render(&name));
            return Ok(ExitCode::from(1));
        }
    };
    let input: Value = serde_json::from_str(&arguments.input).context("--input is not JSON")?;
    let workers = parse_workers(&arguments.exec)?;
    warn_about_unserved_queues(&definition, &workers);

    // Without --data the run lives in a folder of its own, removed (SQLite's
    // -wal and -shm files with it) however `run` ends.
    let temporary = tempfile::Builder::new()
        .prefix("distorch-run-")
        .tempdir()
        .context("creating a temporary folder for the run")?;
    let data = arguments
        .data
        .clone()
        .unwrap_or_else(|| temporary.path().join("run.db"));
    let store = SqliteEventStore::open(&data).await?;
    let registry = Arc::new(DefinitionRegistry::default());
    let definition = registry.register(definition)?;
    let engine = Arc::new(Engine::new(
        store,
        registry,
        Arc::new(SystemClock::default()),
    ));
    let bus = LocalBus::default();
    spawn_loops(&engine, &bus, &workers, true, &Arc::new(Metrics::new()))?;

    let mut changes = engine.subscribe();
    let origin = Origin::actor("cli");
    let id = match engine
        .start(&definition.name, Some(definition.version), input, &origin)
        .await
    {
        Ok(id) => id,
        Err(Error::Rejected(error)) => {
            eprintln!("{name}: {error}");
            return Ok(ExitCode::from(1));
        }
        Err(error) => return Err(error.into()),
    };
    eprintln!(
        "started {} v{} as {id}",
        definition.name, definition.version
    );
    let mut printed = 0;
    let mut decided: HashSet<String> = HashSet::new();
    let display = Progress::on_terminal(&definition);
    let state = loop {
        let state = engine.state(id).await?;
        match &display {
            Some(display) => display.show(&state),
            None => {
                for record in engine.store().load(id, printed).await? {
                    printed = record.version;
                    eprintln!(
                        "{}  {}",
                        record.metadata.occurred_at.format("%H:%M:%S%.3f"),
                        decode(&record)?.summary()
                    );
                }
            }
        }
        if state.status.is_final() {
            if let Some(display) = &display {
                display.finish();
            }
            break state;
        }
        let bars = display.as_ref().map(|display| &display.bars);
        if let Some(exit) =
            decide_approvals(&engine, &state, &arguments, &mut decided, bars).await?
        {
            return Ok(exit);
        }
        tokio::select! {
            _ = changes.recv() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    };
    report(&state, arguments.output);
    Ok(if state.status == InstanceStatus::Completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn warn_about_unserved_queues(
    definition: &domain::WorkflowDefinition,
    workers: &[(String, String)],
) {
    let mut served: HashSet<&str> = workers.iter().map(|(queue, _)| queue.as_str()).collect();
    served.insert(HTTP_QUEUE);
    let mut queues: Vec<&str> = Vec::new();
    for step in &definition.steps {
        queues.extend(step.queues());
    }
    queues.sort_unstable();
    queues.dedup();
    for queue in queues.into_iter().filter(|queue| !served.contains(queue)) {
        eprintln!(
            "warning: no worker for queue `{queue}`: its tasks will wait (pass --exec {queue}=COMMAND)"
        );
    }
}

/// Answers approvals from the flags, or by asking on a terminal.
async fn decide_approvals<S: EventStore>(
    engine: &Engine<S>,
    state: &WorkflowInstance,
    arguments: &RunArguments,
    decided: &mut HashSet<String>,
    display: Option<&indicatif::MultiProgress>,
) -> anyhow::Result<Option<ExitCode>> {
    if state.status != InstanceStatus::Running {
        return Ok(None);
    }
    for (index, step) in state.steps.iter().enumerate() {
        let id = state.definition.steps[index].id.clone();
        let waiting = matches!(step.waiting(), Some(Waiting::Approval { .. }));
        let key = format!("{id}#{}", step.attempt);
        if !waiting || decided.contains(&key) {
            continue;
        }
        let approve = if arguments.approve.iter().any(|s| s == id.as_str()) {
            true
        } else if arguments.reject.iter().any(|s| s == id.as_str()) {
            false
        } else if std::io::stdin().is_terminal() {
            let question = format!("approve step `{id}`? [y/n] ");
            // A prompt must not be drawn over.
            match display {
                Some(bars) => bars.suspend(|| ask(&question))?,
                None => ask(&question)?,
            }
        } else {
            eprintln!("step `{id}` waits for an approval: pass --approve {id} or --reject {id}");
            return Ok(Some(ExitCode::from(1)));
        };
        decided.insert(key);
        let actor = Actor {
            id: "cli".to_owned(),
            roles: approver_roles(state, index),
        };
        let command = if approve {
            Command::Approve {
                step: id,
                actor,
                comment: Some("from distorch run".to_owned()),
            }
        } else {
            Command::Reject {
                step: id,
                actor,
                comment: Some("from distorch run".to_owned()),
            }
        };
        engine
            .execute(state.id, command, &Origin::actor("cli"))
            .await?;
    }
    Ok(None)
}

/// The person at the terminal stands in for every approver of the step.
fn approver_roles(state: &WorkflowInstance, index: usize) -> Vec<String> {
    match &state.definition.steps[index].kind {
        StepKind::Approval { approvers, .. } => approvers
            .iter()
            .filter_map(|approver| approver.strip_prefix("role:").map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn ask(question: &str) -> anyhow::Result<bool> {
    loop {
        eprint!("{question}");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        if std::io::stdin().lock().read_line(&mut answer)? == 0 {
            bail!("no answer on stdin");
        }
        match answer.trim() {
            "y" | "yes" => return Ok(true),
            "n" | "no" => return Ok(false),
            _ => {}
        }
    }
}

fn report(state: &WorkflowInstance, output: Output) {
    let steps: serde_json::Map<String, Value> = state
        .definition
        .steps
        .iter()
        .zip(&state.steps)
        .map(|(definition, step)| (definition.id.to_string(), json!(step.status().as_str())))
        .collect();
    match output {
        Output::Json => println!(
            "{}",
            json!({
                "id": state.id.to_string(),
                "workflow": state.definition.name,
                "version": state.definition.version,
                "status": state.status.as_str(),
                "output": state.output,
                "error": state.error,
                "steps": steps,
            })
        ),
        Output::Text => println!("{} {}", state.id, state.status),
    }
}

/// The live view of `run` on a terminal: a line per step with its status,
/// redrawn as the workflow moves. Off a terminal, `run` prints plain event
/// lines instead.
struct Progress {
    bars: indicatif::MultiProgress,
    steps: Vec<indicatif::ProgressBar>,
}

impl Progress {
    fn on_terminal(definition: &domain::WorkflowDefinition) -> Option<Self> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bars =
            indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr());
        let style = indicatif::ProgressStyle::with_template("{spinner} {prefix:<24} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
        let width = definition
            .steps
            .iter()
            .map(|step| step.id.as_str().len())
            .max()
            .unwrap_or(0);
        let steps = definition
            .steps
            .iter()
            .map(|step| {
                let bar = bars.add(indicatif::ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_prefix(format!("{:<width$}", step.id.as_str()));
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .collect();
        Some(Self { bars, steps })
    }

    fn show(&self, state: &WorkflowInstance) {
        for (bar, step) in self.steps.iter().zip(&state.steps) {
            let mut line = step.status().to_string();
            if step.attempt > 1 {
                line.push_str(&format!(" (attempt {})", step.attempt));
            }
            match step.waiting() {
                Some(Waiting::Approval { .. }) => line.push_str(": waiting for an approval"),
                Some(Waiting::Signal { .. }) => line.push_str(": waiting for a signal"),
                Some(Waiting::Retry { at, .. }) => {
                    line.push_str(&format!(": retry at {}", at.format("%H:%M:%S")));
                }
                Some(Waiting::Timer { until }) => {
                    line.push_str(&format!(": until {}", until.format("%H:%M:%S")));
                }
                None => {}
            }
            if let Some(error) = step.error_message() {
                line.push_str(&format!(" — {error}"));
            }
            match step.compensation {
                domain::instance::CompensationState::NotStarted => {}
                compensation => line.push_str(&format!(", undo: {compensation:?}")),
            }
            bar.set_message(line);
        }
    }

    fn finish(&self) {
        for bar in &self.steps {
            bar.finish();
        }
    }
}
