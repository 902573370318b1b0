//! What the world does next: the action a choice asks for, an operator's
//! retry or skip, or (once the choices run out) what a healthy world does.

use domain::definition::OnError;
use domain::instance::{
    Actor, Command, CompensationState, InstanceStatus, StepError, StepStatus, Waiting,
};
use domain::testkit::admin;
use proptest::sample::Index;
use serde_json::json;

use crate::cases::{Category, Choice, category};
use crate::oracle::{in_flight, is_task, scheduled_compensations, step_id, waiting_approvals};
use crate::world::{Action, World, next_output, pick};

impl World {
    /// The benign action: what a healthy world does next.
    pub(crate) fn benign(&mut self, target: Option<Index>) -> Option<Action> {
        let state = &self.h.state;
        let count = state.steps.len();
        if state.status == InstanceStatus::Paused {
            return Some(Action::Accepted(Command::Resume));
        }
        let flying: Vec<usize> = (0..count).filter(|&i| in_flight(state, i)).collect();
        if let Some(index) = pick(&flying, target) {
            return Some(Action::Live(Command::CompleteStep {
                step: step_id(state, index),
                attempt: state.steps[index].attempt,
                output: next_output(&mut self.outputs),
            }));
        }
        let compensations = scheduled_compensations(state);
        if let Some((index, attempt)) = pick(&compensations, target) {
            return Some(Action::Live(Command::CompleteCompensation {
                step: step_id(state, index),
                attempt,
                output: json!({ "undone": true }),
            }));
        }
        let approvals = waiting_approvals(state);
        if let Some(index) = pick(&approvals, target) {
            return Some(Action::Live(Command::Approve {
                step: step_id(state, index),
                actor: Actor::new("alice", &[]),
                comment: None,
            }));
        }
        if !self.h.timers.is_empty() {
            return Some(Action::FireNextTimer);
        }
        None
    }

    /// The action a choice asks for, if it is possible now.
    pub(crate) fn chosen(&mut self, choice: Choice) -> Option<Action> {
        let state = &self.h.state;
        let count = state.steps.len();
        let target = choice.target;
        let flying: Vec<usize> = (0..count).filter(|&i| in_flight(state, i)).collect();
        let action = match category(&self.weights, choice.kind) {
            Category::CompleteStep => {
                let index = pick(&flying, target)?;
                Action::Live(Command::CompleteStep {
                    step: step_id(state, index),
                    attempt: state.steps[index].attempt,
                    output: next_output(&mut self.outputs),
                })
            }
            Category::RecordStarted => {
                let scheduled: Vec<usize> = flying
                    .iter()
                    .copied()
                    .filter(|&i| state.steps[i].status() == StepStatus::Scheduled)
                    .collect();
                let index = pick(&scheduled, target)?;
                Action::Live(Command::RecordStepStarted {
                    step: step_id(state, index),
                    attempt: state.steps[index].attempt,
                    worker: "w1".to_owned(),
                })
            }
            Category::FailRetryable | Category::FailPermanent => {
                let index = pick(&flying, target)?;
                let retryable = category(&self.weights, choice.kind) == Category::FailRetryable;
                Action::Live(Command::FailStep {
                    step: step_id(state, index),
                    attempt: state.steps[index].attempt,
                    error: StepError {
                        message: "broke".to_owned(),
                        retryable,
                    },
                })
            }
            Category::CompleteCompensation => {
                let (index, attempt) = pick(&scheduled_compensations(state), target)?;
                Action::Live(Command::CompleteCompensation {
                    step: step_id(state, index),
                    attempt,
                    output: json!({ "undone": true }),
                })
            }
            Category::FailCompensationRetryable | Category::FailCompensationPermanent => {
                let (index, attempt) = pick(&scheduled_compensations(state), target)?;
                let retryable =
                    category(&self.weights, choice.kind) == Category::FailCompensationRetryable;
                Action::Live(Command::FailCompensation {
                    step: step_id(state, index),
                    attempt,
                    error: StepError {
                        message: "undo broke".to_owned(),
                        retryable,
                    },
                })
            }
            Category::Approve | Category::Reject => {
                let index = pick(&waiting_approvals(state), target)?;
                let step = step_id(state, index);
                let actor = Actor::new("bob", &[]);
                let comment = choice.flag.then(|| "ok".to_owned());
                Action::Live(
                    if category(&self.weights, choice.kind) == Category::Approve {
                        Command::Approve {
                            step,
                            actor,
                            comment,
                        }
                    } else {
                        Command::Reject {
                            step,
                            actor,
                            comment,
                        }
                    },
                )
            }
            Category::FireTimer => {
                if self.h.timers.is_empty() {
                    return None;
                }
                Action::FireNextTimer
            }
            Category::Duplicate => {
                // Mostly results; sometimes a decided approval. Approve and
                // Reject name no attempt: once an operator's retry asks for
                // the approval again, a repeat is a new decision, not a duplicate.
                let decided = (choice.flag && choice.kind.is_multiple_of(4))
                    .then_some(())
                    .and_then(|()| {
                        let position = target.index(self.decisions.len().max(1));
                        self.decisions.get(position).cloned()
                    })
                    .filter(|decision| {
                        let (Command::Approve { step, .. } | Command::Reject { step, .. }) =
                            decision
                        else {
                            return false;
                        };
                        state
                            .definition
                            .step_index(step.as_str())
                            .is_some_and(|index| {
                                !matches!(
                                    state.steps[index].waiting(),
                                    Some(Waiting::Approval { .. })
                                )
                            })
                    });
                if let Some(command) = decided {
                    Action::Refused(command)
                } else if !self.delivered.is_empty() {
                    let command = self.delivered[target.index(self.delivered.len())].clone();
                    Action::Ignored(command)
                } else {
                    return None;
                }
            }
            Category::Stale => {
                // An older attempt of a step or of a compensation.
                let mut stale = Vec::new();
                for index in 0..count {
                    let step = &state.steps[index];
                    if is_task(&state.definition, index) {
                        for attempt in 1..step.attempt {
                            stale.push((index, attempt, false));
                        }
                    }
                    for attempt in 1..step.compensation_attempt {
                        stale.push((index, attempt, true));
                    }
                }
                let (index, attempt, compensation) = pick(&stale, target)?;
                let step = step_id(state, index);
                let error = StepError {
                    message: "late".to_owned(),
                    retryable: choice.flag,
                };
                Action::Ignored(match (compensation, choice.kind % 3) {
                    (false, 0) => Command::CompleteStep {
                        step,
                        attempt,
                        output: json!({ "stale": true }),
                    },
                    (false, 1) => Command::FailStep {
                        step,
                        attempt,
                        error,
                    },
                    (false, _) => Command::RecordStepStarted {
                        step,
                        attempt,
                        worker: "w0".to_owned(),
                    },
                    (true, 0 | 2) => Command::CompleteCompensation {
                        step,
                        attempt,
                        output: json!({ "stale": true }),
                    },
                    (true, _) => Command::FailCompensation {
                        step,
                        attempt,
                        error,
                    },
                })
            }
            Category::RefireTimer => {
                if self.fired.is_empty() {
                    return None;
                }
                let timer = self.fired[target.index(self.fired.len())].clone();
                Action::Ignored(Command::FireTimer(timer))
            }
            Category::Pause => {
                if state.status != InstanceStatus::Running {
                    return None;
                }
                Action::Accepted(Command::Pause)
            }
            Category::Resume => {
                if state.status != InstanceStatus::Paused {
                    return None;
                }
                Action::Accepted(Command::Resume)
            }
            Category::Cancel => {
                if !state.status.is_active() {
                    return None;
                }
                Action::Accepted(Command::Cancel {
                    compensate: choice.flag,
                })
            }
            category @ (Category::OperatorRetry | Category::OperatorSkip) => {
                return self.operator(category, target);
            }
        };
        Some(action)
    }

    /// An operator's `retry` or `skip`, if one applies now.
    pub(crate) fn operator(&self, category: Category, target: Index) -> Option<Action> {
        let state = &self.h.state;
        let count = state.steps.len();
        let skip = category == Category::OperatorSkip;
        let candidates: Vec<usize> = (0..count)
            .filter(|&index| {
                let step = &state.steps[index];
                match state.status {
                    InstanceStatus::Failed => {
                        step.status() == StepStatus::Failed
                            && state.definition.steps[index].on_error == OnError::Fail
                    }
                    InstanceStatus::CompensationFailed => {
                        matches!(step.compensation, CompensationState::Failed { .. })
                    }
                    InstanceStatus::Running | InstanceStatus::Paused => {
                        skip && (step.status() == StepStatus::Pending
                            || matches!(
                                step.waiting(),
                                Some(Waiting::Retry { .. } | Waiting::Approval { .. })
                            ))
                    }
                    _ => false,
                }
            })
            .collect();
        let step = step_id(state, pick(&candidates, target)?);
        let action = Action::Accepted(if skip {
            Command::SkipStep {
                step,
                output: json!({ "skipped_by": "operator" }),
                by: admin(),
            }
        } else {
            Command::RetryStep { step, by: admin() }
        });
        Some(action)
    }
}
