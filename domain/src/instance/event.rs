//! Events: the facts an instance's stream is made of. Past tense, versioned
//! JSON (`type` names the variant); an old shape is upcast on read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::StepId;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    WorkflowStarted {
        definition: String,
        version: u32,
        hash: String,
        input: Value,
        started_by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<DateTime<Utc>>,
        /// When the instance breaches its `sla:` if it is still running then.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sla_due: Option<DateTime<Utc>>,
        /// Set when the start was asked for later: the instance is
        /// `scheduled` until [`Event::ScheduledStartReached`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start_at: Option<DateTime<Utc>>,
    },
    /// A scheduled instance's `start_at` came: it runs from now on.
    ScheduledStartReached,
    /// The instance was still running when its `sla:` ran out; it goes on.
    WorkflowSlaBreached {
        /// The `sla:` it ran past, in seconds.
        sla_seconds: u64,
    },
    StepScheduled {
        step: StepId,
        attempt: u32,
        input: Value,
        idempotency_key: String,
        /// Deadline of this attempt.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<DateTime<Utc>>,
        /// For steps the engine runs on a timer (`wait`, `noop` with a duration).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wake_at: Option<DateTime<Utc>>,
    },
    StepStarted {
        step: StepId,
        attempt: u32,
        worker: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        heartbeat_due: Option<DateTime<Utc>>,
    },
    StepCompleted {
        step: StepId,
        attempt: u32,
        output: Value,
    },
    StepFailed {
        step: StepId,
        attempt: u32,
        error: StepError,
    },
    StepTimedOut {
        step: StepId,
        attempt: u32,
        timeout: TimeoutKind,
    },
    StepRetryScheduled {
        step: StepId,
        /// The attempt that will run at `at`.
        attempt: u32,
        at: DateTime<Utc>,
    },
    StepSkipped {
        step: StepId,
        reason: SkipReason,
        /// Given by an operator who skipped the step in its stead.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<Value>,
    },
    /// An operator asked to run a failed step once more.
    StepRetryRequested {
        step: StepId,
    },
    ApprovalRequested {
        step: StepId,
        attempt: u32,
        approvers: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_at: Option<DateTime<Utc>>,
    },
    ApprovalGranted {
        step: StepId,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    ApprovalRejected {
        step: StepId,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// A `signal` step started waiting for its signal.
    SignalAwaited {
        step: StepId,
        attempt: u32,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_at: Option<DateTime<Utc>>,
    },
    /// A signal was sent to the instance; kept until a step takes it.
    SignalReceived {
        name: String,
        payload: Value,
        by: String,
    },
    /// A waiting step took the oldest kept signal of `name`; the
    /// `StepCompleted` that follows carries its payload.
    SignalConsumed {
        step: StepId,
        name: String,
    },
    WorkflowPaused,
    WorkflowResumed,
    CancellationRequested {
        compensate: bool,
    },
    CompensationStarted {
        cause: CompensationCause,
    },
    CompensationScheduled {
        step: StepId,
        attempt: u32,
        input: Value,
        idempotency_key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<DateTime<Utc>>,
    },
    CompensationCompleted {
        step: StepId,
        attempt: u32,
        output: Value,
    },
    CompensationFailed {
        step: StepId,
        attempt: u32,
        error: StepError,
    },
    CompensationRetryScheduled {
        step: StepId,
        attempt: u32,
        at: DateTime<Utc>,
    },
    /// An operator asked to run a failed compensation once more.
    CompensationRetryRequested {
        step: StepId,
    },
    /// An operator declared a failed compensation done by other means.
    CompensationSkipped {
        step: StepId,
    },
    WorkflowCompleted {
        output: Value,
    },
    WorkflowFailed {
        error: String,
    },
    WorkflowCompensated,
    WorkflowCompensationFailed {
        steps: Vec<StepId>,
    },
    WorkflowCancelled,
}

impl Event {
    /// The name stored in the `type` column.
    pub fn name(&self) -> &'static str {
        match self {
            Event::WorkflowStarted { .. } => "WorkflowStarted",
            Event::ScheduledStartReached => "ScheduledStartReached",
            Event::WorkflowSlaBreached { .. } => "WorkflowSlaBreached",
            Event::StepScheduled { .. } => "StepScheduled",
            Event::StepStarted { .. } => "StepStarted",
            Event::StepCompleted { .. } => "StepCompleted",
            Event::StepFailed { .. } => "StepFailed",
            Event::StepTimedOut { .. } => "StepTimedOut",
            Event::StepRetryScheduled { .. } => "StepRetryScheduled",
            Event::StepSkipped { .. } => "StepSkipped",
            Event::StepRetryRequested { .. } => "StepRetryRequested",
            Event::ApprovalRequested { .. } => "ApprovalRequested",
            Event::ApprovalGranted { .. } => "ApprovalGranted",
            Event::ApprovalRejected { .. } => "ApprovalRejected",
            Event::SignalAwaited { .. } => "SignalAwaited",
            Event::SignalReceived { .. } => "SignalReceived",
            Event::SignalConsumed { .. } => "SignalConsumed",
            Event::WorkflowPaused => "WorkflowPaused",
            Event::WorkflowResumed => "WorkflowResumed",
            Event::CancellationRequested { .. } => "CancellationRequested",
            Event::CompensationStarted { .. } => "CompensationStarted",
            Event::CompensationScheduled { .. } => "CompensationScheduled",
            Event::CompensationCompleted { .. } => "CompensationCompleted",
            Event::CompensationFailed { .. } => "CompensationFailed",
            Event::CompensationRetryScheduled { .. } => "CompensationRetryScheduled",
            Event::CompensationRetryRequested { .. } => "CompensationRetryRequested",
            Event::CompensationSkipped { .. } => "CompensationSkipped",
            Event::WorkflowCompleted { .. } => "WorkflowCompleted",
            Event::WorkflowFailed { .. } => "WorkflowFailed",
            Event::WorkflowCompensated => "WorkflowCompensated",
            Event::WorkflowCompensationFailed { .. } => "WorkflowCompensationFailed",
            Event::WorkflowCancelled => "WorkflowCancelled",
        }
    }

    /// The shape version written with the event; bump it when a shape changes
    /// and teach the upcaster the old one.
    pub const fn schema_version(&self) -> u32 {
        1
    }

    /// The step the event is about, if any.
    pub fn step(&self) -> Option<&StepId> {
        match self {
            Event::StepScheduled { step, .. }
            | Event::StepStarted { step, .. }
            | Event::StepCompleted { step, .. }
            | Event::StepFailed { step, .. }
            | Event::StepTimedOut { step, .. }
            | Event::StepRetryScheduled { step, .. }
            | Event::StepSkipped { step, .. }
            | Event::StepRetryRequested { step }
            | Event::ApprovalRequested { step, .. }
            | Event::ApprovalGranted { step, .. }
            | Event::ApprovalRejected { step, .. }
            | Event::SignalAwaited { step, .. }
            | Event::SignalConsumed { step, .. }
            | Event::CompensationScheduled { step, .. }
            | Event::CompensationCompleted { step, .. }
            | Event::CompensationFailed { step, .. }
            | Event::CompensationRetryScheduled { step, .. }
            | Event::CompensationRetryRequested { step }
            | Event::CompensationSkipped { step } => Some(step),
            _ => None,
        }
    }

    /// `Type step#attempt`, or just the type for instance-level events.
    pub fn summary(&self) -> String {
        let event = self;
        let attempt = match event {
            Event::StepScheduled { attempt, .. }
            | Event::StepStarted { attempt, .. }
            | Event::StepCompleted { attempt, .. }
            | Event::StepFailed { attempt, .. }
            | Event::StepTimedOut { attempt, .. }
            | Event::StepRetryScheduled { attempt, .. }
            | Event::ApprovalRequested { attempt, .. }
            | Event::SignalAwaited { attempt, .. }
            | Event::CompensationScheduled { attempt, .. }
            | Event::CompensationCompleted { attempt, .. }
            | Event::CompensationFailed { attempt, .. }
            | Event::CompensationRetryScheduled { attempt, .. } => Some(*attempt),
            _ => None,
        };
        match (event.step(), attempt) {
            (Some(step), Some(attempt)) => format!("{} {step}#{attempt}", event.name()),
            (Some(step), None) => format!("{} {step}", event.name()),
            _ => event.name().to_owned(),
        }
    }

    /// Whether the instance is in a final state after this event.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Event::WorkflowCompleted { .. }
                | Event::WorkflowFailed { .. }
                | Event::WorkflowCompensated
                | Event::WorkflowCompensationFailed { .. }
                | Event::WorkflowCancelled
        )
    }
}

/// Why an attempt failed, as a worker or the engine reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepError {
    pub message: String,
    /// Whether another attempt may succeed.
    pub retryable: bool,
}

impl StepError {
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutKind {
    /// The attempt ran past the step's `timeout`.
    Attempt,
    /// The worker stopped sending heartbeats.
    Heartbeat,
    /// Nobody decided an approval in time.
    Approval,
    /// No signal came in time.
    Signal,
}

impl TimeoutKind {
    /// What the timeout means, as a step's error shows it.
    pub fn message(self) -> &'static str {
        match self {
            Self::Attempt => "the attempt timed out",
            Self::Heartbeat => "the worker stopped sending heartbeats",
            Self::Approval => "nobody decided the approval in time",
            Self::Signal => "no signal came in time",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// Its `when` was false.
    ConditionFalse,
    /// A need was skipped, so this step cannot run.
    UpstreamSkipped { need: StepId },
    /// An operator skipped it, giving its output.
    Operator,
    /// Its signal did not come in time (`on_timeout: skip`).
    TimedOut,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CompensationCause {
    StepFailed { step: StepId },
    WorkflowTimedOut,
    Cancelled,
    OutputFailed { message: String },
}

/// How an attempt ended badly: the event recorded (`StepFailed` or
/// `StepTimedOut`), and the failure a step's state keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureKind {
    Failed(StepError),
    TimedOut(TimeoutKind),
}

impl FailureKind {
    pub fn message(&self) -> &str {
        match self {
            Self::Failed(error) => &error.message,
            Self::TimedOut(timeout) => timeout.message(),
        }
    }
}
