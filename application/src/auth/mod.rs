//! Who may do what: roles, the permissions they grant, the authenticated
//! caller, and API keys (stored as SHA-256 digests behind a port).

mod api_keys;
mod roles;

pub use api_keys::{ApiKeys, IssuedKey, KeyVerifier, is_api_key};
pub use roles::{Permission, Role, check_role_name, grants};

use crate::Origin;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Stable and unique per caller: `apikey:<id>`, `jwt:<sub>`, `anonymous`.
    pub id: String,
    /// The permission roles it holds and any business roles (`manager`)
    /// that `role:NAME` approvers name.
    pub roles: Vec<String>,
}

impl Principal {
    /// The caller of a node that runs without authentication.
    pub fn anonymous() -> Self {
        Self {
            id: "anonymous".to_owned(),
            roles: vec![Role::Admin.as_str().to_owned()],
        }
    }

    /// Whether one of its roles grants `permission`.
    pub fn allows(&self, permission: Permission) -> bool {
        grants(&self.roles, permission)
    }

    /// The caller as the actor of the commands it sends (lands in every
    /// event's metadata, so the log is the audit trail).
    pub fn origin(&self) -> Origin {
        Origin::actor(self.id.clone())
    }
}
