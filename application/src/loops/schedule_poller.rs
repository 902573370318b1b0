//! Runs schedule rounds: claims the schedules with a tick due under a
//! lease, plans each round purely (`domain::schedule::plan_round`), starts
//! a workflow per tick that starts (idempotent under the schedule and the
//! tick, so a round redone after a node died starts nothing twice), and
//! records the round.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::InstanceId;
use domain::instance::Command;
use domain::schedule::{RoundInput, TickAction, plan_round};

use crate::Error;
use crate::engine::{Engine, Origin};
use crate::ports::{EventStore, RoundOutcome, ScheduleRecord};
use crate::schedules::{ScheduleRounds, cron_of, tick_key};
use crate::starts::{self, IdempotencyKey, Start, StartError};

/// How often a node looks for due ticks: a tick fires at most this late.
const POLL_EVERY: Duration = Duration::from_millis(250);
/// Schedules one round claims at most.
const BATCH: usize = 16;

#[derive(Debug)]
pub struct SchedulePoller<S, R> {
    engine: Arc<Engine<S>>,
    store: R,
    lease: Duration,
}

impl<S: EventStore, R: ScheduleRounds> SchedulePoller<S, R> {
    pub fn new(engine: Arc<Engine<S>>, store: R) -> Self {
        Self {
            engine,
            store,
            lease: Duration::from_secs(10),
        }
    }

    /// How long a claimed round is held before another node may redo it.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Runs the rounds due now; returns how many schedules it handled.
    pub async fn run_once(&self) -> Result<usize, Error> {
        let now = self.engine.clock().now();
        let claimed = self
            .store
            .claim_due_schedules(now, self.lease, BATCH)
            .await?;
        let mut first_failure = None;
        for schedule in &claimed {
            if let Err(error) = self.round(schedule, now).await {
                // The lease runs out and a round redoes it.
                tracing::warn!(schedule = %schedule.name, error = %error.report(), "a schedule round failed");
                first_failure.get_or_insert(error);
            }
        }
        match first_failure {
            Some(error) => Err(error),
            None => Ok(claimed.len()),
        }
    }

    pub async fn run(&self) {
        loop {
            if let Err(error) = self.run_once().await {
                tracing::debug!(error = %error.report(), "schedule rounds will be tried again");
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    async fn round(&self, schedule: &ScheduleRecord, now: DateTime<Utc>) -> Result<(), Error> {
        let (Some(next_due), Some(lease)) = (schedule.next_due, schedule.lease_until) else {
            return Ok(());
        };
        let cron = cron_of(schedule)?;
        let previous_running = match schedule.last_instance {
            Some(id) => self.is_running(id).await?,
            None => false,
        };
        let round = plan_round(RoundInput {
            cron: &cron,
            overlap: schedule.overlap,
            catchup_window: schedule.catchup_window,
            next_due,
            buffered: schedule.buffered,
            previous_running,
            now,
        });
        let mut last_instance = schedule.last_instance;
        let mut last_tick = schedule.last_tick;
        for (tick, action) in &round.ticks {
            match action {
                TickAction::CancelPreviousThenStart => {
                    if let Some(previous) = last_instance {
                        self.cancel(schedule, previous).await?;
                    }
                }
                TickAction::Skip | TickAction::Buffer => {
                    tracing::info!(schedule = %schedule.name, %tick, ?action, "a tick found its previous workflow running");
                    continue;
                }
                TickAction::Start => {}
            }
            if let Some(id) = self.start(schedule, *tick).await? {
                last_instance = Some(id);
                last_tick = Some(*tick);
            }
        }
        if round.missed > 0 {
            tracing::warn!(schedule = %schedule.name, missed = round.missed, "ticks older than the catch-up window were dropped");
        }
        let outcome = RoundOutcome {
            next_due: round.next_due,
            buffered: round.buffered,
            last_instance,
            last_tick,
            missed: round.missed,
        };
        let store = &self.store;
        if !store
            .finish_schedule_round(&schedule.name, lease, &outcome)
            .await?
        {
            tracing::warn!(schedule = %schedule.name, "the round's lease ran out; another node redoes it");
        }
        Ok(())
    }

    async fn is_running(&self, id: InstanceId) -> Result<bool, Error> {
        match self.engine.state(id).await {
            Ok(state) => Ok(!state.status.is_final()),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Cancels the previous workflow (`cancel_previous`); one that ended
    /// meanwhile refuses, which is as good.
    async fn cancel(&self, schedule: &ScheduleRecord, previous: InstanceId) -> Result<(), Error> {
        let origin = Origin::actor(format!("schedule:{}", schedule.name));
        let cancel = Command::Cancel { compensate: true };
        match self.engine.execute(previous, cancel, &origin).await {
            Ok(_) | Err(Error::Rejected(_) | Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Starts the tick's workflow, or finds the one a round before started.
    /// A start refused for good (the definition was removed, the input no
    /// longer fits) skips the tick rather than stopping the schedule.
    async fn start(
        &self,
        schedule: &ScheduleRecord,
        tick: DateTime<Utc>,
    ) -> Result<Option<InstanceId>, Error> {
        let start = Start {
            definition: schedule.definition.clone(),
            version: schedule.version,
            input: schedule.input.clone(),
            start_at: None,
        };
        let key = IdempotencyKey::parse(&tick_key(&schedule.name, tick)).ok_or_else(|| {
            Error::Internal {
                reason: format!("schedule {}: no idempotency key", schedule.name),
                source: None,
            }
        })?;
        let origin = Origin::actor(format!("schedule:{}", schedule.name));
        match starts::start(&self.engine, &self.store, &start, Some(&key), &origin).await {
            Ok(id) => Ok(Some(id)),
            Err(StartError::Failed(
                error @ (Error::Unavailable { .. } | Error::Internal { .. }),
            )) => Err(error),
            Err(refused) => {
                tracing::warn!(schedule = %schedule.name, %tick, error = %refused, "a tick's start was refused");
                Ok(None)
            }
        }
    }
}
