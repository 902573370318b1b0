//! A process's place in the fleet: its worker loops counted and drained
//! together (a crew) and announced on the bus; an engine node's recorder
//! of every worker's presence, and the fleet its API serves.

use std::sync::Arc;

use application::clock::Clock;
use application::fleet::{Announcer, Drain, Identity, PresenceRecorder, Tally};
use application::ports::{WorkerChannel, WorkerRegistry};

/// The worker loops of one process.
#[derive(Clone, Debug, Default)]
pub struct Crew {
    pub tally: Arc<Tally>,
    pub drain: Drain,
}

/// This host's name, for the registry.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Who this process's crew is: a new id, `name`, the queues it serves.
pub fn identity(name: String, queues: Vec<String>, capacity: u32, clock: &dyn Clock) -> Identity {
    Identity {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        host: host(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        queues,
        capacity,
        started_at: clock.now(),
    }
}

/// Announces the crew (hello, heartbeats, the drain signal) until the
/// process ends; the announcer says goodbye when asked.
pub fn spawn_announcer(
    channel: Arc<dyn WorkerChannel>,
    identity: Identity,
    crew: &Crew,
) -> Arc<Announcer> {
    let announcer = Arc::new(Announcer::new(
        channel,
        identity,
        crew.tally.clone(),
        crew.drain.clone(),
    ));
    tracing::info!(worker_id = %announcer.identity().id, "announcing as worker {}", announcer.identity().id);
    tokio::spawn(announcer.clone().run());
    announcer
}

/// Records every worker's presence into `registry`; the fleet the API serves.
pub fn spawn_recorder(
    registry: Arc<dyn WorkerRegistry>,
    channel: Arc<dyn WorkerChannel>,
    clock: Arc<dyn Clock>,
) -> api::Fleet {
    let recorder = PresenceRecorder::new(registry.clone(), channel.clone(), clock.clone());
    tokio::spawn(async move {
        if let Err(error) = recorder.run().await {
            tracing::error!(error = %error.report(), "the presence recorder stopped");
        }
    });
    api::Fleet {
        registry,
        channel: Some(channel),
        clock,
    }
}

/// An engine node's fleet: the recorder of every worker's presence, and
/// the node's own in-process workers (`queues`, if any) announced as one
/// worker, `node-<pid>@<host>`.
pub fn join_as_node<C: WorkerChannel + Clone + 'static>(
    channel: &C,
    registry: Arc<dyn WorkerRegistry>,
    clock: Arc<dyn Clock>,
    queues: Vec<String>,
    crew: &Crew,
) -> api::Fleet {
    let channel: Arc<dyn WorkerChannel> = Arc::new(channel.clone());
    if !queues.is_empty() {
        let name = format!("node-{}@{}", std::process::id(), host());
        let capacity =
            u32::try_from(queues.len() * usize::from(WORKER_PREFETCH)).unwrap_or(u32::MAX);
        let identity = identity(name, queues, capacity, clock.as_ref());
        spawn_announcer(channel.clone(), identity, crew);
    }
    spawn_recorder(registry, channel, clock)
}

/// Tasks each worker loop runs at once (its prefetch).
pub const WORKER_PREFETCH: u16 = 16;
