//! Deployed definitions: their versions, sources and step graphs.

use application::catalog;
use application::ports::StoredDefinition;
use async_graphql::{ComplexObject, Context, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::WorkflowDefinition;

use crate::graphql::{backend, errors};

/// A definition by name, with every version deployed.
#[derive(Debug, SimpleObject)]
pub(crate) struct Definition {
    name: String,
    latest_version: u32,
    /// The latest version's description.
    description: Option<String>,
    /// Oldest first.
    versions: Vec<DefinitionVersion>,
}

impl Definition {
    /// One per name, from stored definitions ordered by name then version.
    pub(crate) fn group(stored: Vec<StoredDefinition>) -> Vec<Self> {
        let mut definitions: Vec<Self> = Vec::new();
        for definition in stored {
            let version = DefinitionVersion::from(definition);
            match definitions.last_mut() {
                Some(last) if last.name == version.name => {
                    last.latest_version = version.version;
                    last.description = version.description.clone();
                    last.versions.push(version);
                }
                _ => definitions.push(Self {
                    name: version.name.clone(),
                    latest_version: version.version,
                    description: version.description.clone(),
                    versions: vec![version],
                }),
            }
        }
        definitions
    }

    pub(crate) fn is_named(&self, name: &str) -> bool {
        self.name == name
    }
}

#[derive(Debug, SimpleObject)]
#[graphql(complex)]
pub(crate) struct DefinitionVersion {
    name: String,
    version: u32,
    hash: String,
    description: Option<String>,
    created_at: DateTime<Utc>,
    /// As deployed (YAML or JSON).
    source: String,
}

impl From<StoredDefinition> for DefinitionVersion {
    fn from(stored: StoredDefinition) -> Self {
        Self {
            name: stored.name,
            version: stored.version,
            hash: stored.hash,
            description: stored.description,
            created_at: stored.created_at,
            source: stored.source,
        }
    }
}

#[ComplexObject]
impl DefinitionVersion {
    /// Its steps and their dependencies, and the same as a Mermaid diagram.
    async fn graph(&self, ctx: &Context<'_>) -> Result<DefinitionGraph> {
        let definition = backend(ctx)?
            .resolve(&self.name, self.version)
            .await
            .map_err(errors::graphql)?;
        Ok(DefinitionGraph::of(&definition))
    }
}

#[derive(Debug, SimpleObject)]
pub(crate) struct DefinitionGraph {
    steps: Vec<GraphStep>,
    mermaid: String,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct GraphStep {
    id: String,
    #[graphql(name = "type")]
    kind: String,
    /// The steps it waits for.
    needs: Vec<String>,
    /// Whether it has a compensation.
    compensated: bool,
}

impl DefinitionGraph {
    fn of(definition: &WorkflowDefinition) -> Self {
        let steps = catalog::graph(definition)
            .into_iter()
            .map(|step| GraphStep {
                id: step.id,
                kind: step.kind.to_owned(),
                needs: step.needs,
                compensated: step.compensated,
            });
        Self {
            steps: steps.collect(),
            mermaid: domain::definition::diagram::mermaid(definition),
        }
    }
}

/// What a deployment stored.
#[derive(Debug, SimpleObject)]
pub(crate) struct DeployedDefinition {
    pub(crate) name: String,
    pub(crate) version: u32,
    pub(crate) hash: String,
}
