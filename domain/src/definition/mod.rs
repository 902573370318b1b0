//! Workflow definitions: YAML in, a validated [`WorkflowDefinition`] out.

mod build;
pub mod diagram;
pub mod graph;
mod model;
pub(crate) mod read;
pub mod schema;
pub mod source;
pub mod spec;
pub mod yaml;

pub use model::*;
pub use source::{Position, Problem, Problems};
pub use yaml::ReadLimits;

/// Parses and validates a workflow file (YAML or JSON), reporting every problem at once.
pub fn parse_workflow(source: &str) -> Result<WorkflowDefinition, Problems> {
    parse_workflow_with_limits(source, ReadLimits::default())
}

pub fn parse_workflow_with_limits(
    source: &str,
    limits: ReadLimits,
) -> Result<WorkflowDefinition, Problems> {
    let node = yaml::read_yaml(source, limits)?;
    let mut reader = read::Reader::default();
    let Some(spec) = read::read_workflow(&node, &mut reader) else {
        return Err(Problems::from_vec(reader.problems)
            .unwrap_or_else(|| Problems::one(node.at, "a workflow must be a mapping")));
    };
    let hash = content_hash(&node.to_json());
    build::build(&spec, reader, hash)
}

/// FNV-1a over the definition's JSON form: the same content gives the same
/// hash whatever its comments, quoting, indentation or flow/block style.
fn content_hash(value: &serde_json::Value) -> String {
    let text = value.to_string();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}
