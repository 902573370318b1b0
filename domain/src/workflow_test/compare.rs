//! What differs between a case's expectation and what its run came to, as
//! readable lines: one per differing field, JSON compared path by path.

use std::fmt;

use serde_json::Value;

use super::file::Expectation;
use super::run::Observed;
use crate::definition::Position;

/// One expectation that the run did not meet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// Where the expectation was written.
    pub at: Position,
    /// What differs: `status`, `output.charge_id`, `ran`, …
    pub field: String,
    pub expected: String,
    pub actual: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.field, self.expected, self.actual
        )
    }
}

/// Every way `observed` falls short of `expect`; empty when it meets it.
pub fn differences(expect: &Expectation, observed: &Observed) -> Vec<Difference> {
    let mut found = Vec::new();
    if let Some(status) = &expect.status
        && status.value != observed.status
    {
        let actual = match &observed.stuck {
            Some(stuck) => format!("{} ({stuck})", observed.status),
            None => observed.status.to_string(),
        };
        found.push(Difference {
            at: status.at,
            field: "status".to_owned(),
            expected: status.value.to_string(),
            actual,
        });
    }
    if let Some(output) = &expect.output {
        match &observed.output {
            Some(actual) => compare_json(output.at, "output", &output.value, actual, &mut found),
            None => found.push(Difference {
                at: output.at,
                field: "output".to_owned(),
                expected: output.value.to_string(),
                actual: format!("no output (the workflow is {})", observed.status),
            }),
        }
    }
    let sets = [
        ("ran", &expect.ran, &observed.ran, false),
        ("skipped", &expect.skipped, &observed.skipped, false),
        (
            "compensated",
            &expect.compensated,
            &observed.compensated,
            true,
        ),
    ];
    for (field, expected, actual, ordered) in sets {
        let Some(expected) = expected else { continue };
        let same = if ordered {
            expected.value == *actual
        } else {
            sorted(&expected.value) == sorted(actual)
        };
        if !same {
            found.push(Difference {
                at: expected.at,
                field: field.to_owned(),
                expected: list(&expected.value),
                actual: list_with_changes(&expected.value, actual),
            });
        }
    }
    found
}

fn sorted(steps: &[String]) -> Vec<&str> {
    let mut steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    steps.sort_unstable();
    steps
}

fn list(steps: &[String]) -> String {
    format!("[{}]", steps.join(", "))
}

/// The actual list, then what it lacks and what it has too many of.
fn list_with_changes(expected: &[String], actual: &[String]) -> String {
    let missing: Vec<String> = expected
        .iter()
        .filter(|step| !actual.contains(step))
        .cloned()
        .collect();
    let extra: Vec<String> = actual
        .iter()
        .filter(|step| !expected.contains(step))
        .cloned()
        .collect();
    let mut text = list(actual);
    if !missing.is_empty() {
        text.push_str(&format!(" (missing {})", list(&missing)));
    }
    if !extra.is_empty() {
        text.push_str(&format!(" (unexpected {})", list(&extra)));
    }
    if missing.is_empty() && extra.is_empty() {
        text.push_str(" (same steps, another order)");
    }
    text
}

/// Compares two JSON values, descending into objects and equal-length arrays
/// so a difference names the deepest path where it starts.
fn compare_json(
    at: Position,
    path: &str,
    expected: &Value,
    actual: &Value,
    found: &mut Vec<Difference>,
) {
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => {
            for (key, value) in expected {
                let path = format!("{path}.{key}");
                match actual.get(key) {
                    Some(actual) => compare_json(at, &path, value, actual, found),
                    None => found.push(Difference {
                        at,
                        field: path,
                        expected: value.to_string(),
                        actual: "nothing (no such key)".to_owned(),
                    }),
                }
            }
            for (key, value) in actual {
                if !expected.contains_key(key) {
                    found.push(Difference {
                        at,
                        field: format!("{path}.{key}"),
                        expected: "no such key".to_owned(),
                        actual: value.to_string(),
                    });
                }
            }
        }
        (Value::Array(expected), Value::Array(actual)) if expected.len() == actual.len() => {
            for (index, (expected, actual)) in expected.iter().zip(actual).enumerate() {
                compare_json(at, &format!("{path}[{index}]"), expected, actual, found);
            }
        }
        (Value::Number(expected), Value::Number(actual))
            if expected.as_f64() == actual.as_f64() => {}
        _ if expected != actual => found.push(Difference {
            at,
            field: path.to_owned(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        }),
        _ => {}
    }
}
