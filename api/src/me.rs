//! `GET /api/v1/me`: who the credential stands for and what its role may
//! do, so a client (the console) shows only the actions it permits.

use application::auth::{Permission, Principal};
use axum::Extension;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// The caller of the request; without a credential (on a node that
/// requires one) nobody: `id` and `role` null, no roles, no permission.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Me {
    /// `apikey:<id>`, `jwt:<sub>`, or `anonymous` on a node without authentication.
    id: Option<String>,
    /// Its roles, comma-separated (kept for clients that show one line;
    /// `roles` lists them).
    role: Option<String>,
    /// Every role it holds: the permission roles (`viewer`, `operator`,
    /// `approver`, `admin`) and business roles that approval steps name.
    roles: Vec<String>,
    /// What the role grants: `read`, `operate`, `approve`, `administer`.
    permissions: Vec<String>,
}

/// The caller and its permissions. Public, so a client learns whether it
/// must sign in without provoking a 401; a credential that is not valid is
/// still refused (401).
#[utoipa::path(
    get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, description = "The caller, or nobody without a credential", body = Me)),
)]
pub(crate) async fn me(principal: Option<Extension<Principal>>) -> Json<Me> {
    let Some(Extension(principal)) = principal else {
        return Json(Me {
            id: None,
            role: None,
            roles: Vec::new(),
            permissions: Vec::new(),
        });
    };
    let permissions = [
        Permission::Read,
        Permission::Operate,
        Permission::Approve,
        Permission::Administer,
    ]
    .into_iter()
    .filter(|permission| principal.allows(*permission))
    .map(|permission| permission.as_str().to_owned())
    .collect();
    Json(Me {
        id: Some(principal.id),
        role: Some(principal.roles.join(", ")),
        roles: principal.roles,
        permissions,
    })
}
