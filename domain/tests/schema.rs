//! The JSON Schema checked in under docs/ is the one the spec types generate,
//! and every example workflow satisfies it.

use domain::definition::schema::{workflow_schema, workflow_schema_text};

const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/workflow.schema.json");

#[test]
fn checked_in_schema_is_current() {
    let checked_in = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
    if std::env::var_os("DISTORCH_BLESS").is_some() {
        std::fs::write(CHECKED_IN, workflow_schema_text()).expect("write the schema");
        return;
    }
    assert!(
        checked_in == workflow_schema_text(),
        "docs/workflow.schema.json is stale: run `DISTORCH_BLESS=1 cargo test -p domain --test schema` (or `distorch schema > docs/workflow.schema.json`)"
    );
}

#[test]
fn example_workflows_satisfy_the_schema() {
    let validator = jsonschema::validator_for(&workflow_schema()).expect("the schema compiles");
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../workflows");
    let mut checked = 0;
    for entry in std::fs::read_dir(folder).expect("workflows/ exists") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let node = domain::definition::yaml::read_yaml(&source, Default::default()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&node.to_json())
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        checked += 1;
    }
    assert!(checked > 0);
}

#[test]
fn the_schema_refuses_what_the_validator_refuses() {
    let validator = jsonschema::validator_for(&workflow_schema()).expect("the schema compiles");
    let bad = serde_json::json!({
        "name": "x", "version": 1,
        "steps": { "a": { "type": "task", "queue": "q", "retries": 3 } }
    });
    assert!(
        !validator.is_valid(&bad),
        "unknown step keys must be refused"
    );
    let good = serde_json::json!({
        "name": "x", "version": 1,
        "steps": { "a": { "type": "task", "queue": "q", "retry": { "max_attempts": 3 } } }
    });
    assert!(validator.is_valid(&good));
}
