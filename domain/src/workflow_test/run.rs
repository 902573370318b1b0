//! Runs one test case through the pure engine: starts the instance, answers
//! each dispatched attempt, approval and compensation as the script says,
//! in the order the engine asked for them, and fires timers (moving a fake
//! clock) when nothing else is left to do. No worker, no database, no time.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value;

use super::file::{Outcome, Script, TestCase};
use crate::definition::{Position, Problem, StepKind, WorkflowDefinition};
use crate::ids::StepId;
use crate::instance::{Actor, Command, Event, InstanceStatus, StepError, StepStatus};
use crate::testkit::Harness;

/// A run may not decide more commands than this (a retry loop that never ends).
const MAX_COMMANDS: usize = 100_000;

/// What a run came to.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub status: InstanceStatus,
    pub output: Option<Value>,
    /// Steps scheduled at least once, in the definition's order.
    pub ran: Vec<String>,
    /// Skipped steps, in the definition's order.
    pub skipped: Vec<String>,
    /// Steps undone, in the order their compensations completed.
    pub compensated: Vec<String>,
    /// Why the instance stopped short of a final state, if it did.
    pub stuck: Option<String>,
}

/// Why a case could not run to an observation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("the input was refused: {0}")]
    InputRefused(String),
    #[error("step `{step}` ran but the test scripts no outcome for it (add it under `steps:`)")]
    NotScripted { step: StepId },
    #[error("step `{step}`: `{outcome}` does not apply to a {kind} step")]
    WrongOutcome {
        step: StepId,
        outcome: &'static str,
        kind: &'static str,
    },
    #[error("step `{step}`: the engine refused the scripted outcome: {reason}")]
    Refused { step: StepId, reason: String },
    #[error("the run did not end after {MAX_COMMANDS} commands")]
    Endless,
}

/// The steps a case names that the definition lacks, each at its position.
pub fn unknown_steps(case: &TestCase, definition: &WorkflowDefinition) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (step, _) in case.steps.iter().chain(&case.compensations) {
        if definition.step(&step.value).is_none() {
            problems.push(unknown(step.at, &step.value, definition));
        }
    }
    let expect = &case.expect;
    for listed in [&expect.ran, &expect.skipped, &expect.compensated]
        .into_iter()
        .flatten()
    {
        for step in listed
            .value
            .iter()
            .filter(|step| definition.step(step).is_none())
        {
            problems.push(unknown(listed.at, step, definition));
        }
    }
    problems
}

fn unknown(at: Position, step: &str, definition: &WorkflowDefinition) -> Problem {
    let known: Vec<&str> = definition
        .steps
        .iter()
        .map(|step| step.id.as_str())
        .collect();
    Problem::new(
        at,
        format!(
            "`{step}` is not a step of {} v{}; its steps are: {}",
            definition.name,
            definition.version,
            known.join(", ")
        ),
    )
}

/// A request of the engine that the script answers.
#[derive(Clone, Debug)]
enum Work {
    Attempt {
        step: StepId,
        attempt: u32,
    },
    Approval {
        step: StepId,
        attempt: u32,
    },
    Signal {
        step: StepId,
        attempt: u32,
        name: String,
    },
    Compensation {
        step: StepId,
        attempt: u32,
    },
}

/// Runs `case` on `definition` to a final state (or until nothing is left to do).
pub fn run_case(
    definition: Arc<WorkflowDefinition>,
    case: &TestCase,
) -> Result<Observed, RunError> {
    let mut run = Run {
        harness: Harness::new(definition),
        case,
        work: VecDeque::new(),
    };
    run.decide(
        None,
        Command::StartWorkflow {
            input: case.input.clone(),
            started_by: "test".to_owned(),
            start_at: None,
        },
    )
    .map_err(|error| match error {
        RunError::Refused { reason, .. } => RunError::InputRefused(reason),
        other => other,
    })?;
    for (name, payload) in &case.signals {
        let signal = Command::Signal {
            name: name.value.clone(),
            payload: payload.clone(),
            actor: Actor::new("test", &[]),
        };
        run.decide(None, signal)?;
    }
    for _ in 0..MAX_COMMANDS {
        if run.harness.state.status.is_final() {
            return Ok(run.observed());
        }
        if let Some(work) = run.work.pop_front() {
            run.answer(work)?;
        } else if let Some(timer) = run.harness.next_timer() {
            run.decide(None, Command::FireTimer(timer))?;
        } else {
            return Ok(run.observed());
        }
    }
    Err(RunError::Endless)
}

struct Run<'c> {
    harness: Harness,
    case: &'c TestCase,
    /// What the engine asked for and the script has not answered yet, oldest first.
    work: VecDeque<Work>,
}

impl Run<'_> {
    fn decide(&mut self, step: Option<&StepId>, command: Command) -> Result<(), RunError> {
        let events = self
            .harness
            .when(command)
            .map_err(|error| RunError::Refused {
                step: step.cloned().unwrap_or_else(|| StepId::from("-")),
                reason: error.to_string(),
            })?;
        for event in &events {
            if let Some(work) = self.work_of(event) {
                self.work.push_back(work);
            }
        }
        Ok(())
    }

    fn work_of(&self, event: &Event) -> Option<Work> {
        let definition = &self.harness.state.definition;
        match event {
            Event::StepScheduled { step, attempt, .. }
                if definition.step(step.as_str())?.kind.is_dispatched() =>
            {
                Some(Work::Attempt {
                    step: step.clone(),
                    attempt: *attempt,
                })
            }
            Event::ApprovalRequested { step, attempt, .. } => Some(Work::Approval {
                step: step.clone(),
                attempt: *attempt,
            }),
            Event::SignalAwaited {
                step,
                attempt,
                name,
                ..
            } => Some(Work::Signal {
                step: step.clone(),
                attempt: *attempt,
                name: name.clone(),
            }),
            Event::CompensationScheduled { step, attempt, .. } => Some(Work::Compensation {
                step: step.clone(),
                attempt: *attempt,
            }),
            _ => None,
        }
    }

    fn answer(&mut self, work: Work) -> Result<(), RunError> {
        match work {
            Work::Attempt { step, attempt } => {
                let script = self.script(&step)?;
                let command = match script.outcome(attempt) {
                    Outcome::Complete(output) => Command::CompleteStep {
                        step: step.clone(),
                        attempt,
                        output: output.clone(),
                    },
                    Outcome::Fail { message, retryable } => Command::FailStep {
                        step: step.clone(),
                        attempt,
                        error: StepError {
                            message: message.clone(),
                            retryable: *retryable,
                        },
                    },
                    Outcome::TimeOut => return Ok(()),
                    other => return Err(self.wrong(&step, other)),
                };
                self.decide(Some(&step), command)
            }
            Work::Approval { step, attempt } => {
                let script = self.script(&step)?;
                let command = match script.outcome(attempt) {
                    Outcome::Approve { by, comment } => Command::Approve {
                        actor: self.approver(&step, by.as_deref()),
                        step: step.clone(),
                        comment: comment.clone(),
                    },
                    Outcome::Reject { by, comment } => Command::Reject {
                        actor: self.approver(&step, by.as_deref()),
                        step: step.clone(),
                        comment: comment.clone(),
                    },
                    Outcome::TimeOut => return Ok(()),
                    other => return Err(self.wrong(&step, other)),
                };
                self.decide(Some(&step), command)
            }
            Work::Signal {
                step,
                attempt,
                name,
            } => {
                // Already taken: a signal sent before the step was reached.
                let state = self.harness.step(step.as_str());
                if state.attempt != attempt || state.status() != StepStatus::Waiting {
                    return Ok(());
                }
                let script = self.script(&step)?;
                let command = match script.outcome(attempt) {
                    Outcome::Signal(payload) => Command::Signal {
                        name,
                        payload: payload.clone(),
                        actor: Actor::new("test", &[]),
                    },
                    Outcome::TimeOut => return Ok(()),
                    other => return Err(self.wrong(&step, other)),
                };
                self.decide(Some(&step), command)
            }
            Work::Compensation { step, attempt } => {
                let command = match self
                    .case
                    .compensation_script(step.as_str())
                    .map(|script| script.outcome(attempt))
                {
                    None => Command::CompleteCompensation {
                        step: step.clone(),
                        attempt,
                        output: Value::Null,
                    },
                    Some(Outcome::Complete(output)) => Command::CompleteCompensation {
                        step: step.clone(),
                        attempt,
                        output: output.clone(),
                    },
                    Some(Outcome::Fail { message, retryable }) => Command::FailCompensation {
                        step: step.clone(),
                        attempt,
                        error: StepError {
                            message: message.clone(),
                            retryable: *retryable,
                        },
                    },
                    Some(Outcome::TimeOut) => return Ok(()),
                    Some(other) => return Err(self.wrong(&step, other)),
                };
                self.decide(Some(&step), command)
            }
        }
    }

    fn script(&self, step: &StepId) -> Result<&Script, RunError> {
        self.case
            .step_script(step.as_str())
            .ok_or_else(|| RunError::NotScripted { step: step.clone() })
    }

    fn wrong(&self, step: &StepId, outcome: &Outcome) -> RunError {
        let kind = self
            .harness
            .state
            .definition
            .step(step.as_str())
            .map_or("unknown", |definition| definition.kind.name());
        RunError::WrongOutcome {
            step: step.clone(),
            outcome: outcome.name(),
            kind,
        }
    }

    /// `by`, holding every role the step's approvers name; without `by`,
    /// the first user the step names, or `test`.
    fn approver(&self, step: &StepId, by: Option<&str>) -> Actor {
        let approvers: &[String] = match self
            .harness
            .state
            .definition
            .step(step.as_str())
            .map(|step| &step.kind)
        {
            Some(StepKind::Approval { approvers, .. }) => approvers,
            _ => &[],
        };
        let named = |prefix: &'static str| {
            approvers
                .iter()
                .filter_map(move |approver| approver.strip_prefix(prefix))
        };
        let id = by
            .or_else(|| named("user:").next())
            .unwrap_or("test")
            .to_owned();
        let roles = named("role:").map(str::to_owned).collect();
        Actor { id, roles }
    }

    fn observed(&self) -> Observed {
        let state = &self.harness.state;
        let ids = |status: StepStatus| -> Vec<String> {
            state
                .definition
                .steps
                .iter()
                .zip(&state.steps)
                .filter(|(_, step)| step.status() == status)
                .map(|(definition, _)| definition.id.to_string())
                .collect()
        };
        let ran = state
            .definition
            .steps
            .iter()
            .filter(|step| {
                self.harness
                    .history
                    .iter()
                    .any(|event| scheduled(event, &step.id))
            })
            .map(|step| step.id.to_string())
            .collect();
        let compensated = self
            .harness
            .history
            .iter()
            .filter_map(|event| match event {
                Event::CompensationCompleted { step, .. } => Some(step.to_string()),
                _ => None,
            })
            .collect();
        Observed {
            status: state.status,
            output: state.output.clone(),
            ran,
            skipped: ids(StepStatus::Skipped),
            compensated,
            stuck: (!state.status.is_final()).then(|| self.stuck()),
        }
    }

    /// What the instance still waits for when nothing is left to answer.
    fn stuck(&self) -> String {
        let state = &self.harness.state;
        let waiting: Vec<String> = state
            .definition
            .steps
            .iter()
            .zip(&state.steps)
            .filter(|(_, step)| {
                matches!(
                    step.status(),
                    StepStatus::Scheduled | StepStatus::Running | StepStatus::Waiting
                )
            })
            .map(|(definition, step)| format!("{} ({})", definition.id, step.status()))
            .collect();
        if waiting.is_empty() {
            format!(
                "the instance stopped {} with nothing to wait for",
                state.status
            )
        } else {
            format!(
                "the instance stopped {}, waiting for {} (a step scripted `timeout: true` without a `timeout:` never ends)",
                state.status,
                waiting.join(", ")
            )
        }
    }
}

fn scheduled(event: &Event, id: &StepId) -> bool {
    matches!(
        event,
        Event::StepScheduled { step, .. } | Event::ApprovalRequested { step, .. } if step == id
    )
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Complete(_) => "output",
            Outcome::Fail { .. } => "fail",
            Outcome::TimeOut => "timeout",
            Outcome::Approve { .. } => "approve",
            Outcome::Reject { .. } => "reject",
            Outcome::Signal(_) => "signal",
        }
    }
}
