//! Worker results and timers, turned into commands.

use domain::instance::effects::TaskKind;
use domain::instance::{Command, Event};

use super::{Engine, Origin};
use crate::Error;
use crate::messages::{TaskOutcome, TaskResult};
use crate::ports::{DueTimer, EventStore};

impl<S: EventStore> Engine<S> {
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
            // Heartbeats and a compensation's start are not events.
            (_, TaskOutcome::Heartbeat { .. })
            | (TaskKind::Compensation, TaskOutcome::Started { .. }) => {
                return Ok(Vec::new());
            }
        };
        let origin = Origin::actor(format!("worker:{}", result.task_id));
        self.execute(result.instance_id, command, &origin).await
    }

    /// Fires a due timer.
    pub async fn fire(&self, due: &DueTimer) -> Result<Vec<Event>, Error> {
        let origin = Origin::actor("system:timer");
        self.execute(due.instance, Command::FireTimer(due.timer.clone()), &origin)
            .await
    }
}
