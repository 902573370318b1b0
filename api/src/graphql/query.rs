//! The query root: definitions, workflows (filtered, paged), a workflow with
//! its steps and events, statistics. Reads come from the read models, a
//! history from the log, as in REST.

use application::ports::WorkflowFilter;
use application::workflows::WorkflowView;
use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use domain::InstanceId;

use super::types::{Bottleneck, Definition, Stats, Workflow, WorkflowPage};
use super::{backend, errors, instance_id, page_size, page_weight};
use crate::ApiError;

#[derive(Debug)]
pub struct QueryRoot;

/// Every criterion given must hold.
#[derive(Debug, Default, InputObject)]
pub(crate) struct WorkflowFilterInput {
    status: Option<String>,
    definition: Option<String>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
}

impl WorkflowFilterInput {
    /// The list's filter, a page of `limit` before `before_id`.
    fn narrowing(self, before_id: Option<InstanceId>, limit: u32) -> WorkflowFilter {
        WorkflowFilter {
            status: self.status,
            definition: self.definition,
            created_after: self.created_after,
            created_before: self.created_before,
            before_id,
            limit,
        }
    }
}

/// A page's `after` as the id it stands for.
fn cursor_id(cursor: &ID) -> Result<InstanceId> {
    instance_id(cursor)
        .map_err(|_| errors::graphql(ApiError::BadRequest("`after` is not a cursor".into())))
}

#[Object(name = "Query")]
impl QueryRoot {
    /// Every deployed definition, by name.
    async fn definitions(&self, ctx: &Context<'_>) -> Result<Vec<Definition>> {
        let stored = backend(ctx)?.definitions().await.map_err(errors::graphql)?;
        Ok(Definition::group(stored))
    }

    async fn definition(&self, ctx: &Context<'_>, name: String) -> Result<Definition> {
        let stored = backend(ctx)?.definitions().await.map_err(errors::graphql)?;
        Definition::group(stored)
            .into_iter()
            .find(|definition| definition.is_named(&name))
            .ok_or_else(|| errors::graphql(ApiError::NotFound(format!("definition {name}"))))
    }

    /// Newest first, `first` (1 to 500) at a time; `after` is the
    /// `nextCursor` of the previous page.
    #[graphql(complexity = "page_weight(first) * child_complexity")]
    async fn workflows(
        &self,
        ctx: &Context<'_>,
        filter: Option<WorkflowFilterInput>,
        #[graphql(default = 50)] first: i32,
        after: Option<ID>,
    ) -> Result<WorkflowPage> {
        let limit = page_size(first)?;
        let before_id = after.map(|cursor| cursor_id(&cursor)).transpose()?;
        let filter = filter.unwrap_or_default().narrowing(before_id, limit);
        let (rows, next) = backend(ctx)?
            .workflows(filter)
            .await
            .map_err(errors::graphql)?;
        Ok(WorkflowPage {
            items: rows.into_iter().map(Workflow::from_row).collect(),
            next_cursor: next.map(|id| id.to_string()),
        })
    }

    /// From the read models; from the log when they have not caught up yet
    /// (a read straight after the start).
    async fn workflow(&self, ctx: &Context<'_>, id: ID) -> Result<Workflow> {
        let id = instance_id(&id)?;
        match backend(ctx)?.workflow(id).await.map_err(errors::graphql)? {
            WorkflowView::Projected { row, steps } => Ok(Workflow::with_steps(row, &steps)),
            WorkflowView::Current(state) => Ok(Workflow::from_state(&state)),
        }
    }

    async fn stats(&self, ctx: &Context<'_>) -> Result<Stats> {
        let statistics = backend(ctx)?.statistics().await.map_err(errors::graphql)?;
        Ok(Stats::from(&statistics))
    }

    /// Steps by mean time from scheduled to finished, the slowest first.
    async fn bottlenecks(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
    ) -> Result<Vec<Bottleneck>> {
        let limit = page_size(first)?;
        let found = backend(ctx)?
            .bottlenecks(limit)
            .await
            .map_err(errors::graphql)?;
        Ok(found.into_iter().map(Bottleneck::from).collect())
    }
}
