//! The event feeds: Server-Sent Events at `/api/v1/events/stream` and
//! `/api/v1/workflows/{id}/stream`, the same over WebSocket at `/ws/events`.
//! Each event carries its global position (`id:` in SSE); a client resumes
//! after it with `Last-Event-ID` (or `?after=`), with no gap and no duplicate.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use application::feed::{
    EventFeed, FeedFilter, FeedItem, FeedStart, FeedSubscription, SharedEvent,
};
use application::ports::{EventStore, LogHead, RecordedEvent};
use application::workflows;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::InstanceId;
use futures_lite::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiError;
use crate::error::Problem;
use crate::extract::PathParams;
use crate::problems::NoSuchWorkflow;

/// How often an idle SSE connection gets a comment, so proxies keep it.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The WebSocket close code for a subscriber let go for lagging: "try again later".
const CLOSE_LAGGED: u16 = 1013;

type Feed<S> = State<Arc<EventFeed<S>>>;

pub fn router<S, T>(feed: Arc<EventFeed<S>>) -> Router<T>
where
    S: EventStore + LogHead + 'static,
    T: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/api/v1/events/stream", get(stream_all::<S>))
        .route("/api/v1/workflows/{id}/stream", get(stream_workflow::<S>))
        .route("/ws/events", get(websocket::<S>))
        .with_state(feed)
}

/// `?workflow=ID&definition=NAME&types=A,B&after=POSITION`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct FeedQuery {
    /// Only this workflow's events (not on `/workflows/{id}/stream`).
    #[param(value_type = Option<Uuid>)]
    workflow: Option<String>,
    /// Only events of workflows of this definition.
    definition: Option<String>,
    /// Only these event types, comma-separated (`StepFailed,WorkflowFailed`).
    types: Option<String>,
    /// Resume after this log position (`Last-Event-ID` wins).
    #[param(minimum = 0)]
    after: Option<i64>,
    /// A credential, for clients that cannot set headers (the SSE routes
    /// only; read by the authentication layer, see the security schemes).
    #[param(ignore)]
    #[allow(dead_code)]
    access_token: Option<String>,
}

/// One event as the feeds send it: the `data:` of an SSE event, a
/// WebSocket text message.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FeedEvent {
    /// Its position in the global log (also the SSE `id:`).
    position: i64,
    /// The event type (also the SSE `event:`). A client that fell behind
    /// gets `{"type": "lagged", "resume_after": POSITION}` instead, then the
    /// end of the stream; it resumes after that position.
    #[serde(rename = "type")]
    event_type: String,
    stream_id: Uuid,
    version: u64,
    data: Value,
    metadata: Value,
    recorded_at: chrono::DateTime<chrono::Utc>,
}

impl FeedQuery {
    fn parse(query: Result<Query<Self>, QueryRejection>) -> Result<Self, ApiError> {
        query
            .map(|Query(query)| query)
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
    }

    fn filter(&self) -> Result<FeedFilter, ApiError> {
        Ok(FeedFilter {
            workflow: self.workflow.as_deref().map(instance_id).transpose()?,
            definition: self.definition.clone(),
            types: self
                .types
                .iter()
                .flat_map(|types| types.split(','))
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect::<HashSet<_>>(),
        })
    }

    /// `Last-Event-ID` (sent by a reconnecting client) wins over `?after=`.
    fn start(&self, headers: &HeaderMap, default: FeedStart) -> Result<FeedStart, ApiError> {
        let header = headers
            .get("last-event-id")
            .map(|value| {
                value
                    .to_str()
                    .ok()
                    .and_then(|text| text.trim().parse::<i64>().ok())
                    .filter(|position| *position >= 0)
                    .ok_or_else(|| {
                        ApiError::BadRequest("Last-Event-ID must be a log position".into())
                    })
            })
            .transpose()?;
        match header.or(self.after) {
            Some(position) if position < 0 => Err(ApiError::BadRequest(
                "`after` must be a log position".into(),
            )),
            Some(position) => Ok(FeedStart::After(position)),
            None => Ok(default),
        }
    }
}

/// The `Last-Event-ID` header a reconnecting `EventSource` sends.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub(crate) struct LastEventId {
    /// Resume after this log position (wins over `after`).
    #[param(rename = "Last-Event-ID", minimum = 0)]
    last_event_id: Option<i64>,
}

fn instance_id(id: &str) -> Result<InstanceId, ApiError> {
    Uuid::parse_str(id)
        .map(InstanceId)
        .map_err(|_| ApiError::BadRequest(format!("`{id}` is not a workflow id")))
}

/// Every new event (or from `after`), as Server-Sent Events: `id:` the log
/// position, `event:` the type, `data:` a [`FeedEvent`]. Endless; a lagging
/// client gets a `lagged` event and the end of the stream.
#[utoipa::path(
    get, path = "/api/v1/events/stream", tag = "feeds",
    params(FeedQuery, LastEventId),
    responses(
        (status = 200, description = "An endless stream of `FeedEvent`s", content_type = "text/event-stream", body = String),
        (status = 400, description = "A malformed filter, `after` or `Last-Event-ID`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("access_token" = [])),
)]
pub(crate) async fn stream_all<S: EventStore + LogHead + 'static>(
    State(feed): Feed<S>,
    headers: HeaderMap,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = FeedQuery::parse(query)?;
    let start = query.start(&headers, FeedStart::Live)?;
    Ok(sse(feed.subscribe(query.filter()?, start)))
}

/// One workflow's events, from its start unless resumed, as Server-Sent
/// Events (as `/api/v1/events/stream`).
#[utoipa::path(
    get, path = "/api/v1/workflows/{id}/stream", tag = "feeds",
    params(("id" = Uuid, Path, description = "The workflow's id"), FeedQuery, LastEventId),
    responses(
        (status = 200, description = "An endless stream of `FeedEvent`s", content_type = "text/event-stream", body = String),
        (status = 400, description = "Not a workflow id; a malformed filter, `after` or `Last-Event-ID`", body = Problem, content_type = "application/problem+json"),
        NoSuchWorkflow,
    ),
    security(("bearer" = []), ("api_key" = []), ("access_token" = [])),
)]
pub(crate) async fn stream_workflow<S: EventStore + LogHead + 'static>(
    State(feed): Feed<S>,
    PathParams(id): PathParams<String>,
    headers: HeaderMap,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let id = instance_id(&id)?;
    let query = FeedQuery::parse(query)?;
    if query.workflow.is_some() {
        return Err(ApiError::BadRequest(
            "the workflow is in the path; `workflow` is not a filter here".into(),
        ));
    }
    workflows::started(feed.store(), id).await?;
    let start = query.start(&headers, FeedStart::After(0))?;
    let filter = FeedFilter {
        workflow: Some(id),
        ..query.filter()?
    };
    Ok(sse(feed.subscribe(filter, start)))
}

/// The JSON of an event, as both feeds send it.
/// An event's JSON text, encoded once for all subscribers.
fn wire(event: &SharedEvent) -> Arc<str> {
    event.encoded(|event| event_json(event).to_string())
}

fn event_json(event: &RecordedEvent) -> Value {
    let sent = FeedEvent {
        position: event.position,
        event_type: event.event_type.clone(),
        stream_id: event.stream_id.0,
        version: event.version,
        data: event.data.clone(),
        metadata: serde_json::to_value(&event.metadata).unwrap_or(Value::Null),
        recorded_at: event.recorded_at,
    };
    serde_json::to_value(sent).unwrap_or(Value::Null)
}

fn lagged_json(resume_after: i64) -> Value {
    json!({ "type": "lagged", "resume_after": resume_after })
}

fn sse<S: EventStore + LogHead + 'static>(subscription: FeedSubscription<S>) -> Response {
    Sse::new(sse_events(subscription))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

/// The subscription as SSE events; it ends after a `lagged` event or when
/// the store fails (the client resumes after the last id it got).
fn sse_events<S: EventStore + LogHead + 'static>(
    subscription: FeedSubscription<S>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_lite::stream::unfold(Some(subscription), |state| async move {
        let mut subscription = state?;
        match subscription.next().await {
            Ok(Some(FeedItem::Event(event))) => {
                let sent = Event::default()
                    .id(event.position.to_string())
                    .event(&event.event_type)
                    .data(&*wire(&event));
                Some((Ok(sent), Some(subscription)))
            }
            Ok(Some(FeedItem::Lagged { resume_after })) => {
                let sent = Event::default()
                    .id(resume_after.to_string())
                    .event("lagged")
                    .data(lagged_json(resume_after).to_string());
                Some((Ok(sent), None))
            }
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(error = %error.report(), "an event stream ended");
                None
            }
        }
    })
}

/// The same events over a WebSocket: each a JSON text message (a
/// [`FeedEvent`]); a lagging client gets a `lagged` message and a close
/// with code 1013.
#[utoipa::path(
    get, path = "/ws/events", tag = "feeds",
    params(FeedQuery, LastEventId),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol; `FeedEvent`s follow as text messages"),
        (status = 400, description = "Not a WebSocket upgrade; a malformed filter, `after` or `Last-Event-ID`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn websocket<S: EventStore + LogHead + 'static>(
    State(feed): Feed<S>,
    headers: HeaderMap,
    query: Result<Query<FeedQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let query = FeedQuery::parse(query)?;
    let start = query.start(&headers, FeedStart::Live)?;
    let subscription = feed.subscribe(query.filter()?, start);
    Ok(upgrade.on_upgrade(move |socket| forward(socket, subscription)))
}

/// Sends each event as a JSON text message until the client leaves; a
/// lagging client gets a `lagged` message and a close with code 1013.
///
/// The subscription is read in a task of its own: [`FeedSubscription::next`]
/// is not cancel-safe (an event taken from the store and dropped with the
/// future would be lost), so it must never be the losing branch of a
/// `select!` against the client's messages.
async fn forward<S: EventStore + LogHead + 'static>(
    mut socket: WebSocket,
    subscription: FeedSubscription<S>,
) {
    let (items, mut received) = tokio::sync::mpsc::channel(64);
    let pump = tokio::spawn(pump(subscription, items));
    loop {
        let item = tokio::select! {
            item = received.recv() => item,
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => continue,
            },
        };
        let message = match item {
            Some(FeedItem::Event(event)) => wire(&event),
            Some(FeedItem::Lagged { resume_after }) => {
                let _ = socket
                    .send(Message::Text(lagged_json(resume_after).to_string().into()))
                    .await;
                let close = CloseFrame {
                    code: CLOSE_LAGGED,
                    reason: "lagged; resume after the last position".into(),
                };
                let _ = socket.send(Message::Close(Some(close))).await;
                break;
            }
            None => break,
        };
        if socket
            .send(Message::Text(message.as_ref().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    pump.abort();
}

/// Moves a subscription's items into a channel until the feed ends, fails
/// or the receiving side is gone.
async fn pump<S: EventStore + LogHead + 'static>(
    mut subscription: FeedSubscription<S>,
    items: tokio::sync::mpsc::Sender<FeedItem>,
) {
    loop {
        let item = tokio::select! {
            item = subscription.next() => item,
            // The client left: the pending read is dropped with the task.
            () = items.closed() => return,
        };
        match item {
            Ok(Some(item)) => {
                if items.send(item).await.is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(error = %error.report(), "a WebSocket event feed ended");
                return;
            }
        }
    }
}
