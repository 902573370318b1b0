//! `GET /api/v1/approvals`: the approvals waiting for a decision, with
//! whether the caller may decide each (`?decidable_by=me` keeps only those).

use std::sync::Arc;

use application::approvals::{self, ApprovalQuery, WaitingApproval};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::Problem;
use crate::extract::QueryParams;
use crate::workflows::instance_id;
use crate::{ApiError, App, Caller, ReadModels, Shared, Store};

pub fn router<S: Store, R: ReadModels>() -> Router<Arc<App<S, R>>> {
    Router::new().route("/api/v1/approvals", get(list::<S, R>))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ApprovalsQuery {
    /// `me`: only the approvals the caller may decide.
    #[param(value_type = Option<String>, pattern = "^me$")]
    decidable_by: Option<String>,
    /// Only this workflow's approvals.
    #[param(value_type = Option<Uuid>)]
    workflow: Option<String>,
}

/// An approval step waiting for a decision.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Approval {
    workflow_id: Uuid,
    /// The id the decision routes take: `<workflow id>:<step>`.
    task_id: String,
    definition: String,
    version: u32,
    /// The workflow's status: `running` or `paused`.
    status: String,
    step: String,
    description: Option<String>,
    attempt: u32,
    requested_at: Option<DateTime<Utc>>,
    /// When the step's timeout decides it (`on_timeout`); null without one.
    due_at: Option<DateTime<Utc>>,
    /// `reject` or `approve`.
    on_timeout: String,
    /// `role:NAME` or `user:NAME`; empty lets anyone with `approve` decide.
    approvers: Vec<String>,
    /// The workflow's input.
    input: Value,
    /// Whether the caller may decide it.
    decidable: bool,
}

impl From<WaitingApproval> for Approval {
    fn from(found: WaitingApproval) -> Self {
        Self {
            workflow_id: found.workflow.0,
            task_id: format!("{}:{}", found.workflow, found.step),
            definition: found.definition,
            version: found.version,
            status: found.status,
            step: found.step,
            description: found.description,
            attempt: found.attempt,
            requested_at: found.requested_at,
            due_at: found.due_at,
            on_timeout: found.on_timeout.to_owned(),
            approvers: found.approvers,
            input: found.input,
            decidable: found.decidable,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Approvals {
    /// Oldest request first (at most 1,000).
    items: Vec<Approval>,
}

/// The approvals waiting for a decision.
#[utoipa::path(
    get, path = "/api/v1/approvals", tag = "tasks",
    params(ApprovalsQuery),
    responses(
        (status = 200, description = "The approvals waiting", body = Approvals),
        (status = 400, description = "`decidable_by` is not `me`, or `workflow` not a workflow id", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn list<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    QueryParams(query): QueryParams<ApprovalsQuery>,
) -> Result<Json<Approvals>, ApiError> {
    let decidable_only = match query.decidable_by.as_deref() {
        None => false,
        Some("me") => true,
        Some(_) => return Err(ApiError::BadRequest("`decidable_by` takes `me`".into())),
    };
    let query = ApprovalQuery {
        workflow: query.workflow.as_deref().map(instance_id).transpose()?,
        caller: caller.actor(),
        decidable_only,
    };
    let found =
        approvals::waiting_approvals(&app.read_models, app.engine.definitions(), &query).await?;
    Ok(Json(Approvals {
        items: found.into_iter().map(Approval::from).collect(),
    }))
}
