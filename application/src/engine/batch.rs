//! Many submissions decided on their cached states and stored in one
//! batch append: how a node applies a burst of worker results.

use domain::InstanceId;
use domain::instance::Event;

use super::{Cached, Engine, Submission, command_span};
use crate::Error;
use crate::ports::{AppendRequest, EventStore};
use crate::trace;

impl<S: EventStore> Engine<S> {
    /// Runs many submissions at once: the commands of every instance are
    /// decided on its cached state and all instances are stored in one
    /// batch append (one transaction). An instance whose append conflicts, or
    /// whose cached state decides nothing, is run again on its own, as
    /// [`Engine::execute_all`] does. Outcomes come back in submission order.
    pub async fn execute_batch(
        &self,
        submissions: &[Submission],
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
        let mut alone = Vec::new();
        for (id, indices) in groups {
            let Some(Cached { mut state, trace }) = self.lock_cache().get(&id).cloned() else {
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
            decided.push((
                Cached { state, trace },
                settled,
                request.outbox.clone(),
                span,
            ));
            requests.push(request);
        }
        if !requests.is_empty() {
            let wrote_timers = requests.iter().any(|request| !request.timers.is_empty());
            match self.store.append_batch(requests).await {
                Ok(appended) => {
                    for (outcome, (cached, settled, outbox, span)) in
                        appended.into_iter().zip(decided)
                    {
                        let id = cached.state.id;
                        match outcome {
                            Ok(outcome) => {
                                span.in_scope(|| self.stored(cached));
                                self.appended(outbox, &outcome);
                                for (index, events) in settled {
                                    outcomes[index] = Some(Ok(events));
                                }
                            }
                            Err(Error::Conflict { .. }) => {
                                self.forget(id);
                                alone.extend(settled.into_iter().map(|(index, _)| index));
                            }
                            Err(error) => {
                                let reason = error.to_string();
                                for (index, _) in settled {
                                    outcomes[index] = Some(Err(Error::Unavailable(reason.clone())));
                                }
                            }
                        }
                    }
                    if wrote_timers {
                        self.timers_written.notify_one();
                    }
                }
                Err(error) => {
                    let reason = error.to_string();
                    tracing::warn!(%error, instances = decided.len(), "batch append failed");
                    for (cached, settled, _, _) in decided {
                        self.forget(cached.state.id);
                        for (index, _) in settled {
                            outcomes[index] = Some(Err(Error::Unavailable(reason.clone())));
                        }
                    }
                }
            }
        }
        alone.sort_unstable();
        for index in alone {
            let submission = &submissions[index];
            outcomes[index] = Some(
                self.execute_all(
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
}
