//! A compiled CEL expression (`when:`, and each `${ }` of a template):
//! compiled once when a definition is validated, evaluated against a
//! [`Scope`] that gives it only the variables it reads.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::convert;
use super::references::References;
use super::scope::Scope;

thread_local! {
    /// CEL's standard functions, built once per thread: building them takes
    /// longer than evaluating a typical expression.
    static STANDARD_ENVIRONMENT: Arc<cel::Env> = Arc::new(cel::Env::stdlib());
}

/// A compiled CEL expression together with its source text.
#[derive(Clone)]
pub struct Expression {
    source: Arc<str>,
    program: Arc<cel::Program>,
    references: Arc<References>,
}

/// Why an expression failed to run; becomes a step failure, never a panic.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expression `{expression}` failed: {reason}")]
pub struct EvaluationError {
    pub expression: String,
    pub reason: String,
}

/// Why an expression failed to compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// 1-based line and column inside the expression text.
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl Expression {
    pub fn compile(source: &str) -> Result<Self, CompileError> {
        let program = catch_parser_panic(source)?;
        let references = References::of(program.expression());
        Ok(Self {
            source: source.into(),
            program: Arc::new(program),
            references: Arc::new(references),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn references(&self) -> &References {
        &self.references
    }

    pub fn evaluate(&self, scope: &dyn Scope) -> Result<Value, EvaluationError> {
        let mut context = cel::Context::with_env(STANDARD_ENVIRONMENT.with(Arc::clone));
        let refs = &self.references;
        if refs.input {
            context.add_variable_from_value("input", convert::to_cel(scope.input()));
        }
        if refs.workflow {
            context.add_variable_from_value("workflow", convert::to_cel(&scope.workflow()));
        }
        if !refs.steps.is_empty() {
            let mut steps = std::collections::HashMap::with_capacity(refs.steps.len());
            for id in &refs.steps {
                if let Some((status, output)) = scope.step(id) {
                    let mut view = std::collections::HashMap::with_capacity(2);
                    view.insert("status".to_owned(), cel::Value::from(status));
                    let output = output.map_or(cel::Value::Null, convert::to_cel);
                    view.insert("output".to_owned(), output);
                    steps.insert(id.clone(), cel::Value::from(view));
                }
            }
            context.add_variable_from_value("steps", cel::Value::from(steps));
        }
        let value = self
            .program
            .execute(&context)
            .map_err(|error| self.error(error.to_string()))?;
        convert::from_cel(&value).map_err(|reason| self.error(reason))
    }

    /// Evaluates a condition; anything but a boolean is an error.
    pub fn evaluate_condition(&self, scope: &dyn Scope) -> Result<bool, EvaluationError> {
        match self.evaluate(scope)? {
            Value::Bool(flag) => Ok(flag),
            other => Err(self.error(format!("expected a boolean, got {other}"))),
        }
    }

    fn error(&self, reason: String) -> EvaluationError {
        EvaluationError {
            expression: self.source.to_string(),
            reason,
        }
    }
}

/// The CEL parser is generated code; a parser panic on odd input must become
/// an error, not take the process down.
fn catch_parser_panic(source: &str) -> Result<cel::Program, CompileError> {
    let outcome = std::panic::catch_unwind(|| cel::Program::compile(source));
    match outcome {
        Ok(Ok(program)) => Ok(program),
        Ok(Err(errors)) => {
            let first = errors.errors.first();
            Err(CompileError {
                line: first.map_or(1, |e| e.pos.0.max(1) as u32),
                column: first.map_or(1, |e| e.pos.1.max(0) as u32 + 1),
                message: first.map_or_else(|| errors.to_string(), |e| e.msg.clone()),
            })
        }
        Err(_) => Err(CompileError {
            line: 1,
            column: 1,
            message: "the expression could not be parsed".to_owned(),
        }),
    }
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expression").field(&self.source).finish()
    }
}

impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expression::scope::Fixture;
    use serde_json::json;

    #[test]
    fn evaluates_conditions_over_input_and_steps() {
        let scope = Fixture(json!({"amount": 1500, "items": [1, 2]}));
        let big = Expression::compile("input.amount > 1000").unwrap();
        assert!(big.evaluate_condition(&scope).unwrap());
        let charged = Expression::compile("steps.charge.status == 'completed'").unwrap();
        assert!(charged.evaluate_condition(&scope).unwrap());
        let sized = Expression::compile("size(steps.charge.output.items) == 2").unwrap();
        assert!(sized.evaluate_condition(&scope).unwrap());
        let named = Expression::compile("workflow.name + '-' + string(workflow.version)").unwrap();
        assert_eq!(named.evaluate(&scope).unwrap(), json!("order-1"));
    }

    #[test]
    fn runtime_errors_name_the_expression_and_the_reason() {
        let scope = Fixture(json!({"amount": 1}));
        let missing = Expression::compile("input.nope > 3").unwrap();
        let error = missing.evaluate_condition(&scope).unwrap_err();
        assert_eq!(error.expression, "input.nope > 3");
        assert!(!error.reason.is_empty());
        let not_bool = Expression::compile("input.amount + 1").unwrap();
        let error = not_bool.evaluate_condition(&scope).unwrap_err();
        assert!(error.reason.contains("expected a boolean"), "{error}");
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let error = Expression::compile("input.amount >").unwrap_err();
        assert_eq!(error.line, 1);
        assert!(error.column >= 1);
        assert!(!error.message.is_empty());
    }
}
