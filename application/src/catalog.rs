//! Deployed definitions: parsed and registered in this node's registry, and
//! stored so every node loads them at start and finds ones deployed on
//! another node since.

use std::sync::Arc;

use chrono::Utc;
use domain::WorkflowDefinition;
use domain::definition::Problems;

use crate::Error;
use crate::definitions::{DefinitionRegistry, unchanged};
use crate::ports::{DefinitionStore, ScheduleStore, StoredDefinition};
use crate::schedules;

/// Why a deployment was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The source is not a valid definition: every problem, with positions.
    #[error("invalid definition ({} problems)", .0.len())]
    Invalid(Problems),
    #[error(transparent)]
    Refused(#[from] Error),
}

/// Validates, stores and registers a definition from its source (YAML or JSON),
/// and stores the schedules it declares.
pub async fn deploy(
    registry: &DefinitionRegistry,
    store: &(impl DefinitionStore + ScheduleStore),
    source: &str,
) -> Result<Arc<WorkflowDefinition>, DeployError> {
    let definition = domain::parse_workflow(source).map_err(DeployError::Invalid)?;
    if let Ok(existing) = registry.get(&definition.name, Some(definition.version)) {
        unchanged(&definition, &existing.hash)?;
    }
    let stored = store
        .save_definition(&StoredDefinition {
            name: definition.name.clone(),
            version: definition.version,
            hash: definition.hash.clone(),
            description: definition.description.clone(),
            source: source.to_owned(),
            created_at: Utc::now(),
        })
        .await?;
    unchanged(&definition, &stored)?;
    schedules::declare(store, &definition, Utc::now()).await?;
    Ok(registry.register(definition)?)
}

/// Registers every stored definition; returns how many.
pub async fn load_stored(
    registry: &DefinitionRegistry,
    store: &impl DefinitionStore,
) -> Result<usize, Error> {
    let stored = store.definitions().await?;
    for definition in &stored {
        registry.register(parse_stored(definition)?)?;
    }
    Ok(stored.len())
}

/// A definition from the registry, or, when another node deployed it since
/// this one started, from the store (and then registered here).
pub async fn resolve(
    registry: &DefinitionRegistry,
    store: &impl DefinitionStore,
    name: &str,
    version: u32,
) -> Result<Arc<WorkflowDefinition>, Error> {
    if let Ok(found) = registry.get(name, Some(version)) {
        return Ok(found);
    }
    match store.definition(name, version).await? {
        Some(stored) => registry.register(parse_stored(&stored)?),
        None => Err(Error::NotFound {
            what: format!("definition {name} version {version}"),
        }),
    }
}

/// Every stored version of a definition, oldest first; [`Error::NotFound`]
/// when none has this name.
pub async fn versions(
    store: &impl DefinitionStore,
    name: &str,
) -> Result<Vec<StoredDefinition>, Error> {
    let versions: Vec<StoredDefinition> = store
        .definitions()
        .await?
        .into_iter()
        .filter(|definition| definition.name == name)
        .collect();
    if versions.is_empty() {
        return Err(Error::NotFound {
            what: format!("definition {name}"),
        });
    }
    Ok(versions)
}

/// One version as stored (its source) and as this node runs it.
pub async fn version(
    registry: &DefinitionRegistry,
    store: &impl DefinitionStore,
    name: &str,
    version: u32,
) -> Result<(StoredDefinition, Arc<WorkflowDefinition>), Error> {
    let stored = store
        .definition(name, version)
        .await?
        .ok_or_else(|| Error::NotFound {
            what: format!("definition {name} version {version}"),
        })?;
    Ok((stored, resolve(registry, store, name, version).await?))
}

/// A step of a definition's graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphStep {
    pub id: String,
    /// Its type (`task`, `http`, ...).
    pub kind: &'static str,
    /// The ids of the steps it needs.
    pub needs: Vec<String>,
    /// Whether it has a `compensate`.
    pub compensated: bool,
}

/// The steps of a definition and what each needs, in the definition's order.
pub fn graph(definition: &WorkflowDefinition) -> Vec<GraphStep> {
    let id = |index: usize| definition.steps[index].id.as_str().to_owned();
    (definition.steps.iter())
        .map(|step| GraphStep {
            id: step.id.as_str().to_owned(),
            kind: step.kind.name(),
            needs: step.needs.iter().map(|&need| id(need)).collect(),
            compensated: step.compensate.is_some(),
        })
        .collect()
}

fn parse_stored(stored: &StoredDefinition) -> Result<WorkflowDefinition, Error> {
    domain::parse_workflow(&stored.source).map_err(|problems| Error::Invalid {
        reason: format!(
            "stored definition {} version {} no longer parses: {}",
            stored.name,
            stored.version,
            problems.render("definition").trim_end()
        ),
    })
}
