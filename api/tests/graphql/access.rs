//! Each root field needs the permission of its REST twin: tried with no
//! key, a revoked key and every role; the GET and WebSocket doors too.

use api::Limits;
use api::graphql::access::ROOT_FIELDS;
use application::auth::{ApiKeys, Role};
use application::clock::SystemClock;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{Node, code, data};

/// One operation per root field, sent as is to every role.
fn sample(root: &str, field: &str, id: &str) -> String {
    let task = format!("\"{id}:one\"");
    let attempt = format!("\"{id}:one:forward:1\"");
    let selection = match field {
        "definitions" | "definition" => "{ name }".to_owned(),
        "workflows" => "{ nextCursor }".to_owned(),
        "stats" => "{ successRate }".to_owned(),
        "bottlenecks" => "{ step }".to_owned(),
        "deployDefinition" => "{ name }".to_owned(),
        "completeTask" | "failTask" | "heartbeatTask" => "{ taskId }".to_owned(),
        "workflowEvents" | "events" => "{ position }".to_owned(),
        _ => "{ status }".to_owned(),
    };
    let arguments = match field {
        "definition" => "(name: \"alpha\")".to_owned(),
        "workflow" | "pauseWorkflow" | "resumeWorkflow" | "cancelWorkflow" => {
            format!("(id: \"{id}\")")
        }
        "signalWorkflow" => format!("(id: \"{id}\", name: \"go\")"),
        "workflowEvents" => format!("(workflowId: \"{id}\")"),
        "deployDefinition" => "(source: \"name: x\")".to_owned(),
        "startWorkflow" => "(definition: \"beta\")".to_owned(),
        "retryTask" | "skipTask" | "approveTask" | "rejectTask" => format!("(taskId: {task})"),
        "completeTask" | "heartbeatTask" => format!("(taskId: {attempt})"),
        "failTask" => format!("(taskId: {attempt}, message: \"no\")"),
        _ => String::new(),
    };
    let keyword = root.to_ascii_lowercase();
    format!("{keyword} {{ {field}{arguments} {selection} }}")
}

fn with_query(url: &str, query: &str) -> reqwest::Url {
    reqwest::Url::parse_with_params(url, [("query", query)]).unwrap()
}

fn codes(response: &Value) -> Vec<&str> {
    response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|error| error["extensions"]["code"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn every_root_field_refuses_no_key_a_revoked_key_and_a_role_without_its_permission(
    pool: PgPool,
) {
    let node = Node::secured(pool, Limits::default()).await;
    let issuer = ApiKeys::new(node.app.engine.store().clone());
    let clock = SystemClock::default();
    let revoked = issuer
        .create(&[Role::Admin.as_str()], "gone", &clock)
        .await
        .unwrap();
    issuer.revoke(&revoked.record.id, &clock).await.unwrap();
    let id = node.app.start("alpha").await.0.to_string();

    for (root, field, permission) in ROOT_FIELDS {
        let operation = sample(root, field, &id);
        for credential in [None, Some(revoked.key.as_str())] {
            let response = node.post(credential, &operation, json!({})).await;
            assert_eq!(response.status(), 401, "{operation}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
        }
        for role in Role::ALL {
            let response = node.run(node.key(role), &operation, json!({})).await;
            let found = codes(&response);
            if role.allows(*permission) {
                assert!(
                    !found.contains(&"FORBIDDEN") && !found.contains(&"UNAUTHENTICATED"),
                    "{operation} as {role}: {response}"
                );
            } else {
                assert_eq!(found, ["FORBIDDEN"], "{operation} as {role}: {response}");
                assert!(response["data"].is_null(), "nothing ran: {response}");
            }
        }
    }
    let streams: i64 = sqlx::query_scalar("select count(distinct stream_id) from events")
        .fetch_one(node.app.engine.store().pool())
        .await
        .unwrap();
    assert_eq!(
        streams, 3,
        "the fixture's, then one start by each of operator and admin"
    );
}

#[test]
fn the_permission_table_names_every_root_field_of_the_schema() {
    let sdl = api::graphql::sdl();
    let schema = async_graphql::parser::parse_schema(&sdl).unwrap();
    let mut in_schema = Vec::new();
    for definition in &schema.definitions {
        let async_graphql::parser::types::TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let name = ty.node.name.node.as_str();
        if !["Query", "Mutation", "Subscription"].contains(&name) {
            continue;
        }
        if let async_graphql::parser::types::TypeKind::Object(object) = &ty.node.kind {
            for field in &object.fields {
                in_schema.push(format!("{name}.{}", field.node.name.node));
            }
        }
    }
    let mut in_table: Vec<String> = ROOT_FIELDS
        .iter()
        .map(|(root, field, _)| format!("{root}.{field}"))
        .collect();
    in_schema.sort();
    in_table.sort();
    assert_eq!(in_schema, in_table);
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn get_carries_queries_with_a_key_and_serves_graphiql_without_one(pool: PgPool) {
    let node = Node::secured(pool, Limits::default()).await;
    let client = reqwest::Client::new();
    let url = format!("{}/graphql", node.app.url);
    let page = client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("graphiql"));

    let query = "{ definitions { name } }";
    let anonymous = client.get(with_query(&url, query)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let viewer = node.key(Role::Viewer).unwrap();
    let read = client
        .get(with_query(&url, query))
        .bearer_auth(viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let read: Value = read.json().await.unwrap();
    assert_eq!(data(&read)["definitions"], json!([]));
    let admin = node.key(Role::Admin).unwrap();
    let mutation = "mutation { startWorkflow(definition: \"beta\") { id } }";
    let refused = client
        .get(with_query(&url, mutation))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "mutations are POSTed");

    let batch = json!([{ "query": "{ stats { successRate } }" }]);
    let refused = client
        .post(&url)
        .bearer_auth(viewer)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "one operation per request");
    let malformed = node
        .run(Some(viewer), "{ workflows { nope } }", json!({}))
        .await;
    assert_eq!(
        code(&malformed),
        "INVALID_INPUT",
        "an unknown field is bad input, not forbidden"
    );
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_body_over_the_limit_is_refused_with_413_and_a_caller_over_its_rate_with_429(
    pool: PgPool,
) {
    let limits = Limits {
        body_bytes: 1024,
        requests_per_second: 0.001,
        burst: 2,
        ..Limits::default()
    };
    let node = Node::secured(pool, limits).await;
    let operator = node.key(Role::Operator);
    let start =
        "mutation($input: JSON) { startWorkflow(definition: \"beta\", input: $input) { id } }";
    let big = json!({ "input": { "blob": "x".repeat(4096) } });
    let refused = node.post(operator, start, big).await;
    assert_eq!(refused.status(), 413);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let small = node
        .run(operator, start, json!({ "input": { "blob": "x" } }))
        .await;
    data(&small);
    let over = node.post(operator, start, json!({})).await;
    assert_eq!(over.status(), 429, "the third request of a burst of two");
}
