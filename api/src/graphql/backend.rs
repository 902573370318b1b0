//! What resolvers reach, behind one object-safe trait. The router is generic
//! over the store and the read models; a GraphQL schema is one concrete
//! type built once, so its resolvers see the node through `dyn Backend`
//! (in the schema's data). Each method is one application call, the same
//! ones the REST handlers make.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use application::catalog::{self, DeployError};
use application::feed::{EventFeed, FeedFilter, FeedItem, FeedStart};
use application::messages::TaskResult;
use application::ports::{
    Bottleneck, DefinitionDurations, RecordedEvent, StatusCount, StepDurations, StepRow,
    StoredDefinition, WorkflowFilter, WorkflowRow,
};
use domain::instance::{Command, Event, WorkflowInstance};
use domain::{InstanceId, WorkflowDefinition};
use futures_lite::Stream;
use serde_json::Value;

use crate::starts::{self, StartRequest};
use crate::{ApiError, App, Caller, ReadModels, Store};

pub(crate) type Reply<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;
pub(crate) type FeedStream = Pin<Box<dyn Stream<Item = Result<FeedItem, ApiError>> + Send>>;

/// The read models' statistics, as read together.
pub(crate) type Statistics = (
    Vec<StatusCount>,
    Vec<DefinitionDurations>,
    Vec<StepDurations>,
);

pub(crate) trait Backend: Send + Sync {
    /// Ordered by name, then version.
    fn definitions(&self) -> Reply<'_, Vec<StoredDefinition>>;
    fn resolve<'a>(&'a self, name: &'a str, version: u32) -> Reply<'a, Arc<WorkflowDefinition>>;
    fn deploy(&self, source: String) -> Reply<'_, Arc<WorkflowDefinition>>;
    fn workflows(&self, filter: WorkflowFilter) -> Reply<'_, Vec<WorkflowRow>>;
    fn workflow(&self, id: InstanceId) -> Reply<'_, Option<WorkflowRow>>;
    fn steps(&self, id: InstanceId) -> Reply<'_, Vec<StepRow>>;
    /// The engine's state, from the log.
    fn state(&self, id: InstanceId) -> Reply<'_, WorkflowInstance>;
    /// A workflow's events after a stream version; NOT_FOUND for a
    /// workflow that does not exist.
    fn history(&self, id: InstanceId, after: u64) -> Reply<'_, Vec<RecordedEvent>>;
    fn start(
        &self,
        caller: Caller,
        request: StartRequest,
        key: Option<String>,
    ) -> Reply<'_, InstanceId>;
    /// Executes a command as the caller; the engine's state after it.
    fn execute(
        &self,
        id: InstanceId,
        command: Command,
        caller: Caller,
    ) -> Reply<'_, WorkflowInstance>;
    fn report(&self, result: TaskResult) -> Reply<'_, Vec<Event>>;
    fn record_progress(&self, id: InstanceId, step: String, progress: u8) -> Reply<'_, ()>;
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
            catalog::deploy(app.engine.definitions(), &app.read_models, &source)
                .await
                .map_err(deploy_error)
        })
    }

    fn workflows(&self, filter: WorkflowFilter) -> Reply<'_, Vec<WorkflowRow>> {
        Box::pin(async move { Ok(self.app.read_models.workflows(&filter).await?) })
    }

    fn workflow(&self, id: InstanceId) -> Reply<'_, Option<WorkflowRow>> {
        Box::pin(async move { Ok(self.app.read_models.workflow(id).await?) })
    }

    fn steps(&self, id: InstanceId) -> Reply<'_, Vec<StepRow>> {
        Box::pin(async move { Ok(self.app.read_models.steps(id).await?) })
    }

    fn state(&self, id: InstanceId) -> Reply<'_, WorkflowInstance> {
        Box::pin(async move { Ok(self.app.engine.state(id).await?) })
    }

    fn history(&self, id: InstanceId, after: u64) -> Reply<'_, Vec<RecordedEvent>> {
        let store = self.app.engine.store();
        Box::pin(async move {
            let records = store.load(id, after).await?;
            if records.is_empty() && store.load(id, 0).await?.is_empty() {
                return Err(ApiError::NotFound(format!("workflow {id}")));
            }
            Ok(records)
        })
    }

    fn start(
        &self,
        caller: Caller,
        request: StartRequest,
        key: Option<String>,
    ) -> Reply<'_, InstanceId> {
        let app = &self.app;
        Box::pin(async move {
            starts::check(app, &request).await?;
            starts::start_one(app, &caller.origin(), &request, key.as_deref()).await
        })
    }

    fn execute(
        &self,
        id: InstanceId,
        command: Command,
        caller: Caller,
    ) -> Reply<'_, WorkflowInstance> {
        let engine = &self.app.engine;
        Box::pin(async move {
            engine.execute(id, command, &caller.origin()).await?;
            Ok(engine.state(id).await?)
        })
    }

    fn report(&self, result: TaskResult) -> Reply<'_, Vec<Event>> {
        Box::pin(async move { Ok(self.app.engine.handle_result(result).await?) })
    }

    fn record_progress(&self, id: InstanceId, step: String, progress: u8) -> Reply<'_, ()> {
        Box::pin(async move {
            let reads = &self.app.read_models;
            Ok(reads.record_progress(id, &step, progress).await?)
        })
    }

    fn statistics(&self) -> Reply<'_, Statistics> {
        let reads = &self.app.read_models;
        Box::pin(async move {
            Ok(tokio::try_join!(
                reads.status_counts(),
                reads.definition_durations(),
                reads.step_durations()
            )?)
        })
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

/// As REST answers a refused deployment: every problem with its position,
/// or a conflict with a version deployed with other content.
fn deploy_error(error: DeployError) -> ApiError {
    match error {
        DeployError::Invalid(problems) => ApiError::Unprocessable {
            detail: format!("the definition has {} problems", problems.len()),
            problems: problems
                .iter()
                .map(|problem| serde_json::to_value(problem).unwrap_or(Value::Null))
                .collect(),
        },
        DeployError::Refused(application::Error::Invalid { reason }) => ApiError::Conflict(reason),
        DeployError::Refused(error) => error.into(),
    }
}
