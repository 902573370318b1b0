//! Consumes worker results and applies them. A result is acknowledged once
//! its events are stored (or it turned out to be a duplicate); an
//! unavailable store requeues it; a result no instance can take is
//! dead-lettered.

use std::sync::Arc;

use crate::Error;
use crate::engine::Engine;
use crate::ports::{Bus, Delivery, EventStore, Subscription};

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

impl<S: EventStore, B: Bus> ResultConsumer<S, B> {
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

    pub async fn run(&self) -> Result<(), Error> {
        let mut results = self.bus.consume_results(self.prefetch).await?;
        while let Some(delivery) = results.next().await {
            match delivery {
                Ok(delivery) => {
                    if self.handle(delivery).await? == Handled::Requeued {
                        tokio::time::sleep(super::FALLBACK_WAKE).await;
                    }
                }
                Err(_) => tokio::time::sleep(super::FALLBACK_WAKE).await,
            }
        }
        Ok(())
    }
}
