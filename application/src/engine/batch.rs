//! Many submissions decided on their cached states and stored in one
//! batch append: how a node applies a burst of worker results.

use domain::InstanceId;
use domain::instance::Event;

use tracing::Span;

use super::{Cached, Engine, Submission, command_span};
use crate::Error;
use crate::ports::{AppendRequest, EventStore, OutboxMessage};
use crate::trace;

/// An instance decided and waiting for its batch append: its new state, the
/// tasks its append dispatches, and its command's span.
pub(super) struct Decided {
    pub(super) cached: Cached,
    pub(super) outbox: Vec<OutboxMessage>,
    pub(super) span: Span,
}

impl<S: EventStore> Engine<S> {
    /// Runs many submissions at once: the commands of every instance are
    /// decided on its cached state and all instances are stored in one
    /// batch append (one transaction). An instance whose append conflicts, or
    /// whose cached state decides nothing, is run again on its own, as
    /// [`Engine::execute_all`] does. Outcomes come back in submission order.
    ///
    /// Instances that another command of this node is deciding are left for
    /// a second round, once it is done (see `claims`); the others go on.
    pub async fn execute_batch(
        &self,
        submissions: &[Submission],
    ) -> Vec<Result<Vec<Event>, Error>> {
        let mut outcomes: Vec<Option<Result<Vec<Event>, Error>>> =
            submissions.iter().map(|_| None).collect();
        let mut remaining: Vec<&Submission> = submissions.iter().collect();
        let mut positions: Vec<usize> = (0..submissions.len()).collect();
        while !remaining.is_empty() {
            let mut ids: Vec<InstanceId> = remaining.iter().map(|s| s.instance).collect();
            ids.sort_unstable();
            ids.dedup();
            let (claim, held) = self.claims.claim_some(&ids).await;
            let (now, later): (Vec<_>, Vec<_>) = remaining
                .into_iter()
                .zip(positions)
                .partition(|(submission, _)| !held.contains(&submission.instance));
            let (batch, at): (Vec<&Submission>, Vec<usize>) = now.into_iter().unzip();
            let decided = self.execute_claimed_batch(&batch).await;
            drop(claim);
            for (position, outcome) in at.into_iter().zip(decided) {
                outcomes[position] = Some(outcome);
            }
            (remaining, positions) = later.into_iter().unzip();
        }
        outcomes.into_iter().flatten().collect()
    }

    /// [`Engine::execute_batch`] of instances the caller has claimed.
    async fn execute_claimed_batch(
        &self,
        submissions: &[&Submission],
    ) -> Vec<Result<Vec<Event>, Error>> {
        let mut outcomes: Vec<Option<Result<Vec<Event>, Error>>> =
            submissions.iter().map(|_| None).collect();
        let mut groups: Vec<(InstanceId, Vec<usize>)> = Vec::new();
        for (index, submission) in submissions.iter().enumerate() {
            match groups.iter_mut().find(|(id, _)| *id == submission.instance) {
                Some((_, indices)) => indices.push(index),
                None => groups.push((submission.instance, vec![index])),
            }
        }
        let now = self.clock.now();
        let mut requests = Vec::with_capacity(groups.len());
        let mut decided = Vec::with_capacity(groups.len());
        let mut settlements = Vec::with_capacity(groups.len());
        let mut alone = Vec::new();
        for (id, indices) in groups {
            let Some(Cached { mut state, trace }) = self.cache.get(&id) else {
                alone.extend(indices);
                continue;
            };
            let first = &submissions[indices[0]].commands;
            let span = command_span(&state, first, &trace);
            let handed = trace::hand_on(&span, &trace);
            let entered = span.enter();
            let mut request = AppendRequest {
                stream_id: id,
                expected_version: state.version,
                events: Vec::new(),
                outbox: Vec::new(),
                timers: Vec::new(),
            };
            let mut settled = Vec::with_capacity(indices.len());
            let mut behind = false;
            for &index in &indices {
                let submission = &submissions[index];
                // A refused submission leaves the state as it was for the next.
                match self.decide_into(
                    state.clone(),
                    &submission.commands,
                    &submission.origin,
                    now,
                    &handed,
                    &mut request,
                ) {
                    Ok((_, events)) if events.is_empty() => {
                        behind = true;
                        break;
                    }
                    Ok((next, events)) => {
                        state = next;
                        settled.push((index, events));
                    }
                    Err(error) => outcomes[index] = Some(Err(error)),
                }
            }
            if behind {
                alone.extend(
                    indices
                        .into_iter()
                        .filter(|&index| outcomes[index].is_none()),
                );
                continue;
            }
            if request.events.is_empty() {
                continue;
            }
            drop(entered);
            decided.push(Decided {
                cached: Cached { state, trace },
                outbox: request.outbox.clone(),
                span,
            });
            settlements.push(settled);
            requests.push(request);
        }
        let stored = self.store_decided(requests, decided).await;
        for (outcome, settled) in stored.into_iter().zip(settlements) {
            match outcome {
                Ok(()) => {
                    for (index, events) in settled {
                        outcomes[index] = Some(Ok(events));
                    }
                }
                Err(Error::Conflict { .. }) => {
                    alone.extend(settled.into_iter().map(|(index, _)| index));
                }
                Err(error) => {
                    for (index, _) in settled {
                        outcomes[index] = Some(Err(error.clone()));
                    }
                }
            }
        }
        alone.sort_unstable();
        for index in alone {
            let submission = &submissions[index];
            outcomes[index] = Some(
                self.execute_claimed(
                    submission.instance,
                    &submission.commands,
                    &submission.origin,
                )
                .await,
            );
        }
        outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or_else(|| Ok(Vec::new())))
            .collect()
    }

    /// Stores decided instances in one batch append. Those that landed are
    /// cached and their tasks handed to the relay; one refused (or all, with
    /// its error, when the append failed as a whole) is forgotten, to be
    /// reloaded. Outcomes come back in the order of `decided`.
    pub(super) async fn store_decided(
        &self,
        requests: Vec<AppendRequest>,
        decided: Vec<Decided>,
    ) -> Vec<Result<(), Error>> {
        if requests.is_empty() {
            return Vec::new();
        }
        let wrote_timers = requests.iter().any(|request| !request.timers.is_empty());
        match self.store.append_batch(requests).await {
            Ok(appended) => {
                let outcomes = appended
                    .into_iter()
                    .zip(decided)
                    .map(|(outcome, decided)| match outcome {
                        Ok(outcome) => {
                            decided.span.in_scope(|| self.stored(decided.cached));
                            self.appended(decided.outbox, &outcome);
                            Ok(())
                        }
                        Err(error) => {
                            self.cache.forget(decided.cached.state.id);
                            Err(error)
                        }
                    })
                    .collect();
                if wrote_timers {
                    self.timers_written.notify_one();
                }
                outcomes
            }
            Err(error) => {
                tracing::warn!(error = %error.report(), instances = decided.len(), "batch append failed");
                decided
                    .iter()
                    .map(|decided| {
                        self.cache.forget(decided.cached.state.id);
                        Err(error.clone())
                    })
                    .collect()
            }
        }
    }
}
