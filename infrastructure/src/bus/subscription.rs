//! A consumer that outlives connections: when its channel or connection
//! dies it waits for the supervisor's next session and consumes again, so
//! the caller just keeps calling `next`. Messages that are not JSON of the
//! expected type are dead-lettered, never handed out nor redelivered.

use std::marker::PhantomData;
use std::sync::Arc;

use application::Error;
use application::ports::{Delivery, Subscription};
use futures_lite::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions,
};
use lapin::types::FieldTable;
use lapin::{Acker, BasicProperties, Channel, Consumer};
use serde::de::DeserializeOwned;

use super::session::Session;
use super::supervisor::{INITIAL_BACKOFF, Link, MAX_BACKOFF};
use super::topology::{
    RESULTS, WORKERS, control_queue, declare_control_queue, declare_topology, task_queue,
};

/// What a subscription consumes.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    /// A task queue, by its name (`payments`, not `distorch.task.payments`).
    Tasks(String),
    Results,
    /// The workers' presence messages.
    Presence,
    /// One worker's control queue, by the worker's id.
    Control(String),
}

impl Source {
    fn queue(&self) -> String {
        match self {
            Self::Tasks(name) => task_queue(name),
            Self::Results => RESULTS.to_owned(),
            Self::Presence => WORKERS.to_owned(),
            Self::Control(worker_id) => control_queue(worker_id),
        }
    }
}

/// Deliveries of one queue, at most `prefetch` unacknowledged at a time (per
/// connection: after a reconnect the deliveries of the dead channel no longer
/// count, and the broker redelivers them).
#[derive(Debug)]
pub struct RabbitSubscription<T> {
    link: Link,
    source: Source,
    prefetch: u16,
    active: Option<Active>,
    /// Cancelled by its owner: it ends instead of subscribing again.
    cancelled: bool,
    _message: PhantomData<fn() -> T>,
}

#[derive(Debug)]
struct Active {
    session: Arc<Session>,
    channel: Channel,
    consumer: Consumer,
}

impl<T: DeserializeOwned + Send> RabbitSubscription<T> {
    /// Subscribes at once: fails with `Unavailable` if that is not possible now.
    /// A prefetch of 0 would mean "unbounded" to RabbitMQ; it is taken as 1.
    pub(crate) async fn open(link: Link, source: Source, prefetch: u16) -> Result<Self, Error> {
        let current = link.borrow().clone();
        let session = current
            .filter(|session| session.is_alive())
            .ok_or_else(|| Error::unavailable("the connection to RabbitMQ is lost"))?;
        let mut subscription = Self {
            link,
            source,
            prefetch: prefetch.max(1),
            active: None,
            cancelled: false,
            _message: PhantomData,
        };
        subscription.active = Some(subscription.subscribe(&session).await?);
        Ok(subscription)
    }

    /// Declares the queue (it may have been deleted) and consumes it on a
    /// channel of its own, with manual acknowledgements.
    async fn subscribe(&self, session: &Arc<Session>) -> Result<Active, Error> {
        let channel = session
            .rpc(
                "open a consumer channel",
                session.connection.create_channel(),
            )
            .await?;
        let names: &[&str] = match &self.source {
            Source::Tasks(name) => &[name.as_str()],
            Source::Results | Source::Presence | Source::Control(_) => &[],
        };
        session
            .rpc("declare the queue", declare_topology(&channel, names))
            .await?;
        if let Source::Control(worker_id) = &self.source {
            session
                .rpc(
                    "declare the control queue",
                    declare_control_queue(&channel, worker_id),
                )
                .await?;
        }
        if let Source::Tasks(name) = &self.source {
            session.record_declared(name);
        }
        session
            .rpc(
                "set the prefetch",
                channel.basic_qos(self.prefetch, BasicQosOptions::default()),
            )
            .await?;
        let consumer = session
            .rpc(
                "consume",
                channel.basic_consume(
                    self.source.queue().into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                ),
            )
            .await?;
        Ok(Active {
            session: session.clone(),
            channel,
            consumer,
        })
    }

    /// Waits for a live session and subscribes on it, retrying with backoff;
    /// `None` once the bus is gone.
    async fn resubscribe(&mut self) -> Option<Active> {
        let mut delay = INITIAL_BACKOFF;
        loop {
            let session = {
                let ready = self
                    .link
                    .wait_for(|session| session.as_ref().is_some_and(|s| s.is_alive()))
                    .await;
                ready.ok()?.clone()?
            };
            match self.subscribe(&session).await {
                Ok(active) => return Some(active),
                Err(error) => {
                    tracing::warn!(queue = %self.source.queue(), error = %error.report(), retry_in = ?delay, "resubscribe failed");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn next_delivery(&mut self) -> Option<Result<RabbitDelivery<T>, Error>> {
        loop {
            if self.active.is_none() {
                if self.cancelled {
                    return None;
                }
                self.active = Some(self.resubscribe().await?);
            }
            let active = self.active.as_mut()?;
            tokio::select! {
                item = active.consumer.next() => match item {
                    Some(Ok(delivery)) => {
                        let (session, channel) = (active.session.clone(), active.channel.clone());
                        if let Some(delivery) = self.accept(delivery, session, channel).await {
                            return Some(Ok(delivery));
                        }
                    }
                    Some(Err(error)) => {
                        tracing::warn!(queue = %self.source.queue(), %error, "consumer failed; resubscribing");
                        self.active = None;
                    }
                    None if self.cancelled => return None,
                    None => {
                        tracing::warn!(queue = %self.source.queue(), "consumer cancelled by the broker; resubscribing");
                        self.active = None;
                    }
                },
                changed = self.link.changed() => {
                    // Ends with the bus; else drop a consumer of an older session.
                    changed.ok()?;
                    let current = self.link.borrow().as_ref().map(|session| session.generation);
                    if current != Some(active.session.generation) {
                        self.active = None;
                    }
                }
            }
        }
    }

    /// Decodes a delivery, or dead-letters it when it does not decode. One
    /// left over from a dead channel is skipped: the broker redelivers it.
    async fn accept(
        &self,
        delivery: lapin::message::Delivery,
        session: Arc<Session>,
        channel: Channel,
    ) -> Option<RabbitDelivery<T>> {
        if !delivery.acker.usable() {
            return None;
        }
        match serde_json::from_slice::<T>(&delivery.data) {
            Ok(message) => Some(RabbitDelivery {
                message,
                redelivered: delivery.redelivered,
                properties: delivery.properties,
                acker: delivery.acker,
                session,
                _channel: channel,
            }),
            Err(error) => {
                tracing::warn!(queue = %self.source.queue(), %error, "undecodable message dead-lettered");
                let rejected = session
                    .rpc(
                        "dead-letter",
                        delivery.acker.reject(BasicRejectOptions { requeue: false }),
                    )
                    .await;
                if !matches!(rejected, Ok(true)) {
                    tracing::warn!(
                        ?rejected,
                        "could not dead-letter; the broker will redeliver it"
                    );
                }
                None
            }
        }
    }
}

impl<T: DeserializeOwned + Send> Subscription<T> for RabbitSubscription<T> {
    type Delivery = RabbitDelivery<T>;

    /// Never yields an error: outages are waited out. `None` only when the
    /// bus shut down.
    async fn next(&mut self) -> Option<Result<RabbitDelivery<T>, Error>> {
        self.next_delivery().await
    }

    /// Cancels the consumer; what was already delivered still comes out
    /// of `next`, then `None` (the broker's cancel ends the stream).
    async fn cancel(&mut self) {
        self.cancelled = true;
        if let Some(active) = &self.active {
            let cancelled = active
                .session
                .rpc(
                    "cancel the consumer",
                    active
                        .channel
                        .basic_cancel(active.consumer.tag(), BasicCancelOptions::default()),
                )
                .await;
            if cancelled.is_err() {
                self.active = None;
            }
        }
    }
}

/// A decoded message and the means to settle it on the channel it came on.
///
/// Settling a delivery whose channel is gone (the connection was lost since
/// it arrived) returns `Ok(())` and does nothing: the broker puts such a
/// message back in its queue by itself and redelivers it with
/// `redelivered = true`, so an ack becomes a duplicate (dispatch is at least
/// once) and a requeue or reject a redelivery. So `ack`, `requeue` and
/// `reject` never return an error; `is_settleable` tells the cases apart.
#[derive(Debug)]
pub struct RabbitDelivery<T> {
    message: T,
    redelivered: bool,
    properties: BasicProperties,
    acker: Acker,
    /// The connection it came on: a settlement gives up when it is lost.
    session: Arc<Session>,
    /// Keeps the channel open while the delivery is unsettled, even if the
    /// subscription is dropped first.
    _channel: Channel,
}

impl<T> RabbitDelivery<T> {
    /// The AMQP properties (priority, delivery mode, message id...).
    pub fn properties(&self) -> &BasicProperties {
        &self.properties
    }

    /// False once its channel is gone: settling it then does nothing.
    pub fn is_settleable(&self) -> bool {
        self.acker.usable()
    }
}

impl<T: Send> Delivery<T> for RabbitDelivery<T> {
    fn message(&self) -> &T {
        &self.message
    }

    fn redelivered(&self) -> bool {
        self.redelivered
    }

    async fn ack(self) -> Result<(), Error> {
        settled(
            &self.session,
            "ack",
            self.acker.ack(BasicAckOptions::default()),
        )
        .await
    }

    async fn requeue(self) -> Result<(), Error> {
        let options = BasicNackOptions {
            multiple: false,
            requeue: true,
        };
        settled(&self.session, "requeue", self.acker.nack(options)).await
    }

    async fn reject(self) -> Result<(), Error> {
        let options = BasicRejectOptions { requeue: false };
        settled(&self.session, "reject", self.acker.reject(options)).await
    }
}

/// See [`RabbitDelivery`]: a settlement lost with its channel is not an
/// error. Nor is one that never completes (see [`Session::rpc`]): the broker
/// redelivers what it did not get.
async fn settled(
    session: &Session,
    what: &'static str,
    settlement: impl std::future::Future<Output = lapin::Result<bool>>,
) -> Result<(), Error> {
    match session.rpc(what, settlement).await {
        Ok(true) => {}
        Ok(false) => tracing::debug!(what, "channel gone: the broker will redeliver"),
        Err(error) => {
            tracing::debug!(error = %error.report(), "settlement lost: the broker will redeliver")
        }
    }
    Ok(())
}
