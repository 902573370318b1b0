//! Helpers of the tests that run the worker SDKs (tests/sdk_conformance.rs,
//! tests/sdk_workers.rs): the three worker implementations, what each needs
//! installed (checked, never skipped: a missing one fails and says what to
//! install), and starting one as a process.
//!
//! Each test binary compiles this module on its own, so the items only some
//! of them use allow `dead_code`.

use std::path::PathBuf;
use std::process::Command;

use super::support::{Process, distorch, spawn};

/// A worker speaking the protocol.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    Python,
    TypeScript,
    /// `distorch worker --exec`.
    BuiltIn,
}

impl Implementation {
    /// As in `only` of sdk/conformance/cases.json.
    pub fn name(self) -> &'static str {
        match self {
            Self::Python => "python",
            Self::TypeScript => "typescript",
            Self::BuiltIn => "built-in",
        }
    }
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const PYTHON_INSTALL: &str = "python3 -m pip install ./sdk/python (scripts/test does it)";
const TYPESCRIPT_INSTALL: &str = "cd sdk/typescript && npm ci (scripts/test does it)";

/// Fails (never skips) when the SDK of `implementation` cannot run here,
/// saying what to install.
pub fn require(implementation: Implementation) {
    match implementation {
        Implementation::Python => {
            let output = Command::new("python3")
                .args(["-c", "import distorch, aio_pika, aiohttp"])
                .output()
                .unwrap_or_else(|error| {
                    panic!("this test needs python3 ({error}): install Python 3.11+, then {PYTHON_INSTALL}")
                });
            assert!(
                output.status.success(),
                "this test needs the Python SDK, which python3 cannot import: {PYTHON_INSTALL}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Implementation::TypeScript => {
            let output = Command::new("node")
                .args(["-e", "require('./sdk/typescript')"])
                .current_dir(root())
                .output()
                .unwrap_or_else(|error| {
                    panic!("this test needs Node.js 20+ ({error}): install it (Debian: apt-get install nodejs npm), then {TYPESCRIPT_INSTALL}")
                });
            assert!(
                output.status.success(),
                "this test needs the TypeScript SDK with its dependencies: {TYPESCRIPT_INSTALL}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Implementation::BuiltIn => {}
    }
}

/// A Python or TypeScript worker script of this repository (`script` is
/// its path without the extension), run with `args`.
pub fn sdk_script(
    implementation: Implementation,
    script: &str,
    args: &[&str],
    env: &[(&str, String)],
) -> Process {
    require(implementation);
    let mut command = match implementation {
        Implementation::Python => {
            let mut command = Command::new("python3");
            command.arg("-u").arg(format!("{script}.py"));
            command
        }
        Implementation::TypeScript => {
            let mut command = Command::new("node");
            command.arg(format!("{script}.js"));
            command
        }
        Implementation::BuiltIn => panic!("the built-in worker runs no script"),
    };
    command.args(args).current_dir(root());
    spawn(command, env, false)
}

#[allow(dead_code)]
/// `distorch worker` serving `queue` with `exec` (run in the repository's folder).
pub fn built_in_worker(queue: &str, exec: &str, env: &[(&str, String)]) -> Process {
    let mut command = distorch(&["worker", "--queue", queue, "--exec", exec]);
    command.current_dir(root());
    spawn(command, env, false)
}
