//! Database failures, sorted by what a caller can do about them. A database
//! out of reach (a lost connection, a pool timeout, I/O, a server shutting
//! down, a deadlock) is worth retrying: `Error::Unavailable`, 503. A
//! statement it refuses, a value that does not read, a value that cannot be
//! written is a fault of this program or of the stored data, which retrying
//! does not mend: `Error::Internal`, 500. Either keeps its cause.

use std::sync::Arc;

use application::Error;
use sqlx::migrate::MigrateError;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The unique constraint on `events (stream_id, version)`: a racing append
/// stored that version first.
pub(super) const STREAM_VERSION: &str = "events_stream_version";

#[derive(Debug, thiserror::Error)]
pub(super) enum StoreError {
    #[error("the database is out of reach")]
    OutOfReach(#[source] sqlx::Error),
    #[error("the database refused a statement or returned what cannot be read")]
    Fault(#[source] sqlx::Error),
    /// A stored value that does not parse as what its column holds.
    #[error("{what} does not read")]
    Unreadable {
        what: String,
        #[source]
        source: BoxError,
    },
    #[error("{what} cannot be written as JSON")]
    Unwritable {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if out_of_reach(&error) {
            StoreError::OutOfReach(error)
        } else {
            StoreError::Fault(error)
        }
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        let reason = error.to_string();
        let (retry, source): (bool, Arc<dyn std::error::Error + Send + Sync>) = match error {
            StoreError::OutOfReach(source) => (true, Arc::new(source)),
            StoreError::Fault(source) => (false, Arc::new(source)),
            StoreError::Unreadable { source, .. } => (false, Arc::from(source)),
            StoreError::Unwritable { source, .. } => (false, Arc::new(source)),
        };
        let source = Some(source);
        if retry {
            Error::Unavailable { reason, source }
        } else {
            Error::Internal { reason, source }
        }
    }
}

/// A database failure as the application's error, by its kind.
pub(super) fn database(error: sqlx::Error) -> Error {
    StoreError::from(error).into()
}

/// A stored value (`what`: its table and column, or what it is) that does
/// not parse.
pub(super) fn unreadable(what: impl Into<String>, error: impl Into<BoxError>) -> Error {
    StoreError::Unreadable {
        what: what.into(),
        source: error.into(),
    }
    .into()
}

/// A value to store that cannot be written as JSON.
pub(super) fn unwritable(what: &'static str, error: serde_json::Error) -> Error {
    StoreError::Unwritable {
        what,
        source: error,
    }
    .into()
}

/// Whether a failure says the database is out of reach for now, rather
/// than refusing what it was given.
fn out_of_reach(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Migrate(error) => match &**error {
            MigrateError::Execute(error) | MigrateError::ExecuteMigration(error, _) => {
                out_of_reach(error)
            }
            _ => false,
        },
        sqlx::Error::Database(error) => {
            let code = error.code();
            if error
                .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                .is_some()
            {
                sqlite_out_of_reach(code.as_deref())
            } else {
                postgres_out_of_reach(code.as_deref())
            }
        }
        _ => false,
    }
}

/// PostgreSQL's SQLSTATEs of a database out of reach: connection
/// exceptions (08), a transaction rolled back by a deadlock or a
/// serialisation failure (40), insufficient resources (53), a lock not
/// available (55P03), operator intervention such as a shutdown or a
/// cancelled statement (57), a system error such as I/O (58), and a
/// read-only transaction (25006: a standby after a failover).
fn postgres_out_of_reach(code: Option<&str>) -> bool {
    let Some(code) = code else {
        return false;
    };
    ["08", "40", "53", "57", "58"]
        .iter()
        .any(|class| code.starts_with(class))
        || matches!(code, "55P03" | "25006")
}

/// SQLite's result codes (the primary code, the low byte of the extended
/// one) of a file out of reach: busy (5), locked (6), out of memory (7), an
/// I/O error (10), a full disk (13), a file that cannot be opened (14), a
/// WAL lock race (15).
fn sqlite_out_of_reach(code: Option<&str>) -> bool {
    code.and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6 | 7 | 10 | 13 | 14 | 15))
}

/// Whether a failure is the given unique constraint, broken.
pub(super) fn violates(error: &sqlx::Error, constraint: &str) -> bool {
    error
        .as_database_error()
        .is_some_and(|error| error.is_unique_violation() && error.constraint() == Some(constraint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_connection_or_a_pool_timeout_is_worth_retrying() {
        for error in [
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
            sqlx::Error::PoolTimedOut,
        ] {
            assert!(matches!(database(error), Error::Unavailable { .. }));
        }
    }

    #[test]
    fn a_value_that_does_not_decode_is_a_fault_that_keeps_its_cause() {
        let error = database(sqlx::Error::ColumnDecode {
            index: "\"version\"".into(),
            source: "mismatched types".into(),
        });
        let Error::Internal { source, .. } = &error else {
            panic!("{error:?}");
        };
        assert!(source.as_ref().unwrap().is::<sqlx::Error>());
        assert!(error.report().to_string().contains("mismatched types"));
    }

    #[test]
    fn sqlstates_of_an_unreachable_database_are_told_from_refusals() {
        for code in [
            "08006", "40P01", "53300", "57P01", "57014", "58030", "55P03",
        ] {
            assert!(postgres_out_of_reach(Some(code)), "{code}");
        }
        for code in ["23505", "22P02", "42P01", "XX001"] {
            assert!(!postgres_out_of_reach(Some(code)), "{code}");
        }
        // SQLITE_BUSY_SNAPSHOT (517) is busy; SQLITE_CONSTRAINT_UNIQUE (2067) is not.
        assert!(sqlite_out_of_reach(Some("517")));
        assert!(!sqlite_out_of_reach(Some("2067")));
    }
}
