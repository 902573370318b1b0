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
};
use lapin::types::FieldTable;

use super::topology::task_queue;
use super::{RabbitBus, failed, rpc};

impl RabbitBus {
    /// Runs on a task of its own: a poller that goes away mid-wait (its
    /// request future dropped) must not leave the channel open and a
    /// delivery unsettled on it.
    async fn take_one(&self, queue: &str, wait: Duration) -> Result<Option<TaskMessage>, Error> {
        let session = self.session_for_admin()?;
        session.ensure_declared(&[queue]).await?;
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
