//! StartWorkflow: checks the input against the schema and records the start,
//! at once or at a later `start_at` (the instance is then `scheduled`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Transition;
use crate::instance::error::DomainError;
use crate::instance::event::Event;

impl Transition {
    pub fn start(
        &mut self,
        input: &Value,
        started_by: &str,
        start_at: Option<DateTime<Utc>>,
    ) -> Result<(), DomainError> {
        let definition = self.state.definition.clone();
        if let Some(schema) = &definition.input_schema {
            let problems = schema.problems(input);
            if !problems.is_empty() {
                return Err(DomainError::InputRejected { problems });
            }
        }
        // A time not after now starts at once; the deadline and the SLA
        // count from when the instance runs.
        let start_at = start_at.filter(|at| *at > self.context.now);
        let from = start_at.unwrap_or(self.context.now);
        self.emit(Event::WorkflowStarted {
            definition: definition.name.clone(),
            version: definition.version,
            hash: definition.hash.clone(),
            input: input.clone(),
            started_by: started_by.to_owned(),
            deadline: definition.timeout.map(|timeout| later(from, timeout)),
            sla_due: definition.sla.map(|sla| later(from, sla)),
            start_at,
        });
        Ok(())
    }

    /// The scheduled start came: the instance runs (the fixpoint that
    /// follows schedules its first steps).
    pub fn begin(&mut self) -> Result<(), DomainError> {
        self.emit(Event::ScheduledStartReached);
        Ok(())
    }

    /// A scheduled instance cancelled before it started: nothing ran, so
    /// nothing is compensated.
    pub fn cancel_scheduled(&mut self) -> Result<(), DomainError> {
        self.emit(Event::CancellationRequested { compensate: false });
        self.emit(Event::WorkflowCancelled);
        Ok(())
    }
}

/// `from + duration`, saturating far in the future.
pub(super) fn later(from: DateTime<Utc>, duration: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|duration| from.checked_add_signed(duration))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
