//! Definitions, workflows (filtered, paged), a workflow with its steps and
//! events, and statistics, as queries.

use serde_json::json;
use sqlx::PgPool;

use crate::{EXPENSE, Node, code, data};

const DEPLOY: &str =
    "mutation($source: String!) { deployDefinition(source: $source) { name version hash } }";

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn definitions_are_deployed_with_every_problem_positioned_and_read_back(pool: PgPool) {
    let node = Node::open(pool).await;
    let broken = "name: broken\nversion: 1\nsteps:\n  a: { type: teleport }\n  b: { type: task, queue: q, needs: [nowhere] }\n";
    let refused = node.ask(DEPLOY, json!({ "source": broken })).await;
    assert_eq!(code(&refused), "INVALID_INPUT");
    let problems = refused["errors"][0]["extensions"]["problems"]
        .as_array()
        .unwrap();
    assert!(problems.len() >= 2, "{refused}");
    for problem in problems {
        assert!(problem["line"].as_u64().unwrap() >= 4, "{problem}");
        assert!(problem["column"].as_u64().unwrap() >= 1, "{problem}");
        assert!(problem["message"].is_string());
    }

    let deployed = node.ask(DEPLOY, json!({ "source": EXPENSE })).await;
    assert_eq!(data(&deployed)["deployDefinition"]["name"], "expense");
    assert_eq!(data(&deployed)["deployDefinition"]["version"], 1);
    data(&node.ask(DEPLOY, json!({ "source": EXPENSE })).await);
    let changed = EXPENSE.replace("queue: payments", "queue: elsewhere");
    let clash = node.ask(DEPLOY, json!({ "source": changed })).await;
    assert_eq!(code(&clash), "CONFLICT");
    assert_eq!(clash["errors"][0]["extensions"]["status"], 409);
    assert!(
        clash["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("new version")
    );

    let listed = node
        .ask(
            "{ definitions { name latestVersion versions { version } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&listed)["definitions"],
        json!([{ "name": "expense", "latestVersion": 1, "versions": [{ "version": 1 }] }])
    );
    let one = node
        .ask(
            r#"{ definition(name: "expense") { versions { source hash graph { mermaid steps { id type needs compensated } } } } }"#,
            json!({}),
        )
        .await;
    let version = &data(&one)["definition"]["versions"][0];
    assert_eq!(version["source"], EXPENSE);
    assert_eq!(version["hash"], data(&deployed)["deployDefinition"]["hash"]);
    assert!(
        version["graph"]["mermaid"]
            .as_str()
            .unwrap()
            .contains("charge")
    );
    assert_eq!(
        version["graph"]["steps"][1],
        json!({ "id": "review", "type": "approval", "needs": ["charge"], "compensated": false })
    );
    let missing = node
        .ask(r#"{ definition(name: "nope") { name } }"#, json!({}))
        .await;
    assert_eq!(code(&missing), "NOT_FOUND");
}

const PAGE: &str = "query($filter: WorkflowFilterInput, $first: Int!, $after: ID) {
    workflows(filter: $filter, first: $first, after: $after) { items { id status definition } nextCursor }
}";

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn workflows_are_filtered_and_paged_and_stats_count_them(pool: PgPool) {
    let node = Node::open(pool).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(node.app.start("alpha").await.0.to_string());
    }
    node.app.start("beta").await;
    let cancel = "mutation($id: ID!) { cancelWorkflow(id: $id, compensate: false) { status } }";
    // alpha's noop steps run at once: the first is completed already.
    let alpha = node.app.start("alpha").await.0.to_string();
    let refused = node.ask(cancel, json!({ "id": alpha })).await;
    assert_eq!(code(&refused), "CONFLICT");
    node.catch_up().await;

    let only_alpha = json!({ "definition": "alpha" });
    let first = node
        .ask(PAGE, json!({ "filter": only_alpha, "first": 2 }))
        .await;
    let first = &data(&first)["workflows"];
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = node
        .ask(
            PAGE,
            json!({ "filter": only_alpha, "first": 2, "after": cursor }),
        )
        .await;
    let second = &data(&second)["workflows"];
    assert_eq!(second["items"].as_array().unwrap().len(), 2);
    assert!(second["nextCursor"].is_null());
    let newest_first: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    assert_eq!(&newest_first[1..], [&ids[2], &ids[1], &ids[0]]);

    let beta = json!({ "definition": "beta", "status": "completed" });
    let only_beta = node.ask(PAGE, json!({ "filter": beta, "first": 10 })).await;
    let items = data(&only_beta)["workflows"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["definition"], "beta");
    let ancient = json!({ "createdBefore": "2000-01-01T00:00:00Z" });
    let none = node
        .ask(PAGE, json!({ "filter": ancient, "first": 10 }))
        .await;
    assert_eq!(data(&none)["workflows"]["items"], json!([]));
    for (first, after) in [(0, None), (501, None), (10, Some("not-a-cursor"))] {
        let refused = node
            .ask(PAGE, json!({ "first": first, "after": after }))
            .await;
        assert_eq!(code(&refused), "INVALID_INPUT", "{first} {after:?}");
    }

    let stats = node
        .ask(
            "{ stats { counts { status count } successRate definitions { name successRate counts { status count } durations { count } steps { step durations { count } } } } }",
            json!({}),
        )
        .await;
    let stats = &data(&stats)["stats"];
    assert_eq!(
        stats["counts"],
        json!([{ "status": "completed", "count": 5 }])
    );
    assert_eq!(stats["successRate"], 1.0);
    assert_eq!(stats["definitions"][0]["name"], "alpha");
    assert_eq!(stats["definitions"][0]["counts"][0]["count"], 4);
    assert_eq!(stats["definitions"][0]["durations"]["count"], 4);
    assert_eq!(stats["definitions"][0]["steps"][0]["step"], "one");
    assert_eq!(stats["definitions"][1]["name"], "beta");
    let bottlenecks = node
        .ask(
            "{ bottlenecks(first: 5) { definition step samples } }",
            json!({}),
        )
        .await;
    assert!(data(&bottlenecks)["bottlenecks"].is_array());
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_workflow_comes_with_its_steps_and_its_history_page_by_page(pool: PgPool) {
    let node = Node::open(pool).await;
    let id = node.app.start("alpha").await.0.to_string();
    let query = "query($id: ID!, $after: Int!) { workflow(id: $id) {
        id status definition version startedBy createdAt finishedAt currentSteps
        steps { id type status attempt finishedAt }
        events(after: $after, first: 2) { items { version type actor workflowId data } nextAfter }
    } }";
    // Before the read models catch up the engine answers (no timestamps).
    let early = node.ask(query, json!({ "id": id, "after": 0 })).await;
    let early = &data(&early)["workflow"];
    assert_eq!(early["status"], "completed");
    assert!(early["createdAt"].is_null());
    assert_eq!(early["steps"][1]["status"], "completed");

    node.catch_up().await;
    let read = node.ask(query, json!({ "id": id, "after": 0 })).await;
    let workflow = &data(&read)["workflow"];
    assert_eq!(workflow["id"], id.as_str());
    assert_eq!(workflow["status"], "completed");
    assert_eq!(workflow["startedBy"], "test");
    assert!(workflow["createdAt"].is_string());
    assert!(workflow["finishedAt"].is_string());
    assert_eq!(workflow["currentSteps"], json!([]));
    assert_eq!(
        workflow["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|step| (
                step["id"].as_str().unwrap(),
                step["status"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        [("one", "completed"), ("two", "completed")]
    );
    let events = &workflow["events"];
    assert_eq!(events["items"][0]["type"], "WorkflowStarted");
    assert_eq!(events["items"][0]["actor"], "test");
    assert_eq!(events["items"][0]["workflowId"], id.as_str());
    let mut history: Vec<String> = Vec::new();
    let mut page = events.clone();
    loop {
        for item in page["items"].as_array().unwrap() {
            history.push(item["type"].as_str().unwrap().to_owned());
        }
        let Some(after) = page["nextAfter"].as_u64() else {
            break;
        };
        let next = node.ask(query, json!({ "id": id, "after": after })).await;
        page = data(&next)["workflow"]["events"].clone();
    }
    assert_eq!(history.first().unwrap(), "WorkflowStarted");
    assert_eq!(history.last().unwrap(), "WorkflowCompleted");
    let log = node.app.log().await;
    assert_eq!(history.len(), log.len());

    let nil = uuid::Uuid::nil().to_string();
    let missing = node.ask(query, json!({ "id": nil, "after": 0 })).await;
    assert_eq!(code(&missing), "NOT_FOUND");
    let bad = node.ask(query, json!({ "id": "nope", "after": 0 })).await;
    assert_eq!(code(&bad), "INVALID_INPUT");
}
