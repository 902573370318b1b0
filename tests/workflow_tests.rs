//! `distorch test` through the real binary: the examples' tests pass, a
//! wrong expectation is reported as what differed with exit code 1, and
//! `--format junit` prints JUnit XML.

mod support;

use std::path::Path;
use std::process::Output;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `distorch ARGS` in the repository's root.
fn distorch(args: &[&str]) -> Output {
    support::distorch(args)
        .current_dir(root())
        .output()
        .expect("the distorch binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn every_example_has_tests_and_they_pass() {
    let output = distorch(&["test"]);
    let text = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for example in std::fs::read_dir(root().join("workflows")).unwrap() {
        let path = example.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                text.contains(&format!("workflows/tests/{name}.test.yaml ({name} v")),
                "workflows/{name}.yaml has no tests:\n{text}"
            );
        }
    }
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn a_wrong_expectation_is_reported_as_what_differed() {
    let output = distorch(&[
        "test",
        "tests/workflow-tests/wrong.test.yaml",
        "--workflows",
        "workflows",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let file = "tests/workflow-tests/wrong.test.yaml";
    for line in [
        "  ok    passes (".to_owned(),
        format!("  FAIL  expects the wrong car and the wrong undo order ({file}:21:5)"),
        format!("        {file}:27:15: status: expected completed, got compensated"),
        format!("        {file}:28:15: output: expected {{\"car\":\"CAR-1\"}}, got no output (the workflow is compensated)"),
        format!("        {file}:29:20: compensated: expected [book_car, book_flight], got [book_flight, book_car] (same steps, another order)"),
        format!("  FAIL  forgets a step ({file}:31:5)"),
        "        step `book_hotel` ran but the test scripts no outcome for it (add it under `steps:`)".to_owned(),
        format!("  FAIL  expects another car ({file}:36:5)"),
        format!("        {file}:40:15: output.car: expected \"CAR-1\", got \"CAR-2718\""),
        format!("        {file}:40:15: output.flight: expected no such key, got \"QX7PLM\""),
        "1 files, 4 tests: 1 passed, 3 failed in ".to_owned(),
    ] {
        assert!(text.contains(&line), "no line {line:?} in:\n{text}");
    }
}

#[test]
fn a_step_the_workflow_lacks_is_reported_at_its_position() {
    let output = distorch(&[
        "test",
        "tests/workflow-tests/unknown-step.test.yaml",
        "--workflows",
        "workflows",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("  ERROR tests/workflow-tests/unknown-step.test.yaml:4:14: `book_train` is not a step of travel-booking v1; its steps are: book_flight, book_hotel, book_car, confirm_trip"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn junit_output_has_a_suite_per_file_and_the_failures() {
    let output = distorch(&[
        "test",
        "--format",
        "junit",
        "workflows/tests",
        "tests/workflow-tests/wrong.test.yaml",
        "--workflows",
        "workflows",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let xml = stdout(&output);
    assert!(
        xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"distorch test\""
        ),
        "{xml}"
    );
    assert!(xml.contains("failures=\"3\" errors=\"0\""), "{xml}");
    assert!(
        xml.contains("<testsuite name=\"workflows/tests/travel-booking.test.yaml\""),
        "{xml}"
    );
    assert!(
        xml.contains("<testcase name=\"forgets a step\" classname=\"travel-booking v1\""),
        "{xml}"
    );
    assert!(
        xml.contains("output.car: expected &quot;CAR-1&quot;, got &quot;CAR-2718&quot;"),
        "{xml}"
    );
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
    assert!(xml.trim_end().ends_with("</testsuites>"));
}

#[test]
fn no_test_file_is_an_error() {
    let output = distorch(&["test", "tests/invalid"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no test files"));
}
