//! Worker presence over RabbitMQ: workers publish to `distorch.workers`
//! (through the default exchange), the engine node consumes it; a signal
//! goes to a worker's own control queue, `distorch.worker.<id>`.

use application::Error;
use application::fleet::{WorkerPresence, WorkerSignal};
use application::ports::{BoxFuture, Delivery, Subscription, WorkerChannel};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::RabbitBus;
use super::rabbit::Outgoing;
use super::subscription::{RabbitSubscription, Source};
use super::topology::{WORKERS, control_queue};

/// Presence messages or signals waiting for their reader.
const BUFFER: usize = 256;

impl RabbitBus {
    /// Consumes `source` on a task of its own, handing each message to the
    /// receiver and acknowledging it; ends when the receiver is dropped.
    async fn forward<T>(&self, source: Source) -> Result<mpsc::Receiver<T>, Error>
    where
        T: DeserializeOwned + Clone + Send + 'static,
    {
        let mut subscription: RabbitSubscription<T> =
            RabbitSubscription::open(self.link.clone(), source, 64).await?;
        let (sender, receiver) = mpsc::channel(BUFFER);
        tokio::spawn(async move {
            while let Some(delivery) = subscription.next().await {
                let Ok(delivery) = delivery else { continue };
                let message = delivery.message().clone();
                let _ = delivery.ack().await;
                if sender.send(message).await.is_err() {
                    break;
                }
            }
            subscription.cancel().await;
        });
        Ok(receiver)
    }
}

impl WorkerChannel for RabbitBus {
    fn announce<'a>(&'a self, presence: &'a WorkerPresence) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let message = Outgoing::new("", WORKERS, &presence.worker_id, 0, presence)?;
            self.publish(&[message]).await
        })
    }

    fn presences(&self) -> BoxFuture<'_, Result<mpsc::Receiver<WorkerPresence>, Error>> {
        Box::pin(self.forward(Source::Presence))
    }

    fn signal<'a>(
        &'a self,
        worker_id: &'a str,
        signal: WorkerSignal,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let queue = control_queue(worker_id);
            let message = Outgoing::new("", &queue, worker_id, 0, &signal)?;
            self.publish(&[message]).await
        })
    }

    fn signals<'a>(
        &'a self,
        worker_id: &'a str,
    ) -> BoxFuture<'a, Result<mpsc::Receiver<WorkerSignal>, Error>> {
        Box::pin(self.forward(Source::Control(worker_id.to_owned())))
    }
}
