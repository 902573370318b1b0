//! The validated workflow definition. Only [`super::build`] makes one, so every
//! value here has passed every check: steps exist, the graph is acyclic,
//! expressions compile and read only what is upstream.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::graph::StepSet;
use crate::expression::{Expression, Template};
use crate::ids::StepId;
use crate::schedule::OverlapPolicy;

#[derive(Debug)]
pub struct WorkflowDefinition {
    pub name: String,
    pub version: u32,
    pub description: Option<String>,
    /// Hash of the definition's content; a changed definition needs a new version.
    pub hash: String,
    pub input_schema: Option<InputSchema>,
    /// Deadline of a whole instance, counted from its start.
    pub timeout: Option<Duration>,
    /// How long an instance may run before it counts as late (`sla:`).
    pub sla: Option<Duration>,
    /// Steps in topological order (ties kept in the order they were written).
    pub steps: Vec<StepDefinition>,
    pub output: Option<Template>,
    /// Cron schedules declared with the workflow (`schedules:`).
    pub schedules: Vec<DeclaredSchedule>,
    pub(crate) index: HashMap<StepId, usize>,
    /// For each step, every step that needs it, directly or not.
    pub(crate) descendants: Vec<StepSet>,
    /// For each step, every step it needs, directly or not.
    pub(crate) ancestors: Vec<StepSet>,
    /// Whether one of its expressions iterates (see [`Expression::iterates`]).
    pub(crate) iterates: bool,
}

/// A schedule declared in a definition, checked: its cron and time zone
/// parse, its input fits the input schema.
#[derive(Clone, Debug, PartialEq)]
pub struct DeclaredSchedule {
    pub name: String,
    pub cron: String,
    pub timezone: String,
    pub input: serde_json::Value,
    pub overlap: OverlapPolicy,
    pub catchup_window: Option<Duration>,
}

impl WorkflowDefinition {
    /// Whether one of its expressions iterates (`all`, `exists`, `map`,
    /// ...): deciding may then take long enough to be run off the threads
    /// that serve requests.
    pub fn iterates(&self) -> bool {
        self.iterates
    }

    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    pub fn step(&self, id: &str) -> Option<&StepDefinition> {
        self.step_index(id).map(|index| &self.steps[index])
    }

    /// Every step that (transitively) needs `index`.
    pub fn descendants(&self, index: usize) -> &StepSet {
        &self.descendants[index]
    }

    /// The names of the signals the steps wait for, sorted, each once.
    pub fn signal_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .steps
            .iter()
            .filter_map(|step| match &step.kind {
                StepKind::Signal { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Every step that `index` (transitively) needs.
    pub fn ancestors(&self, index: usize) -> &StepSet {
        &self.ancestors[index]
    }
}

/// A JSON Schema a value must satisfy (a start's input, a signal's
/// payload), compiled once.
#[derive(Clone)]
pub struct InputSchema {
    pub schema: Value,
    pub(crate) validator: Arc<jsonschema::Validator>,
}

impl InputSchema {
    /// Every way `input` breaks the schema, as `path: message`.
    pub fn problems(&self, input: &Value) -> Vec<String> {
        self.validator
            .iter_errors(input)
            .map(|error| {
                let path = error.instance_path().to_string();
                let path = if path.is_empty() {
                    "/".to_owned()
                } else {
                    path
                };
                format!("{path}: {error}")
            })
            .collect()
    }
}

impl std::fmt::Debug for InputSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputSchema")
            .field("schema", &self.schema)
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct StepDefinition {
    pub id: StepId,
    pub description: Option<String>,
    pub kind: StepKind,
    /// Indices of the steps this one needs.
    pub needs: Vec<usize>,
    pub join: Join,
    pub when: Option<Expression>,
    pub retry: RetryPolicy,
    pub timeout: Option<Duration>,
    pub heartbeat_timeout: Option<Duration>,
    pub on_error: OnError,
    pub compensate: Option<Compensation>,
    pub priority: u8,
}

impl StepDefinition {
    /// Every queue this step dispatches to: its own and its compensation's.
    pub fn queues(&self) -> impl Iterator<Item = &str> {
        let compensation = self
            .compensate
            .as_ref()
            .map(|compensation| compensation.action.queue());
        self.kind.queue().into_iter().chain(compensation)
    }
}

#[derive(Clone, Debug)]
pub enum StepKind {
    /// Dispatched to an external worker on `queue`.
    Task {
        queue: String,
        input: Template,
    },
    /// The built-in HTTP executor; `request` renders to `{method, url, headers, body}`.
    Http {
        request: Template,
    },
    Approval {
        approvers: Vec<String>,
        on_timeout: ApprovalTimeout,
    },
    Wait(WaitFor),
    Noop {
        output: Option<Template>,
        duration: Option<Duration>,
    },
    Fail {
        message: Template,
    },
    /// Waits for the named signal; its payload is the output.
    Signal {
        name: String,
        schema: Option<InputSchema>,
        on_timeout: SignalTimeout,
    },
}

impl StepKind {
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Task { .. } => "task",
            StepKind::Http { .. } => "http",
            StepKind::Approval { .. } => "approval",
            StepKind::Wait(_) => "wait",
            StepKind::Noop { .. } => "noop",
            StepKind::Fail { .. } => "fail",
            StepKind::Signal { .. } => "signal",
        }
    }

    /// Whether the step runs outside the engine (a worker executes it).
    pub fn is_dispatched(&self) -> bool {
        self.queue().is_some()
    }

    /// The queue a worker takes this step's tasks from; none for the steps
    /// the engine runs itself.
    pub fn queue(&self) -> Option<&str> {
        match self {
            StepKind::Task { queue, .. } => Some(queue),
            StepKind::Http { .. } => Some(HTTP_QUEUE),
            _ => None,
        }
    }

    /// What a dispatched step renders into its task's input.
    pub fn template(&self) -> Option<&Template> {
        match self {
            StepKind::Task { input, .. } => Some(input),
            StepKind::Http { request } => Some(request),
            _ => None,
        }
    }
}

/// The queue the built-in HTTP executor consumes.
pub const HTTP_QUEUE: &str = "http";

#[derive(Clone, Debug)]
pub enum WaitFor {
    Duration(Duration),
    /// An RFC 3339 timestamp, possibly computed.
    Until(Template),
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalTimeout {
    /// The approval counts as rejected.
    #[default]
    Reject,
    /// The approval counts as granted.
    Approve,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SignalTimeout {
    /// The step fails as timed out; its `on_error` decides.
    #[default]
    Fail,
    /// The step is skipped, as a false `when` would skip it.
    Skip,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Join {
    /// Every need completed.
    #[default]
    All,
    /// Every need settled and at least one completed: the merge after an if/else.
    Any,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Undo the completed steps (saga).
    #[default]
    Compensate,
    /// Tolerate the failure: dependants run, seeing `steps.X.status == 'failed'`.
    Continue,
    /// Fail the instance without compensation.
    Fail,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    Fixed,
    Linear,
    #[default]
    Exponential,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub initial: Duration,
    pub max: Duration,
    pub multiplier: f64,
    pub jitter: bool,
}

impl RetryPolicy {
    /// Forward steps: a few attempts, quickly.
    pub const STEP_DEFAULT: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        backoff: Backoff::Exponential,
        initial: Duration::from_secs(1),
        max: Duration::from_secs(60),
        multiplier: 2.0,
        jitter: true,
    };

    /// Compensations must eventually succeed: many attempts, patiently.
    pub const COMPENSATION_DEFAULT: RetryPolicy = RetryPolicy {
        max_attempts: 10,
        backoff: Backoff::Exponential,
        initial: Duration::from_secs(1),
        max: Duration::from_secs(300),
        multiplier: 2.0,
        jitter: true,
    };
}

/// How a completed step is undone.
#[derive(Clone, Debug)]
pub struct Compensation {
    pub action: CompensationAction,
    pub retry: RetryPolicy,
    pub timeout: Option<Duration>,
}

#[derive(Clone, Debug)]
pub enum CompensationAction {
    Task { queue: String, input: Template },
    Http { request: Template },
}

impl CompensationAction {
    pub fn queue(&self) -> &str {
        match self {
            CompensationAction::Task { queue, .. } => queue,
            CompensationAction::Http { .. } => HTTP_QUEUE,
        }
    }

    pub fn template(&self) -> &Template {
        match self {
            CompensationAction::Task { input, .. } => input,
            CompensationAction::Http { request } => request,
        }
    }
}
