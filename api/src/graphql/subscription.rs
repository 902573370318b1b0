//! The subscription root: the event feed over WebSocket. Each event carries
//! its global `position`; a client resumes `after` the last one it got, with
//! no gap and no duplicate. A subscriber that falls too far behind gets a
//! LAGGED error with `resumeAfter`, and the subscription completes.

use std::collections::HashSet;

use application::feed::{FeedFilter, FeedItem, FeedStart};
use async_graphql::{Context, Error, ErrorExtensions, ID, InputObject, Result, Subscription};
use futures_lite::{Stream, StreamExt};

use super::backend::FeedStream;
use super::types::Event;
use super::{backend, errors, instance_id};
use crate::ApiError;

#[derive(Debug)]
pub struct SubscriptionRoot;

/// Every criterion given must hold.
#[derive(Debug, Default, InputObject)]
pub(crate) struct EventFilterInput {
    /// Events of workflows of this definition.
    definition: Option<String>,
    /// Event types (`StepCompleted`, ...); none given passes every type.
    types: Option<Vec<String>>,
}

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// One workflow's events, from its start unless resumed `after` a
    /// position.
    async fn workflow_events(
        &self,
        ctx: &Context<'_>,
        workflow_id: ID,
        after: Option<i64>,
    ) -> Result<impl Stream<Item = Result<Event>> + use<>> {
        let id = instance_id(&workflow_id)?;
        let start = FeedStart::After(position(after)?.unwrap_or(0));
        let backend = backend(ctx)?;
        backend.started(id).await.map_err(errors::graphql)?;
        let filter = FeedFilter {
            workflow: Some(id),
            ..FeedFilter::default()
        };
        Ok(events(backend.subscribe(filter, start)))
    }

    /// Events as they are committed, or from `after` a position.
    async fn events(
        &self,
        ctx: &Context<'_>,
        filter: Option<EventFilterInput>,
        after: Option<i64>,
    ) -> Result<impl Stream<Item = Result<Event>> + use<>> {
        let start = position(after)?.map_or(FeedStart::Live, FeedStart::After);
        let filter = filter.unwrap_or_default();
        let filter = FeedFilter {
            workflow: None,
            definition: filter.definition,
            types: filter.types.into_iter().flatten().collect::<HashSet<_>>(),
        };
        Ok(events(backend(ctx)?.subscribe(filter, start)))
    }
}

fn position(after: Option<i64>) -> Result<Option<i64>> {
    match after {
        Some(position) if position < 0 => Err(errors::graphql(ApiError::BadRequest(
            "`after` must be a log position".into(),
        ))),
        after => Ok(after),
    }
}

fn events(feed: FeedStream) -> impl Stream<Item = Result<Event>> {
    feed.map(|item| match item {
        Ok(FeedItem::Event(event)) => Ok(Event::from(&**event)),
        Ok(FeedItem::Lagged { resume_after }) => Err(Error::new(
            "lagged: resume after the last position",
        )
        .extend_with(|_, extensions| {
            extensions.set("code", "LAGGED");
            extensions.set("resumeAfter", resume_after);
        })),
        Err(error) => Err(errors::graphql(error)),
    })
}
