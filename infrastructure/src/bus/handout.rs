//! Tasks handed out one at a time to workers that poll over HTTP: a
//! consumer with prefetch 1 on a channel of its own, for as long as the
//! poll waits. The first task that arrives is acknowledged after the
//! consumer is cancelled, so no second one is pushed; closing the channel
//! gives back anything unacknowledged (a wait that timed out just as a task
//! arrived).

use std::time::Duration;

use application::Error;
use application::messages::TaskMessage;
use application::ports::{BoxFuture, TaskHandout};
use futures_lite::StreamExt;
use lapin::Channel;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;

use super::error::is_not_found;
use super::rpc::rpc_raw;
use super::session::Session;
use super::topology::task_queue;
use super::{RabbitBus, failed, rpc};

/// How often a poll of a queue that does not exist yet looks again.
const EXISTENCE_RECHECK: Duration = Duration::from_secs(1);

impl RabbitBus {
    /// Runs on a task of its own: a poller that goes away mid-wait (its
    /// request future dropped) must not leave the channel open and a
    /// delivery unsettled on it. A poll never declares its queue: queues
    /// are declared by the publishes of deployed definitions' tasks and by
    /// the workers that consume them, so polling a name no definition uses
    /// leaves nothing behind; it waits for the queue to appear, looking
    /// again every second.
    async fn take_one(&self, queue: &str, wait: Duration) -> Result<Option<TaskMessage>, Error> {
        let deadline = tokio::time::Instant::now() + wait;
        let session = loop {
            let session = self.session_for_admin()?;
            if session.is_declared(queue) || queue_exists(&session, queue).await? {
                break session;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(EXISTENCE_RECHECK.min(deadline - now)).await;
        };
        let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
        let channel = session.connection_channel().await?;
        let queue = queue.to_owned();
        tokio::spawn(async move {
            let taken = first_task(&channel, &queue, wait).await;
            let _ = rpc("close a channel", channel.close(200, "done".into())).await;
            taken
        })
        .await
        .map_err(|error| Error::internal("taking a task", error))?
    }
}

/// Whether the task queue `queue` exists, asked without creating it (a
/// passive declaration, on a channel of its own: the broker closes the
/// channel when the queue is not there).
async fn queue_exists(session: &Session, queue: &str) -> Result<bool, Error> {
    let channel = session.connection_channel().await?;
    let declared = session
        .unless_lost(
            "look for a task queue",
            rpc_raw(channel.queue_declare(
                task_queue(queue).as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )),
        )
        .await?;
    let exists = match declared {
        Ok(_) => true,
        Err(error) if is_not_found(&error) => false,
        Err(error) => return Err(failed("look for a task queue")(error)),
    };
    if exists {
        let _ = rpc("close a channel", channel.close(200, "done".into())).await;
        session.record_declared(queue);
    }
    Ok(exists)
}

async fn first_task(
    channel: &Channel,
    queue: &str,
    wait: Duration,
) -> Result<Option<TaskMessage>, Error> {
    rpc(
        "set the prefetch",
        channel.basic_qos(1, BasicQosOptions::default()),
    )
    .await?;
    let mut consumer = rpc(
        "consume",
        channel.basic_consume(
            task_queue(queue).as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        ),
    )
    .await?;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let delivery = match tokio::time::timeout_at(deadline, consumer.next()).await {
            Err(_) => return Ok(None),
            Ok(None) => {
                return Err(Error::unavailable("the broker cancelled the consumer"));
            }
            Ok(Some(delivery)) => delivery.map_err(failed("receive a task"))?,
        };
        let Ok(task) = serde_json::from_slice::<TaskMessage>(&delivery.data) else {
            tracing::warn!(queue, "undecodable task dead-lettered");
            let _ = rpc(
                "dead-letter",
                delivery.acker.reject(BasicRejectOptions { requeue: false }),
            )
            .await;
            continue;
        };
        rpc(
            "cancel the consumer",
            channel.basic_cancel(consumer.tag(), BasicCancelOptions::default()),
        )
        .await?;
        // Not acknowledged (the channel died): the broker redelivers it, so
        // handing it out too would only make a duplicate.
        return match rpc(
            "acknowledge a task",
            delivery.acker.ack(BasicAckOptions::default()),
        )
        .await?
        {
            true => Ok(Some(task)),
            false => Err(Error::unavailable(
                "the channel closed before the task was acknowledged",
            )),
        };
    }
}

impl TaskHandout for RabbitBus {
    fn take<'a>(
        &'a self,
        queue: &'a str,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Option<TaskMessage>, Error>> {
        Box::pin(self.take_one(queue, wait))
    }
}
