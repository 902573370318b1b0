//! Message buses: the RabbitMQ adapter of the `Bus` port, its topology, and
//! the supervisor that keeps it connected.

mod dead_letters;
mod handout;
mod probe;
mod rabbit;
mod session;
mod subscription;
mod supervisor;
mod topology;

pub use rabbit::{RabbitBus, RabbitConfig};
pub use subscription::{RabbitDelivery, RabbitSubscription};
pub use topology::{
    DEAD_LETTER_EXCHANGE, RESULTS, RESULTS_DEAD_LETTER_QUEUE, TASKS_EXCHANGE, dead_letter_queue,
    declare_topology, task_queue,
};

use application::Error;

/// Maps a broker failure while doing `what` to the application's error.
fn unavailable(what: &'static str) -> impl Fn(lapin::Error) -> Error {
    move |error| Error::Unavailable(format!("{what}: {error}"))
}

/// How long one exchange with the broker (a channel open, a declaration, a
/// publish, an ack) may take before it is given up as `Unavailable`.
const RPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Awaits one exchange with the broker, for at most `RPC_TIMEOUT`. lapin
/// answers most exchanges on a connection that dies with an error, but not
/// every one (a frame queued as the connection's I/O loop ends is never
/// answered): a caller that waited for good would stall whatever it holds,
/// a results round, a publish slot, a consumer.
async fn rpc<T>(
    what: &'static str,
    exchange: impl std::future::Future<Output = lapin::Result<T>>,
) -> Result<T, Error> {
    match tokio::time::timeout(RPC_TIMEOUT, exchange).await {
        Ok(outcome) => outcome.map_err(unavailable(what)),
        Err(_) => Err(Error::Unavailable(format!(
            "{what}: no answer from RabbitMQ within {RPC_TIMEOUT:?}"
        ))),
    }
}
