//! Starts stored in groups (group commit): a commit per start would be one
//! of the two commits of every workflow under load. A start that finds no
//! group being stored is stored at once, with every start that waits;
//! starts that arrive meanwhile wait for a slot (`GROUPS_IN_FLIGHT`) and go
//! together. A start alone is stored at once.
//!
//! The caller that stores a group does it on its own task. Should it be
//! dropped mid-way (its request timed out), the others of its group are
//! told `Unavailable`: their start may or may not have been stored, as for
//! any interrupted request (an idempotent start tells which).

use std::sync::{Mutex, PoisonError};

use domain::InstanceId;
use domain::instance::{Command, WorkflowInstance};
use tokio::sync::{Notify, oneshot};

use super::batch::Decided;
use super::{Cached, Engine, Origin, command_span};
use crate::Error;
use crate::ports::{AppendRequest, EventStore};
use crate::trace;

/// Groups of starts being stored at once.
const GROUPS_IN_FLIGHT: usize = 2;
/// Starts stored in one group at most.
const GROUP: usize = 256;

#[derive(Debug, Default)]
pub(super) struct StartQueue {
    state: Mutex<Waiting>,
    /// Woken when a group is stored: a slot is free.
    slot_freed: Notify,
}

#[derive(Debug, Default)]
struct Waiting {
    starts: Vec<PendingStart>,
    groups_in_flight: usize,
}

#[derive(Debug)]
struct PendingStart {
    state: WorkflowInstance,
    command: Command,
    origin: Origin,
    reply: oneshot::Sender<Result<(), Error>>,
}

impl StartQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The waiting starts and a slot to store them in, if one is free.
    fn take_group(&self) -> Option<(Slot<'_>, Vec<PendingStart>)> {
        let mut waiting = self.lock();
        if waiting.starts.is_empty() || waiting.groups_in_flight >= GROUPS_IN_FLIGHT {
            return None;
        }
        waiting.groups_in_flight += 1;
        let take = waiting.starts.len().min(GROUP);
        let starts = waiting.starts.drain(..take).collect();
        Some((Slot { queue: self }, starts))
    }
}

/// A group being stored, freed when dropped (also mid-way: a start whose
/// answer was dropped unsent is told it was interrupted).
struct Slot<'a> {
    queue: &'a StartQueue,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.queue.lock().groups_in_flight -= 1;
        self.queue.slot_freed.notify_waiters();
    }
}

fn interrupted() -> Error {
    Error::unavailable("the start was interrupted; it may or may not have been stored")
}

impl<S: EventStore> Engine<S> {
    /// Stores `command` (a `StartWorkflow`) on the fresh `state` with the
    /// other starts waiting; see the module documentation.
    pub(super) async fn start_in_group(
        &self,
        state: WorkflowInstance,
        command: Command,
        origin: &Origin,
    ) -> Result<(), Error> {
        let (reply, mut answer) = oneshot::channel();
        self.starts.lock().starts.push(PendingStart {
            state,
            command,
            origin: origin.clone(),
            reply,
        });
        loop {
            let slot_freed = self.starts.slot_freed.notified();
            tokio::pin!(slot_freed);
            slot_freed.as_mut().enable();
            if let Some((slot, group)) = self.starts.take_group() {
                self.store_group(group).await;
                drop(slot);
            }
            match answer.try_recv() {
                Ok(outcome) => return outcome,
                Err(oneshot::error::TryRecvError::Closed) => return Err(interrupted()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            tokio::select! {
                outcome = &mut answer => return outcome.unwrap_or_else(|_| Err(interrupted())),
                () = &mut slot_freed => {}
            }
        }
    }

    /// Decides every start of `group` and stores them in one batch append;
    /// answers each.
    async fn store_group(&self, starts: Vec<PendingStart>) {
        let now = self.clock.now();
        let mut requests = Vec::with_capacity(starts.len());
        let mut decided = Vec::with_capacity(starts.len());
        let mut replies = Vec::with_capacity(starts.len());
        for start in starts {
            let PendingStart {
                state,
                command,
                origin,
                reply,
            } = start;
            let trace = origin.traceparent.unwrap_or_else(trace::TraceParent::root);
            let id: InstanceId = state.id;
            let span = command_span(&state, std::slice::from_ref(&command), &trace);
            let handed = trace::hand_on(&span, &trace);
            let mut request = AppendRequest {
                stream_id: id,
                expected_version: 0,
                events: Vec::new(),
                outbox: Vec::new(),
                timers: Vec::new(),
            };
            let outcome = span.in_scope(|| {
                self.decide_into(
                    state,
                    std::slice::from_ref(&command),
                    &origin,
                    now,
                    &handed,
                    &mut request,
                )
            });
            match outcome {
                Ok((state, _)) => {
                    decided.push(Decided {
                        cached: Cached {
                            state,
                            trace: handed,
                        },
                        outbox: request.outbox.clone(),
                        span,
                    });
                    replies.push(reply);
                    requests.push(request);
                }
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
            }
        }
        let spans: Vec<_> = decided.iter().map(|decided| decided.span.clone()).collect();
        let stored = self.store_decided(requests, decided).await;
        for ((reply, outcome), span) in replies.into_iter().zip(stored).zip(spans) {
            if outcome.is_ok() {
                span.in_scope(|| tracing::info!("workflow started"));
            }
            let _ = reply.send(outcome);
        }
    }
}
