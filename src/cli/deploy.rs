//! `distorch deploy FILE...`: sends definitions to a running node, which
//! validates them, stores them and makes them startable on every node.

use std::path::PathBuf;
use std::process::ExitCode;

use super::client::{Client, Connection, block_on, detail, exit};

#[derive(Debug, clap::Args)]
pub struct DeployArguments {
    /// Workflow definition files (YAML).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    connection: Connection,
}

pub fn run(arguments: DeployArguments) -> anyhow::Result<ExitCode> {
    let client = Client::new(&arguments.connection);
    block_on(async move {
        let mut failed = false;
        for file in &arguments.files {
            let shown = file.display();
            let source = match super::read_source(file) {
                Ok(source) => source,
                Err(reason) => {
                    eprintln!("{shown}: {reason}");
                    failed = true;
                    continue;
                }
            };
            let request = client
                .request(reqwest::Method::POST, "/api/v1/definitions")
                .header(reqwest::header::CONTENT_TYPE, "application/yaml")
                .body(source);
            let (status, body) = client.answer(request).await?;
            if status.is_success() {
                println!(
                    "{shown}: deployed {} version {}",
                    body["name"].as_str().unwrap_or("?"),
                    body["version"]
                );
                continue;
            }
            failed = true;
            match body["problems"].as_array() {
                Some(problems) if !problems.is_empty() => {
                    for problem in problems {
                        eprintln!(
                            "{shown}:{}:{}: {}",
                            problem["line"],
                            problem["column"],
                            problem["message"].as_str().unwrap_or_default()
                        );
                    }
                }
                _ => eprintln!("{shown}: {status}: {}", detail(&body)),
            }
        }
        Ok(ExitCode::from(if failed {
            exit::REFUSED
        } else {
            exit::OK
        }))
    })
}
