//! Approvals that name a business role (`role:manager`), decided over REST
//! by a key that holds that role beside `approver`: every approval step of
//! the shipped examples, on an embedded node and on PostgreSQL + RabbitMQ.
//! A key without the business role (an admin's too) is refused with 403
//! naming the step's approvers.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Node, Services, api_key, example_source, examples_folder, services_mock};

/// Every approval step of the examples: (definition, step, the business
/// role its approvers name, an input that reaches it).
fn approvals() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    let address = json!({"name": "Ada", "street": "1 Rue", "city": "Paris", "country": "FR"});
    vec![
        (
            "order-fulfilment",
            "manager_approval",
            "manager",
            json!({"order_id": "o-1", "customer_id": "c-1", "amount": 5000, "currency": "EUR",
                "items": [{"sku": "sku-1", "quantity": 2}], "shipping_address": address}),
        ),
        (
            "loan-approval",
            "underwriter_review",
            "underwriter",
            json!({"applicant_id": "a-1", "amount": 50000, "term_months": 12,
                "iban": "DE89370400440532013000"}),
        ),
    ]
}

async fn step_status(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    id: &str,
    step: &str,
) -> String {
    let state: Value = client
        .get(format!("{url}/api/v1/workflows/{id}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let steps = state["steps"].as_array().cloned().unwrap_or_default();
    let found = steps.iter().find(|found| found["id"] == step);
    found.map_or_else(String::new, |found| {
        found["status"].as_str().unwrap_or_default().to_owned()
    })
}

async fn wait_for_step(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    id: &str,
    step: &str,
    status: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = step_status(client, url, key, id, step).await;
        if found == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "step {step} of {id} is `{found}`, not `{status}`"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn every_example_approval_is_decided_by_its_business_role(services: Option<&Services>) {
    let mock = services_mock().await;
    let kind = if services.is_some() { "pg" } else { "embedded" };
    let folder = examples_folder(&format!("approvals-{kind}"), &mock.uri());
    let data = folder.join("node.db");
    let data = data.to_str().unwrap();
    let database: Vec<_> = services
        .map(|services| vec![("DATABASE_URL", services.database_url.clone())])
        .unwrap_or_default();
    let database = database.as_slice();
    let operator = api_key(database, data, &["operator"]);
    let approver = api_key(database, data, &["approver"]);
    let admin = api_key(database, data, &["admin"]);
    let mut node = Node::new(&folder).exec(r#"credit=echo '{"score": 640}'"#);
    if let Some(services) = services {
        node = node.env(&services.env());
    }
    let node = node.spawn();
    let url = node.url.clone().unwrap();
    let client = reqwest::Client::new();

    let approvals = approvals();
    let covered: Vec<&str> = approvals.iter().map(|(name, ..)| *name).collect();
    let with_approvals: Vec<&str> = support::EXAMPLES
        .into_iter()
        .filter(|example| example_source(example).contains("type: approval"))
        .collect();
    assert_eq!(
        covered, with_approvals,
        "an example's approval is not tested"
    );

    for (definition, step, role, input) in approvals {
        let decider = api_key(database, data, &["approver", role]);
        let started: Value = client
            .post(format!("{url}/api/v1/workflows"))
            .bearer_auth(&operator)
            .json(&json!({"definition": definition, "input": input}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = started["id"].as_str().expect("started").to_owned();
        wait_for_step(&client, &url, &operator, &id, step, "waiting").await;
        let approve = |key: String| {
            client
                .post(format!("{url}/api/v1/tasks/{id}:{step}/approve"))
                .bearer_auth(key)
                .json(&json!({"comment": "fine"}))
                .send()
        };
        for refused in [&approver, &admin] {
            let answer = approve(refused.clone()).await.unwrap();
            assert_eq!(answer.status(), 403, "{definition}");
            let problem: Value = answer.json().await.unwrap();
            let detail = problem["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(&format!("role:{role}")), "{problem}");
        }
        let answer = approve(decider).await.unwrap();
        assert_eq!(
            answer.status(),
            200,
            "{definition}: {}",
            answer.text().await.unwrap()
        );
        wait_for_step(&client, &url, &operator, &id, step, "completed").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_node_lets_a_business_role_decide_every_example_approval() {
    every_example_approval_is_decided_by_its_business_role(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_node_lets_a_business_role_decide_every_example_approval() {
    let services = Services::new().await;
    every_example_approval_is_decided_by_its_business_role(Some(&services)).await;
    services.remove().await;
}
