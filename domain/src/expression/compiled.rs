//! A compiled CEL expression (`when:`, and each `${ }` of a template):
//! compiled once when a definition is validated, evaluated against a
//! [`Scope`] that gives it only the variables it reads.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::convert;
use super::cost::{Estimate, MAX_DEGREE};
use super::limits::{COST_BUDGET, MAX_SOURCE_BYTES, MAX_VALUE_BYTES, Shape};
use super::references::References;
use super::scope::Scope;

/// How deep the parser may recurse (brackets, parentheses and arguments
/// inside each other); each level takes a large frame.
const MAX_PARSER_NESTING: u16 = 24;
/// Stack a compilation may need: the parser and the walks over the tree
/// recurse. With less left, it runs on a stack of its own of this size
/// (`compilation_fits_in_its_stack` checks the worst case).
pub(super) const COMPILE_STACK: usize = 16 * 1024 * 1024;
/// Stack the evaluator takes per level of the tree, at most: measured on a
/// debug build (`evaluation_fits_in_its_red_zone`), whose frames are the
/// larger, so a release build has room to spare.
const EVALUATION_STACK_PER_LEVEL: usize = 64 * 1024;

thread_local! {
    /// CEL's standard functions, built once per thread: building them takes
    /// longer than evaluating a typical expression.
    static STANDARD_ENVIRONMENT: Arc<cel::Env> = Arc::new(cel::Env::stdlib());
}

/// A compiled CEL expression together with its source text.
#[derive(Clone)]
pub struct Expression {
    source: Arc<str>,
    tree: Arc<cel::IdedExpr>,
    references: Arc<References>,
    estimate: Arc<Estimate>,
    iterates: bool,
    /// The stack an evaluation may need: with less left, it runs on a
    /// stack of its own.
    red_zone: usize,
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
    /// The expression parses but breaks a limit.
    pub over_limit: bool,
}

impl Expression {
    /// Compiles `source`, refusing it when it breaks a limit of
    /// [`limits`](super::limits): too long, too large, too deep, or with a
    /// cost that grows too fast with its data.
    pub fn compile(source: &str) -> Result<Self, CompileError> {
        if source.len() > MAX_SOURCE_BYTES {
            return Err(CompileError::whole(format!(
                "the expression is {} bytes long, over the limit of {MAX_SOURCE_BYTES}",
                source.len()
            )));
        }
        // Parsing, measuring and (on a refusal) dropping the tree recurse:
        // a tree too deep to walk is measured and dropped on a stack that
        // holds it.
        stacker::maybe_grow(COMPILE_STACK, COMPILE_STACK, || {
            let tree = catch_parser_panic(source)?;
            let shape = Shape::of(&tree);
            if let Some(problem) = shape.problem() {
                return Err(CompileError::whole(problem));
            }
            let estimate = Estimate::of(&tree);
            if estimate.degree() > MAX_DEGREE {
                return Err(CompileError::whole(format!(
                    "the expression iterates too deeply: its cost grows with the power {} of its data's size (at most {MAX_DEGREE})",
                    estimate.degree()
                )));
            }
            let references = References::of(&tree);
            Ok(Self {
                source: source.into(),
                tree: Arc::new(tree),
                references: Arc::new(references),
                estimate: Arc::new(estimate),
                iterates: shape.comprehensions > 0,
                red_zone: (shape.depth + 4) * EVALUATION_STACK_PER_LEVEL,
            })
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn references(&self) -> &References {
        &self.references
    }

    /// Evaluates the expression, unless its estimated cost for the data it
    /// reads is over [`COST_BUDGET`]; a result over [`MAX_VALUE_BYTES`] is
    /// an error too.
    pub fn evaluate(&self, scope: &dyn Scope) -> Result<Value, EvaluationError> {
        let refs = &self.references;
        let cost = self.estimate.cost_at(self.data_weight(scope));
        if cost.is_nan() || cost > COST_BUDGET {
            return Err(self.error(format!(
                "its estimated cost over the data it reads ({cost:.0}) is over the budget of {COST_BUDGET:.0}"
            )));
        }
        let mut context = cel::Context::with_env(STANDARD_ENVIRONMENT.with(Arc::clone));
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
        let value = stacker::maybe_grow(self.red_zone, 2 * self.red_zone, || {
            cel::Value::resolve(&self.tree, &context)
        })
        .map_err(|error| self.error(error.to_string()))?;
        convert::from_cel(&value, MAX_VALUE_BYTES).map_err(|reason| self.error(reason))
    }

    /// The size of the data the expression reads in `scope`, in the
    /// estimate's units.
    pub fn data_weight(&self, scope: &dyn Scope) -> f64 {
        let refs = &self.references;
        refs.paths
            .iter()
            .map(|path| convert::weight_at(scope, refs, path))
            .sum()
    }

    /// The stack an evaluation may need.
    pub fn red_zone(&self) -> usize {
        self.red_zone
    }

    /// The static estimate of its cost and of its result's size.
    pub fn estimate(&self) -> &Estimate {
        &self.estimate
    }

    /// Whether the expression iterates (`all`, `exists`, `map`, ...), so
    /// that a run may take long.
    pub fn iterates(&self) -> bool {
        self.iterates
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

impl CompileError {
    /// A problem with the expression as a whole.
    fn whole(message: String) -> Self {
        Self {
            line: 1,
            column: 1,
            message,
            over_limit: true,
        }
    }

    /// The problem, for a message about `source`: its start only when it
    /// is long.
    pub fn describe(&self, source: &str) -> String {
        let source = source.trim();
        let excerpt = match source.char_indices().nth(60) {
            Some((end, _)) => format!("{}…", &source[..end]),
            None => source.to_owned(),
        };
        if self.over_limit {
            format!("expression `{excerpt}` is refused: {}", self.message)
        } else {
            format!(
                "expression `{excerpt}` does not parse: {} (at {}:{} of the expression)",
                self.message, self.line, self.column
            )
        }
    }
}

/// The CEL parser is generated code; a parser panic on odd input must become
/// an error, not take the process down.
fn catch_parser_panic(source: &str) -> Result<cel::IdedExpr, CompileError> {
    let parser = STANDARD_ENVIRONMENT
        .with(|environment| environment.parser())
        .max_recursion_depth(MAX_PARSER_NESTING);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(source)));
    match outcome {
        Ok(Ok(tree)) => Ok(tree),
        Ok(Err(errors)) => {
            let first = errors.errors.first();
            Err(CompileError {
                line: first.map_or(1, |e| e.pos.0.max(1) as u32),
                column: first.map_or(1, |e| e.pos.1.max(0) as u32 + 1),
                message: first.map_or_else(|| errors.to_string(), |e| e.msg.clone()),
                over_limit: false,
            })
        }
        Err(_) => Err(CompileError {
            line: 1,
            column: 1,
            message: "the expression could not be parsed".to_owned(),
            over_limit: false,
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
