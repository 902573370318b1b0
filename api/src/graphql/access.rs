//! Who may do what over GraphQL: each root field needs the permission its
//! REST twin needs, from one table like [`crate::auth::routes::ROUTES`]. A
//! request is checked once it is valid and before anything runs: every root
//! field it selects (through fragments too), of every operation it holds. A
//! root field missing from the table needs `administer`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use application::auth::Permission::{self, *};
use application::auth::Principal;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, ValidationResult, Variables};

use super::errors::{refused, tag_refusal};
use crate::{ApiError, Caller};

/// `(root type, field, permission)`.
pub const ROOT_FIELDS: &[(&str, &str, Permission)] = &[
    ("Query", "definitions", Read),
    ("Query", "definition", Read),
    ("Query", "workflows", Read),
    ("Query", "workflow", Read),
    ("Query", "stats", Read),
    ("Query", "bottlenecks", Read),
    ("Mutation", "deployDefinition", Administer),
    ("Mutation", "startWorkflow", Operate),
    ("Mutation", "pauseWorkflow", Operate),
    ("Mutation", "resumeWorkflow", Operate),
    ("Mutation", "cancelWorkflow", Operate),
    ("Mutation", "signalWorkflow", Operate),
    ("Mutation", "retryTask", Operate),
    ("Mutation", "skipTask", Operate),
    ("Mutation", "approveTask", Approve),
    ("Mutation", "rejectTask", Approve),
    // Workers that report over HTTP act on the tasks they were given.
    ("Mutation", "completeTask", Operate),
    ("Mutation", "failTask", Operate),
    ("Mutation", "heartbeatTask", Operate),
    ("Subscription", "workflowEvents", Read),
    ("Subscription", "events", Read),
];

/// What selecting `field` of `root` needs. Introspection (`__schema`,
/// `__type`, `__typename`) needs only a caller.
pub fn required(root: &str, field: &str) -> Permission {
    if field.starts_with("__") {
        return Read;
    }
    ROOT_FIELDS
        .iter()
        .find(|(r, f, _)| *r == root && *f == field)
        .map_or(Administer, |(_, _, permission)| *permission)
}

/// The caller of a request: its permissions come from the principal, the
/// actor of its commands (and who approvals are checked against) is the
/// caller, as in REST.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    pub(crate) principal: Principal,
    pub(crate) caller: Caller,
}

/// The schema extension that enforces [`ROOT_FIELDS`].
#[derive(Debug)]
pub(crate) struct Access;

impl ExtensionFactory for Access {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AccessCheck::default())
    }
}

/// One per request: the root fields found when parsing, checked once the
/// request proved valid (so an unknown field is reported as such).
#[derive(Debug, Default)]
struct AccessCheck {
    selected: Mutex<Vec<(&'static str, String)>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for AccessCheck {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await.map_err(|mut error| {
            tag_refusal(&mut error);
            error
        })?;
        let mut selected = self.selected.lock().unwrap_or_else(|p| p.into_inner());
        *selected = root_fields(&document);
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let valid = next.run(ctx).await.map_err(|mut errors| {
            errors.iter_mut().for_each(tag_refusal);
            errors
        })?;
        let Some(identity) = ctx.data_opt::<Identity>() else {
            let missing = "an API key or a bearer token is required";
            return Err(vec![refused(ApiError::Unauthorized(missing.into()))]);
        };
        let caller = &identity.principal;
        let selected = self.selected.lock().unwrap_or_else(|p| p.into_inner());
        for (root, field) in selected.iter() {
            let needed = required(root, field);
            if !caller.allows(needed) {
                let what = format!("select `{root}.{field}`");
                return Err(vec![refused(ApiError::Forbidden(crate::auth::refusal(
                    caller, needed, &what,
                )))]);
            }
        }
        Ok(valid)
    }
}

/// Every root field of every operation, through fragment spreads and
/// inline fragments.
fn root_fields(document: &ExecutableDocument) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    for (_, operation) in document.operations.iter() {
        let root = match operation.node.ty {
            OperationType::Query => "Query",
            OperationType::Mutation => "Mutation",
            OperationType::Subscription => "Subscription",
        };
        let mut spread = HashSet::new();
        collect(
            document,
            &operation.node.selection_set.node,
            root,
            &mut spread,
            &mut found,
        );
    }
    found
}

fn collect<'a>(
    document: &'a ExecutableDocument,
    selections: &'a SelectionSet,
    root: &'static str,
    spread: &mut HashSet<&'a str>,
    found: &mut Vec<(&'static str, String)>,
) {
    for selection in &selections.items {
        match &selection.node {
            Selection::Field(field) => found.push((root, field.node.name.node.to_string())),
            Selection::InlineFragment(fragment) => collect(
                document,
                &fragment.node.selection_set.node,
                root,
                spread,
                found,
            ),
            Selection::FragmentSpread(name) => {
                let name = name.node.fragment_name.node.as_str();
                // A fragment spread twice (or in a cycle, which validation
                // refuses) is walked once.
                if spread.insert(name)
                    && let Some(fragment) = document.fragments.get(name)
                {
                    collect(
                        document,
                        &fragment.node.selection_set.node,
                        root,
                        spread,
                        found,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_field_missing_from_the_table_needs_administer() {
        assert_eq!(required("Query", "workflows"), Read);
        assert_eq!(required("Mutation", "approveTask"), Approve);
        assert_eq!(required("Query", "__schema"), Read);
        assert_eq!(required("Mutation", "dropEverything"), Administer);
    }

    #[test]
    fn fragments_at_the_root_are_followed() {
        let document = async_graphql::parser::parse_query(
            "query { ...A ... on Query { stats { successRate } } } \
             fragment A on Query { workflows { items { id } } ...A }",
        )
        .unwrap();
        let fields: Vec<String> = root_fields(&document)
            .into_iter()
            .map(|(root, field)| format!("{root}.{field}"))
            .collect();
        assert_eq!(fields, ["Query.workflows", "Query.stats"]);
    }
}
