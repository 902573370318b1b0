//! `distorch test [PATH...]`: runs workflow test files (`*.test.yaml`)
//! offline through the pure engine, with no worker and no database. Exit 0
//! when every case passes, 1 otherwise; `--format junit` prints JUnit XML.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use domain::WorkflowDefinition;
use domain::definition::{Problem, parse_workflow};
use domain::workflow_test::{TestFile, Verdict, read_test_file, unknown_steps, verdict};

use super::{node::read_definitions, read_source};

/// The folder `distorch test` reads when given no path.
const DEFAULT_FOLDER: &str = "workflows/tests";
const SUFFIX: &str = ".test.yaml";

#[derive(Debug, clap::Args)]
pub struct TestArguments {
    /// Test files, or folders of `*.test.yaml` files (default: workflows/tests).
    paths: Vec<PathBuf>,
    /// The folder of the definitions under test (default: the folder above each test file's).
    #[arg(long)]
    workflows: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = TestFormat::Text)]
    format: TestFormat,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum TestFormat {
    Text,
    Junit,
}

/// One test file's outcome: a problem that kept it from running, or its cases.
struct FileReport {
    file: String,
    workflow: Option<String>,
    outcome: Result<Vec<CaseReport>, Vec<String>>,
}

struct CaseReport {
    name: String,
    /// `file:line:col` of the case.
    at: String,
    verdict: Verdict,
    took: Duration,
}

pub fn run(arguments: TestArguments) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let paths = if arguments.paths.is_empty() {
        vec![PathBuf::from(DEFAULT_FOLDER)]
    } else {
        arguments.paths.clone()
    };
    let files = test_files(&paths)?;
    if files.is_empty() {
        eprintln!(
            "no test files (`*{SUFFIX}`) in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(ExitCode::from(1));
    }
    let mut definitions = Definitions::default();
    let reports: Vec<FileReport> = files
        .iter()
        .map(|file| run_file(file, arguments.workflows.as_deref(), &mut definitions))
        .collect();
    let took = started.elapsed();
    match arguments.format {
        TestFormat::Text => print!("{}", text(&reports, took)),
        TestFormat::Junit => print!("{}", junit(&reports, took)),
    }
    let passed = reports.iter().all(|report| match &report.outcome {
        Ok(cases) => cases.iter().all(|case| case.verdict.passed()),
        Err(_) => false,
    });
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The files named, and the `*.test.yaml` files of the folders named, sorted.
fn test_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading {}", path.display()))?
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.to_string_lossy().ends_with(SUFFIX) && path.is_file())
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// The definitions of each workflows folder, read once.
#[derive(Default)]
struct Definitions {
    folders: HashMap<PathBuf, Result<Vec<Arc<WorkflowDefinition>>, String>>,
}

impl Definitions {
    fn of(&mut self, folder: &Path) -> Result<&[Arc<WorkflowDefinition>], String> {
        let read = self
            .folders
            .entry(folder.to_path_buf())
            .or_insert_with(|| read_folder(folder));
        read.as_deref().map_err(Clone::clone)
    }
}

fn read_folder(folder: &Path) -> Result<Vec<Arc<WorkflowDefinition>>, String> {
    let sources = read_definitions(folder).map_err(|error| format!("{error:#}"))?;
    Ok(sources
        .iter()
        .filter_map(|source| parse_workflow(source).ok())
        .map(Arc::new)
        .collect())
}

fn run_file(path: &Path, workflows: Option<&Path>, definitions: &mut Definitions) -> FileReport {
    let file = path.display().to_string();
    let problems = |problems: Vec<Problem>| -> Vec<String> {
        problems
            .iter()
            .map(|problem| format!("{file}:{problem}"))
            .collect()
    };
    let test = match read_source(path)
        .map_err(|message| vec![format!("{file}:1:1: {message}")])
        .and_then(|source| {
            read_test_file(&source).map_err(|found| problems(found.iter().cloned().collect()))
        }) {
        Ok(test) => test,
        Err(lines) => {
            return FileReport {
                file,
                workflow: None,
                outcome: Err(lines),
            };
        }
    };
    let folder = workflows.map_or_else(|| workflows_folder_of(path), Path::to_path_buf);
    let definition = match definitions
        .of(&folder)
        .and_then(|known| pick(known, &test, &folder))
    {
        Ok(definition) => definition,
        Err(message) => {
            return FileReport {
                file: file.clone(),
                workflow: Some(test.workflow.value.clone()),
                outcome: Err(vec![format!("{file}:{}: {message}", test.workflow.at)]),
            };
        }
    };
    let unknown: Vec<Problem> = test
        .cases
        .iter()
        .flat_map(|case| unknown_steps(case, &definition))
        .collect();
    let workflow = Some(format!("{} v{}", definition.name, definition.version));
    if !unknown.is_empty() {
        let outcome = Err(problems(unknown));
        return FileReport {
            file,
            workflow,
            outcome,
        };
    }
    let cases = test
        .cases
        .iter()
        .map(|case| {
            let started = Instant::now();
            let verdict = verdict(&definition, case);
            CaseReport {
                name: case.name.clone(),
                at: format!("{file}:{}", case.at),
                verdict,
                took: started.elapsed(),
            }
        })
        .collect();
    FileReport {
        file,
        workflow,
        outcome: Ok(cases),
    }
}

/// `workflows/tests/x.test.yaml` tests the definitions of `workflows/`.
fn workflows_folder_of(test_file: &Path) -> PathBuf {
    test_file.parent().and_then(Path::parent).map_or_else(
        || PathBuf::from("."),
        |folder| {
            if folder.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                folder.to_path_buf()
            }
        },
    )
}

/// The definition a test file names: its version, or the newest one.
fn pick(
    known: &[Arc<WorkflowDefinition>],
    test: &TestFile,
    folder: &Path,
) -> Result<Arc<WorkflowDefinition>, String> {
    let name = &test.workflow.value;
    let version = test.version.as_ref().map(|version| version.value);
    known
        .iter()
        .filter(|definition| &definition.name == name)
        .filter(|definition| version.is_none_or(|version| definition.version == version))
        .max_by_key(|definition| definition.version)
        .cloned()
        .ok_or_else(|| {
            let mut names: Vec<String> = known
                .iter()
                .map(|definition| format!("{} v{}", definition.name, definition.version))
                .collect();
            names.sort();
            let wanted =
                version.map_or_else(|| name.clone(), |version| format!("{name} v{version}"));
            format!(
                "no workflow {wanted} in {}; it holds: {}",
                folder.display(),
                if names.is_empty() {
                    "nothing".to_owned()
                } else {
                    names.join(", ")
                }
            )
        })
}

fn text(reports: &[FileReport], took: Duration) -> String {
    let mut out = String::new();
    let (mut passed, mut failed, mut broken_files) = (0, 0, 0);
    for report in reports {
        let workflow = report
            .workflow
            .as_deref()
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        out.push_str(&format!("{}{workflow}\n", report.file));
        match &report.outcome {
            Err(lines) => {
                broken_files += 1;
                for line in lines {
                    out.push_str(&format!("  ERROR {line}\n"));
                }
            }
            Ok(cases) => {
                for case in cases {
                    let took = milliseconds(case.took);
                    match &case.verdict {
                        Verdict::Passed => {
                            passed += 1;
                            out.push_str(&format!("  ok    {} ({took} ms)\n", case.name));
                        }
                        Verdict::Failed(differences) => {
                            failed += 1;
                            out.push_str(&format!("  FAIL  {} ({})\n", case.name, case.at));
                            for difference in differences {
                                out.push_str(&format!(
                                    "        {}:{}: {difference}\n",
                                    report.file, difference.at
                                ));
                            }
                        }
                        Verdict::Broken(error) => {
                            failed += 1;
                            out.push_str(&format!(
                                "  FAIL  {} ({})\n        {error}\n",
                                case.name, case.at
                            ));
                        }
                    }
                }
            }
        }
    }
    out.push_str(&format!(
        "{} files, {} tests: {passed} passed, {failed} failed{} in {} ms\n",
        reports.len(),
        passed + failed,
        if broken_files > 0 {
            format!(", {broken_files} files could not run")
        } else {
            String::new()
        },
        milliseconds(took)
    ));
    out
}

fn milliseconds(took: Duration) -> String {
    format!("{:.2}", took.as_secs_f64() * 1000.0)
}

fn junit(reports: &[FileReport], took: Duration) -> String {
    let mut suites = String::new();
    let (mut all_tests, mut all_failures, mut all_errors) = (0, 0, 0);
    for report in reports {
        let (mut tests, mut failures, mut errors) = (0, 0, 0);
        let mut cases = String::new();
        let classname = escape(report.workflow.as_deref().unwrap_or(&report.file));
        let mut suite_time = Duration::ZERO;
        match &report.outcome {
            Err(lines) => {
                tests += 1;
                errors += 1;
                let body = escape(&lines.join("\n"));
                let message = escape(lines.first().map_or("", String::as_str));
                cases.push_str(&format!(
                    "    <testcase name=\"(test file)\" classname=\"{classname}\" time=\"0\">\n      <error message=\"{message}\">{body}</error>\n    </testcase>\n"
                ));
            }
            Ok(reports) => {
                for case in reports {
                    tests += 1;
                    suite_time += case.took;
                    let head = format!(
                        "    <testcase name=\"{}\" classname=\"{classname}\" time=\"{:.6}\"",
                        escape(&case.name),
                        case.took.as_secs_f64()
                    );
                    match &case.verdict {
                        Verdict::Passed => cases.push_str(&format!("{head}/>\n")),
                        Verdict::Failed(differences) => {
                            failures += 1;
                            let body: Vec<String> = differences
                                .iter()
                                .map(|difference| {
                                    format!("{}:{}: {difference}", report.file, difference.at)
                                })
                                .collect();
                            cases.push_str(&format!(
                                "{head}>\n      <failure message=\"{} expectations not met\">{}</failure>\n    </testcase>\n",
                                differences.len(),
                                escape(&body.join("\n"))
                            ));
                        }
                        Verdict::Broken(error) => {
                            failures += 1;
                            let error = escape(&error.to_string());
                            cases.push_str(&format!(
                                "{head}>\n      <failure message=\"{error}\">{error}</failure>\n    </testcase>\n"
                            ));
                        }
                    }
                }
            }
        }
        suites.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.6}\">\n{cases}  </testsuite>\n",
            escape(&report.file),
            suite_time.as_secs_f64()
        ));
        all_tests += tests;
        all_failures += failures;
        all_errors += errors;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"distorch test\" tests=\"{all_tests}\" failures=\"{all_failures}\" errors=\"{all_errors}\" time=\"{:.6}\">\n{suites}</testsuites>\n",
        took.as_secs_f64()
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}
