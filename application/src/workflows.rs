//! What callers do with workflows besides starting them: command one and
//! see the engine's state after it, read one (from the read models, or from
//! the log before they catch up), and page through the list and a history.

use domain::InstanceId;
use domain::instance::{Command, WorkflowInstance};

use crate::ports::{
    EventStore, ReadModelQueries, RecordedEvent, StepRow, WorkflowFilter, WorkflowRow,
};
use crate::{Engine, Error, Origin};

/// The most items a page holds.
pub const MAX_PAGE: u32 = 500;

/// A page size, unless it is not 1 to [`MAX_PAGE`].
pub fn page_size(requested: i64) -> Option<u32> {
    u32::try_from(requested)
        .ok()
        .filter(|size| (1..=MAX_PAGE).contains(size))
}

/// A workflow as it can be read now.
#[derive(Clone, Debug)]
pub enum WorkflowView {
    /// From the read models, with its steps.
    Projected {
        row: WorkflowRow,
        steps: Vec<StepRow>,
    },
    /// Not projected yet: the engine's state, from the log.
    Current(WorkflowInstance),
}

/// Runs an operator's command on a workflow; the engine's state after it
/// (the read models catch up shortly).
pub async fn command<S: EventStore>(
    engine: &Engine<S>,
    id: InstanceId,
    command: Command,
    origin: &Origin,
) -> Result<WorkflowInstance, Error> {
    engine.execute(id, command, origin).await?;
    engine.state(id).await
}

/// A workflow with its steps; [`Error::NotFound`] for one never started.
pub async fn show<S: EventStore>(
    engine: &Engine<S>,
    read_models: &impl ReadModelQueries,
    id: InstanceId,
) -> Result<WorkflowView, Error> {
    let (row, steps) = tokio::try_join!(read_models.workflow(id), read_models.steps(id))?;
    match row {
        Some(row) => Ok(WorkflowView::Projected { row, steps }),
        // A read straight after the start: read your own write from the
        // log rather than answer NOT_FOUND.
        None => Ok(WorkflowView::Current(engine.state(id).await?)),
    }
}

/// A page of workflows, newest first, of at most `filter.limit`; the cursor
/// of the next page (the last item's id) unless this one is the last.
pub async fn list(
    read_models: &impl ReadModelQueries,
    filter: WorkflowFilter,
) -> Result<(Vec<WorkflowRow>, Option<InstanceId>), Error> {
    let limit = filter.limit as usize;
    let more = WorkflowFilter {
        limit: filter.limit + 1,
        ..filter
    };
    let mut rows = read_models.workflows(&more).await?;
    let next = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last().map(|row| row.id)
    });
    Ok((rows, next.flatten()))
}

/// A page of a workflow's events after a stream version, oldest first, of
/// at most `limit`; the `after` of the next page unless this one is the
/// last. [`Error::NotFound`] for a workflow never started.
pub async fn history<S: EventStore>(
    store: &S,
    id: InstanceId,
    after: u64,
    limit: u32,
) -> Result<(Vec<RecordedEvent>, Option<u64>), Error> {
    let mut records = store.load(id, after).await?;
    if records.is_empty() {
        started(store, id).await?;
    }
    let limit = limit as usize;
    let next = (records.len() > limit).then(|| {
        records.truncate(limit);
        records.last().map(|record| record.version)
    });
    Ok((records, next.flatten()))
}

/// [`Error::NotFound`] unless the workflow was started.
pub async fn started<S: EventStore>(store: &S, id: InstanceId) -> Result<(), Error> {
    if store.load(id, 0).await?.is_empty() {
        return Err(Error::NotFound {
            what: format!("workflow {id}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_holds_1_to_500_items() {
        assert_eq!(page_size(0), None);
        assert_eq!(page_size(1), Some(1));
        assert_eq!(page_size(500), Some(500));
        assert_eq!(page_size(501), None);
        assert_eq!(page_size(-3), None);
    }
}
