//! The shipped example workflows (`workflows/`) as the tests run them: their
//! services' URLs pointed at a local mock that answers every request.

use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::folders::{TempFolder, workflows_folder};

/// The services the examples call over HTTP.
const HOSTS: [&str; 4] = [
    "http://inventory.internal:8080",
    "http://orders.internal:8080",
    "http://loans.internal:8080",
    "http://bi-catalogue.internal:8080",
];

/// Every file of `workflows/`, by definition name.
pub const EXAMPLES: [&str; 4] = [
    "order-fulfilment",
    "loan-approval",
    "travel-booking",
    "data-pipeline",
];

/// The source of a shipped example.
pub fn example_source(example: &str) -> String {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("workflows/{example}.yaml"));
    std::fs::read_to_string(&path).unwrap()
}

/// The examples, their services' URLs pointing at `mock`.
pub fn examples_folder(name: &str, mock: &str) -> TempFolder {
    let folder = workflows_folder(name, "placeholder", "");
    std::fs::remove_file(folder.join("placeholder.yaml")).unwrap();
    for example in EXAMPLES {
        let mut yaml = example_source(example);
        for host in HOSTS {
            yaml = yaml.replace(host, mock);
        }
        std::fs::write(folder.join(format!("{example}.yaml")), yaml).unwrap();
    }
    folder
}

/// Every request answered 200 with the ids the workflows read from their
/// `http` steps.
pub async fn services_mock() -> MockServer {
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
