//! `distorch validate` and `distorch graph` through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn distorch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_distorch"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the distorch binary runs")
}

fn files_in(folder: &str, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(folder))
        .expect("folder exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}

#[test]
fn every_invalid_file_gets_exactly_its_expected_errors() {
    let files = files_in("tests/invalid", "yaml");
    assert!(files.len() >= 15, "the invalid fixtures are missing");
    for file in files {
        let relative = file
            .strip_prefix(root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let expected = std::fs::read_to_string(file.with_extension("expected"))
            .unwrap_or_else(|_| panic!("{relative} has no .expected file"));
        let output = distorch(&["validate", &relative]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{relative} should be refused"
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            expected,
            "errors of {relative}"
        );
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn every_example_workflow_is_valid() {
    let files = files_in("workflows", "yaml");
    assert!(!files.is_empty(), "no example workflows");
    let mut args = vec!["validate".to_owned()];
    args.extend(files.iter().map(|file| file.to_str().unwrap().to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = distorch(&args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().count(),
        files.len()
    );
}

#[test]
fn json_format_reports_each_file_with_positions() {
    let output = distorch(&[
        "validate",
        "--format",
        "json",
        "tests/invalid/cycle.yaml",
        "tests/invalid/unknown-key.yaml",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(report[0]["valid"], false);
    assert_eq!(report[0]["problems"][0]["line"], 4);
    assert_eq!(report[0]["problems"][0]["column"], 3);
    assert_eq!(report[1]["problems"][0]["line"], 8);
    assert!(
        report[1]["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("retries")
    );
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let output = distorch(&["validate", "tests/invalid/does-not-exist.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("tests/invalid/does-not-exist.yaml:1:1: cannot read it"),
        "{stderr}"
    );
}

const GRAPH: &str = r#"
name: graph
version: 1
steps:
  reserve:
    type: task
    queue: inventory
    compensate: { type: task, queue: inventory }
  approve:
    type: approval
    needs: [reserve]
    when: input.amount > 1000
  charge:
    type: task
    queue: payments
    needs: [reserve, approve]
    join: any
"#;

#[test]
fn graph_draws_conditions_joins_and_compensations() {
    let dir = std::env::temp_dir().join(format!("distorch-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("graph.yaml");
    std::fs::write(&file, GRAPH).unwrap();
    let path = file.to_str().unwrap();

    let mermaid = distorch(&["graph", path]);
    assert_eq!(mermaid.status.code(), Some(0));
    let mermaid = String::from_utf8(mermaid.stdout).unwrap();
    assert!(mermaid.starts_with("flowchart TD\n"));
    assert!(
        mermaid.contains("reserve -- \"when input.amount > 1000\" --> approve"),
        "{mermaid}"
    );
    assert!(mermaid.contains("(join: any)"));
    assert!(mermaid.contains("reserve -. compensate .-> reserve_undo"));

    let dot = distorch(&["graph", "--format", "dot", path]);
    let dot = String::from_utf8(dot.stdout).unwrap();
    assert!(dot.starts_with("digraph \"graph\" {"));
    assert!(
        dot.contains("\"reserve\" -> \"approve\" [label=\"when input.amount > 1000\"];"),
        "{dot}"
    );
    assert!(dot.contains("\"reserve\" -> \"reserve/undo\" [style=dashed"));
    std::fs::remove_dir_all(dir).ok();
}
