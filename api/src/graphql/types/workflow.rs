//! A workflow and its steps: from the read models, or from the engine's
//! state (straight after a command, before the read models catch up).

use application::ports::{StepRow, WorkflowRow};
use async_graphql::{ComplexObject, Context, ID, Json, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use domain::instance::{StepStatus, WorkflowInstance};
use serde_json::Value;

use super::event::EventPage;
use crate::graphql::{backend, errors, page_size, page_weight};

/// What a workflow's `steps` weigh in a query's complexity: a guess at how
/// many steps a workflow has.
pub(crate) const STEPS_WEIGHT: usize = 10;

#[derive(Debug, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Workflow {
    id: ID,
    definition: String,
    version: u32,
    /// `running`, `paused`, `compensating`, `completed`, `failed`,
    /// `compensated`, `compensation_failed` or `cancelled`.
    status: String,
    input: Json<Value>,
    output: Option<Json<Value>>,
    error: Option<String>,
    /// The steps scheduled, running or waiting.
    current_steps: Vec<String>,
    failed_steps: Vec<String>,
    /// Who started it. This and the times are null in the engine's answer
    /// to a command (the read models catch up shortly).
    started_by: Option<String>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    #[graphql(skip)]
    instance: InstanceId,
    /// Known already when built from the engine's state.
    #[graphql(skip)]
    known_steps: Option<Vec<Step>>,
}

#[ComplexObject]
impl Workflow {
    /// In the definition's order.
    #[graphql(complexity = "STEPS_WEIGHT * child_complexity")]
    async fn steps(&self, ctx: &Context<'_>) -> Result<Vec<Step>> {
        if let Some(steps) = &self.known_steps {
            return Ok(steps.clone());
        }
        let rows = backend(ctx)?
            .steps(self.instance)
            .await
            .map_err(errors::graphql)?;
        Ok(rows.iter().map(Step::from).collect())
    }

    /// Its history from the log, after a stream version.
    #[graphql(complexity = "page_weight(first) * child_complexity")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0)] after: u64,
        #[graphql(default = 50)] first: i32,
    ) -> Result<EventPage> {
        let limit = page_size(first)?;
        let (records, next_after) = backend(ctx)?
            .history(self.instance, after, limit)
            .await
            .map_err(errors::graphql)?;
        Ok(EventPage::new(&records, next_after))
    }
}

impl Workflow {
    pub(crate) fn from_row(row: WorkflowRow) -> Self {
        Self {
            id: ID(row.id.to_string()),
            definition: row.definition,
            version: row.version,
            status: row.status,
            input: Json(row.input),
            output: row.output.map(Json),
            error: row.error,
            current_steps: row.current_steps,
            failed_steps: row.failed_steps,
            started_by: Some(row.started_by),
            created_at: Some(row.created_at),
            updated_at: Some(row.updated_at),
            finished_at: row.finished_at,
            instance: row.id,
            known_steps: None,
        }
    }

    /// From the read models, with the steps read with it.
    pub(crate) fn with_steps(row: WorkflowRow, steps: &[StepRow]) -> Self {
        Self {
            known_steps: Some(steps.iter().map(Step::from).collect()),
            ..Self::from_row(row)
        }
    }

    pub(crate) fn from_state(state: &WorkflowInstance) -> Self {
        let named = |wanted: &[StepStatus]| -> Vec<String> {
            state
                .definition
                .steps
                .iter()
                .zip(&state.steps)
                .filter(|(_, step)| wanted.contains(&step.status()))
                .map(|(definition, _)| definition.id.as_str().to_owned())
                .collect()
        };
        let current = [
            StepStatus::Scheduled,
            StepStatus::Running,
            StepStatus::Waiting,
        ];
        Self {
            id: ID(state.id.to_string()),
            definition: state.definition.name.clone(),
            version: state.definition.version,
            status: state.status.as_str().to_owned(),
            input: Json(state.input.as_ref().clone()),
            output: state.output.clone().map(Json),
            error: state.error.clone(),
            current_steps: named(&current),
            failed_steps: named(&[StepStatus::Failed]),
            started_by: None,
            created_at: None,
            updated_at: None,
            finished_at: None,
            instance: state.id,
            known_steps: Some(Step::of_state(state)),
        }
    }
}

#[derive(Clone, Debug, SimpleObject)]
pub(crate) struct Step {
    id: String,
    #[graphql(name = "type")]
    kind: String,
    /// `pending`, `scheduled`, `running`, `waiting`, `completed`, `failed`
    /// or `skipped`.
    status: String,
    attempt: u32,
    output: Option<Json<Value>>,
    /// Why it failed, while it is failed.
    error: Option<String>,
    /// The last attempt's error, kept after a retry. This and the fields
    /// below are null in the engine's answer to a command.
    last_error: Option<String>,
    worker: Option<String>,
    /// 0 to 100, as its worker last reported.
    progress: Option<u8>,
    compensation: Option<String>,
    scheduled_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl From<&StepRow> for Step {
    fn from(step: &StepRow) -> Self {
        Self {
            id: step.step.clone(),
            kind: step.kind.clone(),
            status: step.status.clone(),
            attempt: step.attempt,
            output: step.output.clone().map(Json),
            error: step.error().map(str::to_owned),
            last_error: step.last_error.clone(),
            worker: step.worker.clone(),
            progress: step.progress,
            compensation: step.compensation.clone(),
            scheduled_at: step.scheduled_at,
            started_at: step.started_at,
            finished_at: step.finished_at,
        }
    }
}

impl Step {
    fn of_state(state: &WorkflowInstance) -> Vec<Self> {
        state
            .definition
            .steps
            .iter()
            .zip(&state.steps)
            .map(|(definition, step)| Self {
                id: definition.id.as_str().to_owned(),
                kind: definition.kind.name().to_owned(),
                status: step.status().as_str().to_owned(),
                attempt: step.attempt,
                output: step.output().cloned().map(Json),
                error: step.error_message().map(str::to_owned),
                last_error: None,
                worker: step.worker().map(str::to_owned),
                progress: None,
                compensation: None,
                scheduled_at: None,
                started_at: None,
                finished_at: None,
            })
            .collect()
    }
}

/// A page of workflows, newest first.
#[derive(Debug, SimpleObject)]
pub(crate) struct WorkflowPage {
    pub(crate) items: Vec<Workflow>,
    /// The `after` of the next page; null on the last.
    pub(crate) next_cursor: Option<String>,
}
