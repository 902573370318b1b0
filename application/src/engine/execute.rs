//! Running commands: decide on the cached state, append the events with
//! the tasks they dispatch and the timers they set in one transaction, and
//! on a concurrency conflict reload and decide again.

use chrono::{DateTime, Utc};
use domain::InstanceId;
use domain::instance::effects::{dispatch_of, timers_of};
use domain::instance::{Command, DecisionContext, Event, WorkflowInstance, decide, evolve};
use serde_json::Value;
use tracing::{Instrument, Span};
use uuid::Uuid;

use super::cache::Cached;
use super::offload::deciding;
use super::{Engine, Origin};
use crate::Error;
use crate::codec::encode;
use crate::messages::TaskMessage;
use crate::ports::{AppendRequest, EventStore, Metadata, OutboxMessage, ScheduledTimer};
use crate::trace::{self, TraceParent};

/// How often a command is decided again after losing a race.
const CONFLICT_RETRIES: usize = 16;

impl<S: EventStore> Engine<S> {
    /// Starts an instance of a definition (its latest version unless given).
    pub async fn start(
        &self,
        name: &str,
        version: Option<u32>,
        input: Value,
        origin: &Origin,
    ) -> Result<InstanceId, Error> {
        let id = InstanceId(Uuid::now_v7());
        self.start_as(id, name, version, input, None, origin)
            .await?;
        Ok(id)
    }

    /// Starts an instance under an id chosen by the caller (an idempotent
    /// start); [`Error::Conflict`] when an instance with that id exists.
    pub async fn start_as(
        &self,
        id: InstanceId,
        name: &str,
        version: Option<u32>,
        input: Value,
        start_at: Option<DateTime<Utc>>,
        origin: &Origin,
    ) -> Result<(), Error> {
        let definition = self.definitions.get(name, version)?;
        let state = WorkflowInstance::new(id, definition);
        let command = Command::StartWorkflow {
            input,
            started_by: origin.actor.clone(),
            start_at,
        };
        self.start_in_group(state, command, origin).await
    }

    /// Runs a command; returns the events it decided (none for a duplicate).
    pub async fn execute(
        &self,
        id: InstanceId,
        command: Command,
        origin: &Origin,
    ) -> Result<Vec<Event>, Error> {
        self.execute_all(id, std::slice::from_ref(&command), origin)
            .await
    }

    /// Runs commands of one instance in order and stores what they decide in
    /// one append: all of them or none.
    pub async fn execute_all(
        &self,
        id: InstanceId,
        commands: &[Command],
        origin: &Origin,
    ) -> Result<Vec<Event>, Error> {
        let _claim = self.claims.claim(id).await;
        self.execute_claimed(id, commands, origin).await
    }

    /// [`Engine::execute_all`] for an instance the caller has claimed.
    pub(super) async fn execute_claimed(
        &self,
        id: InstanceId,
        commands: &[Command],
        origin: &Origin,
    ) -> Result<Vec<Event>, Error> {
        for _ in 0..CONFLICT_RETRIES {
            // Decide on the cached state without reading the stream: if another
            // writer moved the stream on, the append conflicts and we reload.
            // A cached state that decides nothing may only be behind (a result
            // for a step it has not seen scheduled yet): check on a fresh one.
            let cached = self.cache.get(&id);
            let outcome = match cached {
                Some(cached) => match self.decide_and_append(cached, commands, origin).await {
                    Ok(events) if events.is_empty() => {
                        self.decide_and_append(self.load(id).await?, commands, origin)
                            .await
                    }
                    outcome => outcome,
                },
                None => {
                    self.decide_and_append(self.load(id).await?, commands, origin)
                        .await
                }
            };
            match outcome {
                Err(Error::Conflict { .. }) => self.cache.forget(id),
                outcome => return outcome,
            }
        }
        Err(Error::unavailable(format!(
            "instance {id} kept changing under {CONFLICT_RETRIES} attempts"
        )))
    }

    async fn decide_and_append(
        &self,
        cached: Cached,
        commands: &[Command],
        origin: &Origin,
    ) -> Result<Vec<Event>, Error> {
        let Cached { state, trace } = cached;
        let mut request = AppendRequest {
            stream_id: state.id,
            expected_version: state.version,
            events: Vec::new(),
            outbox: Vec::new(),
            timers: Vec::new(),
        };
        let span = command_span(&state, commands, &trace);
        let handed = trace::hand_on(&span, &trace);
        let decided = span.in_scope(|| {
            self.decide_into(
                state,
                commands,
                origin,
                self.clock.now(),
                &handed,
                &mut request,
            )
            .inspect_err(|error| tracing::debug!(%error, "command refused"))
        })?;
        let (state, events) = decided;
        if events.is_empty() {
            return Ok(events);
        }
        let outbox = request.outbox.clone();
        let wrote_timers = !request.timers.is_empty();
        let outcome = self
            .store
            .append(request)
            .instrument(span.clone())
            .await
            .inspect_err(|error| {
                let _entered = span.enter();
                tracing::debug!(%error, "append refused");
            })?;
        span.in_scope(|| self.stored(Cached { state, trace }));
        self.appended(outbox, &outcome);
        if wrote_timers {
            self.timers_written.notify_one();
        }
        Ok(events)
    }

    /// Decides `commands` in order on `state`, and adds the events, the
    /// tasks they dispatch and the timers they set to `request`. Either every
    /// command is decided and added, or the first refusal (or an event or
    /// task that cannot be encoded) is returned and `request` is left as it
    /// was.
    pub(super) fn decide_into(
        &self,
        state: WorkflowInstance,
        commands: &[Command],
        origin: &Origin,
        now: chrono::DateTime<chrono::Utc>,
        traceparent: &TraceParent,
        request: &mut AppendRequest,
    ) -> Result<(WorkflowInstance, Vec<Event>), Error> {
        let id = state.id;
        let definition = state.definition.clone();
        let (next, events) = deciding(&definition, || {
            let mut next = state;
            let mut events = Vec::new();
            for command in commands {
                let context = DecisionContext::new(now, self.clock.entropy());
                let decided = decide(&next, command, context)?;
                next = decided.iter().fold(next, evolve);
                events.extend(decided);
            }
            Ok::<_, Error>((next, events))
        })?;
        let correlation_id = origin.correlation_id.unwrap_or(id.0);
        let traceparent = traceparent.to_string();
        // Added to `request` only once every event and task is encoded.
        let (mut records, mut outbox, mut timers) = (Vec::new(), Vec::new(), Vec::new());
        for event in &events {
            let metadata = Metadata {
                event_id: Uuid::now_v7(),
                occurred_at: now,
                correlation_id,
                causation_id: origin.causation_id,
                actor: origin.actor.clone(),
                traceparent: Some(traceparent.clone()),
            };
            records.push(encode(event, metadata)?);
            if let Some(dispatch) = dispatch_of(&definition, event) {
                let task =
                    TaskMessage::new(id, &definition.name, dispatch).traced(traceparent.clone());
                tracing::debug!(step = %task.step, queue = %task.queue, attempt = task.attempt, "task dispatched");
                outbox.push(OutboxMessage {
                    queue: task.queue.clone(),
                    priority: task.priority,
                    payload: serde_json::to_value(&task).map_err(|error| {
                        Error::internal(
                            format!("task {} cannot be written as JSON", task.task_id),
                            error,
                        )
                    })?,
                });
            }
            timers.extend(
                timers_of(event)
                    .into_iter()
                    .map(|(timer, due_at)| ScheduledTimer {
                        instance: id,
                        timer,
                        due_at,
                    }),
            );
        }
        request.events.extend(records);
        request.outbox.extend(outbox);
        request.timers.extend(timers);
        Ok((next, events))
    }
}

/// The span of one command (or of the first of several decided together),
/// in its instance's trace.
pub(super) fn command_span(
    state: &WorkflowInstance,
    commands: &[Command],
    trace: &TraceParent,
) -> Span {
    let command = commands.first().map_or("none", Command::name);
    let span = tracing::info_span!(
        "command",
        otel.name = command,
        command,
        instance_id = %state.id,
        definition = %state.definition.name,
        trace_id = %trace.trace_id(),
    );
    trace::join(&span, trace);
    span
}
