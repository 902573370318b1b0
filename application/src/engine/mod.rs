//! The engine: runs commands against instances. Load the stream (through a
//! cache of folded states), decide, append the events with the tasks they
//! dispatch and the timers they set, all in one transaction; on a
//! concurrency conflict, reload and decide again.

mod results;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::instance::effects::{dispatch_of, timers_of};
use domain::instance::{Command, DecisionContext, Event, WorkflowInstance, decide, evolve};
use domain::{InstanceId, WorkflowDefinition};
use serde_json::Value;
use tokio::sync::{Notify, broadcast};
use uuid::Uuid;

use crate::Error;
use crate::clock::Clock;
use crate::codec::{decode, encode};
use crate::definitions::DefinitionRegistry;
use crate::messages::TaskMessage;
use crate::ports::{AppendRequest, EventStore, Metadata, OutboxMessage, ScheduledTimer};

/// How often a command is decided again after losing a race.
const CONFLICT_RETRIES: usize = 16;

/// Who asks, and what the request belongs to; lands in each event's metadata.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub actor: String,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
}

impl Origin {
    pub fn actor(actor: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            ..Self::default()
        }
    }
}

pub struct Engine<S> {
    store: S,
    definitions: Arc<DefinitionRegistry>,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<InstanceId, WorkflowInstance>>,
    cache_capacity: usize,
    /// Woken after an append that wrote outbox rows or timers.
    pub outbox_written: Arc<Notify>,
    pub timers_written: Arc<Notify>,
    /// Every instance that got new events in this process.
    changes: broadcast::Sender<InstanceId>,
}

impl<S> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("cached", &self.lock_cache().len())
            .finish_non_exhaustive()
    }
}

impl<S> Engine<S> {
    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<InstanceId, WorkflowInstance>> {
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
            outbox_written: Arc::new(Notify::new()),
            timers_written: Arc::new(Notify::new()),
            changes: broadcast::channel(1024).0,
        }
    }

    /// Instances as they change in this process (a lagging receiver misses
    /// some and should re-read the states it cares about).
    pub fn subscribe(&self) -> broadcast::Receiver<InstanceId> {
        self.changes.subscribe()
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
        self.decide_and_append(state, &command, origin).await?;
        Ok(())
    }

    /// Runs a command; returns the events it decided (none for a duplicate).
    pub async fn execute(
        &self,
        id: InstanceId,
        command: Command,
        origin: &Origin,
    ) -> Result<Vec<Event>, Error> {
        for _ in 0..CONFLICT_RETRIES {
            // Decide on the cached state without reading the stream: if another
            // writer moved the stream on, the append conflicts and we reload.
            // A cached state that decides nothing may only be behind (a result
            // for a step it has not seen scheduled yet): check on a fresh one.
            let cached = self.lock_cache().get(&id).cloned();
            let outcome = match cached {
                Some(state) => match self.decide_and_append(state, &command, origin).await {
                    Ok(events) if events.is_empty() => {
                        self.decide_and_append(self.state(id).await?, &command, origin)
                            .await
                    }
                    outcome => outcome,
                },
                None => {
                    self.decide_and_append(self.state(id).await?, &command, origin)
                        .await
                }
            };
            match outcome {
                Err(Error::Conflict { .. }) => self.forget(id),
                outcome => return outcome,
            }
        }
        Err(Error::Unavailable(format!(
            "instance {id} kept changing under {CONFLICT_RETRIES} attempts"
        )))
    }

    /// The current state of an instance.
    pub async fn state(&self, id: InstanceId) -> Result<WorkflowInstance, Error> {
        let cached = self.lock_cache().get(&id).cloned();
        let after = cached.as_ref().map_or(0, |state| state.version);
        let records = self.store.load(id, after).await?;
        let mut state = match cached {
            Some(state) => state,
            None => {
                let first = records.first().ok_or_else(|| Error::NotFound {
                    what: format!("workflow {id}"),
                })?;
                WorkflowInstance::new(id, self.definition_of(&decode(first)?)?)
            }
        };
        for record in &records {
            state = evolve(state, &decode(record)?);
        }
        self.remember(state.clone());
        Ok(state)
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
        state: WorkflowInstance,
        command: &Command,
        origin: &Origin,
    ) -> Result<Vec<Event>, Error> {
        let now = self.clock.now();
        let context = DecisionContext::new(now, self.clock.entropy());
        let events = decide(&state, command, context)?;
        if events.is_empty() {
            return Ok(events);
        }
        let id = state.id;
        let definition = state.definition.clone();
        let correlation_id = origin.correlation_id.unwrap_or(id.0);
        let mut request = AppendRequest {
            stream_id: id,
            expected_version: state.version,
            events: Vec::with_capacity(events.len()),
            outbox: Vec::new(),
            timers: Vec::new(),
        };
        for event in &events {
            let metadata = Metadata {
                event_id: Uuid::now_v7(),
                occurred_at: now,
                correlation_id,
                causation_id: origin.causation_id,
                actor: origin.actor.clone(),
            };
            request.events.push(encode(event, metadata));
            if let Some(dispatch) = dispatch_of(&definition, event) {
                let task = TaskMessage::new(id, &definition.name, dispatch);
                request.outbox.push(OutboxMessage {
                    queue: task.queue.clone(),
                    priority: task.priority,
                    payload: serde_json::to_value(&task).unwrap_or(Value::Null),
                });
            }
            request
                .timers
                .extend(
                    timers_of(event)
                        .into_iter()
                        .map(|(timer, due_at)| ScheduledTimer {
                            instance: id,
                            timer,
                            due_at,
                        }),
                );
        }
        let wrote_outbox = !request.outbox.is_empty();
        let wrote_timers = !request.timers.is_empty();
        self.store.append(request).await?;
        let state = events.iter().fold(state, evolve);
        self.remember(state);
        if wrote_outbox {
            self.outbox_written.notify_one();
        }
        if wrote_timers {
            self.timers_written.notify_one();
        }
        let _ = self.changes.send(id);
        Ok(events)
    }

    fn remember(&self, state: WorkflowInstance) {
        let mut cache = self.lock_cache();
        if state.status.is_final() {
            cache.remove(&state.id);
            return;
        }
        if cache.len() >= self.cache_capacity && !cache.contains_key(&state.id) {
            cache.clear();
        }
        cache.insert(state.id, state);
    }

    fn forget(&self, id: InstanceId) {
        self.lock_cache().remove(&id);
    }
}
