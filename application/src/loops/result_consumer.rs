//! Consumes worker results and applies them. A result is acknowledged once
//! its events are stored (or it turned out to be a duplicate); an
//! unavailable store requeues it; a result no instance can take is
//! dead-lettered.

use std::sync::Arc;

use crate::Error;
use crate::engine::Engine;
use crate::ports::{Bus, Delivery, EventStore, Subscription, TimerQueue};

#[derive(Debug)]
pub struct ResultConsumer<S, B> {
    engine: Arc<Engine<S>>,
    bus: B,
    prefetch: u16,
}

/// What became of one delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    Applied,
    Requeued,
    DeadLettered,
}

impl<S: EventStore + TimerQueue, B: Bus> ResultConsumer<S, B> {
    pub fn new(engine: Arc<Engine<S>>, bus: B) -> Self {
        Self {
            engine,
            bus,
            prefetch: 256,
        }
    }

    /// Applies one delivery and settles it with the broker.
    pub async fn handle(
        &self,
        delivery: <B::Results as Subscription<crate::messages::TaskResult>>::Delivery,
    ) -> Result<Handled, Error> {
        let result = delivery.message().clone();
        match self.engine.handle_result(result).await {
            Ok(_) | Err(Error::Rejected(_)) => {
                delivery.ack().await?;
                Ok(Handled::Applied)
            }
            Err(Error::Unavailable(_) | Error::Conflict { .. }) => {
                delivery.requeue().await?;
                Ok(Handled::Requeued)
            }
            Err(Error::NotFound { .. } | Error::Invalid { .. } | Error::Corrupt { .. }) => {
                delivery.reject().await?;
                Ok(Handled::DeadLettered)
            }
        }
    }

    /// Consumes results until the subscription ends, applying up to
    /// `prefetch` of them at once (results of one instance that race are
    /// decided again on conflict).
    pub async fn run(self: Arc<Self>) -> Result<(), Error>
    where
        S: 'static,
    {
        let mut results = self.bus.consume_results(self.prefetch).await?;
        let slots = Arc::new(tokio::sync::Semaphore::new(usize::from(self.prefetch)));
        while let Some(delivery) = results.next().await {
            let Ok(delivery) = delivery else {
                tokio::time::sleep(super::FALLBACK_WAKE).await;
                continue;
            };
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let consumer = self.clone();
            tokio::spawn(async move {
                if let Ok(Handled::Requeued) | Err(_) = consumer.handle(delivery).await {
                    tokio::time::sleep(super::FALLBACK_WAKE).await;
                }
                drop(slot);
            });
        }
        Ok(())
    }
}
