//! How far the read models trail the event log: the positions between the
//! projection's checkpoint and the log's head, and the age of the oldest
//! event not projected yet. Read through the ports, so it works on every
//! store.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::Error;
use crate::engine::Engine;
use crate::ports::{BoxFuture, EventStore, ProjectionWriter};

/// The name of the one projection today: every read-model table.
pub const READ_MODELS: &str = "read_models";

/// One projection's distance from the log.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionLag {
    pub projection: &'static str,
    /// Log positions after the checkpoint (on PostgreSQL a rolled-back
    /// append leaves a gap, so this can exceed the events by a few).
    pub events: i64,
    /// Age of the oldest event not projected yet; 0 when caught up.
    pub seconds: f64,
}

/// Measures the lag of projections; object-safe, like the other probes.
pub trait ProjectionProbe: Send + Sync {
    fn lag(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<Vec<ProjectionLag>, Error>>;
}

/// The read models' lag behind the engine's event store.
#[derive(Debug)]
pub struct ReadModelLag<S, R> {
    engine: Arc<Engine<S>>,
    read_models: R,
}

impl<S, R> ReadModelLag<S, R> {
    pub fn new(engine: Arc<Engine<S>>, read_models: R) -> Self {
        Self {
            engine,
            read_models,
        }
    }
}

impl<S: EventStore, R: ProjectionWriter> ReadModelLag<S, R> {
    async fn measure(&self, now: DateTime<Utc>) -> Result<Vec<ProjectionLag>, Error> {
        let checkpoint = self.read_models.checkpoint().await?;
        let head = self.read_models.log_head().await?;
        let events = (head - checkpoint).max(0);
        let seconds = if events == 0 {
            0.0
        } else {
            let oldest = self.engine.store().read_all(checkpoint, 1).await?;
            oldest.first().map_or(0.0, |event| {
                (now - event.recorded_at)
                    .to_std()
                    .unwrap_or_default()
                    .as_secs_f64()
            })
        };
        Ok(vec![ProjectionLag {
            projection: READ_MODELS,
            events,
            seconds,
        }])
    }
}

impl<S: EventStore, R: ProjectionWriter> ProjectionProbe for ReadModelLag<S, R> {
    fn lag(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<Vec<ProjectionLag>, Error>> {
        Box::pin(self.measure(now))
    }
}
