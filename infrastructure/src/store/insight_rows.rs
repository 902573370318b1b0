//! The console's insight rows as both stores return them, read into the
//! application's rows once (as [`super::read_model_rows`] does for the
//! workflow rows). Only an id differs: a `uuid` in PostgreSQL, text in
//! SQLite, hence the id's type parameter.

use application::ports::{MinuteCount, WaitingApprovalRow, WaitingStepRow};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// Approval steps waiting, oldest first; `$1` an instance or null, `$2` the
/// limit. PostgreSQL and SQLite both read `$N`.
pub(super) fn waiting_approvals(instance_is: &str) -> String {
    format!(
        "select i.id, i.definition, i.definition_version, i.status, i.input,
                s.step, s.attempt, s.scheduled_at
         from workflow_steps s join workflow_instances i on i.id = s.instance_id
         where s.kind = 'approval' and s.status = 'waiting'
           and i.status in ('running', 'paused')
           and ({instance_is} is null or i.id = $1)
         order by s.scheduled_at, i.id, s.step limit $2"
    )
}

/// `task` and `http` attempts scheduled and not started, by step.
pub(super) const WAITING_STEPS: &str =
    "select i.definition, i.definition_version, s.step, count(*) as count,
            min(s.scheduled_at) as oldest
     from workflow_steps s join workflow_instances i on i.id = s.instance_id
     where s.status = 'scheduled' and s.kind in ('task', 'http')
       and s.scheduled_at is not null
     group by 1, 2, 3 order by 5";

/// Instances started, and finished by status, per minute from `$1`; `minute`
/// is the SQL expression that truncates a time column (`{}`) to its minute.
pub(super) fn activity(minute: &str) -> String {
    let of = |column: &str| minute.replace("{}", column);
    format!(
        "select {started} as minute, 'started' as what, count(*) as count
         from workflow_instances where created_at >= $1 group by 1
         union all
         select {finished}, status, count(*)
         from workflow_instances where finished_at >= $1 group by 1, 2
         order by 1, 2",
        started = of("created_at"),
        finished = of("finished_at"),
    )
}

#[derive(sqlx::FromRow)]
pub(super) struct WaitingApprovalColumns<Id> {
    id: Id,
    definition: String,
    definition_version: i32,
    status: String,
    input: Json<Value>,
    step: String,
    attempt: i32,
    scheduled_at: Option<DateTime<Utc>>,
}

impl<Id: Into<Uuid>> From<WaitingApprovalColumns<Id>> for WaitingApprovalRow {
    fn from(row: WaitingApprovalColumns<Id>) -> Self {
        WaitingApprovalRow {
            instance: InstanceId(row.id.into()),
            definition: row.definition,
            version: row.definition_version as u32,
            status: row.status,
            input: row.input.0,
            step: row.step,
            attempt: row.attempt as u32,
            requested_at: row.scheduled_at,
        }
    }
}

/// A row of [`activity`]: minute, what, count.
pub(super) type MinuteCountColumns = (DateTime<Utc>, String, i64);

pub(super) fn minute_count((minute, what, count): MinuteCountColumns) -> MinuteCount {
    MinuteCount {
        minute,
        what,
        count: count as u64,
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct WaitingStepColumns {
    definition: String,
    definition_version: i32,
    step: String,
    count: i64,
    oldest: DateTime<Utc>,
}

impl From<WaitingStepColumns> for WaitingStepRow {
    fn from(row: WaitingStepColumns) -> Self {
        WaitingStepRow {
            definition: row.definition,
            version: row.definition_version as u32,
            step: row.step,
            count: row.count as u64,
            oldest: row.oldest,
        }
    }
}
