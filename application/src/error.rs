//! The application's one error type: what a caller (API, CLI) must tell apart.

use domain::instance::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command breaks a rule of the workflow; nothing changed.
    #[error(transparent)]
    Rejected(#[from] DomainError),
    /// The request itself is wrong (an unknown step, a clashing definition).
    #[error("{reason}")]
    Invalid { reason: String },
    #[error("{what} not found")]
    NotFound { what: String },
    /// Another writer appended to the stream first.
    #[error("the stream moved on: expected version {expected}, found {actual}")]
    Conflict { expected: u64, actual: u64 },
    /// A stored event could not be read back.
    #[error("corrupt event at position {position}: {reason}")]
    Corrupt { position: i64, reason: String },
    /// The database or broker could not be reached or failed; retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
}
