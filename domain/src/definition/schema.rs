//! The JSON Schema of the DSL, generated from the spec types, for editors
//! (yaml-language-server) and for `docs/workflow.schema.json`.

use std::borrow::Cow;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::spec::{
    ApprovalSpec, CommonStepSpec, CompensationSpec, DurationSpec, FailSpec, HttpSpec, NoopSpec,
    RetrySpec, SignalSpec, StepSpec, TaskSpec, WaitSpec, WorkflowSpec,
};

/// The schema of a workflow file, draft-07 so that editors understand it.
pub fn workflow_schema() -> Value {
    let generator = SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<WorkflowSpec>();
    schema.to_value()
}

/// The schema as checked in under docs/, pretty-printed with a final newline.
pub fn workflow_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&workflow_schema()).unwrap_or_default();
    text.push('\n');
    text
}

fn inline<T: JsonSchema>(generator: &mut SchemaGenerator) -> Map<String, Value> {
    match T::json_schema(generator).to_value() {
        Value::Object(object) => object,
        _ => Map::new(),
    }
}

/// One object schema per `type`, holding the shared keys and that type's own.
fn variant(
    type_name: &str,
    shared: &Map<String, Value>,
    own: Map<String, Value>,
    description: Option<&str>,
) -> Value {
    let mut properties = shared
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(Value::Object(own_properties)) = own.get("properties") {
        properties.extend(own_properties.clone());
    }
    properties.insert("type".to_owned(), json!({ "const": type_name }));
    let mut required = vec![json!("type")];
    if let Some(Value::Array(own_required)) = own.get("required") {
        required.extend(own_required.iter().cloned());
    }
    let mut schema = json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    });
    let description = description.map(str::to_owned).or_else(|| {
        own.get("description")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    if let Some(description) = description {
        schema["description"] = json!(description);
    }
    schema
}

fn one_of(variants: Vec<Value>, type_names: &[&str]) -> Schema {
    let schema = json!({
        "type": "object",
        "required": ["type"],
        "properties": { "type": { "enum": type_names } },
        "oneOf": variants,
    });
    Schema::try_from(schema).unwrap_or_default()
}

impl JsonSchema for StepSpec {
    fn schema_name() -> Cow<'static, str> {
        "Step".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let shared = inline::<CommonStepSpec>(generator);
        let variants = vec![
            variant("task", &shared, inline::<TaskSpec>(generator), None),
            variant("http", &shared, inline::<HttpSpec>(generator), None),
            variant("approval", &shared, inline::<ApprovalSpec>(generator), None),
            variant("wait", &shared, inline::<WaitSpec>(generator), None),
            variant("noop", &shared, inline::<NoopSpec>(generator), None),
            variant("fail", &shared, inline::<FailSpec>(generator), None),
            variant("signal", &shared, inline::<SignalSpec>(generator), None),
        ];
        one_of(
            variants,
            &["task", "http", "approval", "wait", "noop", "fail", "signal"],
        )
    }
}

impl JsonSchema for CompensationSpec {
    fn schema_name() -> Cow<'static, str> {
        "Compensation".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let retry = generator.subschema_for::<Option<RetrySpec>>();
        let timeout = generator.subschema_for::<Option<DurationSpec>>();
        let shared: Map<String, Value> = json!({
            "properties": { "retry": retry, "timeout": timeout }
        })
        .as_object()
        .cloned()
        .unwrap_or_default();
        let variants = vec![
            variant(
                "task",
                &shared,
                inline::<TaskSpec>(generator),
                Some("Undo with a task."),
            ),
            variant(
                "http",
                &shared,
                inline::<HttpSpec>(generator),
                Some("Undo with an HTTP call."),
            ),
        ];
        one_of(variants, &["task", "http"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_type_lists_the_shared_keys_and_its_own() {
        let schema = workflow_schema();
        let text = schema.to_string();
        for key in [
            "needs",
            "when",
            "join",
            "compensate",
            "queue",
            "request",
            "approvers",
        ] {
            assert!(text.contains(&format!("\"{key}\"")), "schema lacks {key}");
        }
    }
}
