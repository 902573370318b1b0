//! `distorch validate FILE...`: exit 0 when every file is valid, 1 otherwise.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use domain::definition::{Position, Problem, WorkflowDefinition, parse_workflow};
use serde_json::json;

use super::{ValidateFormat, read_source};

pub fn run(files: &[PathBuf], format: ValidateFormat) -> anyhow::Result<ExitCode> {
    let mut all_valid = true;
    let mut report = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let outcome = check(path);
        all_valid &= outcome.is_ok();
        match format {
            ValidateFormat::Text => match &outcome {
                Ok(definition) => println!(
                    "{name}: ok ({} v{}, {} steps)",
                    definition.name,
                    definition.version,
                    definition.steps.len()
                ),
                Err(problems) => {
                    for problem in problems {
                        eprintln!("{name}:{problem}");
                    }
                }
            },
            ValidateFormat::Json => report.push(match &outcome {
                Ok(definition) => json!({
                    "file": name, "valid": true, "name": definition.name,
                    "version": definition.version, "steps": definition.steps.len(), "problems": [],
                }),
                Err(problems) => json!({ "file": name, "valid": false, "problems": problems }),
            }),
        }
    }
    if let ValidateFormat::Json = format {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn check(path: &Path) -> Result<WorkflowDefinition, Vec<Problem>> {
    let source =
        read_source(path).map_err(|message| vec![Problem::new(Position::new(1, 1), message)])?;
    parse_workflow(&source).map_err(|problems| problems.iter().cloned().collect())
}
