//! One exchange with the broker, bounded in time.

use application::Error;

use super::error::failed;

/// How long one exchange with the broker (a channel open, a declaration, a
/// publish, an ack) may take before it is given up as `Unavailable`.
const RPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Awaits one exchange with the broker, for at most `RPC_TIMEOUT`. lapin
/// answers most exchanges on a connection that dies with an error, but not
/// every one (a frame queued as the connection's I/O loop ends is never
/// answered): a caller that waited for good would stall whatever it holds,
/// a results round, a publish slot, a consumer.
pub(super) async fn rpc<T>(
    what: &'static str,
    exchange: impl std::future::Future<Output = lapin::Result<T>>,
) -> Result<T, Error> {
    match tokio::time::timeout(RPC_TIMEOUT, exchange).await {
        Ok(outcome) => outcome.map_err(failed(what)),
        Err(_) => Err(Error::unavailable(format!(
            "{what}: no answer from RabbitMQ within {RPC_TIMEOUT:?}"
        ))),
    }
}

/// [`rpc`], keeping the broker's own error (a caller that tells a reply
/// code apart); only the lack of an answer in time is mapped.
pub(super) async fn rpc_raw<T>(
    exchange: impl std::future::Future<Output = lapin::Result<T>>,
) -> Result<lapin::Result<T>, Error> {
    tokio::time::timeout(RPC_TIMEOUT, exchange)
        .await
        .map_err(|_| Error::unavailable(format!("no answer from RabbitMQ within {RPC_TIMEOUT:?}")))
}
