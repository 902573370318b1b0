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

use super::live::LiveView;
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
    /// Approve this approval step when it is requested, standing in for its
    /// approvers (a `user:` approver is recorded as the one who decided).
    #[arg(long, value_name = "STEP")]
    approve: Vec<String>,
    /// Reject this approval step when it is requested (as for --approve).
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
    check_decisions(&definition, &arguments)?;
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
    let crew = super::fleet::Crew::default();
    spawn_loops(
        &engine,
        &bus,
        &workers,
        true,
        &Arc::new(Metrics::new()),
        &crew,
    )?;

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
    let view = LiveView::new(&definition);
    let state = loop {
        let state = engine.state(id).await?;
        for record in engine.store().load(id, printed).await? {
            printed = record.version;
            view.event(record.metadata.occurred_at, &decode(&record)?);
        }
        view.state(&state);
        if state.status.is_final() {
            view.finish();
            break state;
        }
        if let Some(exit) =
            decide_approvals(&engine, &state, &arguments, &mut decided, &view).await?
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
    view: &LiveView,
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
            view.suspend(|| ask(&question))?
        } else {
            eprintln!("step `{id}` waits for an approval: pass --approve {id} or --reject {id}");
            return Ok(Some(ExitCode::from(1)));
        };
        decided.insert(key);
        let actor = stand_in(state, index);
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

/// `--approve` and `--reject` must each name an approval step: a typo
/// would otherwise leave the run waiting, or asking, for ever.
fn check_decisions(
    definition: &domain::WorkflowDefinition,
    arguments: &RunArguments,
) -> anyhow::Result<()> {
    let approvals: Vec<&str> = definition
        .steps
        .iter()
        .filter(|step| matches!(step.kind, StepKind::Approval { .. }))
        .map(|step| step.id.as_str())
        .collect();
    let named = arguments.approve.iter().map(|step| ("--approve", step));
    let named = named.chain(arguments.reject.iter().map(|step| ("--reject", step)));
    for (flag, step) in named {
        if !approvals.contains(&step.as_str()) {
            let known = match approvals.as_slice() {
                [] => "it has none".to_owned(),
                steps => format!("it has {}", steps.join(", ")),
            };
            bail!(
                "{flag} {step}: `{}` has no approval step `{step}` ({known})",
                definition.name
            );
        }
    }
    Ok(())
}

/// The person at the terminal stands in for every approver of the step:
/// the first `user:` approver it names (the decision is recorded as theirs),
/// else `cli`, holding every role its `role:` approvers name.
fn stand_in(state: &WorkflowInstance, index: usize) -> Actor {
    let approvers = match &state.definition.steps[index].kind {
        StepKind::Approval { approvers, .. } => approvers.as_slice(),
        _ => &[],
    };
    let named = |scheme: &'static str| {
        approvers
            .iter()
            .filter_map(move |approver| approver.strip_prefix(scheme).map(str::to_owned))
    };
    Actor {
        id: named("user:").next().unwrap_or_else(|| "cli".to_owned()),
        roles: named("role:").collect(),
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
