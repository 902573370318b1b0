//! Child processes of the test: the `distorch` binary with arguments,
//! started without the test's own `DATABASE_URL` and `AMQP_URL`, killed when
//! dropped, their stderr kept to show when something goes wrong.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many of its last stderr lines a `Process` keeps.
const LOG_LINES: usize = 200;

/// A child process, killed when dropped. Its stderr is kept (the last
/// lines) to show when something goes wrong.
pub struct Process {
    child: Child,
    /// Where it listens, when spawned with `wait_for_url`.
    pub url: Option<String>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// The stderr lines kept so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Whether it still runs, and the end of what it wrote.
    pub fn report(&mut self, name: &str) -> String {
        let state = match self.child.try_wait() {
            Ok(None) => "running".to_owned(),
            Ok(Some(status)) => format!("exited ({status})"),
            Err(error) => format!("unknown ({error})"),
        };
        let log = self.log.lock().unwrap();
        let tail = log[log.len().saturating_sub(40)..].join("\n  ");
        format!("{name} {state}; stderr:\n  {tail}")
    }

    /// Sends it SIGTERM (a graceful stop).
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends it a signal by name (`TERM`, `STOP`, `CONT`...).
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIG{name} to {}", self.child.id());
    }

    /// Its exit status once it exited, or `None` if it still runs after `within`.
    pub fn wait_for_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `distorch` binary under test, with these arguments.
pub fn distorch(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_distorch"));
    command.args(args);
    command
}

/// Starts `command` without `DATABASE_URL` and `AMQP_URL` from the test's
/// own environment but with `env`, keeping its stderr; with `wait_for_url`,
/// waits until it says `listening on URL`.
pub fn spawn(mut command: Command, env: &[(&str, String)], wait_for_url: bool) -> Process {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("DATABASE_URL")
        .env_remove("AMQP_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("the process starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (sender, receiver) = std::sync::mpsc::channel();
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // A text line ends with the URL; a JSON line quotes it.
            if let Some((_, rest)) = line.split_once("listening on ") {
                let url = rest.split(['"', ' ']).next().unwrap_or(rest);
                let _ = sender.send(url.to_owned());
            }
            let mut lines = lines.lock().unwrap();
            lines.push(line);
            if lines.len() > LOG_LINES {
                lines.remove(0);
            }
        }
    });
    let url = wait_for_url.then(|| {
        receiver
            .recv_timeout(Duration::from_secs(30))
            .expect("the node says where it listens")
    });
    Process { child, url, log }
}

/// `distorch worker` running `exec` for the tasks on `queue`.
pub fn worker(queue: &str, exec: &str, env: &[(&str, String)]) -> Process {
    let args = ["worker", "--queue", queue, "--exec", exec];
    spawn(distorch(&args), env, false)
}
