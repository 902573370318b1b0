//! `distorch graph FILE`: the step graph as Mermaid or DOT on stdout.

use std::path::Path;
use std::process::ExitCode;

use domain::definition::{diagram, parse_workflow};

use super::{GraphFormat, read_source};

pub fn run(path: &Path, format: GraphFormat) -> anyhow::Result<ExitCode> {
    let name = path.display();
    let source = match read_source(path) {
        Ok(source) => source,
        Err(message) => {
            eprintln!("{name}:1:1: {message}");
            return Ok(ExitCode::from(1));
        }
    };
    match parse_workflow(&source) {
        Ok(definition) => {
            let text = match format {
                GraphFormat::Mermaid => diagram::mermaid(&definition),
                GraphFormat::Dot => diagram::dot(&definition),
            };
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            eprint!("{}", problems.render(&name.to_string()));
            Ok(ExitCode::from(1))
        }
    }
}
