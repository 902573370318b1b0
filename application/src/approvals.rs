//! Approvals waiting for a decision, with what a person deciding needs: the
//! workflow's input, the step's approvers and due time, and whether the
//! caller may decide it (its role grants `approve` and the step names it).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use domain::InstanceId;
use domain::definition::StepKind;
use domain::instance::Actor;
use serde_json::Value;

use crate::Error;
use crate::auth::{Permission, Role};
use crate::catalog;
use crate::definitions::DefinitionRegistry;
use crate::ports::{DefinitionStore, InsightQueries};

/// The most approvals one answer lists.
pub const MAX_APPROVALS: u32 = 1000;

#[derive(Clone, Debug)]
pub struct ApprovalQuery {
    /// Only this workflow's approvals.
    pub workflow: Option<InstanceId>,
    /// The caller: whether it may decide each approval.
    pub caller: Actor,
    /// Only the approvals the caller may decide.
    pub decidable_only: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WaitingApproval {
    pub workflow: InstanceId,
    pub definition: String,
    pub version: u32,
    pub status: String,
    pub step: String,
    pub description: Option<String>,
    pub attempt: u32,
    pub requested_at: Option<DateTime<Utc>>,
    /// When the step's `timeout` runs out, if it has one.
    pub due_at: Option<DateTime<Utc>>,
    /// What the deadline decides: `reject` or `approve`.
    pub on_timeout: &'static str,
    pub approvers: Vec<String>,
    pub input: Value,
    pub decidable: bool,
}

/// Whether an actor's roles grant the `approve` permission.
fn may_decide_at_all(caller: &Actor) -> bool {
    caller
        .roles
        .iter()
        .filter_map(|role| Role::from_str(role).ok())
        .any(|role| role.allows(Permission::Approve))
}

/// The approvals waiting, oldest first.
pub async fn waiting_approvals<R: InsightQueries + DefinitionStore>(
    reads: &R,
    registry: &DefinitionRegistry,
    query: &ApprovalQuery,
) -> Result<Vec<WaitingApproval>, Error> {
    let permitted = may_decide_at_all(&query.caller);
    let rows = reads
        .waiting_approvals(query.workflow, MAX_APPROVALS)
        .await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let definition = catalog::resolve(registry, reads, &row.definition, row.version).await?;
        let Some(step) = definition.step(&row.step) else {
            continue;
        };
        let StepKind::Approval {
            approvers,
            on_timeout,
        } = &step.kind
        else {
            continue;
        };
        let decidable = permitted && query.caller.may_approve(approvers);
        if query.decidable_only && !decidable {
            continue;
        }
        let due_at = row
            .requested_at
            .zip(step.timeout)
            .and_then(|(at, timeout)| Some(at + chrono::Duration::from_std(timeout).ok()?));
        found.push(WaitingApproval {
            workflow: row.instance,
            definition: row.definition,
            version: row.version,
            status: row.status,
            description: step.description.clone(),
            step: row.step,
            attempt: row.attempt,
            requested_at: row.requested_at,
            due_at,
            on_timeout: match on_timeout {
                domain::definition::ApprovalTimeout::Reject => "reject",
                domain::definition::ApprovalTimeout::Approve => "approve",
            },
            approvers: approvers.clone(),
            input: row.input,
            decidable,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_roles_that_grant_approve_may_decide() {
        let actor = |role: &str| Actor::new("someone", &[role]);
        assert!(may_decide_at_all(&actor("approver")));
        assert!(may_decide_at_all(&actor("admin")));
        assert!(!may_decide_at_all(&actor("operator")));
        assert!(!may_decide_at_all(&actor("viewer")));
        assert!(!may_decide_at_all(&actor("manager")));
    }
}
