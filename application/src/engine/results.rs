//! Worker results and timers, turned into commands.

use domain::instance::effects::TaskKind;
use domain::instance::{Command, Event};
use tracing::Instrument;

use super::{Engine, Origin, Submission};
use crate::Error;
use crate::messages::{TaskOutcome, TaskResult};
use crate::ports::{DueTimer, EventStore, TimerQueue};

/// What a worker's report asks of an instance.
enum Report {
    Commands(Vec<Command>),
    Heartbeat,
    Nothing,
}

fn report_of(result: &TaskResult) -> Report {
    let step = result.step.clone();
    let attempt = result.attempt;
    let command = match (result.kind, &result.outcome) {
        (TaskKind::Forward, TaskOutcome::Started { worker }) => Command::RecordStepStarted {
            step,
            attempt,
            worker: worker.clone(),
        },
        (TaskKind::Forward, TaskOutcome::Completed { output }) => Command::CompleteStep {
            step,
            attempt,
            output: output.clone(),
        },
        (TaskKind::Forward, TaskOutcome::Failed { error }) => Command::FailStep {
            step,
            attempt,
            error: error.clone(),
        },
        (TaskKind::Compensation, TaskOutcome::Completed { output }) => {
            Command::CompleteCompensation {
                step,
                attempt,
                output: output.clone(),
            }
        }
        (TaskKind::Compensation, TaskOutcome::Failed { error }) => Command::FailCompensation {
            step,
            attempt,
            error: error.clone(),
        },
        (TaskKind::Forward, TaskOutcome::Heartbeat { .. }) => return Report::Heartbeat,
        // A compensation's start and heartbeats are not events.
        (TaskKind::Compensation, TaskOutcome::Started { .. } | TaskOutcome::Heartbeat { .. }) => {
            return Report::Nothing;
        }
    };
    // A final outcome that names its worker stands for the start as well;
    // a start already recorded makes the first command decide nothing.
    let started = match (&result.started_by, &command) {
        (Some(worker), Command::CompleteStep { .. } | Command::FailStep { .. }) => {
            Some(Command::RecordStepStarted {
                step: result.step.clone(),
                attempt,
                worker: worker.clone(),
            })
        }
        _ => None,
    };
    Report::Commands(started.into_iter().chain([command]).collect())
}

fn origin_of(result: &TaskResult) -> Origin {
    Origin::actor(format!("worker:{}", result.task_id))
}

impl<S: EventStore + TimerQueue> Engine<S> {
    /// Applies a worker's report. Duplicates and stale reports decide nothing.
    pub async fn handle_result(&self, result: TaskResult) -> Result<Vec<Event>, Error> {
        match report_of(&result) {
            Report::Commands(commands) => {
                self.execute_all(result.instance_id, &commands, &origin_of(&result))
                    .await
            }
            Report::Heartbeat => {
                self.heartbeat(&result.instance_id, &result.step, result.attempt)
                    .await?;
                Ok(Vec::new())
            }
            Report::Nothing => Ok(Vec::new()),
        }
    }

    /// Applies many reports at once: the commands they carry are stored in
    /// one batch append (see [`Engine::execute_batch`]); heartbeats move
    /// their timers one by one. Outcomes come back in the order of `results`.
    pub async fn handle_results(&self, results: &[TaskResult]) -> Vec<Result<Vec<Event>, Error>> {
        let span = tracing::debug_span!("results", count = results.len());
        self.apply_results(results).instrument(span).await
    }

    async fn apply_results(&self, results: &[TaskResult]) -> Vec<Result<Vec<Event>, Error>> {
        let mut outcomes: Vec<Option<Result<Vec<Event>, Error>>> =
            results.iter().map(|_| None).collect();
        let mut submissions = Vec::with_capacity(results.len());
        let mut submitted = Vec::with_capacity(results.len());
        for (index, result) in results.iter().enumerate() {
            if holds_nul(result) {
                // No store keeps it (PostgreSQL refuses NUL): never requeue it.
                outcomes[index] = Some(Err(Error::Invalid {
                    reason: format!(
                        "the result of task {} holds a NUL character (\\u0000), which cannot be stored",
                        result.task_id
                    ),
                }));
                continue;
            }
            match report_of(result) {
                Report::Commands(commands) => {
                    submissions.push(Submission {
                        instance: result.instance_id,
                        commands,
                        origin: origin_of(result),
                    });
                    submitted.push(index);
                }
                Report::Heartbeat => {
                    outcomes[index] = Some(
                        self.heartbeat(&result.instance_id, &result.step, result.attempt)
                            .await
                            .map(|()| Vec::new()),
                    );
                }
                Report::Nothing => outcomes[index] = Some(Ok(Vec::new())),
            }
        }
        for (index, outcome) in submitted
            .into_iter()
            .zip(self.execute_batch(&submissions).await)
        {
            outcomes[index] = Some(outcome);
        }
        outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or_else(|| Ok(Vec::new())))
            .collect()
    }

    /// A heartbeat is not an event: it moves the attempt's heartbeat timer
    /// `heartbeat_timeout` into the future, if the attempt is still running.
    async fn heartbeat(
        &self,
        instance: &domain::InstanceId,
        step: &domain::StepId,
        attempt: u32,
    ) -> Result<(), Error> {
        let state = self.state(*instance).await?;
        let Some(index) = state.definition.step_index(step.as_str()) else {
            return Err(Error::Invalid {
                reason: format!("no step `{step}` in this workflow"),
            });
        };
        let running = state.steps[index].status() == domain::instance::StepStatus::Running
            && state.steps[index].attempt == attempt;
        if let (true, Some(timeout)) = (running, state.definition.steps[index].heartbeat_timeout) {
            let due = self.clock().now()
                + chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
            let timer = domain::instance::Timer::Heartbeat {
                step: step.clone(),
                attempt,
            };
            self.store()
                .reschedule_timer(*instance, &timer, due)
                .await?;
        }
        Ok(())
    }

    /// Fires a due timer.
    pub async fn fire(&self, due: &DueTimer) -> Result<Vec<Event>, Error> {
        let origin = Origin::actor("system:timer");
        self.execute(due.instance, Command::FireTimer(due.timer.clone()), &origin)
            .await
    }
}

/// Whether a string of the result (its output, its error, a worker's name)
/// holds NUL.
fn holds_nul(result: &TaskResult) -> bool {
    fn in_value(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(text) => text.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(in_value),
            serde_json::Value::Object(entries) => entries
                .iter()
                .any(|(key, value)| key.contains('\0') || in_value(value)),
            _ => false,
        }
    }
    let texts = [Some(result.task_id.as_str()), result.started_by.as_deref()];
    texts.into_iter().flatten().any(|text| text.contains('\0'))
        || match &result.outcome {
            TaskOutcome::Completed { output } => in_value(output),
            TaskOutcome::Failed { error } => error.message.contains('\0'),
            TaskOutcome::Started { worker } => worker.contains('\0'),
            TaskOutcome::Heartbeat { .. } => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_result_holding_nul_anywhere_is_told_apart() {
        let result = |outcome| TaskResult {
            task_id: "t".into(),
            instance_id: domain::InstanceId(uuid::Uuid::nil()),
            step: "s".into(),
            attempt: 1,
            kind: domain::instance::effects::TaskKind::Forward,
            started_by: None,
            outcome,
        };
        let output = |output| result(TaskOutcome::Completed { output });
        assert!(holds_nul(&output(json!({"a": ["x\u{0}"]}))));
        assert!(holds_nul(&output(json!({"k\u{0}": 1}))));
        assert!(!holds_nul(&output(json!({"text": "\\u0000 is text"}))));
    }
}
