//! Broker failures, sorted by what a caller can do about them. A broker out
//! of reach (a lost connection or channel, I/O, no answer in time, a
//! refused connection) is worth retrying: `Error::Unavailable`. What the
//! broker refuses as malformed (a declaration that clashes with the queue's,
//! a frame it cannot take), a frame this side cannot read or write, a
//! message that cannot be encoded is a fault that retrying does not mend:
//! `Error::Internal`. Either keeps its cause.

use std::sync::Arc;

use application::Error;
use lapin::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub(super) enum BusError {
    #[error("{doing}: RabbitMQ is out of reach")]
    OutOfReach {
        doing: &'static str,
        #[source]
        source: lapin::Error,
    },
    #[error("{doing}: RabbitMQ and this node do not understand each other")]
    Fault {
        doing: &'static str,
        #[source]
        source: lapin::Error,
    },
    #[error("message {message_id} cannot be written as JSON")]
    Unwritable {
        message_id: String,
        #[source]
        source: serde_json::Error,
    },
}

impl From<BusError> for Error {
    fn from(error: BusError) -> Self {
        let reason = error.to_string();
        match error {
            BusError::OutOfReach { source, .. } => Error::Unavailable {
                reason,
                source: Some(Arc::new(source)),
            },
            BusError::Fault { source, .. } => Error::Internal {
                reason,
                source: Some(Arc::new(source)),
            },
            BusError::Unwritable { source, .. } => Error::Internal {
                reason,
                source: Some(Arc::new(source)),
            },
        }
    }
}

/// Maps a broker failure while `doing` something to the application's
/// error, by its kind.
pub(super) fn failed(doing: &'static str) -> impl Fn(lapin::Error) -> Error {
    move |source| {
        if out_of_reach(&source) {
            BusError::OutOfReach { doing, source }
        } else {
            BusError::Fault { doing, source }
        }
        .into()
    }
}

/// A message to publish that cannot be written as JSON.
pub(super) fn unwritable(message_id: &str, source: serde_json::Error) -> Error {
    BusError::Unwritable {
        message_id: message_id.to_owned(),
        source,
    }
    .into()
}

/// Whether a failure says the broker is out of reach for now. The AMQP
/// replies that blame what was sent are precondition-failed (406: a queue
/// declared with other arguments), frame-error (501), syntax-error (502),
/// command-invalid (503) and not-implemented (540); every other reply
/// (connection-forced, not-found, a vhost gone, access refused) can pass
/// once the broker or its setup is back.
fn out_of_reach(error: &lapin::Error) -> bool {
    match error.kind() {
        ErrorKind::ProtocolError(reply) => !matches!(reply.get_id(), 406 | 501 | 502 | 503 | 540),
        ErrorKind::ParsingError(_)
        | ErrorKind::SerialisationError(_)
        | ErrorKind::InvalidProtocolVersion(_)
        | ErrorKind::FutureCompleted
        | ErrorKind::NoDefaultRuntime => false,
        _ => true,
    }
}

/// Whether the broker answered 404 (not found): a passive declaration of a
/// queue that does not exist.
pub(super) fn is_not_found(error: &lapin::Error) -> bool {
    matches!(error.kind(), ErrorKind::ProtocolError(reply) if reply.get_id() == 404)
}
