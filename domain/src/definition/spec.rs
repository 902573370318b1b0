//! The workflow file as written: what the reader produces, with the position of
//! every value that a later check may point at. The DSL's JSON Schema is
//! generated from these types (see [`super::schema`]).

use std::borrow::Cow;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::model::{ApprovalTimeout, Backoff, Join, OnError, SignalTimeout};
use super::source::Position;
use super::yaml::Node;
use crate::schedule::OverlapPolicy;

/// A value and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Located<T> {
    pub at: Position,
    pub value: T,
}

impl<T: JsonSchema> JsonSchema for Located<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A duration such as `500ms`, `30s`, `5m`, `24h` or `1h 30m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationSpec(pub Duration);

impl JsonSchema for DurationSpec {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration: a number and a unit (ms, s, m, h, d), e.g. `500ms`, `30s`, `24h`, `1h 30m`.",
            "pattern": "^\\s*[0-9]+\\s*[a-zA-Zµ]+(\\s*[0-9]+\\s*[a-zA-Zµ]+)*\\s*$"
        })
    }
}

/// Any value; strings in it may hold `${ expression }` holes.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateSpec(pub Node);

impl JsonSchema for TemplateSpec {
    fn schema_name() -> Cow<'static, str> {
        "Template".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Any value. A string that is exactly `${ expr }` takes the CEL expression's value and type; `${ }` inside other text is interpolated. Variables: input, steps.<id>.output, steps.<id>.status, workflow.id, workflow.name, secrets.<name>."
        })
    }
}

/// A workflow: a graph of steps, run as one durable instance per start.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields, title = "DisTorch workflow")]
pub struct WorkflowSpec {
    /// Lowercase letters, digits, `-`, `_` and `.`; the name clients start it by.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9._-]*$"), length(max = 128))]
    pub name: Located<String>,
    /// A positive integer; a changed definition under the same name needs a new version.
    #[schemars(range(min = 1))]
    pub version: Located<u32>,
    pub description: Option<String>,
    pub input: Option<InputSpec>,
    pub defaults: Option<DefaultsSpec>,
    /// Deadline of a whole instance: past it, the instance compensates.
    pub timeout: Option<Located<DurationSpec>>,
    /// Service level: an instance still running this long after its start is
    /// recorded as `WorkflowSlaBreached` (and alerted on); it keeps running.
    pub sla: Option<Located<DurationSpec>>,
    /// The steps, keyed by step id. The order is for display only; `needs` orders execution.
    pub steps: Located<StepsSpec>,
    /// The instance's output, rendered when every step has settled.
    pub output: Option<TemplateSpec>,
    /// Cron schedules that start this workflow, keyed by name (stored as
    /// `<workflow>.<name>` when the definition is deployed).
    pub schedules: Option<Located<SchedulesSpec>>,
}

/// The schedules map, in written order.
#[derive(Clone, Debug, Default)]
pub struct SchedulesSpec(pub Vec<(Located<String>, ScheduleSpec)>);

impl JsonSchema for SchedulesSpec {
    fn schema_name() -> Cow<'static, str> {
        "Schedules".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let schedule = generator.subschema_for::<ScheduleSpec>();
        json_schema!({
            "type": "object",
            "propertyNames": { "pattern": "^[A-Za-z0-9._-]+$" },
            "additionalProperties": schedule
        })
    }
}

/// A cron schedule that starts the workflow with a fixed input.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Five fields (`minute hour day month weekday`) or six (seconds first).
    pub cron: Located<String>,
    /// An IANA time zone such as `Europe/Paris`; UTC when absent.
    pub timezone: Option<Located<String>>,
    /// The input of every start; checked against `input.schema`.
    pub input: Option<Located<serde_json::Value>>,
    /// What a tick does while the previous workflow runs (default `skip`).
    pub overlap: Option<Located<OverlapPolicy>>,
    /// How late a tick may still fire after downtime (default 1m, at least 10s).
    pub catchup_window: Option<Located<DurationSpec>>,
}

/// The input a start request must carry.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct InputSpec {
    /// A JSON Schema (draft 2020-12 unless `$schema` says otherwise).
    pub schema: Located<serde_json::Value>,
}

/// Settings every step inherits unless it sets its own.
#[derive(Clone, Debug, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DefaultsSpec {
    pub retry: Option<RetrySpec>,
    pub timeout: Option<Located<DurationSpec>>,
    pub heartbeat_timeout: Option<Located<DurationSpec>>,
    pub on_error: Option<OnError>,
    /// The retry policy of compensations (default: 10 attempts, exponential, up to 5m apart).
    pub compensation_retry: Option<RetrySpec>,
}

/// How failed attempts are retried. Unset fields inherit from `defaults.retry`.
#[derive(Clone, Debug, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RetrySpec {
    /// Attempts in all, the first included (1 = no retry).
    #[schemars(range(min = 1, max = 1000))]
    pub max_attempts: Option<Located<u32>>,
    pub backoff: Option<Backoff>,
    /// Delay before the second attempt.
    pub initial: Option<Located<DurationSpec>>,
    /// Longest delay between attempts.
    pub max: Option<Located<DurationSpec>>,
    /// Growth factor of exponential backoff.
    #[schemars(range(min = 1.0, max = 100.0))]
    pub multiplier: Option<Located<f64>>,
    /// Spread delays randomly over [delay/2, delay] so retries do not stampede.
    pub jitter: Option<bool>,
}

/// The steps map, in written order.
#[derive(Clone, Debug, Default)]
pub struct StepsSpec(pub Vec<(Located<String>, StepSpec)>);

impl JsonSchema for StepsSpec {
    fn schema_name() -> Cow<'static, str> {
        "Steps".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let step = generator.subschema_for::<StepSpec>();
        json_schema!({
            "type": "object",
            "minProperties": 1,
            "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_-]*$" },
            "additionalProperties": step
        })
    }
}

/// One step: the keys every step type shares, and those of its type.
#[derive(Clone, Debug)]
pub struct StepSpec {
    pub at: Position,
    pub common: CommonStepSpec,
    /// `None` when the type was missing or unknown (already reported).
    pub kind: Option<Located<StepKindSpec>>,
}

/// Keys every step type accepts.
#[derive(Clone, Debug, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CommonStepSpec {
    pub description: Option<String>,
    /// Steps that must settle before this one runs.
    pub needs: Option<Vec<Located<String>>>,
    /// A CEL condition; false skips the step (and, with `join: all`, its dependants).
    pub when: Option<Located<String>>,
    /// `all` (default): every need completed. `any`: every need settled, at least one completed.
    pub join: Option<Join>,
    pub retry: Option<RetrySpec>,
    /// Deadline of one attempt.
    pub timeout: Option<Located<DurationSpec>>,
    /// Longest silence between a worker's heartbeats once the step started.
    pub heartbeat_timeout: Option<Located<DurationSpec>>,
    /// What a terminal failure does: `compensate` (default), `continue` or `fail`.
    pub on_error: Option<OnError>,
    /// How to undo this step if the instance compensates.
    pub compensate: Option<CompensationSpec>,
    /// Dispatch priority, 0 (lowest, default) to 9.
    #[schemars(range(max = 9))]
    pub priority: Option<Located<u8>>,
}

#[derive(Clone, Debug)]
pub enum StepKindSpec {
    Task(TaskSpec),
    Http(HttpSpec),
    Approval(ApprovalSpec),
    Wait(WaitSpec),
    Noop(NoopSpec),
    Fail(FailSpec),
    Signal(SignalSpec),
}

/// A step run by an external worker consuming `queue`.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TaskSpec {
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"))]
    pub queue: Located<String>,
    pub input: Option<TemplateSpec>,
}

/// A call made by the built-in HTTP executor. Non-2xx fails; 5xx, 408, 429 and
/// transport errors are retried. Every request carries an `Idempotency-Key`.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HttpSpec {
    pub request: Located<HttpRequestSpec>,
}

#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HttpRequestSpec {
    /// GET, POST, PUT, PATCH, DELETE or HEAD (default GET).
    #[schemars(regex(pattern = "^(GET|POST|PUT|PATCH|DELETE|HEAD)$"))]
    pub method: Option<Located<String>>,
    pub url: TemplateSpec,
    pub headers: Option<TemplateSpec>,
    pub body: Option<TemplateSpec>,
    /// The whole request, as written, compiled as one template.
    #[schemars(skip)]
    pub whole: TemplateSpec,
}

/// A person decides; the output is `{approved, by, comment}`.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ApprovalSpec {
    /// `role:NAME` or `user:NAME`; empty means anyone may decide.
    pub approvers: Option<Vec<Located<String>>>,
    /// What the step's `timeout` means: `reject` (default) or `approve`.
    pub on_timeout: Option<ApprovalTimeout>,
}

/// Waits for a duration or until a time (exactly one of them).
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct WaitSpec {
    pub duration: Option<Located<DurationSpec>>,
    /// An RFC 3339 timestamp, or a `${ }` template that renders one.
    pub until: Option<TemplateSpec>,
}

/// Does nothing (optionally for a while) and completes with `output`.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NoopSpec {
    pub output: Option<TemplateSpec>,
    pub duration: Option<Located<DurationSpec>>,
}

/// Ends its branch as failed with `message`.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct FailSpec {
    pub message: TemplateSpec,
}

/// Waits for the signal `name`, sent to the instance from outside
/// (`POST /api/v1/workflows/{id}/signals/{name}`); the output is its payload.
/// A signal sent before the step is reached is kept until it is.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SignalSpec {
    /// Letters, digits, `_`, `-` and `.`: the name senders use.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"), length(max = 128))]
    pub name: Located<String>,
    /// A JSON Schema the payload must satisfy; a payload that breaks it is refused (422).
    pub schema: Option<Located<serde_json::Value>>,
    /// What the step's `timeout` means: `fail` (default: the step fails, `on_error` decides) or `skip`.
    pub on_timeout: Option<SignalTimeout>,
}

/// How a completed step is undone: a task or an HTTP call.
#[derive(Clone, Debug)]
pub struct CompensationSpec {
    pub at: Position,
    pub kind: Option<CompensationKindSpec>,
    pub retry: Option<RetrySpec>,
    pub timeout: Option<Located<DurationSpec>>,
}

#[derive(Clone, Debug)]
pub enum CompensationKindSpec {
    Task(TaskSpec),
    Http(HttpSpec),
}

/// The keys of each step type, beside the common ones.
pub const STEP_TYPES: &[(&str, &[&str])] = &[
    ("task", &["queue", "input"]),
    ("http", &["request"]),
    ("approval", &["approvers", "on_timeout"]),
    ("wait", &["duration", "until"]),
    ("noop", &["output", "duration"]),
    ("fail", &["message"]),
    ("signal", &["name", "schema", "on_timeout"]),
];

pub const COMMON_STEP_KEYS: &[&str] = &[
    "type",
    "description",
    "needs",
    "when",
    "join",
    "retry",
    "timeout",
    "heartbeat_timeout",
    "on_error",
    "compensate",
    "priority",
];
