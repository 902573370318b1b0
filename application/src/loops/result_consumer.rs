//! Consumes worker results and applies them. A result is acknowledged once
//! its events are stored (or it turned out to be a duplicate); an
//! unavailable store requeues it; a result no instance can take is
//! dead-lettered.

use std::sync::Arc;

use crate::Error;
use crate::engine::Engine;
use crate::messages::TaskResult;
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
        delivery: <B::Results as Subscription<TaskResult>>::Delivery,
    ) -> Result<Handled, Error> {
        let outcome = self.engine.handle_result(delivery.message().clone()).await;
        settle(delivery, outcome).await
    }

    /// Applies deliveries together (their events in one batch append), then
    /// settles each with the broker; returns what became of each.
    pub async fn handle_batch(
        &self,
        deliveries: Vec<<B::Results as Subscription<TaskResult>>::Delivery>,
    ) -> Vec<Result<Handled, Error>> {
        let results: Vec<TaskResult> = deliveries
            .iter()
            .map(|delivery| delivery.message().clone())
            .collect();
        let outcomes = self.engine.handle_results(&results).await;
        let mut handled = Vec::with_capacity(deliveries.len());
        for (delivery, outcome) in deliveries.into_iter().zip(outcomes) {
            handled.push(settle(delivery, outcome).await);
        }
        handled
    }

    /// Consumes results until the subscription ends. A reader task takes
    /// deliveries off the bus; each round applies every delivery that
    /// arrived meanwhile as one batch, up to `BATCH`, with up to
    /// `BATCHES_IN_FLIGHT` rounds at once (results of one instance that race
    /// are decided again on conflict). Under load the batches grow, so the
    /// commits per result fall; alone, a result is applied at once.
    pub async fn run(self: Arc<Self>) -> Result<(), Error>
    where
        S: 'static,
    {
        let mut results = self.bus.consume_results(self.prefetch).await?;
        let (sender, mut receiver) = tokio::sync::mpsc::channel(usize::from(self.prefetch));
        let reader = tokio::spawn(async move {
            while let Some(delivery) = results.next().await {
                match delivery {
                    Ok(delivery) => {
                        if sender.send(delivery).await.is_err() {
                            break;
                        }
                    }
                    Err(_) => tokio::time::sleep(super::FALLBACK_WAKE).await,
                }
            }
        });
        let slots = Arc::new(tokio::sync::Semaphore::new(BATCHES_IN_FLIGHT));
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let Some(first) = receiver.recv().await else {
                break;
            };
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match receiver.try_recv() {
                    Ok(delivery) => batch.push(delivery),
                    Err(_) => break,
                }
            }
            let consumer = self.clone();
            tokio::spawn(async move {
                let results = batch.len();
                let handling = consumer.handle_batch(batch);
                tokio::pin!(handling);
                // Said once, so that a stalled round shows in the log.
                let handled = tokio::select! {
                    handled = &mut handling => handled,
                    () = tokio::time::sleep(SLOW_ROUND) => {
                        tracing::warn!(results, after = ?SLOW_ROUND, "a results round is still running");
                        handling.await
                    }
                };
                if handled
                    .iter()
                    .any(|handled| matches!(handled, Ok(Handled::Requeued) | Err(_)))
                {
                    tokio::time::sleep(super::FALLBACK_WAKE).await;
                }
                drop(slot);
            });
        }
        reader.abort();
        Ok(())
    }
}

/// Results applied in one round at most.
const BATCH: usize = 128;
/// Rounds applied at once.
const BATCHES_IN_FLIGHT: usize = 2;
/// A round that takes longer is reported in the log.
const SLOW_ROUND: std::time::Duration = std::time::Duration::from_secs(10);

async fn settle<D: Delivery<TaskResult>>(
    delivery: D,
    outcome: Result<Vec<domain::instance::Event>, Error>,
) -> Result<Handled, Error> {
    match outcome {
        Ok(_) | Err(Error::Rejected(_)) => {
            delivery.ack().await?;
            Ok(Handled::Applied)
        }
        Err(error @ (Error::Unavailable(_) | Error::Conflict { .. })) => {
            tracing::warn!(%error, "result requeued");
            delivery.requeue().await?;
            Ok(Handled::Requeued)
        }
        Err(error @ (Error::NotFound { .. } | Error::Invalid { .. } | Error::Corrupt { .. })) => {
            let result = delivery.message();
            tracing::warn!(
                %error,
                instance_id = %result.instance_id,
                step = %result.step,
                attempt = result.attempt,
                "result dead-lettered"
            );
            delivery.reject().await?;
            Ok(Handled::DeadLettered)
        }
    }
}
