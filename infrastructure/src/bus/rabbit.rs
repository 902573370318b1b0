//! `RabbitBus`: the bus port over RabbitMQ. Publishes are persistent JSON
//! messages confirmed by the broker (a task's trace context also in the
//! message header `traceparent`); consumption goes through
//! [`RabbitSubscription`], which survives reconnects.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use application::Error;
use application::messages::{ResultBatch, ResultsOnWire, TaskMessage, TaskResult};
use application::ports::Bus;
use application::trace::TRACEPARENT;
use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation};
use serde::Serialize;

use super::session::Session;
use super::subscription::{RabbitSubscription, Source};
use super::supervisor::{self, Link};
use super::topology::{RESULTS, TASKS_EXCHANGE};
use super::{failed, rpc, unwritable};

/// A batch whose confirms take longer than this fails (the outbox retries it).
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);
/// AMQP delivery mode 2: the broker writes the message to disk.
pub(crate) const PERSISTENT: u8 = 2;

#[derive(Clone, Debug)]
pub struct RabbitConfig {
    /// `amqp://user:password@host:port/vhost` (the vhost URL-encoded, `%2f`
    /// for `/`); query parameters such as `heartbeat=10` are honoured, and
    /// `heartbeat=5` is added when none is given (see `HEARTBEAT_SECONDS`).
    pub url: String,
    /// Shown by the broker (`user_provided_name`) so operators can tell
    /// the nodes' connections apart.
    pub connection_name: String,
}

/// Cheap to clone: every clone shares one supervised connection, which is
/// closed when the last clone and the last subscription are dropped.
#[derive(Clone, Debug)]
pub struct RabbitBus {
    link: Link,
}

impl RabbitBus {
    /// Connects and declares the topology; fails with `Unavailable` when the
    /// broker cannot be reached now. Later outages are recovered from.
    pub async fn connect(config: RabbitConfig) -> Result<Self, Error> {
        Ok(Self {
            link: supervisor::start(config).await?,
        })
    }

    /// The live session for an operator's task, even while publishes are blocked.
    pub(crate) fn session_for_admin(&self) -> Result<Arc<Session>, Error> {
        self.link
            .borrow()
            .clone()
            .ok_or_else(|| Error::unavailable("the connection to RabbitMQ is lost; reconnecting"))
    }

    /// The live session, or `Unavailable` at once while reconnecting.
    fn session(&self) -> Result<Arc<Session>, Error> {
        let current = self.link.borrow().clone();
        let session = current.ok_or_else(|| {
            Error::unavailable("the connection to RabbitMQ is lost; reconnecting")
        })?;
        session.check_publishable()?;
        Ok(session)
    }
}

impl Bus for RabbitBus {
    type Tasks = RabbitSubscription<TaskMessage>;
    type Results = RabbitSubscription<ResultBatch>;

    async fn publish_tasks(&self, tasks: &[TaskMessage]) -> Result<(), Error> {
        if tasks.is_empty() {
            return Ok(());
        }
        let session = self.session()?;
        let queues: BTreeSet<&str> = tasks.iter().map(|task| task.queue.as_str()).collect();
        session
            .ensure_declared(&queues.into_iter().collect::<Vec<_>>())
            .await?;
        let batch = tasks
            .iter()
            .map(|task| {
                Outgoing::new(
                    TASKS_EXCHANGE,
                    &task.queue,
                    &task.task_id,
                    task.priority,
                    task,
                )
                .map(|outgoing| outgoing.traced(task.traceparent.as_deref()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let channel = session.publisher().await?;
        publish_confirmed(&session, &channel, &batch)
            .await
            .inspect_err(|_| {
                // An unroutable task means its queue vanished: declare it anew next time.
                for task in tasks {
                    session.forget_declared(&task.queue);
                }
            })
    }

    async fn publish_results(&self, results: &[TaskResult]) -> Result<(), Error> {
        let Some(first) = results.first() else {
            return Ok(());
        };
        let session = self.session()?;
        // Named after the first result.
        let batch = [Outgoing::new(
            RESULTS,
            RESULTS,
            &first.task_id,
            0,
            &ResultsOnWire(results),
        )?];
        let channel = session.publisher().await?;
        publish_confirmed(&session, &channel, &batch).await
    }

    async fn consume_tasks(&self, queue: &str, prefetch: u16) -> Result<Self::Tasks, Error> {
        RabbitSubscription::open(self.link.clone(), Source::Tasks(queue.to_owned()), prefetch).await
    }

    async fn consume_results(&self, prefetch: u16) -> Result<Self::Results, Error> {
        RabbitSubscription::open(self.link.clone(), Source::Results, prefetch).await
    }
}

/// One message ready to publish.
struct Outgoing<'a> {
    exchange: &'static str,
    routing_key: &'a str,
    properties: BasicProperties,
    body: Vec<u8>,
}

impl<'a> Outgoing<'a> {
    fn new(
        exchange: &'static str,
        routing_key: &'a str,
        message_id: &str,
        priority: u8,
        message: &impl Serialize,
    ) -> Result<Self, Error> {
        let body = serde_json::to_vec(message).map_err(|error| unwritable(message_id, error))?;
        let properties = BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/json".into())
            .with_message_id(message_id.into())
            .with_priority(priority);
        Ok(Self {
            exchange,
            routing_key,
            properties,
            body,
        })
    }
}

impl Outgoing<'_> {
    /// Adds the `traceparent` header, for consumers that read trace context
    /// from headers (the message body carries it as well).
    fn traced(mut self, traceparent: Option<&str>) -> Self {
        if let Some(traceparent) = traceparent {
            let mut headers = FieldTable::default();
            headers.insert(
                TRACEPARENT.into(),
                AMQPValue::LongString(traceparent.into()),
            );
            self.properties = self.properties.with_headers(headers);
        }
        self
    }
}

/// Publishes the whole batch, then waits for every confirm. Messages are
/// mandatory: one that no queue takes comes back and fails the batch.
async fn publish_confirmed(
    session: &Session,
    channel: &Channel,
    batch: &[Outgoing<'_>],
) -> Result<(), Error> {
    session
        .unless_lost("publish", publish_and_confirm(channel, batch))
        .await
}

async fn publish_and_confirm(channel: &Channel, batch: &[Outgoing<'_>]) -> Result<(), Error> {
    let mut confirms = Vec::with_capacity(batch.len());
    for message in batch {
        let confirm = rpc(
            "publish",
            channel.basic_publish(
                message.exchange.into(),
                message.routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &message.body,
                message.properties.clone(),
            ),
        )
        .await?;
        confirms.push(confirm);
    }
    let all_confirmed = async {
        for confirm in confirms {
            match confirm.await.map_err(failed("await a publisher confirm"))? {
                Confirmation::Ack(None) => {}
                Confirmation::Ack(Some(returned)) => {
                    return Err(Error::unavailable(format!(
                        "no queue took the message routed by {:?}: {}",
                        returned.delivery.routing_key.as_str(),
                        returned.reply_text.as_str()
                    )));
                }
                Confirmation::Nack(_) => {
                    return Err(Error::unavailable("RabbitMQ refused (nacked) a message"));
                }
                Confirmation::NotRequested => {
                    return Err(Error::unavailable(
                        "the publisher channel is not in confirm mode",
                    ));
                }
            }
        }
        Ok(())
    };
    tokio::time::timeout(CONFIRM_TIMEOUT, all_confirmed)
        .await
        .map_err(|_| {
            Error::unavailable(format!(
                "RabbitMQ did not confirm the publish within {CONFIRM_TIMEOUT:?}"
            ))
        })?
}
