//! One live connection to RabbitMQ and what was set up on it: the publisher
//! channel (in confirm mode) and the task queues declared so far. A session
//! is never repaired: when its connection dies the supervisor replaces it.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use application::Error;
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection};

use super::rpc;
use super::topology::declare_topology;

/// Every task queue name declared since the bus started, so that each new
/// session declares them again before anyone uses it.
pub(crate) type KnownQueues = Mutex<BTreeSet<String>>;

pub(crate) struct Session {
    /// Increases with each reconnect; tells a subscription its channel is stale.
    pub(crate) generation: u64,
    pub(crate) connection: Connection,
    publisher: tokio::sync::Mutex<Option<Channel>>,
    declared: Mutex<HashSet<String>>,
    known: Arc<KnownQueues>,
    /// Set by the supervisor once it sees the connection die: every
    /// exchange still waiting on it gives up then (see [`Session::rpc`]).
    lost: tokio::sync::watch::Sender<bool>,
}

impl Session {
    pub(crate) fn new(
        generation: u64,
        connection: Connection,
        declared: impl IntoIterator<Item = String>,
        known: Arc<KnownQueues>,
    ) -> Self {
        Self {
            generation,
            connection,
            publisher: tokio::sync::Mutex::new(None),
            declared: Mutex::new(declared.into_iter().collect()),
            known,
            lost: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Tells every exchange waiting on this session's connection that it
    /// is dead.
    pub(crate) fn mark_lost(&self) {
        self.lost.send_replace(true);
    }

    /// Awaits one exchange on this session's connection (see [`rpc`]); it
    /// fails as soon as the supervisor sees the connection die, rather than
    /// after `RPC_TIMEOUT`: lapin leaves some exchanges unanswered when
    /// the connection closes under them (a publish made as the broker
    /// closed the connection waited for good in
    /// `publishes_fail_fast_during_an_outage_and_succeed_after_it`, about
    /// one run in 25 under load).
    pub(crate) async fn rpc<T>(
        &self,
        what: &'static str,
        exchange: impl std::future::Future<Output = lapin::Result<T>>,
    ) -> Result<T, Error> {
        self.unless_lost(what, rpc(what, exchange)).await
    }

    /// Runs `work` until it ends or the connection is lost, whichever is first.
    pub(crate) async fn unless_lost<T>(
        &self,
        what: &'static str,
        work: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let mut lost = self.lost.subscribe();
        tokio::select! {
            outcome = work => outcome,
            _ = lost.wait_for(|lost| *lost) => Err(Error::unavailable(format!(
                "{what}: the connection to RabbitMQ was lost"
            ))),
        }
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.connection.status().connected()
    }

    /// Fails fast when the session cannot take a publish right now.
    pub(crate) fn check_publishable(&self) -> Result<(), Error> {
        let status = self.connection.status();
        if !status.connected() {
            return Err(Error::unavailable(
                "the connection to RabbitMQ is lost; reconnecting",
            ));
        }
        if status.blocked() {
            return Err(Error::unavailable(
                "RabbitMQ blocks publishing (resource alarm)",
            ));
        }
        Ok(())
    }

    /// Declares, on a channel of their own, the task queues not yet declared
    /// on this connection.
    pub(crate) async fn ensure_declared(&self, names: &[&str]) -> Result<(), Error> {
        let missing: BTreeSet<&str> = {
            let declared = lock(&self.declared);
            names
                .iter()
                .copied()
                .filter(|name| !declared.contains(*name))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let missing: Vec<&str> = missing.into_iter().collect();
        let channel = self
            .rpc("open a channel", self.connection.create_channel())
            .await?;
        self.rpc(
            "declare the task queues",
            declare_topology(&channel, &missing),
        )
        .await?;
        for name in missing {
            self.record_declared(name);
        }
        Ok(())
    }

    /// Whether task queue `name` was declared on this connection.
    pub(crate) fn is_declared(&self, name: &str) -> bool {
        lock(&self.declared).contains(name)
    }

    /// Remembers that `name` was declared on this connection (and is to be
    /// declared on the following ones).
    pub(crate) fn record_declared(&self, name: &str) {
        lock(&self.known).insert(name.to_owned());
        lock(&self.declared).insert(name.to_owned());
    }

    /// Forgets a declaration the broker no longer has (the queue was deleted
    /// behind our back), so the next use declares it again.
    pub(crate) fn forget_declared(&self, name: &str) {
        lock(&self.declared).remove(name);
    }

    /// A fresh channel on the live connection, for one-off work.
    pub(crate) async fn connection_channel(&self) -> Result<Channel, Error> {
        self.rpc("open a channel", self.connection.create_channel())
            .await
    }

    /// The channel publishes go through, in confirm mode; reopened when it
    /// was closed (by a channel error) while the connection lives on.
    pub(crate) async fn publisher(&self) -> Result<Channel, Error> {
        let mut slot = self.publisher.lock().await;
        if let Some(channel) = slot.as_ref().filter(|channel| channel.status().connected()) {
            return Ok(channel.clone());
        }
        let channel = self
            .rpc(
                "open the publisher channel",
                self.connection.create_channel(),
            )
            .await?;
        self.rpc(
            "enable publisher confirms",
            channel.confirm_select(ConfirmSelectOptions::default()),
        )
        .await?;
        *slot = Some(channel.clone());
        Ok(channel)
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("generation", &self.generation)
            .field("connection", self.connection.status())
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
