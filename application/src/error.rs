//! The application's one error type: what a caller (API, CLI) must tell apart.
//! A failure below keeps its cause as the error's `source`, for the log; the
//! error's own message leaves the cause out ([`Report`] tells both).

use std::fmt;
use std::sync::Arc;

use domain::instance::DomainError;

/// The cause of an error, shared: one failed batch append is the error of
/// every request in it, each keeping the cause.
pub type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Clone, Debug, thiserror::Error)]
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
    /// The database or broker is out of reach, did not answer in time, or
    /// gave up on the work (a lost connection, a pool timeout, I/O, a
    /// deadlock); retrying later may succeed.
    #[error("unavailable: {reason}")]
    Unavailable {
        reason: String,
        #[source]
        source: Option<Source>,
    },
    /// A fault of this program or of its stored data (a column that does
    /// not decode, a violated constraint, a value that cannot be encoded):
    /// retrying does not mend it. Logged with its causes; a client is told
    /// only that it happened.
    #[error("internal error: {reason}")]
    Internal {
        reason: String,
        #[source]
        source: Option<Source>,
    },
}

impl Error {
    /// [`Error::Unavailable`] without a cause below it.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Error::Unavailable {
            reason: reason.into(),
            source: None,
        }
    }

    /// [`Error::Internal`] caused by `cause`.
    pub fn internal(
        reason: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Internal {
            reason: reason.into(),
            source: Some(Arc::new(cause)),
        }
    }

    /// This error and its causes, for a log line.
    pub fn report(&self) -> Report<'_> {
        Report(self)
    }
}

/// An error followed by its causes, `: `-joined. A cause whose message the
/// one above already ends with (some libraries repeat their source in their
/// own message) is told once.
#[derive(Debug)]
pub struct Report<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut told = self.0.to_string();
        f.write_str(&told)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            let message = error.to_string();
            if !told.ends_with(&message) {
                write!(f, ": {message}")?;
            }
            told = message;
            cause = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading column 2: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn a_report_tells_every_cause_once() {
        let io = std::io::Error::other("connection reset");
        let error = Error::internal("the database refused a statement", Repeats(io));
        assert_eq!(
            error.to_string(),
            "internal error: the database refused a statement"
        );
        assert_eq!(
            error.report().to_string(),
            "internal error: the database refused a statement: reading column 2: connection reset"
        );
    }
}
