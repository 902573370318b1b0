//! How far the read models trail the event log: the positions between the
//! projection's checkpoint and the log's head, and the age of the oldest
//! event not projected yet. Read through the read-model port, so it works on every
//! store.

use chrono::{DateTime, Utc};

use crate::Error;
use crate::ports::{BoxFuture, ProjectionWriter};

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

/// The read models' lag behind the event log they are projected from.
#[derive(Debug)]
pub struct ReadModelLag<R> {
    read_models: R,
}

impl<R> ReadModelLag<R> {
    pub fn new(read_models: R) -> Self {
        Self { read_models }
    }
}

impl<R: ProjectionWriter> ReadModelLag<R> {
    async fn measure(&self, now: DateTime<Utc>) -> Result<Vec<ProjectionLag>, Error> {
        let checkpoint = self.read_models.checkpoint().await?;
        let head = self.read_models.log_head().await?;
        let events = (head - checkpoint).max(0);
        let seconds = self
            .read_models
            .oldest_unprojected()
            .await?
            .map_or(0.0, |recorded| {
                (now - recorded).to_std().unwrap_or_default().as_secs_f64()
            });
        Ok(vec![ProjectionLag {
            projection: READ_MODELS,
            events,
            seconds,
        }])
    }
}

impl<R: ProjectionWriter> ProjectionProbe for ReadModelLag<R> {
    fn lag(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<Vec<ProjectionLag>, Error>> {
        Box::pin(self.measure(now))
    }
}
