//! `distorch deploy FILE...`: sends definitions to a running node, which
//! validates them, stores them and makes them startable on every node.

use std::path::PathBuf;
use std::process::ExitCode;

use super::answer::{answer, detail};

#[derive(Debug, clap::Args)]
pub struct DeployArguments {
    /// Workflow definition files (YAML).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The node's address.
    #[arg(long, env = "DISTORCH_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// An API key or bearer token, if the node asks for one.
    #[arg(long, env = "DISTORCH_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

pub fn run(arguments: DeployArguments) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let url = format!(
            "{}/api/v1/definitions",
            arguments.server.trim_end_matches('/')
        );
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
            let mut request = client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/yaml")
                .body(source);
            if let Some(token) = &arguments.token {
                request = request.bearer_auth(token);
            }
            let (status, body) = answer(request, &arguments.server).await?;
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
        Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}
