//! The supervisor owns the connection to RabbitMQ. It watches the live
//! session; when the connection dies (broker restart, forced close, network)
//! it withdraws the session at once, so publishes fail fast, then reconnects
//! with backoff, declares the topology again and publishes the new session,
//! which subscriptions pick up to consume again.
//!
//! lapin's own `enable_auto_recover` is not used: it is young, and recovery
//! here must also re-declare topology and tell every subscription.

use std::sync::Arc;
use std::time::{Duration, Instant};

use application::Error;
use futures_lite::StreamExt;
use lapin::{Connection, ConnectionProperties};
use tokio::sync::watch;

use super::RabbitConfig;
use super::session::{KnownQueues, Session, lock};
use super::topology::declare_topology;
use super::{failed, rpc};

/// First wait before reconnecting; doubles after each failed attempt.
pub(crate) const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two reconnection attempts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A connection attempt (TCP, handshake, topology) that takes longer fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the connection state is read, besides lapin's error events.
const STATUS_POLL: Duration = Duration::from_millis(250);

/// The live session, or `None` while reconnecting. The supervisor stops
/// (and closes the connection) when the last receiver is dropped.
pub(crate) type Link = watch::Receiver<Option<Arc<Session>>>;

/// Connects once (failing if the broker cannot be reached), then supervises
/// the connection in the background.
pub(crate) async fn start(config: RabbitConfig) -> Result<Link, Error> {
    let known = Arc::new(KnownQueues::default());
    let session = open(&config, 1, &known).await?;
    let (sender, link) = watch::channel(Some(Arc::new(session)));
    tokio::spawn(supervise(sender, config, known));
    Ok(link)
}

async fn supervise(
    sender: watch::Sender<Option<Arc<Session>>>,
    config: RabbitConfig,
    known: Arc<KnownQueues>,
) {
    let mut delay = INITIAL_BACKOFF;
    let mut generation = 1;
    loop {
        // A separate statement: the borrow must end before the first await.
        let current = sender.borrow().clone();
        let Some(session) = current else { return };
        let since = Instant::now();
        tokio::select! {
            () = connection_lost(&session.connection) => {}
            () = sender.closed() => {
                let _ = rpc("close the connection", session.connection.close(200, "OK".into())).await;
                return;
            }
        }
        session.mark_lost();
        sender.send_replace(None);
        tracing::warn!(
            connection = %config.connection_name,
            generation,
            "RabbitMQ connection lost; reconnecting"
        );
        drop(session);
        if since.elapsed() > MAX_BACKOFF {
            delay = INITIAL_BACKOFF;
        }
        loop {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = sender.closed() => return,
            }
            delay = (delay * 2).min(MAX_BACKOFF);
            let attempt = tokio::select! {
                attempt = open(&config, generation + 1, &known) => attempt,
                () = sender.closed() => return,
            };
            match attempt {
                Ok(session) => {
                    generation += 1;
                    tracing::info!(connection = %config.connection_name, generation, "RabbitMQ reconnected");
                    sender.send_replace(Some(Arc::new(session)));
                    break;
                }
                Err(error) => {
                    tracing::warn!(error = %error.report(), retry_in = ?delay, "RabbitMQ reconnect failed")
                }
            }
        }
    }
}

/// Opens a connection and declares the whole topology on it.
async fn open(
    config: &RabbitConfig,
    generation: u64,
    known: &Arc<KnownQueues>,
) -> Result<Session, Error> {
    let names: Vec<String> = lock(known).iter().cloned().collect();
    let setup = async {
        let properties = ConnectionProperties::default()
            .with_connection_name(config.connection_name.clone().into());
        let connection = Connection::connect(&with_heartbeat(&config.url), properties)
            .await
            .map_err(failed("connect to RabbitMQ"))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(failed("open a channel"))?;
        declare_topology(&channel, &names)
            .await
            .map_err(failed("declare the topology"))?;
        Ok::<_, Error>(connection)
    };
    let connection = tokio::time::timeout(CONNECT_TIMEOUT, setup)
        .await
        .map_err(|_| {
            Error::unavailable(format!(
                "connect to RabbitMQ: no answer within {CONNECT_TIMEOUT:?}"
            ))
        })??;
    Ok(Session::new(generation, connection, names, known.clone()))
}

/// The AMQP heartbeat, in seconds, unless the URL sets `heartbeat=`. The
/// broker closes a connection that stays silent for about two of them (a
/// process stopped by SIGSTOP, a frozen host) and gives every message it
/// held unacknowledged to the other consumers; the broker's own default
/// (60 s) let a frozen node hold its prefetched results for minutes.
pub(crate) const HEARTBEAT_SECONDS: u16 = 5;

/// `url` with `heartbeat=HEARTBEAT_SECONDS` added when it names none.
fn with_heartbeat(url: &str) -> String {
    if url.contains("heartbeat=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}heartbeat={HEARTBEAT_SECONDS}")
}

/// Resolves once the connection is no longer usable.
async fn connection_lost(connection: &Connection) {
    let mut events = connection.events_listener();
    let mut poll = tokio::time::interval(STATUS_POLL);
    loop {
        tokio::select! {
            event = events.next() => if event.is_none() { return },
            _ = poll.tick() => {}
        }
        if !connection.status().connected() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_heartbeat;

    #[test]
    fn connections_heartbeat_every_five_seconds_unless_the_url_says() {
        assert_eq!(
            with_heartbeat("amqp://g:g@127.0.0.1:5672/%2f"),
            "amqp://g:g@127.0.0.1:5672/%2f?heartbeat=5"
        );
        assert_eq!(
            with_heartbeat("amqp://h/v?frame_max=8192"),
            "amqp://h/v?frame_max=8192&heartbeat=5"
        );
        assert_eq!(
            with_heartbeat("amqp://h/v?heartbeat=30"),
            "amqp://h/v?heartbeat=30"
        );
    }
}
