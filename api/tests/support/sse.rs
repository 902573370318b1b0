//! Server-Sent Events as a client reads them.

use serde_json::Value;

/// One Server-Sent Event as received.
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    pub id: Option<i64>,
    pub event: String,
    pub data: Value,
}

/// An open SSE response, read event by event.
pub struct SseClient {
    response: reqwest::Response,
    buffer: String,
}

impl SseClient {
    pub async fn connect(url: &str, last_event_id: Option<i64>) -> Self {
        let mut request = reqwest::Client::new().get(url);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped); `None` when the server ended.
    pub async fn next(&mut self) -> Option<Received> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&frame) {
                    return Some(event);
                }
                continue;
            }
            let chunk = self.response.chunk().await.unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// Events until one at `position` (inclusive).
    pub async fn until(&mut self, position: i64) -> Vec<Received> {
        let mut received = Vec::new();
        while received
            .last()
            .is_none_or(|event: &Received| event.id < Some(position))
        {
            received.push(self.next().await.expect("the stream goes on"));
        }
        received
    }
}

fn parse(frame: &str) -> Option<Received> {
    let (mut id, mut event, mut data) = (None, String::from("message"), String::new());
    for line in frame.lines() {
        if let Some(value) = line.strip_prefix("id:") {
            id = Some(value.trim().parse().unwrap());
        } else if let Some(value) = line.strip_prefix("event:") {
            event = value.trim().to_owned();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push_str(value.trim_start());
        }
    }
    (!data.is_empty()).then(|| Received {
        id,
        event,
        data: serde_json::from_str(&data).unwrap(),
    })
}
