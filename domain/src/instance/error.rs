//! Why a command was refused: each variant names the rule it would break.

use crate::ids::StepId;

use super::state::InstanceStatus;
use super::step::StepStatus;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("the workflow has already started")]
    AlreadyStarted,
    #[error("the workflow has not started")]
    NotStarted,
    #[error("the input does not match the workflow's input schema: {}", problems.join("; "))]
    InputRejected { problems: Vec<String> },
    #[error("no step `{step}` in this workflow")]
    UnknownStep { step: StepId },
    #[error("the workflow is {status}, not running")]
    NotRunning { status: InstanceStatus },
    #[error("the workflow is {status}, not paused")]
    NotPaused { status: InstanceStatus },
    #[error("the workflow is {status}; only a running or paused workflow can be cancelled")]
    CannotCancel { status: InstanceStatus },
    #[error("step `{step}` is {status}, not waiting for an approval")]
    ApprovalNotPending { step: StepId, status: StepStatus },
    /// Names who may decide, so the caller learns which role to ask for.
    #[error("`{actor}` is not one of the approvers of step `{step}` ({})", approvers.join(", "))]
    NotAnApprover {
        step: StepId,
        actor: String,
        approvers: Vec<String>,
    },
    #[error("this workflow waits for no signal `{name}`; it waits for: {}", if expected.is_empty() { "none".to_owned() } else { expected.join(", ") })]
    UnknownSignal { name: String, expected: Vec<String> },
    #[error("the payload of signal `{name}` does not match its schema: {}", problems.join("; "))]
    SignalRejected { name: String, problems: Vec<String> },
    #[error("step `{step}` cannot be retried: it is {step_status} and the workflow is {status}")]
    NotRetryable {
        step: StepId,
        step_status: StepStatus,
        status: InstanceStatus,
    },
    #[error("step `{step}` cannot be skipped: it is {step_status} and the workflow is {status}")]
    NotSkippable {
        step: StepId,
        step_status: StepStatus,
        status: InstanceStatus,
    },
}
