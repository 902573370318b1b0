//! The definitions an engine node knows, by name and version.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use domain::WorkflowDefinition;

use crate::Error;

#[derive(Debug, Default)]
pub struct DefinitionRegistry {
    by_name: RwLock<BTreeMap<String, BTreeMap<u32, Arc<WorkflowDefinition>>>>,
}

/// The rule that a changed definition needs a new version: what is deployed
/// under a name and version (its hash) never changes. [`Error::Invalid`]
/// when `deployed` is not `definition`'s hash.
pub fn unchanged(definition: &WorkflowDefinition, deployed: &str) -> Result<(), Error> {
    if definition.hash == deployed {
        return Ok(());
    }
    Err(Error::Invalid {
        reason: format!(
            "{} version {} is already deployed with other content; give the changed definition a new version",
            definition.name, definition.version
        ),
    })
}

impl DefinitionRegistry {
    /// Adds a definition. The same name and version with other content is
    /// refused: a changed definition needs a new version.
    pub fn register(
        &self,
        definition: WorkflowDefinition,
    ) -> Result<Arc<WorkflowDefinition>, Error> {
        let mut by_name = self
            .by_name
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let versions = by_name.entry(definition.name.clone()).or_default();
        if let Some(existing) = versions.get(&definition.version) {
            unchanged(&definition, &existing.hash)?;
            return Ok(existing.clone());
        }
        let definition = Arc::new(definition);
        versions.insert(definition.version, definition.clone());
        Ok(definition)
    }

    /// Every deployed version of every definition.
    pub fn all(&self) -> Vec<Arc<WorkflowDefinition>> {
        let by_name = self
            .by_name
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        by_name
            .values()
            .flat_map(|versions| versions.values().cloned())
            .collect()
    }

    /// A version of a definition, or its latest when `version` is `None`.
    pub fn get(&self, name: &str, version: Option<u32>) -> Result<Arc<WorkflowDefinition>, Error> {
        let by_name = self
            .by_name
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let versions = by_name.get(name);
        let found = match version {
            Some(version) => versions.and_then(|versions| versions.get(&version)),
            None => versions.and_then(|versions| versions.values().next_back()),
        };
        found.cloned().ok_or_else(|| Error::NotFound {
            what: match version {
                Some(version) => format!("definition {name} version {version}"),
                None => format!("definition {name}"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(version: u32, queue: &str) -> WorkflowDefinition {
        let source = format!(
            "name: order\nversion: {version}\nsteps:\n  a: {{type: task, queue: {queue}}}\n"
        );
        domain::parse_workflow(&source).unwrap()
    }

    #[test]
    fn serves_the_latest_or_a_given_version_and_refuses_changed_content() {
        let registry = DefinitionRegistry::default();
        registry.register(definition(1, "a")).unwrap();
        registry.register(definition(2, "a")).unwrap();
        assert_eq!(registry.get("order", None).unwrap().version, 2);
        assert_eq!(registry.get("order", Some(1)).unwrap().version, 1);
        assert!(
            registry.register(definition(1, "a")).is_ok(),
            "the same content again is fine"
        );
        assert!(matches!(
            registry.register(definition(1, "b")),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            registry.get("nope", None),
            Err(Error::NotFound { .. })
        ));
    }
}
