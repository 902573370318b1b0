//! `distorch serve` as the tests run it: a builder of its arguments, so each
//! test names only what it changes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::process::{Process, distorch, spawn};

/// A node on a port of its own with the definitions of a folder: embedded
/// on the SQLite file `node.db` in that folder unless its environment names
/// PostgreSQL and RabbitMQ ([`Services::env`](super::Services::env)).
#[derive(Debug)]
pub struct Node {
    addr: String,
    folder: PathBuf,
    data: PathBuf,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
}

impl Node {
    pub fn new(folder: &Path) -> Self {
        Self {
            addr: "127.0.0.1:0".into(),
            folder: folder.to_owned(),
            data: folder.join("node.db"),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Where it listens (a port of its own on loopback unless told).
    pub fn addr(mut self, addr: &str) -> Self {
        self.addr = addr.into();
        self
    }

    /// Its SQLite file in the embedded mode.
    pub fn data(mut self, data: &Path) -> Self {
        self.data = data.to_owned();
        self
    }

    /// An in-process worker: `QUEUE=COMMAND`.
    pub fn exec(self, worker: &str) -> Self {
        self.args(&["--exec", worker])
    }

    /// Any other arguments of `distorch serve`.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|arg| (*arg).to_owned()));
        self
    }

    /// Variables of its environment (`DATABASE_URL`, `AMQP_URL`, ...).
    pub fn env(mut self, env: &[(&'static str, String)]) -> Self {
        self.env.extend_from_slice(env);
        self
    }

    /// Starts it and waits until it says where it listens.
    pub fn spawn(self) -> Process {
        spawn(self.command(), &self.env, true)
    }

    /// Runs it to its end: a node that refuses to start.
    pub fn refused(self) -> Output {
        let mut command = self.command();
        command.env_remove("DATABASE_URL").env_remove("AMQP_URL");
        command.envs(self.env.iter().map(|(key, value)| (key, value)));
        command.output().expect("distorch runs")
    }

    fn command(&self) -> Command {
        let (folder, data) = (self.folder.to_str().unwrap(), self.data.to_str().unwrap());
        let mut command = distorch(&["serve", "--addr", &self.addr, "--workflows", folder]);
        command.args(["--data", data]).args(&self.args);
        command
    }
}
