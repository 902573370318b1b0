//! LISTEN/NOTIFY: appends on any node that set timers wake the timer poller
//! of this node, so it sleeps instead of polling. (Outbox rows need no
//! notification: their appender publishes them itself; see
//! `APPENDED_OUTBOX_LEASE`.)

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;

/// Forwards `distorch_timers` notifications to the given wake-up,
/// reconnecting after a lost connection (and waking it then, since
/// notifications sent meanwhile are lost).
pub async fn forward_notifications(pool: PgPool, timers: Arc<Notify>) {
    loop {
        let listener = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen("distorch_timers").await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listener.await {
            Ok(mut listener) => {
                timers.notify_one();
                while listener.recv().await.is_ok() {
                    timers.notify_one();
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
