//! Subscriptions over a real WebSocket (graphql-transport-ws): live events
//! of a workflow started after subscribing, one workflow's events from its
//! start, and the credential checked at `connection_init`.

use std::time::Duration;

use api::Limits;
use application::auth::Role;
use futures_lite::StreamExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::Node;

/// Guards against a hang only; no test depends on how fast anything is.
const HANG: Duration = Duration::from_secs(60);

struct Socket(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Socket {
    async fn connect(node: &Node, header: Option<&str>) -> Self {
        let url = format!("{}/graphql/ws", node.app.url.replace("http://", "ws://"));
        let mut request = url.into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        if let Some(credential) = header {
            let bearer = HeaderValue::from_str(&format!("Bearer {credential}")).unwrap();
            headers.insert("authorization", bearer);
        }
        let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        Self(socket)
    }

    async fn send(&mut self, message: Value) {
        let text = Utf8Bytes::from(message.to_string());
        futures_sink_send(&mut self.0, Message::Text(text)).await;
    }

    /// The next message: JSON, or the close frame's code and reason.
    async fn next(&mut self) -> Result<Value, (CloseCode, String)> {
        loop {
            let message = timeout(HANG, self.0.next()).await.unwrap();
            match message.expect("the socket is open").unwrap() {
                Message::Text(text) => return Ok(serde_json::from_str(&text).unwrap()),
                Message::Close(frame) => {
                    let frame = frame.expect("a close frame");
                    return Err((frame.code, frame.reason.to_string()));
                }
                _ => continue,
            }
        }
    }

    async fn init(&mut self, payload: Value) -> Result<Value, (CloseCode, String)> {
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        self.next().await
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let payload = json!({ "query": query, "variables": variables });
        self.send(json!({ "id": id, "type": "subscribe", "payload": payload }))
            .await;
    }

    /// The payload of the next `next` message of subscription `id`.
    async fn event(&mut self, id: &str) -> Value {
        let message = self.next().await.unwrap();
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], id);
        message["payload"].clone()
    }
}

async fn futures_sink_send(
    socket: &mut WebSocketStream<MaybeTlsStream<TcpStream>>,
    message: Message,
) {
    use async_graphql::futures_util::SinkExt;
    timeout(HANG, socket.send(message)).await.unwrap().unwrap();
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_subscriber_receives_live_events_of_a_workflow_started_after_it_subscribed(pool: PgPool) {
    let node = Node::secured(pool, Limits::default()).await;
    let viewer = node.key(Role::Viewer).unwrap();
    let mut socket = Socket::connect(&node, None).await;
    let authorization = format!("Bearer {viewer}");
    let ack = socket.init(json!({ "Authorization": authorization })).await;
    assert_eq!(ack.unwrap()["type"], "connection_ack");
    // From the head of the log as it is now: what follows is what the
    // subscriber sees, however soon the server serves the subscription.
    let head = node
        .app
        .log()
        .await
        .last()
        .map_or(0, |event| event.position);
    let query = "subscription($after: Int) {
        events(filter: { definition: \"alpha\", types: [\"WorkflowStarted\", \"WorkflowCompleted\"] }, after: $after) {
            position type workflowId actor
        }
    }";
    socket.subscribe("1", query, json!({ "after": head })).await;

    node.app.start("beta").await;
    let alpha = node.app.start("alpha").await.0.to_string();
    let started = socket.event("1").await;
    let started = &started["data"]["events"];
    assert_eq!(started["type"], "WorkflowStarted");
    assert_eq!(started["workflowId"], alpha.as_str());
    assert_eq!(started["actor"], "test");
    assert!(started["position"].as_i64().unwrap() > head);
    let completed = socket.event("1").await;
    assert_eq!(completed["data"]["events"]["type"], "WorkflowCompleted");
    assert_eq!(completed["data"]["events"]["workflowId"], alpha.as_str());

    // One workflow's events, from its start, on the same connection.
    let query = "subscription($id: ID!) { workflowEvents(workflowId: $id) { version type } }";
    socket.subscribe("2", query, json!({ "id": alpha })).await;
    let log = node.app.log().await;
    let expected: Vec<&str> = log
        .iter()
        .filter(|event| event.stream_id.0.to_string() == alpha)
        .map(|event| event.event_type.as_str())
        .collect();
    let mut received = Vec::new();
    while received.len() < expected.len() {
        let event = socket.event("2").await;
        received.push(
            event["data"]["workflowEvents"]["type"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(received, expected);

    socket
        .subscribe("3", query, json!({ "id": uuid::Uuid::nil() }))
        .await;
    let missing = socket.event("3").await;
    assert_eq!(missing["errors"][0]["extensions"]["code"], "NOT_FOUND");
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_websocket_without_a_valid_credential_is_closed_at_init(pool: PgPool) {
    let node = Node::secured(pool, Limits::default()).await;
    let mut anonymous = Socket::connect(&node, None).await;
    let (code, reason) = anonymous.init(json!({})).await.unwrap_err();
    assert_eq!(code, CloseCode::Protocol);
    assert!(reason.contains("required"), "{reason}");
    let mut forged = Socket::connect(&node, None).await;
    let refused = forged
        .init(json!({ "authorization": "Bearer dt_nonsense" }))
        .await;
    assert!(refused.unwrap_err().1.contains("not valid"));

    // The upgrade's header is enough on its own.
    let viewer = node.key(Role::Viewer).unwrap();
    let mut by_header = Socket::connect(&node, Some(viewer)).await;
    assert_eq!(
        by_header.init(json!({})).await.unwrap()["type"],
        "connection_ack"
    );
    let operator = node.key(Role::Operator).unwrap();
    let mut socket = Socket::connect(&node, None).await;
    socket.init(json!({ "x-api-key": operator })).await.unwrap();
    let mutation = "mutation { deployDefinition(source: \"name: x\") { name } }";
    socket.subscribe("1", mutation, json!({})).await;
    let refused = socket.event("1").await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert!(refused["data"].is_null());
}
