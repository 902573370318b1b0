//! Worker results and timers, turned into commands.

use domain::instance::effects::TaskKind;
use domain::instance::{Command, Event};

use super::{Engine, Origin};
use crate::Error;
use crate::messages::{TaskOutcome, TaskResult};
use crate::ports::{DueTimer, EventStore, TimerQueue};

impl<S: EventStore + TimerQueue> Engine<S> {
    /// Applies a worker's report. Duplicates and stale reports decide nothing.
    pub async fn handle_result(&self, result: TaskResult) -> Result<Vec<Event>, Error> {
        let step = result.step.clone();
        let attempt = result.attempt;
        let command = match (result.kind, result.outcome) {
            (TaskKind::Forward, TaskOutcome::Started { worker }) => Command::RecordStepStarted {
                step,
                attempt,
                worker,
            },
            (TaskKind::Forward, TaskOutcome::Completed { output }) => Command::CompleteStep {
                step,
                attempt,
                output,
            },
            (TaskKind::Forward, TaskOutcome::Failed { error }) => Command::FailStep {
                step,
                attempt,
                error,
            },
            (TaskKind::Compensation, TaskOutcome::Completed { output }) => {
                Command::CompleteCompensation {
                    step,
                    attempt,
                    output,
                }
            }
            (TaskKind::Compensation, TaskOutcome::Failed { error }) => Command::FailCompensation {
                step,
                attempt,
                error,
            },
            (TaskKind::Forward, TaskOutcome::Heartbeat { .. }) => {
                self.heartbeat(&result.instance_id, &step, attempt).await?;
                return Ok(Vec::new());
            }
            // A compensation's start and heartbeats are not events.
            (
                TaskKind::Compensation,
                TaskOutcome::Started { .. } | TaskOutcome::Heartbeat { .. },
            ) => {
                return Ok(Vec::new());
            }
        };
        let origin = Origin::actor(format!("worker:{}", result.task_id));
        self.execute(result.instance_id, command, &origin).await
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
        let running = state.steps[index].status == domain::instance::StepStatus::Running
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
