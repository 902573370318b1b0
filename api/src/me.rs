//! `GET /api/v1/me`: who the credential stands for and what its role may
//! do, so a client (the console) shows only the actions it permits.

use application::auth::{Permission, Principal};
use axum::Extension;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::ApiError;

/// The caller of the request.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Me {
    /// `apikey:<id>`, `jwt:<sub>`, or `anonymous` on a node without authentication.
    id: String,
    /// `viewer`, `operator`, `approver` or `admin`.
    role: String,
    /// What the role grants: `read`, `operate`, `approve`, `administer`.
    permissions: Vec<String>,
}

/// The caller and its permissions.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, description = "The caller", body = Me)),
)]
pub(crate) async fn me(principal: Option<Extension<Principal>>) -> Result<Json<Me>, ApiError> {
    let Extension(principal) = principal
        .ok_or_else(|| ApiError::Unauthorized("an API key or a bearer token is required".into()))?;
    let permissions = [
        Permission::Read,
        Permission::Operate,
        Permission::Approve,
        Permission::Administer,
    ]
    .into_iter()
    .filter(|permission| principal.role.allows(*permission))
    .map(|permission| permission.as_str().to_owned())
    .collect();
    Ok(Json(Me {
        id: principal.id,
        role: principal.role.as_str().to_owned(),
        permissions,
    }))
}
