//! Dead-lettered tasks: counting them and sending them back to their queue
//! once the cause is fixed. Each message is re-published (confirmed) before
//! it is removed from the dead-letter queue, so a crash in between
//! duplicates a task rather than losing it.

use lapin::BasicProperties;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;

use application::Error;

use super::rabbit::PERSISTENT;
use super::topology::{TASKS_EXCHANGE, dead_letter_queue};
use super::{RabbitBus, rpc};

impl RabbitBus {
    /// How many tasks of `queue` wait in its dead-letter queue.
    pub async fn dead_letter_count(&self, queue: &str) -> Result<u32, Error> {
        let session = self.session_for_admin()?;
        session.ensure_declared(&[queue]).await?;
        let channel = session.connection_channel().await?;
        let declared = rpc(
            "inspect the dead-letter queue",
            channel.queue_declare(
                dead_letter_queue(queue).as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            ),
        )
        .await?;
        let _ = rpc("close a channel", channel.close(200, "done".into())).await;
        Ok(declared.message_count())
    }

    /// Moves every dead-lettered task of `queue` back onto it; returns how many.
    pub async fn redrive(&self, queue: &str) -> Result<usize, Error> {
        let session = self.session_for_admin()?;
        session.ensure_declared(&[queue]).await?;
        let channel = session.connection_channel().await?;
        rpc(
            "enable publisher confirms",
            channel.confirm_select(lapin::options::ConfirmSelectOptions::default()),
        )
        .await?;
        let source = dead_letter_queue(queue);
        let mut moved = 0;
        while let Some(message) = rpc(
            "read the dead-letter queue",
            channel.basic_get(source.as_str().into(), BasicGetOptions { no_ack: false }),
        )
        .await?
        {
            let original = &message.delivery.properties;
            let mut properties = BasicProperties::default()
                .with_delivery_mode(PERSISTENT)
                .with_content_type("application/json".into());
            if let Some(id) = original.message_id() {
                properties = properties.with_message_id(id.clone());
            }
            if let Some(priority) = original.priority() {
                properties = properties.with_priority(*priority);
            }
            if let Some(headers) = original.headers()
                && let Some(traceparent) = headers.inner().get(application::trace::TRACEPARENT)
            {
                let mut kept = FieldTable::default();
                kept.insert(application::trace::TRACEPARENT.into(), traceparent.clone());
                properties = properties.with_headers(kept);
            }
            let confirm = rpc(
                "re-publish a dead-lettered task",
                channel.basic_publish(
                    TASKS_EXCHANGE.into(),
                    queue.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &message.delivery.data,
                    properties,
                ),
            )
            .await?;
            let confirm = rpc("await the confirm of a re-published task", confirm).await?;
            if !confirm.is_ack() {
                return Err(Error::unavailable("RabbitMQ refused a re-published task"));
            }
            rpc(
                "remove a re-published task from the dead-letter queue",
                message.delivery.acker.ack(BasicAckOptions::default()),
            )
            .await?;
            moved += 1;
        }
        let _ = rpc("close a channel", channel.close(200, "done".into())).await;
        Ok(moved)
    }
}
