//! What a node reads from its database and broker when it is scraped or
//! asked whether it is ready. Object-safe (boxed futures): a node holds
//! whichever adapters it runs on behind one type.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

use crate::Error;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Counts by definition name.
pub type ByDefinition = Vec<(String, i64)>;

/// The database's view of the work in progress, taken at scrape time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreSample {
    /// Instances not in a final status.
    pub running: ByDefinition,
    /// Instances stopped in `compensation_failed`.
    pub compensation_failed: ByDefinition,
    pub approvals_waiting: ByDefinition,
    /// Dispatched attempts (forward or compensation) no worker started yet.
    pub waiting_steps: Vec<WaitingSteps>,
    pub outbox_pending: i64,
    pub outbox_oldest: Option<DateTime<Utc>>,
    /// Timers due and not fired yet, and the earliest due time among them.
    pub timers_due: i64,
    pub timers_oldest_due: Option<DateTime<Utc>>,
    pub connections_in_use: u32,
    pub connections_idle: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WaitingSteps {
    pub definition: String,
    pub step: String,
    pub compensation: bool,
    pub count: i64,
    pub oldest: DateTime<Utc>,
}

/// One readiness check: its name and, when it failed, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub problem: Option<String>,
}

impl Check {
    pub fn passed(name: &'static str) -> Self {
        Self {
            name,
            problem: None,
        }
    }

    pub fn failed(name: &'static str, problem: impl Into<String>) -> Self {
        Self {
            name,
            problem: Some(problem.into()),
        }
    }
}

pub trait StoreProbe: Send + Sync {
    fn sample(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<StoreSample, Error>>;

    /// `database` (reachable) and `migrations` (every known one applied).
    fn checks(&self) -> BoxFuture<'_, Vec<Check>>;
}

pub trait BrokerProbe: Send + Sync {
    /// Tasks in the dead-letter queue of each of `queues`.
    fn dead_letters<'a>(
        &'a self,
        queues: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(String, u32)>, Error>>;

    /// `broker` (connected and answering).
    fn checks(&self) -> BoxFuture<'_, Vec<Check>>;
}
