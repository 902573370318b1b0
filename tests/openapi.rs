//! schemathesis against a real `distorch serve` (embedded: SQLite and the
//! in-process queue), driven by the node's own `/openapi.json`: no answer
//! may be a 5xx, nor break the document (status code, content type, body
//! schema). The version of schemathesis is pinned in
//! `tests/schemathesis-requirements.txt`; `scripts/test` installs it.
//!
//! Left out, on purpose: the two SSE routes, `/ws/events` and `/graphql/ws`.
//! Their success is an endless stream, which a request/response fuzzer waits
//! on until its own timeout; their error answers are covered by
//! `api/tests/feeds.rs`, `api/tests/graphql/` and `api/tests/openapi.rs`.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::{CHAIN, Node, workflows_folder};

/// The routes not fuzzed (see the module's documentation).
const STREAMS: [&str; 5] = [
    "/api/v1/events/stream",
    "/api/v1/workers/stream",
    "/api/v1/workflows/{id}/stream",
    "/ws/events",
    "/graphql/ws",
];

/// Examples per operation: the run takes under a minute on 2 cores.
const MAX_EXAMPLES: &str = "30";
/// A run that takes longer than this has hung.
const RUN_LIMIT: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let folder = workflows_folder("schemathesis", "chain", CHAIN);
    // A 3 s request limit caps a poll's wait at 2 s: the fuzzer asks for
    // waits of up to 30 s.
    let node = Node::new(&folder)
        .exec("work=echo '{}'")
        .args(&["--request-timeout", "3"])
        .spawn();
    let url = node.url.clone().unwrap();
    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| "20261201".into());
    let mut command = tokio::process::Command::new("python3");
    command
        .args(["-m", "schemathesis.cli", "run", &format!("{url}/openapi.json")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples",
            MAX_EXAMPLES,
            // One worker: with two threads, hypothesis' process-wide caches
            // raced once (a `KeyError` in its lambda-source cache, then
            // "Inconsistent results" on POST /api/v1/workflows): an error of
            // the fuzzer, not of the server, that failed the run.
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--seed",
            &seed,
            "--generation-database",
            "none",
            "--no-color",
        ])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        // Its caches (.hypothesis, reports) go to the throwaway folder.
        .current_dir(&folder)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for path in STREAMS {
        command.args(["--exclude-path", path]);
    }
    let child = command.spawn().unwrap_or_else(|error| {
        panic!(
            "python3 does not run ({error}): install python3 and schemathesis (scripts/test does)"
        )
    });
    let output = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .expect("schemathesis finishes in time")
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    let complained = String::from_utf8_lossy(&output.stderr);
    assert!(
        !complained.contains("No module named schemathesis"),
        "schemathesis is not installed: python3 -m pip install -r tests/schemathesis-requirements.txt"
    );
    assert!(
        output.status.success(),
        "schemathesis found problems (seed {seed}):\n{said}\n{complained}"
    );
    assert!(said.contains("passed"), "{said}");
    drop(node);
    std::fs::remove_dir_all(folder).ok();
}
