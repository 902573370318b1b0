//! Property test of the expression evaluator: any expression, built at
//! random from CEL's operators, literals, the input and nested
//! comprehensions, either is refused when compiled (over a limit, or not
//! valid) or evaluates to a value or an error. It never aborts the process
//! (a stack overflow would end this test binary), never panics, runs only
//! when its estimated cost over its data is within the budget, and returns
//! a value no larger than its estimated size and the size limit.

use domain::expression::limits::{COST_BUDGET, MAX_VALUE_BYTES, json_bytes};
use domain::expression::{Expression, Scope, weight};
use proptest::prelude::*;
use serde_json::{Value, json};

struct Input(Value);

impl Scope for Input {
    fn input(&self) -> &Value {
        &self.0
    }
    fn step(&self, _: &str) -> Option<(&'static str, Option<&Value>)> {
        None
    }
    fn workflow(&self) -> Value {
        json!({"id": "w", "name": "n", "version": 1})
    }
}

const VARIABLES: [&str; 3] = ["x", "y", "z"];

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        (-5i64..100).prop_map(|n| n.to_string()),
        Just("'ab'".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just("input.list".to_owned()),
        Just("input.words".to_owned()),
        Just("input.text".to_owned()),
        Just("input.n".to_owned()),
        Just("input".to_owned()),
        Just("workflow.name".to_owned()),
        prop::sample::select(VARIABLES.to_vec()).prop_map(str::to_owned),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    leaf().prop_recursive(6, 48, 4, |inner| {
        let operator = prop::sample::select(vec![
            "+", "-", "*", "/", "%", "==", "!=", "<", ">=", "&&", "||", "in",
        ]);
        let macro_name = prop::sample::select(vec!["all", "exists", "exists_one", "map", "filter"]);
        let function = prop::sample::select(vec!["size", "string", "int", "type"]);
        let method = prop::sample::select(vec!["contains", "startsWith", "endsWith", "matches"]);
        prop_oneof![
            (inner.clone(), operator, inner.clone())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            (inner.clone(), inner.clone()).prop_map(|(k, v)| format!("{{{k}: {v}}}")),
            (inner.clone(), inner.clone()).prop_map(|(a, i)| format!("{a}[{i}]")),
            (function, inner.clone()).prop_map(|(f, a)| format!("{f}({a})")),
            (inner.clone(), method, inner.clone()).prop_map(|(a, m, b)| format!("{a}.{m}({b})")),
            (
                inner.clone(),
                macro_name,
                prop::sample::select(VARIABLES.to_vec()),
                inner
            )
                .prop_map(|(range, name, var, body)| format!("{range}.{name}({var}, {body})")),
        ]
    })
}

fn input() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(-3i64..3, 0..3000),
        prop::collection::vec("[a-z]{0,6}", 0..200),
        "[a-z.*]{0,40}",
        0usize..30_000,
        any::<i64>(),
    )
        .prop_map(|(list, words, text, repeat, n)| {
            json!({"list": list, "words": words, "text": text.repeat(repeat), "n": n})
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(512)
    })]

    #[test]
    fn any_expression_within_the_limits_runs_within_the_budget(
        source in expression(),
        input in input(),
    ) {
        let Ok(expression) = Expression::compile(&source) else {
            return Ok(());
        };
        let scope = Input(input);
        let data = expression.data_weight(&scope);
        let cost = expression.estimate().cost_at(data);
        match expression.evaluate(&scope) {
            Ok(value) => {
                prop_assert!(cost <= COST_BUDGET, "{source} ran at an estimated {cost}");
                prop_assert!(json_bytes(&value) <= MAX_VALUE_BYTES + 64);
                let size = expression.estimate().size.at(data);
                prop_assert!(
                    weight(&value) <= size,
                    "{source}: a result of {} values, estimated at most {size}",
                    weight(&value)
                );
            }
            Err(error) => prop_assert!(!error.reason.is_empty()),
        }
    }
}
