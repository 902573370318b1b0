//! Talking to a running node from the command line: where it is and the
//! credential (`--url`/`DISTORCH_URL`, `--token`/`DISTORCH_TOKEN`, on every
//! client command), its answers, and the exit codes they map to.

use std::process::ExitCode;

use anyhow::Context;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

/// Where the node is and how to prove who calls.
#[derive(Clone, Debug, clap::Args)]
pub struct Connection {
    /// The node's address.
    #[arg(
        long = "url",
        visible_alias = "server",
        env = "DISTORCH_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// An API key or a bearer token, when the node asks for one.
    #[arg(long, env = "DISTORCH_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

/// The exit codes of the client commands (docs/cli.md lists them).
pub mod exit {
    /// Done; for a command that waits for a workflow, it completed.
    pub const OK: u8 = 0;
    /// The workflow ended otherwise: failed, compensated,
    /// compensation_failed or cancelled.
    pub const NOT_COMPLETED: u8 = 1;
    /// A wrong command line, or the node out of reach or failing (5xx).
    pub const TROUBLE: u8 = 2;
    /// The node refused the request as it stands (400, 409, 413, 415, 422,
    /// 429): the command does not apply, or its input is wrong.
    pub const REFUSED: u8 = 3;
    /// No valid credential, or one without the permission (401, 403).
    pub const DENIED: u8 = 4;
    /// No such workflow, step or definition (404).
    pub const NOT_FOUND: u8 = 5;
    /// The wait ran out while the workflow still runs (`start --wait
    /// --timeout`, `workflows watch --timeout`).
    pub const STILL_RUNNING: u8 = 6;
}

/// A request the node refused or failed: its status and what it said.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub detail: String,
}

impl Refusal {
    /// The exit code it maps to.
    pub fn code(&self) -> u8 {
        match self.status.as_u16() {
            401 | 403 => exit::DENIED,
            404 => exit::NOT_FOUND,
            400..=499 => exit::REFUSED,
            _ => exit::TROUBLE,
        }
    }

    /// Tells it on stderr; the exit code.
    pub fn report(&self) -> ExitCode {
        eprintln!("error: {}: {}", self.status, self.detail);
        ExitCode::from(self.code())
    }
}

/// The node's answer: its JSON on success, else the refusal.
pub type Answer = Result<Value, Refusal>;

#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
}

impl Client {
    pub fn new(connection: &Connection) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: connection.url.trim_end_matches('/').to_owned(),
            token: connection.token.clone(),
        }
    }

    /// A request to `path` (from `/api/v1/...`), with the credential.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.url));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends it; the status and the JSON body (null when there is none).
    /// Not reaching the node is an error (exit 2).
    pub async fn answer(&self, request: RequestBuilder) -> anyhow::Result<(StatusCode, Value)> {
        let response = request
            .send()
            .await
            .with_context(|| format!("reaching {}", self.url))?;
        let status = response.status();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Sends it; its JSON on success, else the refusal.
    pub async fn send(&self, request: RequestBuilder) -> anyhow::Result<Answer> {
        let (status, body) = self.answer(request).await?;
        Ok(if status.is_success() {
            Ok(body)
        } else {
            Err(Refusal {
                status,
                detail: detail(&body),
            })
        })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Answer> {
        self.send(self.request(Method::POST, path).json(body)).await
    }
}

/// What a problem document says (its `detail`), or the whole body.
pub fn detail(body: &Value) -> String {
    body["detail"]
        .as_str()
        .map_or_else(|| body.to_string(), str::to_owned)
}

/// A runtime for one client command.
pub fn block_on<F: Future<Output = anyhow::Result<ExitCode>>>(work: F) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(work)
}

/// A path segment as it goes in a URL (workflow ids and step names are
/// plain, definition names may hold anything the DSL allows).
pub fn segment(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
