//! LISTEN/NOTIFY: appends on any node wake the timer poller (when they set
//! timers) and the event feed of this node, so they sleep instead of
//! polling. (Outbox rows need no notification: their appender publishes
//! them itself; see `APPENDED_OUTBOX_LEASE`.)

use std::sync::Arc;
use std::time::Duration;

use application::feed::FeedSignal;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;

/// Forwards `distorch_timers` and `distorch_events` notifications to the
/// given wake-ups, reconnecting after a lost connection (and waking both
/// then, since notifications sent meanwhile are lost).
pub async fn forward_notifications(pool: PgPool, timers: Arc<Notify>, events: Arc<FeedSignal>) {
    loop {
        let listener = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener
                .listen_all(["distorch_timers", "distorch_events"])
                .await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listener.await {
            Ok(mut listener) => {
                timers.notify_one();
                events.committed(newest(&pool).await);
                // `try_recv` (unlike `recv`) tells of a lost connection: it
                // reconnects on the next call, and whatever was notified in
                // between is lost, so both are woken to look for themselves.
                loop {
                    match listener.try_recv().await {
                        Ok(Some(notification)) => match notification.channel() {
                            "distorch_events" => {
                                events.committed(notification.payload().parse().ok())
                            }
                            _ => timers.notify_one(),
                        },
                        Ok(None) => {
                            timers.notify_one();
                            events.committed(newest(&pool).await);
                        }
                        Err(_) => break,
                    }
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// The newest position in the log, committed or not: what a wake-up after
/// lost notifications tells the feed to reach. Events committed while no one
/// listened may not be readable yet (an older transaction still runs); with
/// a position to reach, the feed retries until they are instead of waiting
/// for a notification that was already sent.
async fn newest(pool: &PgPool) -> Option<i64> {
    sqlx::query_scalar::<_, Option<i64>>("select max(global_position) from events")
        .fetch_one(pool)
        .await
        .ok()
        .flatten()
}

/// Wakes `projector` after every append on any node (`distorch_events`,
/// sent by a trigger on `events`), reconnecting after a lost connection and
/// waking it then, since notifications sent meanwhile are lost.
pub async fn wake_on_appends(pool: PgPool, projector: Arc<Notify>) {
    loop {
        let listener = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen("distorch_events").await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listener.await {
            Ok(mut listener) => {
                projector.notify_one();
                // `Ok(None)`: the connection was lost (and is remade by the
                // next call); what was notified meanwhile is lost, so wake.
                while listener.try_recv().await.is_ok() {
                    projector.notify_one();
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
