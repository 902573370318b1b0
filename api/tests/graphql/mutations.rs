//! Every mutation, issued as the caller: the engine's state in the answer,
//! the caller as the actor in the log, and the refusals REST gives (409 as
//! CONFLICT, 404 as NOT_FOUND, 403 as FORBIDDEN) changing nothing.

use api::Limits;
use application::auth::Role;
use application::ports::EventStore;
use domain::InstanceId;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{EXPENSE, Node, code, data};

const START: &str = "mutation($input: JSON, $key: String) {
    startWorkflow(definition: \"expense\", input: $input, idempotencyKey: $key) { id status currentSteps steps { id status } }
}";

fn id_of(workflow: &Value) -> InstanceId {
    InstanceId(workflow["id"].as_str().unwrap().parse().unwrap())
}

/// Runs `mutation { <field>(taskId: "<task>" <arguments>) <selection> }`.
async fn on_task(node: &Node, role: Role, field: &str, task: &str, arguments: &str) -> Value {
    let selection = match field {
        "completeTask" | "failTask" => "{ taskId events }",
        "heartbeatTask" => "{ taskId progress }",
        _ => "{ status steps { id status attempt output } }",
    };
    let query = format!("mutation {{ {field}(taskId: \"{task}\" {arguments}) {selection} }}");
    node.run(node.key(role), &query, json!({})).await
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_workflow_runs_through_worker_reports_and_an_approval_by_an_approver(pool: PgPool) {
    let node = Node::secured(pool, Limits::default()).await;
    node.deploy(EXPENSE).await;
    let operator = node.key(Role::Operator);
    let refused = node
        .run(operator, START, json!({ "input": { "amount": "lots" } }))
        .await;
    assert_eq!(code(&refused), "INVALID_INPUT");
    let unknown = "mutation { startWorkflow(definition: \"nope\") { id } }";
    assert_eq!(
        code(&node.run(operator, unknown, json!({})).await),
        "NOT_FOUND"
    );

    let started = node
        .run(operator, START, json!({ "input": { "amount": 12 } }))
        .await;
    let workflow = &data(&started)["startWorkflow"];
    assert_eq!(workflow["status"], "running");
    assert_eq!(workflow["currentSteps"], json!(["charge"]));
    let id = id_of(workflow);
    let task = format!("{id}:charge:forward:1");
    let done = on_task(
        &node,
        Role::Operator,
        "completeTask",
        &task,
        "output: {paid: true}",
    )
    .await;
    assert_eq!(data(&done)["completeTask"]["events"][0], "StepCompleted");
    let again = on_task(&node, Role::Operator, "completeTask", &task, "").await;
    assert_eq!(code(&again), "CONFLICT", "a second report changes nothing");

    let review = format!("{id}:review");
    // An admin may approve in general, but is not one of this step's approvers.
    let not_listed = on_task(
        &node,
        Role::Admin,
        "approveTask",
        &review,
        "comment: \"me\"",
    )
    .await;
    assert_eq!(code(&not_listed), "FORBIDDEN");
    let approved = on_task(
        &node,
        Role::Approver,
        "approveTask",
        &review,
        "comment: \"fine\"",
    )
    .await;
    assert_eq!(data(&approved)["approveTask"]["status"], "completed");
    let pause = format!("mutation {{ pauseWorkflow(id: \"{id}\") {{ status }} }}");
    let late = node.run(operator, &pause, json!({})).await;
    assert_eq!(code(&late), "CONFLICT");
    assert!(
        late["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("completed")
    );

    let history = node.app.engine.store().load(id, 0).await.unwrap();
    let actor_of = |kind: &str| {
        let event = history
            .iter()
            .find(|event| event.event_type == kind)
            .unwrap();
        event.metadata.actor.clone()
    };
    assert!(actor_of("WorkflowStarted").starts_with("apikey:"));
    assert!(actor_of("ApprovalGranted").starts_with("apikey:"));
    assert_ne!(actor_of("WorkflowStarted"), actor_of("ApprovalGranted"));
    assert!(
        !history
            .iter()
            .any(|event| event.event_type == "ApprovalRejected")
    );
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn failed_steps_are_retried_skipped_and_rejected(pool: PgPool) {
    let node = Node::secured(pool, Limits::default()).await;
    node.deploy(EXPENSE).await;
    let operator = node.key(Role::Operator);
    let started = node
        .run(operator, START, json!({ "input": { "amount": 5 } }))
        .await;
    let id = id_of(&data(&started)["startWorkflow"]);
    let charge = format!("{id}:charge");
    let attempt = |n: u32| format!("{charge}:forward:{n}");

    let declined = "message: \"card declined\", retryable: false";
    let failed = on_task(&node, Role::Operator, "failTask", &attempt(1), declined).await;
    assert_eq!(data(&failed)["failTask"]["events"][0], "StepFailed");
    let retried = on_task(&node, Role::Operator, "retryTask", &charge, "").await;
    let workflow = &data(&retried)["retryTask"];
    assert_eq!(workflow["status"], "running");
    assert_eq!(workflow["steps"][0]["attempt"], 2);
    assert_eq!(workflow["steps"][0]["status"], "scheduled");
    let beat = on_task(
        &node,
        Role::Operator,
        "heartbeatTask",
        &attempt(2),
        "progress: 40",
    )
    .await;
    assert_eq!(data(&beat)["heartbeatTask"]["progress"], 40);
    let too_far = on_task(
        &node,
        Role::Operator,
        "heartbeatTask",
        &attempt(2),
        "progress: 140",
    )
    .await;
    assert_eq!(code(&too_far), "INVALID_INPUT");
    on_task(
        &node,
        Role::Operator,
        "failTask",
        &attempt(2),
        "message: \"again\", retryable: false",
    )
    .await;
    let skipped = on_task(
        &node,
        Role::Operator,
        "skipTask",
        &charge,
        "output: {paid: \"by hand\"}",
    )
    .await;
    let workflow = &data(&skipped)["skipTask"];
    assert_eq!(workflow["steps"][0]["status"], "skipped");
    assert_eq!(workflow["steps"][0]["output"], json!({ "paid": "by hand" }));
    let review = format!("{id}:review");
    let rejected = on_task(
        &node,
        Role::Approver,
        "rejectTask",
        &review,
        "comment: \"no\"",
    )
    .await;
    assert_ne!(data(&rejected)["rejectTask"]["status"], "running");
    node.catch_up().await;
    let query = format!("{{ workflow(id: \"{id}\") {{ steps {{ id progress lastError }} }} }}");
    let read = node.run(operator, &query, json!({})).await;
    assert_eq!(data(&read)["workflow"]["steps"][0]["lastError"], "again");

    let nowhere = on_task(
        &node,
        Role::Operator,
        "retryTask",
        &format!("{id}:nowhere"),
        "",
    )
    .await;
    assert_eq!(code(&nowhere), "NOT_FOUND");
    let bad = on_task(&node, Role::Operator, "retryTask", "not-a-task", "").await;
    assert_eq!(code(&bad), "INVALID_INPUT");
    let step_only = on_task(&node, Role::Operator, "completeTask", &charge, "").await;
    assert_eq!(
        code(&step_only),
        "INVALID_INPUT",
        "a report names an attempt"
    );
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn operators_pause_resume_and_cancel_and_a_key_starts_one_workflow(pool: PgPool) {
    let node = Node::open(pool.clone()).await;
    data(
        &node
            .ask(
                "mutation($s: String!) { deployDefinition(source: $s) { name } }",
                json!({ "s": EXPENSE }),
            )
            .await,
    );
    let first = node
        .ask(START, json!({ "input": { "amount": 3 }, "key": "order-7" }))
        .await;
    let again = node
        .ask(START, json!({ "input": { "amount": 3 }, "key": "order-7" }))
        .await;
    let id = id_of(&data(&first)["startWorkflow"]);
    assert_eq!(id, id_of(&data(&again)["startWorkflow"]));
    let other = node
        .ask(START, json!({ "input": { "amount": 4 }, "key": "order-7" }))
        .await;
    assert_eq!(code(&other), "INVALID_INPUT");
    let empty = node
        .ask(START, json!({ "input": { "amount": 4 }, "key": "" }))
        .await;
    assert_eq!(code(&empty), "INVALID_INPUT");
    let streams: i64 = sqlx::query_scalar("select count(distinct stream_id) from events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(streams, 1);

    let command = |field: &str, arguments: &str| {
        format!("mutation {{ {field}(id: \"{id}\"{arguments}) {{ status }} }}")
    };
    let status = |response: &Value, field: &str| data(response)[field]["status"].clone();
    let paused = node.ask(&command("pauseWorkflow", ""), json!({})).await;
    assert_eq!(status(&paused, "pauseWorkflow"), "paused");
    let twice = node.ask(&command("pauseWorkflow", ""), json!({})).await;
    assert_eq!(code(&twice), "CONFLICT");
    let resumed = node.ask(&command("resumeWorkflow", ""), json!({})).await;
    assert_eq!(status(&resumed, "resumeWorkflow"), "running");
    let cancelled = node
        .ask(&command("cancelWorkflow", ", compensate: false"), json!({}))
        .await;
    assert_eq!(status(&cancelled, "cancelWorkflow"), "cancelled");
    let events = node.app.engine.store().load(id, 0).await.unwrap();
    assert!(
        events
            .iter()
            .all(|event| event.metadata.actor == "anonymous")
    );

    let nil = uuid::Uuid::nil();
    let missing = node
        .ask(
            &format!("mutation {{ pauseWorkflow(id: \"{nil}\") {{ status }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(code(&missing), "NOT_FOUND");
    assert_eq!(missing["errors"][0]["extensions"]["status"], 404);
}
