//! What expressions and templates may read, and the input schema.

use super::super::model::InputSchema;
use super::super::source::Position;
use super::super::spec::Located;
use super::super::yaml::Node;
use super::{Builder, Reach};
use crate::expression::{Expression, Template};

impl Builder<'_> {
    pub(super) fn template(&mut self, node: &Node, reach: Reach, what: &str) -> Option<Template> {
        let mut found = Vec::new();
        let compiled = Template::compile(node, &mut |at, expression| {
            found.push((at, expression.clone()));
        });
        for (at, expression) in found {
            self.iterates |= expression.iterates();
            self.check_references(&expression, at, reach, what);
        }
        match compiled {
            Ok(template) => Some(template),
            Err(errors) => {
                for error in errors {
                    self.problem(error.at, format!("{what}: {}", error.message));
                }
                None
            }
        }
    }

    pub(super) fn expression(
        &mut self,
        source: &str,
        at: Position,
        reach: Reach,
        what: &str,
    ) -> Option<Expression> {
        match Expression::compile(source) {
            Ok(expression) => {
                self.iterates |= expression.iterates();
                let references = expression.references();
                if references.secrets_dynamic || !references.secrets.is_empty() {
                    self.problem(at, format!("{what}: secrets cannot be read in a condition"));
                }
                self.check_references(&expression, at, reach, what);
                Some(expression)
            }
            Err(error) => {
                self.problem(at, format!("{what}: {}", error.describe(source)));
                None
            }
        }
    }

    pub(super) fn check_references(
        &mut self,
        expression: &Expression,
        at: Position,
        reach: Reach,
        what: &str,
    ) {
        let references = expression.references();
        let source = expression.source().trim();
        for unknown in &references.unknown {
            self.problem(
                at,
                format!("{what}: `{source}` reads `{unknown}`, which is not a variable (variables: input, steps, workflow)"),
            );
        }
        if references.steps_dynamic {
            self.problem(
                at,
                format!("{what}: `{source}` must read steps by id, as steps.<id>"),
            );
        }
        for step in &references.steps {
            let Some(&target) = self.ids.get(step.as_str()) else {
                self.problem(
                    at,
                    format!("{what}: `{source}` reads `steps.{step}`, which is not a step of this workflow"),
                );
                continue;
            };
            let allowed = match reach {
                Reach::Any => true,
                Reach::Upstream(index) => self.ancestors[index].contains(target),
                Reach::SelfAndUpstream(index) => {
                    index == target || self.ancestors[index].contains(target)
                }
            };
            if !allowed {
                let place = match reach {
                    Reach::Upstream(index) | Reach::SelfAndUpstream(index) => {
                        format!("step `{}`", self.names[index])
                    }
                    Reach::Any => String::new(),
                };
                self.problem(
                    at,
                    format!("{what}: `{source}` reads `steps.{step}`, which is not upstream of {place} (add it to `needs`, directly or through another step)"),
                );
            }
        }
    }

    pub(super) fn input_schema(
        &mut self,
        schema: &Located<serde_json::Value>,
    ) -> Option<InputSchema> {
        self.json_schema(schema, "`input.schema`")
    }

    /// Compiles a JSON Schema written at `schema` (`what` names the key).
    pub(super) fn json_schema(
        &mut self,
        schema: &Located<serde_json::Value>,
        what: &str,
    ) -> Option<InputSchema> {
        if let Err(error) = jsonschema::meta::validate(&schema.value) {
            self.problem(
                schema.at,
                format!("{what} is not a valid JSON Schema: {error}"),
            );
            return None;
        }
        match jsonschema::validator_for(&schema.value) {
            Ok(validator) => Some(InputSchema {
                schema: schema.value.clone(),
                validator: std::sync::Arc::new(validator),
            }),
            Err(error) => {
                self.problem(
                    schema.at,
                    format!("{what} is not a valid JSON Schema: {error}"),
                );
                None
            }
        }
    }
}
