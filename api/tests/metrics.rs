//! `/metrics` as a scraper sees it: gzipped when the scraper accepts gzip
//! (Prometheus does), plain otherwise, and without the dependency gauges of
//! a process that has no database or broker.

use std::io::Read as _;
use std::sync::Arc;

use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::metrics::{Metrics, Telemetry};
use axum::body::Body;
use axum::http::{Request, header};
use tower::ServiceExt as _;

fn worker_router() -> axum::Router {
    let telemetry = Telemetry::new(
        Arc::new(Metrics::new()),
        Arc::new(DefinitionRegistry::default()),
        Arc::new(SystemClock::default()),
    );
    api::operations_router(Arc::new(telemetry))
}

async fn scrape(accept_encoding: Option<&str>) -> (Option<String>, Vec<u8>) {
    let mut request = Request::get("/metrics");
    if let Some(coding) = accept_encoding {
        request = request.header(header::ACCEPT_ENCODING, coding);
    }
    let response = worker_router()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let encoding = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|value| value.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (encoding, body.to_vec())
}

#[tokio::test]
async fn a_scraper_that_accepts_gzip_gets_the_exposition_gzipped() {
    let (encoding, body) = scrape(Some("gzip, deflate")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(body.as_slice())
        .read_to_string(&mut text)
        .expect("a gzip body");
    assert!(text.contains("distorch_build_info{version=\""), "{text}");
}

#[tokio::test]
async fn a_scraper_that_does_not_accept_gzip_gets_plain_text() {
    for accept in [None, Some("identity"), Some("gzip;q=0")] {
        let (encoding, body) = scrape(accept).await;
        assert_eq!(encoding, None, "{accept:?}");
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("distorch_build_info{version=\""), "{text}");
    }
}

#[tokio::test]
async fn a_process_without_database_or_broker_does_not_report_them_down() {
    let (_, body) = scrape(None).await;
    let text = String::from_utf8(body).unwrap();
    assert!(!text.contains("distorch_database_up"), "{text}");
    assert!(!text.contains("distorch_broker_up"), "{text}");
}
