//! Queries behind the console's views, from the read models: approvals
//! waiting for a decision, what started and finished per minute, attempts
//! waiting for a worker, and each step's durations and failures.

use std::future::Future;

use chrono::{DateTime, Utc};
use domain::InstanceId;
use serde_json::Value;

use crate::Error;

/// An approval step waiting for a decision in a running or paused instance.
#[derive(Clone, Debug, PartialEq)]
pub struct WaitingApprovalRow {
    pub instance: InstanceId,
    pub definition: String,
    pub version: u32,
    /// The instance's status (`running` or `paused`).
    pub status: String,
    pub step: String,
    pub attempt: u32,
    /// When the approval was requested.
    pub requested_at: Option<DateTime<Utc>>,
    pub input: Value,
}

/// How many instances something happened to in one minute.
#[derive(Clone, Debug, PartialEq)]
pub struct MinuteCount {
    /// The minute's start.
    pub minute: DateTime<Utc>,
    /// `started`, or the final status the instances reached.
    pub what: String,
    pub count: u64,
}

/// Attempts of one step scheduled and not started yet: waiting for a worker.
#[derive(Clone, Debug, PartialEq)]
pub struct WaitingStepRow {
    pub definition: String,
    pub version: u32,
    pub step: String,
    pub count: u64,
    pub oldest: DateTime<Utc>,
}

/// One step's outcomes and durations over a definition's instances.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepFigureRow {
    pub step: String,
    pub completed: u64,
    /// Ended failed (after its retries).
    pub failed: u64,
    pub skipped: u64,
    /// Scheduled to completed (last attempt), nearest rank.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

pub trait InsightQueries: Send + Sync {
    /// Approval steps waiting, oldest first; of one instance when given.
    fn waiting_approvals(
        &self,
        workflow: Option<InstanceId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<WaitingApprovalRow>, Error>> + Send;

    /// Instances started, and instances finished by final status, per
    /// minute since `since`.
    fn activity(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<MinuteCount>, Error>> + Send;

    /// `task` and `http` attempts scheduled and not started, by step.
    fn waiting_steps(&self) -> impl Future<Output = Result<Vec<WaitingStepRow>, Error>> + Send;

    /// Every step of a definition's instances (all versions) that ran.
    fn step_figures(
        &self,
        definition: &str,
    ) -> impl Future<Output = Result<Vec<StepFigureRow>, Error>> + Send;
}
