//! A test file for a workflow definition (`workflows/tests/NAME.test.yaml`):
//! the definition it tests and its cases, each an input, the scripted
//! outcome of the steps and what the run must come to. Read with the
//! position of every value, so a mistake is reported as `file:line:col`.

use serde_json::Value;

use crate::definition::read::{Read, Reader};
use crate::definition::spec::Located;
use crate::definition::yaml::{Node, NodeValue, ReadLimits, read_yaml};
use crate::definition::{Position, Problems};
use crate::instance::InstanceStatus;

/// One test file.
#[derive(Clone, Debug)]
pub struct TestFile {
    /// The name of the definition under test.
    pub workflow: Located<String>,
    /// Its version; the newest one found when absent.
    pub version: Option<Located<u32>>,
    pub cases: Vec<TestCase>,
}

/// One run of the definition and what it must come to.
#[derive(Clone, Debug)]
pub struct TestCase {
    pub at: Position,
    pub name: String,
    pub input: Value,
    /// What each step does when it runs, by step id.
    pub steps: Vec<(Located<String>, Script)>,
    /// Signals sent right after the start, before any step runs: `(name, payload)`.
    pub signals: Vec<(Located<String>, Value)>,
    /// What each compensation does; an unscripted one succeeds.
    pub compensations: Vec<(Located<String>, Script)>,
    pub expect: Expectation,
}

impl TestCase {
    pub fn step_script(&self, step: &str) -> Option<&Script> {
        find(&self.steps, step)
    }

    pub fn compensation_script(&self, step: &str) -> Option<&Script> {
        find(&self.compensations, step)
    }
}

fn find<'a>(scripts: &'a [(Located<String>, Script)], step: &str) -> Option<&'a Script> {
    scripts
        .iter()
        .find(|(id, _)| id.value == step)
        .map(|(_, script)| script)
}

/// The outcome of each attempt in turn; the last one repeats.
#[derive(Clone, Debug, PartialEq)]
pub struct Script {
    pub attempts: Vec<Outcome>,
}

impl Script {
    /// The outcome of `attempt` (1-based).
    pub fn outcome(&self, attempt: u32) -> &Outcome {
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        let last = self.attempts.len() - 1;
        &self.attempts[index.min(last)]
    }
}

/// What one attempt of a step does.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Completes with this output.
    Complete(Value),
    /// Fails; a retryable failure is retried by the step's policy.
    Fail { message: String, retryable: bool },
    /// Never answers: the step's deadline decides.
    TimeOut,
    /// An approval granted (`by` defaults to an actor the step accepts).
    Approve {
        by: Option<String>,
        comment: Option<String>,
    },
    Reject {
        by: Option<String>,
        comment: Option<String>,
    },
    /// The signal a `signal` step waits for arrives with this payload.
    Signal(Value),
}

/// What a run must come to; an absent key is not checked.
#[derive(Clone, Debug, Default)]
pub struct Expectation {
    pub status: Option<Located<InstanceStatus>>,
    pub output: Option<Located<Value>>,
    /// Every step that ran (was scheduled at least once), in any order.
    pub ran: Option<Located<Vec<String>>>,
    /// Every step that was skipped, in any order.
    pub skipped: Option<Located<Vec<String>>>,
    /// The steps undone, in the order their compensations completed.
    pub compensated: Option<Located<Vec<String>>>,
}

const OUTCOME_KEYS: &[&str] = &[
    "output",
    "fail",
    "retryable",
    "timeout",
    "approve",
    "reject",
    "signal",
];

/// Reads a test file, reporting every problem at once.
pub fn read_test_file(source: &str) -> Result<TestFile, Problems> {
    let node = read_yaml(source, ReadLimits::default())?;
    let mut reader = Reader::default();
    let file = read_file(&node, &mut reader);
    match (Problems::from_vec(reader.problems), file) {
        (None, Some(file)) => Ok(file),
        (Some(problems), _) => Err(problems),
        (None, None) => Err(Problems::one(node.at, "a test file must be a mapping")),
    }
}

fn read_file(node: &Node, reader: &mut Reader) -> Option<TestFile> {
    let mut fields = reader.mapping(node, "a test file")?;
    let workflow = fields.required("workflow", node.at, "a test file", reader);
    let version = fields.optional("version", reader);
    let cases = match fields.get("tests") {
        Some(tests) => read_cases(tests, reader),
        None => {
            reader.problem(node.at, "a test file needs `tests`");
            None
        }
    };
    fields.finish(&["workflow", "version", "tests"], "a test file", reader);
    Some(TestFile {
        workflow: workflow?,
        version,
        cases: cases?,
    })
}

fn read_cases(node: &Node, reader: &mut Reader) -> Option<Vec<TestCase>> {
    let NodeValue::Sequence(items) = &node.value else {
        reader.problem(
            node.at,
            format!("`tests` must be a list of tests, not {}", node.kind()),
        );
        return None;
    };
    if items.is_empty() {
        reader.problem(node.at, "`tests` needs at least one test");
    }
    let cases: Vec<Option<TestCase>> = items.iter().map(|item| read_case(item, reader)).collect();
    cases.into_iter().collect()
}

fn read_case(node: &Node, reader: &mut Reader) -> Option<TestCase> {
    let mut fields = reader.mapping(node, "a test")?;
    let name: Option<String> = fields.required("name", node.at, "a test", reader);
    let input = fields.optional("input", reader).unwrap_or(Value::Null);
    let steps = fields
        .get("steps")
        .map(|steps| read_scripts(steps, "steps", reader));
    let signals = fields
        .get("signals")
        .map(|signals| read_signals(signals, reader));
    let compensations = fields
        .get("compensations")
        .map(|steps| read_scripts(steps, "compensations", reader));
    let expect = match fields.get("expect") {
        Some(expect) => read_expectation(expect, reader),
        None => {
            reader.problem(node.at, "a test needs `expect`");
            None
        }
    };
    fields.finish(
        &[
            "name",
            "input",
            "signals",
            "steps",
            "compensations",
            "expect",
        ],
        "a test",
        reader,
    );
    Some(TestCase {
        at: node.at,
        name: name?,
        input,
        steps: steps.unwrap_or_default(),
        signals: signals.unwrap_or_default(),
        compensations: compensations.unwrap_or_default(),
        expect: expect?,
    })
}

fn read_scripts(node: &Node, key: &str, reader: &mut Reader) -> Vec<(Located<String>, Script)> {
    let NodeValue::Mapping(entries) = &node.value else {
        reader.problem(
            node.at,
            format!(
                "`{key}` must be a mapping of step id to outcome, not {}",
                node.kind()
            ),
        );
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|(step, script)| {
            let script = read_script(script, &step.name, reader)?;
            let id = Located {
                at: step.at,
                value: step.name.clone(),
            };
            Some((id, script))
        })
        .collect()
}

/// `signals:`, a list of `{ name, payload }`.
fn read_signals(node: &Node, reader: &mut Reader) -> Vec<(Located<String>, Value)> {
    let NodeValue::Sequence(items) = &node.value else {
        reader.problem(
            node.at,
            format!(
                "`signals` must be a list of `{{ name, payload }}`, not {}",
                node.kind()
            ),
        );
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let mut fields = reader.mapping(item, "a signal")?;
            let name = fields.required("name", item.at, "a signal", reader);
            let payload = fields.optional("payload", reader).unwrap_or(Value::Null);
            fields.finish(&["name", "payload"], "a signal", reader);
            Some((name?, payload))
        })
        .collect()
}

/// One outcome for every attempt, or `attempts:`, a list of them.
fn read_script(node: &Node, step: &str, reader: &mut Reader) -> Option<Script> {
    let what = format!("the outcome of `{step}`");
    if let NodeValue::Mapping(entries) = &node.value
        && let [(key, attempts)] = entries.as_slice()
        && key.name == "attempts"
    {
        let NodeValue::Sequence(items) = &attempts.value else {
            reader.problem(attempts.at, "`attempts` must be a list of outcomes");
            return None;
        };
        if items.is_empty() {
            reader.problem(attempts.at, "`attempts` needs at least one outcome");
        }
        let outcomes: Vec<Option<Outcome>> = items
            .iter()
            .map(|item| read_outcome(item, &what, reader))
            .collect();
        let attempts: Option<Vec<Outcome>> = outcomes.into_iter().collect();
        return attempts
            .filter(|attempts| !attempts.is_empty())
            .map(|attempts| Script { attempts });
    }
    read_outcome(node, &what, reader).map(|outcome| Script {
        attempts: vec![outcome],
    })
}

fn read_outcome(node: &Node, what: &str, reader: &mut Reader) -> Option<Outcome> {
    let mut fields = reader.mapping(node, what)?;
    let present: Vec<&str> = ["output", "fail", "timeout", "approve", "reject", "signal"]
        .into_iter()
        .filter(|key| fields.has(key))
        .collect();
    let outcome = match present.as_slice() {
        ["output"] => fields.optional("output", reader).map(Outcome::Complete),
        ["fail"] => {
            let message = fields.optional("fail", reader);
            let retryable = fields.optional("retryable", reader).unwrap_or(false);
            message.map(|message| Outcome::Fail { message, retryable })
        }
        ["timeout"] => match fields.optional::<bool>("timeout", reader) {
            Some(true) => Some(Outcome::TimeOut),
            Some(false) => {
                reader.problem(node.at, "`timeout: false` scripts nothing; leave it out");
                None
            }
            None => None,
        },
        ["approve"] => fields.get("approve").and_then(|decision| {
            read_decision(decision, reader).map(|(by, comment)| Outcome::Approve { by, comment })
        }),
        ["signal"] => fields.optional("signal", reader).map(Outcome::Signal),
        ["reject"] => fields.get("reject").and_then(|decision| {
            read_decision(decision, reader).map(|(by, comment)| Outcome::Reject { by, comment })
        }),
        _ => {
            for key in &present {
                fields.get(key);
            }
            reader.problem(
                node.at,
                format!(
                    "{what} needs exactly one of `output`, `fail`, `timeout`, `approve`, `reject`, `signal` (or `attempts:`, a list of them)"
                ),
            );
            None
        }
    };
    fields.finish(OUTCOME_KEYS, what, reader);
    outcome
}

/// `approve: true`, or `approve: { by: NAME, comment: TEXT }`.
type Decision = (Option<String>, Option<String>);

fn read_decision(node: &Node, reader: &mut Reader) -> Option<Decision> {
    if let NodeValue::Bool(true) = node.value {
        return Some((None, None));
    }
    let mut fields = reader.mapping(node, "a decision (or `true`)")?;
    let by = fields.optional("by", reader);
    let comment = fields.optional("comment", reader);
    fields.finish(&["by", "comment"], "a decision", reader);
    Some((by, comment))
}

fn read_expectation(node: &Node, reader: &mut Reader) -> Option<Expectation> {
    let mut fields = reader.mapping(node, "`expect`")?;
    let status = fields.get("status").and_then(|status| {
        let name: Located<String> = Located::read(status, "status", reader)?;
        match name.value.parse::<InstanceStatus>() {
            Ok(value) => Some(Located {
                at: name.at,
                value,
            }),
            Err(error) => {
                reader.problem(
                    name.at,
                    format!(
                        "{error}; expected one of: completed, failed, compensated, compensation_failed, cancelled, running, paused, compensating"
                    ),
                );
                None
            }
        }
    });
    let expectation = Expectation {
        status,
        output: fields.optional("output", reader),
        ran: fields.optional("ran", reader),
        skipped: fields.optional("skipped", reader),
        compensated: fields.optional("compensated", reader),
    };
    fields.finish(
        &["status", "output", "ran", "skipped", "compensated"],
        "`expect`",
        reader,
    );
    Some(expectation)
}
