//! Worker presence and signals within the process: one reader of presence
//! (the node's recorder), one listener per worker id. Not stored: presence
//! is worth nothing after a restart.

use std::collections::HashMap;
use std::sync::Mutex;

use application::Error;
use application::fleet::{WorkerPresence, WorkerSignal};
use application::ports::{BoxFuture, WorkerChannel};
use tokio::sync::mpsc;

use super::{LocalBus, lock};

/// Presence messages or signals waiting for their reader.
const BUFFER: usize = 256;

#[derive(Debug, Default)]
pub(super) struct Fleet {
    presences: Mutex<Option<mpsc::Sender<WorkerPresence>>>,
    listeners: Mutex<HashMap<String, mpsc::Sender<WorkerSignal>>>,
}

impl WorkerChannel for LocalBus {
    /// Dropped when no recorder listens (presence is best effort).
    fn announce<'a>(&'a self, presence: &'a WorkerPresence) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let sender = lock(&self.fleet.presences).clone();
            if let Some(sender) = sender {
                let _ = sender.send(presence.clone()).await;
            }
            Ok(())
        })
    }

    /// The last caller gets the presence messages from then on.
    fn presences(&self) -> BoxFuture<'_, Result<mpsc::Receiver<WorkerPresence>, Error>> {
        Box::pin(async move {
            let (sender, receiver) = mpsc::channel(BUFFER);
            *lock(&self.fleet.presences) = Some(sender);
            Ok(receiver)
        })
    }

    fn signal<'a>(
        &'a self,
        worker_id: &'a str,
        signal: WorkerSignal,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let sender = lock(&self.fleet.listeners).get(worker_id).cloned();
            match sender {
                Some(sender) if sender.send(signal).await.is_ok() => Ok(()),
                _ => Err(Error::unavailable(format!(
                    "worker {worker_id} does not listen in this process"
                ))),
            }
        })
    }

    fn signals<'a>(
        &'a self,
        worker_id: &'a str,
    ) -> BoxFuture<'a, Result<mpsc::Receiver<WorkerSignal>, Error>> {
        Box::pin(async move {
            let (sender, receiver) = mpsc::channel(BUFFER);
            lock(&self.fleet.listeners).insert(worker_id.to_owned(), sender);
            Ok(receiver)
        })
    }
}
