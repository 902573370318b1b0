//! Definitions the API's tests deploy.

/// Workflows that run to their end in the engine itself (noop steps).
pub const DEFINITIONS: [&str; 2] = [
    r#"
name: alpha
version: 1
steps:
  one: { type: noop }
  two: { type: noop, needs: [one] }
"#,
    r#"
name: beta
version: 1
steps:
  only: { type: noop }
"#,
];

/// Charges, then waits for an approver; the input needs an amount.
pub const EXPENSE: &str = r#"
name: expense
version: 1
input:
  schema:
    type: object
    required: [amount]
    properties: { amount: { type: number } }
steps:
  charge:
    type: task
    queue: payments
    on_error: fail
    retry: { max_attempts: 1 }
  review:
    type: approval
    needs: [charge]
    approvers: [role:approver]
"#;
