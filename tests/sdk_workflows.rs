//! The example workflows of workflows/, each run to its end with its task
//! queues served by an SDK worker (sdk/python/examples/workflows.py,
//! sdk/typescript/examples/workflows.js): on `distorch serve` over
//! PostgreSQL + RabbitMQ (the worker on AMQP), and on an embedded node (the
//! worker long-polling over HTTP). The `http` steps go to a local mock
//! server, through the node's built-in HTTP executor. A sold-out hotel is a
//! `Permanent` error: not retried, and the booking is compensated.

mod sdk_support;
mod support;

use std::time::Duration;

use sdk_support::{Implementation, root, sdk_script};
use serde_json::{Value, json};
use support::{
    Node, Services, TempFolder, distorch, get_json, spawn, start, statuses,
    wait_until_final_states, workflows_folder,
};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const HOSTS: [&str; 4] = [
    "http://inventory.internal:8080",
    "http://orders.internal:8080",
    "http://loans.internal:8080",
    "http://bi-catalogue.internal:8080",
];
const EXAMPLES: [&str; 4] = [
    "order-fulfilment",
    "loan-approval",
    "travel-booking",
    "data-pipeline",
];

/// The examples, their services' URLs pointing at `mock`.
fn examples_folder(name: &str, mock: &str) -> TempFolder {
    let folder = workflows_folder(name, "placeholder", "");
    std::fs::remove_file(folder.join("placeholder.yaml")).unwrap();
    for example in EXAMPLES {
        let path = root().join(format!("workflows/{example}.yaml"));
        let mut yaml = std::fs::read_to_string(&path).unwrap();
        for host in HOSTS {
            yaml = yaml.replace(host, mock);
        }
        std::fs::write(folder.join(format!("{example}.yaml")), yaml).unwrap();
    }
    folder
}

/// Every request answered 200 with the ids the workflows read from their
/// `http` steps.
async fn services_mock() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "reservation_id": "res-1", "application_id": "app-1",
            "url": "https://bi.example/reports/1",
        })))
        .mount(&server)
        .await;
    server
}

fn step<'a>(state: &'a Value, id: &str) -> &'a Value {
    state["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|step| step["id"] == id))
        .unwrap_or_else(|| panic!("no step `{id}` in {state:#}"))
}

#[derive(Clone, Copy, PartialEq)]
enum Transport {
    Amqp,
    Http,
}

async fn runs_the_examples(implementation: Implementation, transport: Transport) {
    let mock = services_mock().await;
    let name = format!("sdk-examples-{}-{}", implementation.name(), transport as u8);
    let folder = examples_folder(&name, &mock.uri());
    let secret = ("DISTORCH_SECRET_BI_CATALOGUE_TOKEN", "bi-token".to_owned());
    let services = match transport {
        Transport::Amqp => Some(Services::new().await),
        Transport::Http => None,
    };
    let node = match &services {
        Some(services) => {
            let mut env = services.env();
            env.push(secret);
            Node::new(&folder).env(&env).spawn()
        }
        None => {
            let data = folder.join("node.db");
            let args = [
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--workflows",
                folder.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
            ];
            spawn(distorch(&args), &[secret], true)
        }
    };
    let url = node.url.clone().unwrap();
    let script = match implementation {
        Implementation::Python => "sdk/python/examples/workflows",
        _ => "sdk/typescript/examples/workflows",
    };
    let worker = match &services {
        Some(services) => sdk_script(implementation, script, &["amqp", &services.amqp_url], &[]),
        None => sdk_script(implementation, script, &["http", &url], &[]),
    };

    let client = reqwest::Client::new();
    let address = json!({"name": "Ada", "street": "1 Rue", "city": "Paris", "country": "FR"});
    let trip = |to: &str| {
        json!({"trip_id": "t-1", "traveller": {"name": "Ada", "email": "ada@example.com"},
        "from": "CDG", "to": to, "departure": "2027-03-01", "return": "2027-03-08"})
    };
    let starts = [
        (
            "order-fulfilment",
            json!({"order_id": "o-1", "customer_id": "c-1", "amount": 120, "currency": "EUR",
            "items": [{"sku": "sku-1", "quantity": 2}], "shipping_address": address}),
        ),
        (
            "loan-approval",
            json!({"applicant_id": "a-1", "amount": 5000, "term_months": 12, "iban": "DE89370400440532013000"}),
        ),
        ("travel-booking", trip("LIS")),
        ("travel-booking", trip("SOLD-OUT")),
        (
            "data-pipeline",
            json!({"date": "2026-12-01", "region": "eu"}),
        ),
    ];
    let mut ids = Vec::new();
    for (definition, input) in starts {
        ids.push(start(&client, &url, definition, input).await);
    }
    let states = wait_until_final_states(&client, &url, &ids, Duration::from_secs(120)).await;
    let context = || format!("{states:#?}\nworker:\n{}", worker.log());
    assert_eq!(
        statuses(&states),
        [
            "completed",
            "completed",
            "completed",
            "compensated",
            "completed"
        ],
        "{}",
        context()
    );

    let [order, loan, booked, sold_out, pipeline] = states.as_slice() else {
        unreachable!()
    };
    assert_eq!(
        order["output"],
        json!({"order_id": "o-1", "approval": "skipped", "charge_id": format!("ch-{}:charge_payment", ids[0]),
            "tracking_number": "TR-o-1"}),
        "{}",
        context()
    );
    assert_eq!(
        loan["output"],
        json!({"application_id": "app-1", "score": 780, "decided_by": "policy:small-loan", "payout": "tr-app-1"}),
        "{}",
        context()
    );
    assert_eq!(
        booked["output"],
        json!({"trip_id": "t-1", "flight": "PNR-t-1", "hotel": "H-t-1", "car": "C-t-1"})
    );
    // Permanent: failed at once although three attempts are allowed; the
    // bookings that were made are cancelled by the compensation functions.
    let hotel = step(sold_out, "book_hotel");
    assert_eq!(
        (&hotel["status"], &hotel["attempt"]),
        (&json!("failed"), &json!(1)),
        "{}",
        context()
    );
    assert!(
        hotel["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no room in SOLD-OUT"),
        "{}",
        context()
    );
    let history = get_json(
        &client,
        &format!("{url}/api/v1/workflows/{}/events", ids[3]),
    )
    .await;
    let mut undone: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"] == "CompensationCompleted")
        .filter_map(|event| event["data"]["step"].as_str())
        .collect();
    undone.sort_unstable();
    assert_eq!(
        undone,
        ["book_car", "book_flight"],
        "{history:#}\n{}",
        context()
    );
    assert_eq!(
        pipeline["output"],
        json!({"date": "2026-12-01", "with_map": true, "published": "https://bi.example/reports/1"}),
        "{}",
        context()
    );
    assert_eq!(
        step(pipeline, "aggregate_report")["output"]["tables"],
        json!([
            "clean-orders@snap-2026-12-01-eu",
            "enrich-customers@snap-2026-12-01-eu",
            "daily-metrics@snap-2026-12-01-eu",
            "geo@snap-2026-12-01-eu"
        ])
    );
    // The heartbeats with progress (`payments`, `etl.transform`) were all
    // accepted (over HTTP: 200 or 409 from `POST .../heartbeat`). Whether the
    // read models show the progress depends on their lag (a heartbeat before
    // the step's start is projected is not kept), so it is not asserted here.
    assert!(
        !worker.log().contains("a heartbeat failed"),
        "{}",
        context()
    );

    drop(worker);
    drop(node);
    if let Some(services) = services {
        services.remove().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_workers_run_the_examples_on_postgres_and_rabbitmq() {
    runs_the_examples(Implementation::Python, Transport::Amqp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_workers_run_the_examples_on_postgres_and_rabbitmq() {
    runs_the_examples(Implementation::TypeScript, Transport::Amqp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_workers_run_the_examples_over_http_on_an_embedded_node() {
    runs_the_examples(Implementation::Python, Transport::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_workers_run_the_examples_over_http_on_an_embedded_node() {
    runs_the_examples(Implementation::TypeScript, Transport::Http).await;
}
