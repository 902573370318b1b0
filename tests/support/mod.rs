//! Helpers shared by the end-to-end tests that run the `distorch` binary:
//! child processes and the nodes they run, a database and a vhost per test,
//! a workflows folder, and the REST API calls the tests make.
//!
//! Each test binary compiles this module on its own and uses some of it.

#![allow(dead_code, unused_imports)]

mod folders;
mod node;
mod process;
mod rest;
mod services;

pub use folders::{TempFolder, workflows_folder};
pub use node::Node;
pub use process::{Process, distorch, spawn, worker};
pub use rest::{
    get_json, request_start, start, started_id, state, statuses, wait_until_final,
    wait_until_final_states,
};
pub use services::{Services, rabbitmqctl};

/// The definition `chain` (`chain.yaml`): four steps on queue `work`, the
/// first with a compensation.
pub const CHAIN: &str = r#"
name: chain
version: 1
steps:
  reserve:
    type: task
    queue: work
    compensate: { type: task, queue: work }
  charge: { type: task, queue: work, needs: [reserve] }
  ship: { type: task, queue: work, needs: [reserve] }
  confirm: { type: task, queue: work, needs: [charge, ship] }
"#;
