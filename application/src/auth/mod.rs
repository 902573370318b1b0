//! Who may do what: roles, the permissions they grant, the authenticated
//! caller, and API keys (stored as SHA-256 digests behind a port).

mod api_keys;
mod roles;

pub use api_keys::{ApiKeys, IssuedKey, KeyVerifier, is_api_key};
pub use roles::{Permission, Role};

use crate::Origin;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Stable and unique per caller: `apikey:<id>`, `jwt:<sub>`, `anonymous`.
    pub id: String,
    pub role: Role,
}

impl Principal {
    /// The caller of a node that runs without authentication.
    pub fn anonymous() -> Self {
        Self {
            id: "anonymous".to_owned(),
            role: Role::Admin,
        }
    }

    /// The caller as the actor of the commands it sends (lands in every
    /// event's metadata, so the log is the audit trail).
    pub fn origin(&self) -> Origin {
        Origin::actor(self.id.clone())
    }
}
