//! The engine: runs commands against instances. Load the stream (through a
//! cache of folded states), decide, append the events with the tasks they
//! dispatch and the timers they set, all in one transaction; on a
//! concurrency conflict, reload and decide again.

mod batch;
mod claims;
mod results;
mod starts;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::instance::effects::{dispatch_of, timers_of};
use domain::instance::{
    Command, DecisionContext, Event, InstanceStatus, WorkflowInstance, decide, evolve,
};
use domain::{InstanceId, WorkflowDefinition};
use serde_json::Value;
use tokio::sync::{Notify, broadcast};
use tracing::{Instrument, Span};
use uuid::Uuid;

use crate::Error;
use crate::clock::Clock;
use crate::codec::{decode, encode};
use crate::definitions::DefinitionRegistry;
use crate::messages::TaskMessage;
use crate::ports::{
    AppendOutcome, AppendRequest, EventStore, Metadata, OutboxMessage, PendingMessage,
    RecordedEvent, ScheduledTimer,
};
use crate::trace::{self, TraceParent};

/// How often a command is decided again after losing a race.
const CONFLICT_RETRIES: usize = 16;

/// Who asks, and what the request belongs to; lands in each event's metadata.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub actor: String,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    /// The trace a start continues (an incoming `traceparent`); without
    /// one the start begins a new trace. Other commands join their
    /// instance's trace and ignore it.
    pub traceparent: Option<TraceParent>,
}

impl Origin {
    pub fn actor(actor: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            ..Self::default()
        }
    }
}

/// Commands for one instance from one caller, stored together.
#[derive(Clone, Debug)]
pub struct Submission {
    pub instance: InstanceId,
    pub commands: Vec<Command>,
    pub origin: Origin,
}

pub struct Engine<S> {
    store: S,
    definitions: Arc<DefinitionRegistry>,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<InstanceId, Cached>>,
    cache_capacity: usize,
    /// Instances a command of this node is deciding now.
    claims: claims::Claims,
    /// Starts waiting to be stored together.
    starts: starts::StartQueue,
    /// Woken after an append that wrote outbox rows or timers.
    pub outbox_written: Arc<Notify>,
    pub timers_written: Arc<Notify>,
    /// Every instance that got new events in this process.
    changes: broadcast::Sender<InstanceId>,
    /// Outbox rows this engine appended and its relay has yet to publish.
    appended_outbox: Mutex<Vec<PendingMessage>>,
    /// Every instance that reached a final status in this process.
    finished: broadcast::Sender<(InstanceId, InstanceStatus)>,
}

impl<S> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("cached", &self.lock_cache().len())
            .finish_non_exhaustive()
    }
}

/// A folded state and the trace its instance belongs to.
#[derive(Clone, Debug)]
struct Cached {
    state: WorkflowInstance,
    trace: TraceParent,
}

impl<S> Engine<S> {
    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<InstanceId, Cached>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<S: EventStore> Engine<S> {
    pub fn new(store: S, definitions: Arc<DefinitionRegistry>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            definitions,
            clock,
            cache: Mutex::new(HashMap::new()),
            cache_capacity: 10_000,
            claims: claims::Claims::default(),
            starts: starts::StartQueue::default(),
            outbox_written: Arc::new(Notify::new()),
            timers_written: Arc::new(Notify::new()),
            changes: broadcast::channel(1024).0,
            finished: broadcast::channel(1024).0,
            appended_outbox: Mutex::new(Vec::new()),
        }
    }

    /// Instances as they change in this process (a lagging receiver misses
    /// some and should re-read the states it cares about).
    pub fn subscribe(&self) -> broadcast::Receiver<InstanceId> {
        self.changes.subscribe()
    }

    /// Takes the outbox rows this engine appended since the last call: they
    /// are leased to it (see `APPENDED_OUTBOX_LEASE`), for its relay to
    /// publish without claiming them.
    pub fn take_appended_outbox(&self) -> Vec<PendingMessage> {
        std::mem::take(
            &mut *self
                .appended_outbox
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Hands the outbox rows of a successful append to the relay.
    fn appended(&self, outbox: Vec<OutboxMessage>, outcome: &AppendOutcome) {
        if outbox.is_empty() || outcome.outbox_ids.len() != outbox.len() {
            return;
        }
        self.appended_outbox
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(
                outcome
                    .outbox_ids
                    .iter()
                    .zip(outbox)
                    .map(|(&id, message)| PendingMessage { id, message }),
            );
        self.outbox_written.notify_one();
    }

    /// Instances as they reach a final status in this process, with it (a
    /// lagging receiver misses some, as with [`Engine::subscribe`]).
    pub fn subscribe_finished(&self) -> broadcast::Receiver<(InstanceId, InstanceStatus)> {
        self.finished.subscribe()
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn definitions(&self) -> &DefinitionRegistry {
        &self.definitions
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Starts an instance of a definition (its latest version unless given).
    pub async fn start(
        &self,
        name: &str,
        version: Option<u32>,
        input: Value,
        origin: &Origin,
    ) -> Result<InstanceId, Error> {
        let id = InstanceId(Uuid::now_v7());
        self.start_as(id, name, version, input, origin).await?;
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
        origin: &Origin,
    ) -> Result<(), Error> {
        let definition = self.definitions.get(name, version)?;
        let state = WorkflowInstance::new(id, definition);
        let command = Command::StartWorkflow {
            input,
            started_by: origin.actor.clone(),
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
    async fn execute_claimed(
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
            let cached = self.lock_cache().get(&id).cloned();
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
                Err(Error::Conflict { .. }) => self.forget(id),
                outcome => return outcome,
            }
        }
        Err(Error::unavailable(format!(
            "instance {id} kept changing under {CONFLICT_RETRIES} attempts"
        )))
    }

    /// The current state of an instance.
    pub async fn state(&self, id: InstanceId) -> Result<WorkflowInstance, Error> {
        Ok(self.load(id).await?.state)
    }

    /// The current state of an instance and its trace (read from its start).
    async fn load(&self, id: InstanceId) -> Result<Cached, Error> {
        let cached = self.lock_cache().get(&id).cloned();
        let after = cached.as_ref().map_or(0, |cached| cached.state.version);
        let records = self.store.load(id, after).await?;
        let mut cached = match cached {
            Some(cached) => cached,
            None => {
                let first = records.first().ok_or_else(|| Error::NotFound {
                    what: format!("workflow {id}"),
                })?;
                Cached {
                    state: WorkflowInstance::new(id, self.definition_of(&decode(first)?)?),
                    trace: trace_of(first),
                }
            }
        };
        for record in &records {
            cached.state = evolve(cached.state, &decode(record)?);
        }
        self.remember(cached.clone());
        Ok(cached)
    }

    fn definition_of(&self, started: &Event) -> Result<Arc<WorkflowDefinition>, Error> {
        let Event::WorkflowStarted {
            definition,
            version,
            hash,
            ..
        } = started
        else {
            return Err(Error::Invalid {
                reason: "a stream must begin with WorkflowStarted".to_owned(),
            });
        };
        let found = self.definitions.get(definition, Some(*version))?;
        if &found.hash != hash {
            return Err(Error::Invalid {
                reason: format!(
                    "{definition} version {version} here differs from the one the workflow started with"
                ),
            });
        }
        Ok(found)
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
    fn decide_into(
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
        let mut next = state;
        let mut events = Vec::new();
        for command in commands {
            let context = DecisionContext::new(now, self.clock.entropy());
            let decided = decide(&next, command, context)?;
            next = decided.iter().fold(next, evolve);
            events.extend(decided);
        }
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

    /// After an append: cache the new state and tell the subscribers.
    fn stored(&self, cached: Cached) {
        let (id, status) = (cached.state.id, cached.state.status);
        self.remember(cached);
        let _ = self.changes.send(id);
        if status.is_final() {
            tracing::info!(status = status.as_str(), "workflow finished");
            let _ = self.finished.send((id, status));
        }
    }

    fn remember(&self, cached: Cached) {
        let mut cache = self.lock_cache();
        let id = cached.state.id;
        if cached.state.status.is_final() {
            cache.remove(&id);
            return;
        }
        if cache.len() >= self.cache_capacity && !cache.contains_key(&id) {
            cache.clear();
        }
        cache.insert(id, cached);
    }

    fn forget(&self, id: InstanceId) {
        self.lock_cache().remove(&id);
    }
}

/// The span of one command (or of the first of several decided together),
/// in its instance's trace.
fn command_span(state: &WorkflowInstance, commands: &[Command], trace: &TraceParent) -> Span {
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

/// The trace an instance's first event names; an instance started before
/// traces were stored gets one derived from its id.
fn trace_of(first: &RecordedEvent) -> TraceParent {
    first
        .metadata
        .traceparent
        .as_deref()
        .and_then(TraceParent::parse)
        .unwrap_or_else(|| TraceParent::derived_from(first.stream_id.0, first.metadata.event_id))
}
