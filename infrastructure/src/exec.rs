//! The exec executor: runs a command once per task, the task's input as JSON
//! on stdin, its output as JSON on stdout. Exit 0 completes the task; exit 2
//! fails it for good; any other exit fails it retryably. Stderr lines are
//! forwarded as the task's log (target `distorch::task_output`), and the
//! command gets the task's trace context in `TRACEPARENT`.

use std::process::Stdio;
use std::time::Duration;

use application::loops::{Executor, traceparent_for_call};
use application::messages::{TaskMessage, TaskOutcome};
use application::secrets;
use domain::instance::StepError;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// Exit code by which a command says "retrying will not help".
pub const PERMANENT_FAILURE_EXIT: i32 = 2;

#[derive(Clone, Debug)]
pub struct ExecExecutor {
    command: String,
    /// Used when a task carries no deadline.
    default_timeout: Duration,
}

impl ExecExecutor {
    /// `command` is run by `sh -c`.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            default_timeout: Duration::from_secs(300),
        }
    }

    async fn run(&self, task: &TaskMessage) -> Result<Value, StepError> {
        let input = secrets::resolve(&task.input, &task.secrets, &secrets::from_environment)
            .map_err(StepError::permanent)?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .env("DISTORCH_TASK_ID", &task.task_id)
            .env("DISTORCH_INSTANCE_ID", task.instance_id.to_string())
            .env("DISTORCH_WORKFLOW", &task.workflow)
            .env("DISTORCH_STEP", task.step.as_str())
            .env("DISTORCH_ATTEMPT", task.attempt.to_string())
            .env("DISTORCH_IDEMPOTENCY_KEY", &task.idempotency_key)
            .envs(traceparent_for_call(task).map(|parent| ("TRACEPARENT", parent.to_string())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| {
                StepError::retryable(format!("cannot start `{}`: {error}", self.command))
            })?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| StepError::retryable("no stdin"))?;
        let body = serde_json::to_vec(&input).unwrap_or_default();
        let stderr = child.stderr.take();
        let prefix = format!("[{} {}#{}]", task.workflow, task.step, task.attempt);
        let log = tokio::spawn(async move {
            let mut last = Vec::new();
            if let Some(stderr) = stderr {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::info!(target: "distorch::task_output", "{prefix} {line}");
                    last.push(line);
                    if last.len() > 5 {
                        last.remove(0);
                    }
                }
            }
            last.join("\n")
        });
        // A command that does not read its input is fine: ignore a broken pipe.
        let _ = stdin.write_all(&body).await;
        drop(stdin);
        let timeout = task
            .deadline
            .and_then(|deadline| (deadline - chrono::Utc::now()).to_std().ok())
            .unwrap_or(self.default_timeout);
        let output = tokio::time::timeout(timeout, child.wait_with_output())
            .await
            .map_err(|_| StepError::retryable(format!("`{}` ran past {timeout:?}", self.command)))?
            .map_err(|error| StepError::retryable(format!("`{}` failed: {error}", self.command)))?;
        let last_stderr = log.await.unwrap_or_default();
        match output.status.code() {
            Some(0) => parse_output(&output.stdout),
            code => {
                let reason = if last_stderr.is_empty() {
                    "no message on stderr".to_owned()
                } else {
                    last_stderr
                };
                let message = match code {
                    Some(code) => format!("exit code {code}: {reason}"),
                    None => format!("killed by a signal: {reason}"),
                };
                Err(StepError {
                    message,
                    retryable: code != Some(PERMANENT_FAILURE_EXIT),
                })
            }
        }
    }
}

fn parse_output(stdout: &[u8]) -> Result<Value, StepError> {
    let text = String::from_utf8_lossy(stdout);
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text.trim()).map_err(|error| {
        StepError::permanent(format!("stdout is not JSON ({error}): {}", text.trim()))
    })
}

impl Executor for ExecExecutor {
    async fn execute(&self, task: &TaskMessage) -> TaskOutcome {
        match self.run(task).await {
            Ok(output) => TaskOutcome::Completed { output },
            Err(error) => TaskOutcome::Failed { error },
        }
    }
}
