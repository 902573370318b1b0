//! The console's bundle and the routes added for it, through a real router
//! on a port: every page path gets the console (deep links survive a
//! reload), `/api/` paths stay problem documents, GraphiQL comes from the
//! bundle, and the new reads answer as documented.

mod support;

use application::feed::FeedConfig;
use serde_json::Value;
use sqlx::PgPool;
use support::App;

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.unwrap()
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn every_page_path_gets_the_console_and_api_paths_stay_problems(pool: PgPool) {
    let app = App::new(pool, FeedConfig::default(), false).await;
    for path in [
        "/",
        "/workflows",
        "/workflows/0190a0b0-0000-7000-8000-000000000000",
        "/approvals",
        "/definitions/order",
        "/sign-in",
    ] {
        let page = get(&format!("{}{path}", app.url)).await;
        assert_eq!(page.status(), 200, "{path}");
        assert!(
            page.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let policy = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(policy.contains("default-src 'self'"), "{policy}");
        let html = page.text().await.unwrap();
        assert!(html.contains(r#"<div id="app">"#), "{path}: {html}");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
    }
    let html = get(&format!("{}/", app.url)).await.text().await.unwrap();
    let script = html
        .split("src=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let asset = get(&format!("{}{script}", app.url)).await;
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert_eq!(
        get(&format!("{}/favicon.svg", app.url)).await.headers()["content-type"],
        "image/svg+xml"
    );

    for (method, path) in [
        ("GET", "/api/v1/nothing"),
        ("GET", "/api"),
        ("POST", "/workflows"),
    ] {
        let client = reqwest::Client::new();
        let answer = client
            .request(method.parse().unwrap(), format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{method} {path}");
        assert_eq!(answer.headers()["content-type"], "application/problem+json");
        let problem: Value = answer.json().await.unwrap();
        assert_eq!(problem["status"], 404);
    }

    let graphiql = get(&format!("{}/graphql", app.url)).await;
    assert_eq!(graphiql.status(), 200);
    let page = graphiql.text().await.unwrap();
    assert!(page.contains(r#"id="graphiql""#), "{page}");
    assert!(!page.contains("unpkg"), "{page}");
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn the_reads_added_for_the_console_answer_as_documented(pool: PgPool) {
    let app = App::new(pool, FeedConfig::default(), false).await;
    let json = |path: &'static str| {
        let url = format!("{}{path}", app.url);
        async move {
            let answer = get(&url).await;
            (
                answer.status().as_u16(),
                answer.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, me) = json("/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], "anonymous");
    assert_eq!(
        me["permissions"],
        serde_json::json!(["read", "operate", "approve", "administer"])
    );

    let (status, overview) = json("/api/v1/overview").await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["minutes"].as_array().unwrap().len(), 60);
    assert_eq!(overview["approvals_waiting"], 0);

    let (status, approvals) = json("/api/v1/approvals?decidable_by=me").await;
    assert_eq!(
        (status, approvals["items"].as_array().unwrap().len()),
        (200, 0)
    );
    assert_eq!(json("/api/v1/approvals?decidable_by=you").await.0, 400);
    assert_eq!(json("/api/v1/approvals?workflow=nope").await.0, 400);

    assert_eq!(json("/api/v1/definitions/no-such/steps").await.0, 404);
}
