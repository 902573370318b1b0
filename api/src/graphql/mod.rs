//! GraphQL at `/graphql`: queries over the read models and the log,
//! mutations through the engine (the same application functions as REST),
//! subscriptions to the event feed over WebSocket at `/graphql/ws`. Each
//! root field needs the permission of its REST twin ([`access::ROOT_FIELDS`]);
//! depth and complexity are limited.

pub mod access;
mod backend;
mod errors;
pub(crate) mod http;
mod mutation;
mod query;
mod subscription;
mod types;

use std::sync::Arc;

use application::feed::EventFeed;
use async_graphql::{Context, Result, Schema, SchemaBuilder};
use axum::Router;
use domain::InstanceId;

pub use mutation::MutationRoot;
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;

use crate::auth::Guard;
use crate::{ApiError, App, ReadModels, Store};
use access::Identity;
use backend::{Backend, Node};

/// How deeply a query may nest. Our types nest five deep at most; GraphiQL's
/// introspection query needs 13 (two more for a deeper one to come).
pub const MAX_DEPTH: usize = 15;
/// The most a query may cost: one per field, a list field's items times
/// `first` (a workflow's steps count ten). Introspection costs 181; a
/// page of 500 workflows with ten fields 5,000; with their steps, too much.
pub const MAX_COMPLEXITY: usize = 10_000;
/// The most items a page holds, as in REST.
const MAX_PAGE: i32 = application::workflows::MAX_PAGE as i32;

pub type ApiSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .extension(access::Access)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

/// The schema in SDL, as `docs/schema.graphql` holds it.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// `/graphql` and `/graphql/ws` of a node.
pub(crate) fn router<S: Store, R: ReadModels, T>(
    app: Arc<App<S, R>>,
    feed: Arc<EventFeed<S>>,
    guard: Arc<Guard>,
) -> Router<T>
where
    T: Clone + Send + Sync + 'static,
{
    let backend: Arc<dyn Backend> = Arc::new(Node { app, feed });
    http::router(builder().data(backend).finish(), guard)
}

fn backend<'a>(ctx: &Context<'a>) -> Result<&'a dyn Backend> {
    Ok(ctx.data::<Arc<dyn Backend>>()?.as_ref())
}

fn identity<'a>(ctx: &Context<'a>) -> Result<&'a Identity> {
    ctx.data_opt::<Identity>().ok_or_else(|| {
        errors::graphql(ApiError::Unauthorized(
            "an API key or a bearer token is required".into(),
        ))
    })
}

fn instance_id(id: &str) -> Result<InstanceId> {
    crate::workflows::instance_id(id).map_err(errors::graphql)
}

/// `first` as a page size: 1 to 500.
fn page_size(first: i32) -> Result<u32> {
    application::workflows::page_size(first.into()).ok_or_else(|| {
        errors::graphql(ApiError::BadRequest(format!(
            "`first` must be a number from 1 to {MAX_PAGE}"
        )))
    })
}

/// What `first` multiplies a list's cost by.
fn page_weight(first: i32) -> usize {
    first.clamp(1, MAX_PAGE) as usize
}
