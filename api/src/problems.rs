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

/// Sets of problem responses: each variant is one status with its
/// description, answered as a [`Problem`] document.
macro_rules! problems {
    ($($(#[$doc:meta])* $set:ident { $($variant:ident = $status:tt $description:tt,)+ })+) => {
        $(
            $(#[$doc])*
            #[derive(IntoResponses)]
            pub(crate) enum $set {
                $(
                    #[response(
                        status = $status,
                        description = $description,
                        content_type = "application/problem+json"
                    )]
                    $variant(Problem),
                )+
            }
        )+
    };
}

problems! {
    /// A body over the node's limit.
    BodyLimit {
        TooLarge = 413 "The body is over the limit",
    }

    /// A JSON body: over the limit, or not JSON.
    JsonBody {
        TooLarge = 413 "The body is over the limit",
        NotJson = 415 "The body is not JSON",
    }

    /// A route on `/workflows/{id}` that takes nothing else.
    WorkflowRoute {
        NotAnId = 400 "Not a workflow id",
        NoSuchWorkflow = 404 "No such workflow",
    }

    /// A route on `/workflows/{id}` that takes more (its own 400 says what).
    NoSuchWorkflow {
        NoSuchWorkflow = 404 "No such workflow",
    }

    /// A schedule name that names none.
    NoSuchSchedule {
        NoSuchSchedule = 404 "No such schedule",
    }

    /// A definition version that is not deployed.
    NoSuchVersion {
        NoSuchVersion = 404 "No such definition or version",
    }

    /// A route on `/tasks/{task_id}` without a body.
    TaskRoute {
        NotAnId = 400 "Not a task id",
        NoSuchTask = 404 "No such workflow or step",
    }

    /// A route on `/tasks/{task_id}` with a body.
    TaskCommand {
        Malformed = 400 "Not a task id, or a malformed body",
        NoSuchTask = 404 "No such workflow or step",
    }

    /// An approver's decision that does not apply.
    Decision {
        NotAnApprover = 403 "The caller is not one of the step's approvers",
        NotWaiting = 409 "The step is not waiting for a decision",
    }

    /// A worker's report on an attempt that is over.
    StaleReport {
        NotRunning = 409 "The attempt is not running (a duplicate or stale report): nothing changed",
    }
}
