//! The mutation root: every command REST has, through the same application
//! functions, issued as the caller (the actor in the events' metadata).
//! Commands on a workflow answer with the engine's state after them.

use application::messages::TaskOutcome;
use application::starts::{IdempotencyKey, Start};
use application::tasks::TaskRef;
use async_graphql::{Context, ID, Json, Object, Result};
use chrono::{DateTime, Utc};
use domain::instance::{Command, StepError};
use serde_json::Value;

use super::types::{DeployedDefinition, Heartbeat, TaskReport, Workflow};
use super::{backend, errors, identity, instance_id};
use crate::ApiError;
use crate::tasks::{Decide, approval, event_names, rejection};

#[derive(Debug)]
pub struct MutationRoot;

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Validates, stores and registers a definition from its source (YAML or
    /// JSON); INVALID_INPUT lists every problem with its line and column.
    async fn deploy_definition(
        &self,
        ctx: &Context<'_>,
        source: String,
    ) -> Result<DeployedDefinition> {
        let definition = backend(ctx)?
            .deploy(source)
            .await
            .map_err(errors::graphql)?;
        Ok(DeployedDefinition {
            name: definition.name.clone(),
            version: definition.version,
            hash: definition.hash.clone(),
        })
    }

    /// Starts a workflow (the latest version unless one is named). A repeat
    /// with the same `idempotencyKey` returns the workflow the first started.
    /// With a later `startAt`, the workflow is `SCHEDULED` until then.
    async fn start_workflow(
        &self,
        ctx: &Context<'_>,
        definition: String,
        version: Option<u32>,
        input: Option<Json<Value>>,
        idempotency_key: Option<String>,
        start_at: Option<DateTime<Utc>>,
    ) -> Result<Workflow> {
        let key = idempotency_key.as_deref().map(key).transpose()?;
        let input = input.map_or(Value::Null, |Json(input)| input);
        let start = Start {
            definition,
            version,
            input,
            start_at,
        };
        let origin = identity(ctx)?.caller.origin();
        let backend = backend(ctx)?;
        let id = backend
            .start(origin, start, key)
            .await
            .map_err(errors::graphql)?;
        let state = backend.state(id).await.map_err(errors::graphql)?;
        Ok(Workflow::from_state(&state))
    }

    async fn pause_workflow(&self, ctx: &Context<'_>, id: ID) -> Result<Workflow> {
        execute(ctx, instance_id(&id)?, Command::Pause).await
    }

    async fn resume_workflow(&self, ctx: &Context<'_>, id: ID) -> Result<Workflow> {
        execute(ctx, instance_id(&id)?, Command::Resume).await
    }

    /// Cancels it; with `compensate` (the default) the completed steps are
    /// compensated in reverse order.
    async fn cancel_workflow(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = true)] compensate: bool,
    ) -> Result<Workflow> {
        execute(ctx, instance_id(&id)?, Command::Cancel { compensate }).await
    }

    /// Sends the signal `name` with `payload` (null when absent), as
    /// `POST /api/v1/workflows/{id}/signals/{name}` does; a name the
    /// definition does not wait for is a CONFLICT listing those it does.
    async fn signal_workflow(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: String,
        payload: Option<Json<Value>>,
    ) -> Result<Workflow> {
        let payload = payload.map_or(Value::Null, |Json(payload)| payload);
        let actor = identity(ctx)?.caller.actor();
        let command = Command::Signal {
            name,
            payload,
            actor,
        };
        execute(ctx, instance_id(&id)?, command).await
    }

    /// `taskId` is `<workflow id>:<step>` (or a worker's full task id). An
    /// approval step only by one who may decide it, or an admin.
    async fn retry_task(&self, ctx: &Context<'_>, task_id: String) -> Result<Workflow> {
        let task = task(&task_id)?;
        let by = identity(ctx)?.caller.actor();
        execute(
            ctx,
            task.instance,
            Command::RetryStep {
                step: task.step,
                by,
            },
        )
        .await
    }

    /// Skips a step; its dependants see `output` as its output. An approval
    /// step only by one who may decide it, or an admin.
    async fn skip_task(
        &self,
        ctx: &Context<'_>,
        task_id: String,
        output: Option<Json<Value>>,
    ) -> Result<Workflow> {
        let task = task(&task_id)?;
        let output = output.map_or(Value::Null, |Json(output)| output);
        let command = Command::SkipStep {
            step: task.step,
            output,
            by: identity(ctx)?.caller.actor(),
        };
        execute(ctx, task.instance, command).await
    }

    /// The caller must be one of the step's `approvers` (FORBIDDEN otherwise).
    async fn approve_task(
        &self,
        ctx: &Context<'_>,
        task_id: String,
        comment: Option<String>,
    ) -> Result<Workflow> {
        decision(ctx, &task_id, comment, approval).await
    }

    async fn reject_task(
        &self,
        ctx: &Context<'_>,
        task_id: String,
        comment: Option<String>,
    ) -> Result<Workflow> {
        decision(ctx, &task_id, comment, rejection).await
    }

    /// A worker's report: `taskId` is the full id of its task message
    /// (`<workflow id>:<step>:<kind>:<attempt>`).
    async fn complete_task(
        &self,
        ctx: &Context<'_>,
        task_id: String,
        output: Option<Json<Value>>,
    ) -> Result<TaskReport> {
        let output = output.map_or(Value::Null, |Json(output)| output);
        report(ctx, &task_id, TaskOutcome::Completed { output }).await
    }

    /// `retryable`: whether another attempt may succeed.
    async fn fail_task(
        &self,
        ctx: &Context<'_>,
        task_id: String,
        message: String,
        #[graphql(default = true)] retryable: bool,
    ) -> Result<TaskReport> {
        let error = StepError { message, retryable };
        report(ctx, &task_id, TaskOutcome::Failed { error }).await
    }

    /// Pushes the attempt's heartbeat deadline; records `progress` (0 to 100).
    async fn heartbeat_task(
        &self,
        ctx: &Context<'_>,
        task_id: String,
        progress: Option<u8>,
    ) -> Result<Heartbeat> {
        backend(ctx)?
            .heartbeat(task(&task_id)?, progress)
            .await
            .map_err(errors::graphql)?;
        Ok(Heartbeat { task_id, progress })
    }
}

fn task(text: &str) -> Result<TaskRef> {
    TaskRef::parse(text).map_err(|error| errors::graphql(error.into()))
}

fn key(text: &str) -> Result<IdempotencyKey> {
    IdempotencyKey::parse(text).ok_or_else(|| {
        errors::graphql(ApiError::BadRequest(format!(
            "`idempotencyKey` must be 1 to {} characters",
            IdempotencyKey::MAX_LEN
        )))
    })
}

/// The caller's decision on the step `task_id` names.
async fn decision(
    ctx: &Context<'_>,
    task_id: &str,
    comment: Option<String>,
    decide: Decide,
) -> Result<Workflow> {
    let task = task(task_id)?;
    let command = decide(task.step, identity(ctx)?.caller.actor(), comment);
    execute(ctx, task.instance, command).await
}

async fn execute(ctx: &Context<'_>, id: domain::InstanceId, command: Command) -> Result<Workflow> {
    let origin = identity(ctx)?.caller.origin();
    let state = backend(ctx)?
        .execute(id, command, origin)
        .await
        .map_err(errors::graphql)?;
    Ok(Workflow::from_state(&state))
}

/// A worker's report on the attempt the task id names; a report that
/// changes nothing (a duplicate, a stale attempt) is a CONFLICT, as in REST.
async fn report(ctx: &Context<'_>, task_id: &str, outcome: TaskOutcome) -> Result<TaskReport> {
    let events = backend(ctx)?
        .report(task(task_id)?, outcome)
        .await
        .map_err(errors::graphql)?;
    Ok(TaskReport {
        task_id: task_id.to_owned(),
        events: event_names(&events),
    })
}
