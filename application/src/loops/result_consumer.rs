//! Consumes worker results and applies them. A message (one result, or
//! several a worker reported together) is acknowledged once the events of
//! its results are stored (or they turned out to be duplicates); an
//! unavailable store requeues it; a message with a result no instance can
//! take is dead-lettered.

use std::sync::Arc;

use crate::Error;
use crate::engine::Engine;
use crate::messages::{ResultBatch, TaskResult};
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
            prefetch: RESULTS_PREFETCH,
        }
    }

    /// Applies one delivery and settles it with the broker.
    pub async fn handle(
        &self,
        delivery: <B::Results as Subscription<ResultBatch>>::Delivery,
    ) -> Result<Handled, Error> {
        let mut handled = self.handle_batch(vec![delivery]).await;
        handled.pop().unwrap_or(Ok(Handled::Applied))
    }

    /// Applies the results of many deliveries together (their events in one
    /// batch append), then settles each delivery with the broker; returns
    /// what became of each.
    pub async fn handle_batch(
        &self,
        deliveries: Vec<<B::Results as Subscription<ResultBatch>>::Delivery>,
    ) -> Vec<Result<Handled, Error>> {
        let results: Vec<TaskResult> = deliveries
            .iter()
            .flat_map(|delivery| delivery.message().0.iter().cloned())
            .collect();
        let mut outcomes = self.engine.handle_results(&results).await.into_iter();
        let mut handled = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let count = delivery.message().0.len();
            let verdict = verdict(&delivery.message().0, outcomes.by_ref().take(count));
            handled.push(settle(delivery, verdict).await);
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

/// Result messages a node holds unacknowledged at most: what a node that
/// freezes keeps from the others until the broker gives up on its
/// connection (docs/operations.md, "Queues"). A worker's message may
/// carry several results, so a round may still apply up to `BATCH`.
pub const RESULTS_PREFETCH: u16 = 64;

/// Results applied in one round at most.
const BATCH: usize = 128;
/// Rounds applied at once.
const BATCHES_IN_FLIGHT: usize = 2;
/// A round that takes longer is reported in the log.
const SLOW_ROUND: std::time::Duration = std::time::Duration::from_secs(10);

/// What to do with a message, from the outcomes of its results. A message
/// is settled whole: requeued if any of its results could not be stored
/// now (the others are duplicates when it comes back, and change
/// nothing); else dead-lettered if any can never be placed, or meets a fault
/// that retrying does not mend (re-driving it changes nothing for the
/// others either); else acknowledged.
fn verdict(
    results: &[TaskResult],
    outcomes: impl Iterator<Item = Result<Vec<domain::instance::Event>, Error>>,
) -> Handled {
    let mut verdict = Handled::Applied;
    for (result, outcome) in results.iter().zip(outcomes) {
        match outcome {
            Ok(_) | Err(Error::Rejected(_)) => {}
            Err(error @ (Error::Unavailable { .. } | Error::Conflict { .. })) => {
                tracing::warn!(error = %error.report(), "result requeued");
                return Handled::Requeued;
            }
            Err(
                error @ (Error::NotFound { .. }
                | Error::Invalid { .. }
                | Error::Corrupt { .. }
                | Error::Internal { .. }),
            ) => {
                tracing::warn!(
                    error = %error.report(),
                    instance_id = %result.instance_id,
                    step = %result.step,
                    attempt = result.attempt,
                    "result dead-lettered"
                );
                verdict = Handled::DeadLettered;
            }
        }
    }
    verdict
}

async fn settle<D: Delivery<ResultBatch>>(delivery: D, verdict: Handled) -> Result<Handled, Error> {
    match verdict {
        Handled::Applied => delivery.ack().await?,
        Handled::Requeued => delivery.requeue().await?,
        Handled::DeadLettered => delivery.reject().await?,
    }
    Ok(verdict)
}
