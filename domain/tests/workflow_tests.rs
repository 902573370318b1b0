//! The runner of `distorch test`: test files read with positions, cases run
//! through the pure engine, and a failing expectation reported as what
//! differed.

use std::sync::Arc;

use domain::WorkflowDefinition;
use domain::instance::InstanceStatus;
use domain::parse_workflow;
use domain::testkit::histories::LIFECYCLE;
use domain::workflow_test::{RunError, Verdict, read_test_file, run_case, unknown_steps, verdict};
use serde_json::json;

fn lifecycle() -> Arc<WorkflowDefinition> {
    Arc::new(parse_workflow(LIFECYCLE).expect("LIFECYCLE is valid"))
}

/// The verdicts of every case of a test file of [`LIFECYCLE`].
fn verdicts(source: &str) -> Vec<Verdict> {
    let file = read_test_file(source).unwrap_or_else(|problems| panic!("{problems}"));
    let definition = lifecycle();
    file.cases
        .iter()
        .map(|case| verdict(&definition, case))
        .collect()
}

#[test]
fn a_case_that_meets_its_expectation_passes() {
    let verdicts = verdicts(
        r#"
workflow: lifecycle
tests:
  - name: approved
    steps:
      a: { output: { id: 1 } }
      b: { approve: true }
      c: { output: { done: true } }
    expect:
      status: completed
      output: { c: { done: true } }
      ran: [a, b, c]
      skipped: []
      compensated: []
"#,
    );
    assert_eq!(verdicts, [Verdict::Passed]);
}

#[test]
fn a_failing_expectation_reports_each_difference_with_its_position() {
    let verdicts = verdicts(
        r#"
workflow: lifecycle
tests:
  - name: rejected
    steps:
      a: { output: { id: 1 } }
      b: { reject: { comment: no } }
    expect:
      status: completed
      output: { c: { done: true } }
      ran: [a, b, c]
      compensated: [a]
"#,
    );
    let [Verdict::Failed(differences)] = verdicts.as_slice() else {
        panic!("expected one failure, got {verdicts:?}");
    };
    let lines: Vec<String> = differences
        .iter()
        .map(|difference| format!("{}: {difference}", difference.at))
        .collect();
    assert_eq!(
        lines,
        [
            "9:15: status: expected completed, got compensated",
            "10:15: output: expected {\"c\":{\"done\":true}}, got no output (the workflow is compensated)",
            "11:12: ran: expected [a, b, c], got [a, b] (missing [c])",
        ]
    );
}

#[test]
fn the_compensation_order_is_compared_in_order() {
    let definition = Arc::new(
        parse_workflow(
            r#"
name: two
version: 1
defaults: { retry: { max_attempts: 1 } }
steps:
  first: { type: task, queue: q, compensate: { type: task, queue: q } }
  second: { type: task, queue: q, needs: [first], compensate: { type: task, queue: q } }
  third: { type: fail, message: boom, needs: [second] }
"#,
        )
        .unwrap(),
    );
    let file = read_test_file(
        r#"
workflow: two
tests:
  - name: undone
    steps: { first: { output: 1 }, second: { output: 2 } }
    expect: { status: compensated, compensated: [first, second] }
"#,
    )
    .unwrap();
    let Verdict::Failed(differences) = verdict(&definition, &file.cases[0]) else {
        panic!("the order is wrong on purpose");
    };
    assert_eq!(
        differences[0].to_string(),
        "compensated: expected [first, second], got [second, first] (same steps, another order)"
    );
}

#[test]
fn an_unscripted_step_breaks_the_run_and_names_the_step() {
    let verdicts = verdicts(
        r#"
workflow: lifecycle
tests:
  - name: forgot b
    steps: { a: { output: 1 } }
    expect: { status: completed }
"#,
    );
    assert_eq!(
        verdicts,
        [Verdict::Broken(RunError::NotScripted { step: "b".into() })]
    );
}

#[test]
fn retries_follow_the_attempts_in_turn_and_a_timeout_lets_the_deadline_decide() {
    let definition = Arc::new(
        parse_workflow(
            r#"
name: retried
version: 1
defaults: { retry: { max_attempts: 3, initial: 1s } }
steps:
  flaky: { type: task, queue: q, timeout: 1m }
"#,
        )
        .unwrap(),
    );
    let file = read_test_file(
        r#"
workflow: retried
tests:
  - name: third time lucky
    steps:
      flaky:
        attempts:
          - { fail: busy, retryable: true }
          - { timeout: true }
          - { output: { ok: true } }
    expect: { status: completed, output: { flaky: { ok: true } } }
"#,
    )
    .unwrap();
    let observed = run_case(definition.clone(), &file.cases[0]).unwrap();
    assert_eq!(observed.status, InstanceStatus::Completed);
    assert_eq!(observed.output, Some(json!({"flaky": {"ok": true}})));
    assert!(verdict(&definition, &file.cases[0]).passed());
}

#[test]
fn a_run_that_cannot_end_reports_what_it_waits_for() {
    let verdicts = verdicts(
        r#"
workflow: lifecycle
tests:
  - name: b never decided
    steps: { a: { output: 1 }, b: { timeout: true } }
    expect: { status: completed }
"#,
    );
    let [Verdict::Failed(differences)] = verdicts.as_slice() else {
        panic!("{verdicts:?}");
    };
    assert_eq!(
        differences[0].actual,
        "running (the instance stopped running, waiting for b (waiting) (a step scripted `timeout: true` without a `timeout:` never ends))"
    );
}

#[test]
fn a_refused_input_breaks_the_run() {
    let definition = Arc::new(
        parse_workflow(
            r#"
name: typed
version: 1
input: { schema: { type: object, required: [id] } }
steps: { a: { type: noop } }
"#,
        )
        .unwrap(),
    );
    let file = read_test_file(
        "workflow: typed\ntests: [{ name: no id, input: {}, expect: { status: completed } }]\n",
    )
    .unwrap();
    assert!(matches!(
        verdict(&definition, &file.cases[0]),
        Verdict::Broken(RunError::InputRefused(_))
    ));
}

#[test]
fn mistakes_in_a_test_file_are_reported_with_their_positions() {
    let problems = read_test_file(
        r#"
workflow: lifecycle
tests:
  - name: bad
    steps:
      a: { output: 1, fail: both }
      b: { aprove: true }
    expect: { status: done, outptu: 1 }
"#,
    )
    .unwrap_err();
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "6:10: the outcome of `a` needs exactly one of `output`, `fail`, `timeout`, `approve`, `reject`, `signal` (or `attempts:`, a list of them)",
            "7:10: the outcome of `b` needs exactly one of `output`, `fail`, `timeout`, `approve`, `reject`, `signal` (or `attempts:`, a list of them)",
            "7:12: unknown key `aprove` in the outcome of `b` (did you mean `approve`?); expected one of: output, fail, retryable, timeout, approve, reject, signal",
            "8:23: `done` is not an instance status; expected one of: completed, failed, compensated, compensation_failed, cancelled, running, paused, compensating",
            "8:29: unknown key `outptu` in `expect` (did you mean `output`?); expected one of: status, output, ran, skipped, compensated",
        ]
    );
}

#[test]
fn steps_the_definition_lacks_are_reported_where_they_are_named() {
    let file = read_test_file(
        r#"
workflow: lifecycle
tests:
  - name: typo
    steps: { a: { output: 1 }, bee: { approve: true } }
    expect: { skipped: [see] }
"#,
    )
    .unwrap();
    let problems: Vec<String> = unknown_steps(&file.cases[0], &lifecycle())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        [
            "5:32: `bee` is not a step of lifecycle v1; its steps are: a, b, c",
            "6:24: `see` is not a step of lifecycle v1; its steps are: a, b, c",
        ]
    );
}

#[test]
fn signals_are_scripted_as_outcomes_or_sent_before_the_step_is_reached() {
    let definition = Arc::new(
        parse_workflow(
            r#"
name: waits
version: 1
steps:
  first: { type: signal, name: go }
  second: { type: signal, name: later, needs: [first] }
output: { first: "${ steps.first.output }", second: "${ steps.second.output }" }
"#,
        )
        .unwrap(),
    );
    let file = read_test_file(
        r#"
workflow: waits
tests:
  - name: one scripted, one sent early
    signals: [{ name: later, payload: early }]
    steps: { first: { signal: { n: 1 } } }
    expect: { status: completed, output: { first: { n: 1 }, second: early } }
"#,
    )
    .unwrap();
    assert_eq!(verdict(&definition, &file.cases[0]), Verdict::Passed);
}
