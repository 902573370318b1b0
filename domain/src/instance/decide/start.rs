//! StartWorkflow: checks the input against the schema and records the start.

use serde_json::Value;

use super::Transition;
use crate::instance::error::DomainError;
use crate::instance::event::Event;

impl Transition {
    pub fn start(&mut self, input: &Value, started_by: &str) -> Result<(), DomainError> {
        let definition = self.state.definition.clone();
        if let Some(schema) = &definition.input_schema {
            let problems = schema.problems(input);
            if !problems.is_empty() {
                return Err(DomainError::InputRejected { problems });
            }
        }
        self.emit(Event::WorkflowStarted {
            definition: definition.name.clone(),
            version: definition.version,
            hash: definition.hash.clone(),
            input: input.clone(),
            started_by: started_by.to_owned(),
            deadline: definition.timeout.map(|timeout| self.after(timeout)),
            sla_due: definition.sla.map(|sla| self.after(sla)),
        });
        Ok(())
    }
}
