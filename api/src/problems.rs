//! The problem responses several routes share, each documented once: a
//! route's `#[utoipa::path]` lists these sets in its `responses(...)`
//! beside the problems of its own. The guard's and the limits' (401, 403,
//! 429, 503) are added to every guarded route by [`crate::openapi`].
//!
//! The types only describe responses (the handlers answer [`ApiError`]s):
//! nothing constructs them.
//!
//! [`ApiError`]: crate::ApiError

#![allow(dead_code)]

use utoipa::IntoResponses;

use crate::error::Problem;

/// A body over the node's limit.
#[derive(IntoResponses)]
#[response(
    status = 413,
    description = "The body is over the limit",
    content_type = "application/problem+json"
)]
pub(crate) struct BodyLimit(Problem);

/// A JSON body: over the limit, or not JSON.
#[derive(IntoResponses)]
pub(crate) enum JsonBody {
    #[response(
        status = 413,
        description = "The body is over the limit",
        content_type = "application/problem+json"
    )]
    TooLarge(Problem),
    #[response(
        status = 415,
        description = "The body is not JSON",
        content_type = "application/problem+json"
    )]
    NotJson(Problem),
}

/// A route on `/workflows/{id}` that takes nothing else.
#[derive(IntoResponses)]
pub(crate) enum WorkflowRoute {
    #[response(
        status = 400,
        description = "Not a workflow id",
        content_type = "application/problem+json"
    )]
    NotAnId(Problem),
    #[response(
        status = 404,
        description = "No such workflow",
        content_type = "application/problem+json"
    )]
    NoSuchWorkflow(Problem),
}

/// A route on `/workflows/{id}` that takes more (its own 400 says what).
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "No such workflow",
    content_type = "application/problem+json"
)]
pub(crate) struct NoSuchWorkflow(Problem);

/// A definition version that is not deployed.
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "No such definition or version",
    content_type = "application/problem+json"
)]
pub(crate) struct NoSuchVersion(Problem);

/// A route on `/tasks/{task_id}` without a body.
#[derive(IntoResponses)]
pub(crate) enum TaskRoute {
    #[response(
        status = 400,
        description = "Not a task id",
        content_type = "application/problem+json"
    )]
    NotAnId(Problem),
    #[response(
        status = 404,
        description = "No such workflow or step",
        content_type = "application/problem+json"
    )]
    NoSuchTask(Problem),
}

/// A route on `/tasks/{task_id}` with a body.
#[derive(IntoResponses)]
pub(crate) enum TaskCommand {
    #[response(
        status = 400,
        description = "Not a task id, or a malformed body",
        content_type = "application/problem+json"
    )]
    Malformed(Problem),
    #[response(
        status = 404,
        description = "No such workflow or step",
        content_type = "application/problem+json"
    )]
    NoSuchTask(Problem),
}

/// An approver's decision that does not apply.
#[derive(IntoResponses)]
pub(crate) enum Decision {
    #[response(
        status = 403,
        description = "The caller is not one of the step's approvers",
        content_type = "application/problem+json"
    )]
    NotAnApprover(Problem),
    #[response(
        status = 409,
        description = "The step is not waiting for a decision",
        content_type = "application/problem+json"
    )]
    NotWaiting(Problem),
}

/// A worker's report on an attempt that is over.
#[derive(IntoResponses)]
#[response(
    status = 409,
    description = "The attempt is not running (a duplicate or stale report): nothing changed",
    content_type = "application/problem+json"
)]
pub(crate) struct StaleReport(Problem);
