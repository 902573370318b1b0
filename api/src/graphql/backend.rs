//! What resolvers reach, behind one object-safe trait. The router is generic
//! over the store and the read models; a GraphQL schema is one concrete
//! type built once, so its resolvers see the node through `dyn Backend`
//! (in the schema's data). Each method is one application call, the same
//! ones the REST handlers make.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use application::Origin;
use application::catalog;
use application::feed::{EventFeed, FeedFilter, FeedItem, FeedStart};
use application::messages::TaskOutcome;
use application::ports::{
    Bottleneck, RecordedEvent, StepRow, StoredDefinition, WorkflowFilter, WorkflowRow,
};
use application::starts::{self, IdempotencyKey, Start};
use application::stats::{self, Statistics};
use application::tasks::{self, TaskRef};
use application::workflows::{self, WorkflowView};
use domain::instance::{Command, Event, WorkflowInstance};
use domain::{InstanceId, WorkflowDefinition};
use futures_lite::Stream;

use crate::{ApiError, App, ReadModels, Store};

pub(crate) type Reply<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;
pub(crate) type FeedStream = Pin<Box<dyn Stream<Item = Result<FeedItem, ApiError>> + Send>>;

/// A page of workflows and the cursor of the next.
pub(crate) type WorkflowRows = (Vec<WorkflowRow>, Option<InstanceId>);
/// A page of a history and the `after` of the next.
pub(crate) type HistoryPage = (Vec<RecordedEvent>, Option<u64>);

pub(crate) trait Backend: Send + Sync {
    /// Ordered by name, then version.
    fn definitions(&self) -> Reply<'_, Vec<StoredDefinition>>;
    fn resolve<'a>(&'a self, name: &'a str, version: u32) -> Reply<'a, Arc<WorkflowDefinition>>;
    fn deploy(&self, source: String) -> Reply<'_, Arc<WorkflowDefinition>>;
    fn workflows(&self, filter: WorkflowFilter) -> Reply<'_, WorkflowRows>;
    fn workflow(&self, id: InstanceId) -> Reply<'_, WorkflowView>;
    fn steps(&self, id: InstanceId) -> Reply<'_, Vec<StepRow>>;
    /// The engine's state, from the log.
    fn state(&self, id: InstanceId) -> Reply<'_, WorkflowInstance>;
    /// A workflow's events after a stream version, at most `limit`;
    /// NOT_FOUND for a workflow that does not exist.
    fn history(&self, id: InstanceId, after: u64, limit: u32) -> Reply<'_, HistoryPage>;
    /// NOT_FOUND unless the workflow was started.
    fn started(&self, id: InstanceId) -> Reply<'_, ()>;
    fn start(
        &self,
        origin: Origin,
        start: Start,
        key: Option<IdempotencyKey>,
    ) -> Reply<'_, InstanceId>;
    /// Executes a command; the engine's state after it.
    fn execute(
        &self,
        id: InstanceId,
        command: Command,
        origin: Origin,
    ) -> Reply<'_, WorkflowInstance>;
    fn report(&self, task: TaskRef, outcome: TaskOutcome) -> Reply<'_, Vec<Event>>;
    fn heartbeat(&self, task: TaskRef, progress: Option<u8>) -> Reply<'_, ()>;
    fn statistics(&self) -> Reply<'_, Statistics>;
    fn bottlenecks(&self, limit: u32) -> Reply<'_, Vec<Bottleneck>>;
    /// The feed from a start; ends after a `Lagged` item or an error.
    fn subscribe(&self, filter: FeedFilter, start: FeedStart) -> FeedStream;
}

/// A node's engine, read models and feed.
pub(crate) struct Node<S, R> {
    pub(crate) app: Arc<App<S, R>>,
    pub(crate) feed: Arc<EventFeed<S>>,
}

impl<S: Store, R: ReadModels> Backend for Node<S, R> {
    fn definitions(&self) -> Reply<'_, Vec<StoredDefinition>> {
        Box::pin(async move { Ok(self.app.read_models.definitions().await?) })
    }

    fn resolve<'a>(&'a self, name: &'a str, version: u32) -> Reply<'a, Arc<WorkflowDefinition>> {
        let app = &self.app;
        Box::pin(async move {
            Ok(catalog::resolve(app.engine.definitions(), &app.read_models, name, version).await?)
        })
    }

    fn deploy(&self, source: String) -> Reply<'_, Arc<WorkflowDefinition>> {
        let app = &self.app;
        Box::pin(async move {
            Ok(catalog::deploy(app.engine.definitions(), &app.read_models, &source).await?)
        })
    }

    fn workflows(&self, filter: WorkflowFilter) -> Reply<'_, WorkflowRows> {
        Box::pin(async move { Ok(workflows::list(&self.app.read_models, filter).await?) })
    }

    fn workflow(&self, id: InstanceId) -> Reply<'_, WorkflowView> {
        let app = &self.app;
        Box::pin(async move { Ok(workflows::show(&app.engine, &app.read_models, id).await?) })
    }

    fn steps(&self, id: InstanceId) -> Reply<'_, Vec<StepRow>> {
        Box::pin(async move { Ok(self.app.read_models.steps(id).await?) })
    }

    fn state(&self, id: InstanceId) -> Reply<'_, WorkflowInstance> {
        Box::pin(async move { Ok(self.app.engine.state(id).await?) })
    }

    fn history(&self, id: InstanceId, after: u64, limit: u32) -> Reply<'_, HistoryPage> {
        let store = self.app.engine.store();
        Box::pin(async move { Ok(workflows::history(store, id, after, limit).await?) })
    }

    fn started(&self, id: InstanceId) -> Reply<'_, ()> {
        let store = self.app.engine.store();
        Box::pin(async move { Ok(workflows::started(store, id).await?) })
    }

    fn start(
        &self,
        origin: Origin,
        start: Start,
        key: Option<IdempotencyKey>,
    ) -> Reply<'_, InstanceId> {
        let app = &self.app;
        Box::pin(async move {
            let (engine, reads) = (&app.engine, &app.read_models);
            Ok(starts::start(engine, reads, &start, key.as_ref(), &origin).await?)
        })
    }

    fn execute(
        &self,
        id: InstanceId,
        command: Command,
        origin: Origin,
    ) -> Reply<'_, WorkflowInstance> {
        let engine = &self.app.engine;
        Box::pin(async move { Ok(workflows::command(engine, id, command, &origin).await?) })
    }

    fn report(&self, task: TaskRef, outcome: TaskOutcome) -> Reply<'_, Vec<Event>> {
        let app = &self.app;
        Box::pin(
            async move { Ok(tasks::report(&app.engine, app.handout(), &task, outcome).await?) },
        )
    }

    fn heartbeat(&self, task: TaskRef, progress: Option<u8>) -> Reply<'_, ()> {
        let app = &self.app;
        Box::pin(async move {
            Ok(tasks::heartbeat(&app.engine, &app.read_models, &task, progress).await?)
        })
    }

    fn statistics(&self) -> Reply<'_, Statistics> {
        Box::pin(async move { Ok(stats::statistics(&self.app.read_models).await?) })
    }

    fn bottlenecks(&self, limit: u32) -> Reply<'_, Vec<Bottleneck>> {
        Box::pin(async move { Ok(self.app.read_models.bottlenecks(limit).await?) })
    }

    fn subscribe(&self, filter: FeedFilter, start: FeedStart) -> FeedStream {
        let subscription = self.feed.subscribe(filter, start);
        Box::pin(futures_lite::stream::unfold(
            Some(subscription),
            |state| async move {
                let mut subscription = state?;
                match subscription.next().await {
                    Ok(Some(FeedItem::Event(event))) => {
                        Some((Ok(FeedItem::Event(event)), Some(subscription)))
                    }
                    Ok(Some(lagged)) => Some((Ok(lagged), None)),
                    Ok(None) => None,
                    Err(error) => Some((Err(error.into()), None)),
                }
            },
        ))
    }
}
