//! Credentials in the query (`?access_token=`, the SSE routes only) and the
//! JWT issuer and audience checks.

mod support;

use std::sync::Arc;

use api::{ApiConfig, Authentication, JwtVerifier};
use application::auth::{ApiKeys, Role};
use application::clock::SystemClock;
use application::feed::FeedConfig;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};
use sqlx::PgPool;
use support::App;

const SECRET: &[u8] = b"another test secret of no importance";

fn sign(claims: Value) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

fn token(role: &str) -> String {
    let exp = chrono::Utc::now().timestamp() + 600;
    sign(json!({ "sub": "carol", "role": role, "exp": exp }))
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn the_sse_routes_take_the_credential_in_the_query(pool: PgPool) {
    let app = App::with(pool, FeedConfig::default(), true, |store| ApiConfig {
        authentication: Authentication::Required {
            keys: Some(Arc::new(ApiKeys::new(store.clone()))),
            jwt: Some(Arc::new(JwtVerifier::hs256(SECRET))),
        },
        ..ApiConfig::default()
    })
    .await;
    let keys = ApiKeys::new(app.engine.store().clone());
    let clock = SystemClock::default();
    let viewer = keys
        .create(&[Role::Viewer.as_str()], "browser", &clock)
        .await
        .unwrap();
    let revoked = keys
        .create(&[Role::Admin.as_str()], "gone", &clock)
        .await
        .unwrap();
    keys.revoke(&revoked.record.id, &clock).await.unwrap();
    let id = app.start("beta").await.0;
    let client = reqwest::Client::new();
    let get = |path: String| client.get(format!("{}{path}", app.url)).send();

    for credential in [viewer.key.clone(), token("viewer")] {
        for route in [
            "/api/v1/events/stream".to_owned(),
            format!("/api/v1/workflows/{id}/stream"),
        ] {
            let stream = get(format!("{route}?access_token={credential}&after=0"))
                .await
                .unwrap();
            assert_eq!(stream.status(), 200, "{route}");
            assert_eq!(stream.headers()["content-type"], "text/event-stream");
        }
    }
    let refused = [
        (revoked.key.clone(), "a revoked key"),
        (token("viewer") + "x", "a bad signature"),
    ];
    for (credential, what) in refused {
        let stream = get(format!("/api/v1/events/stream?access_token={credential}"))
            .await
            .unwrap();
        assert_eq!(stream.status(), 401, "{what}");
        assert_eq!(stream.headers()["content-type"], "application/problem+json");
    }
    // A role that grants nothing (a business role alone) reads nothing.
    let nothing = get(format!(
        "/api/v1/events/stream?access_token={}",
        token("root")
    ))
    .await
    .unwrap();
    assert_eq!(nothing.status(), 403);
    let elsewhere = get(format!(
        "/api/v1/workflows/{id}?access_token={}",
        viewer.key
    ))
    .await
    .unwrap();
    assert_eq!(
        elsewhere.status(),
        401,
        "only the SSE routes read the query"
    );
    let header_wins = client
        .get(format!(
            "{}/api/v1/events/stream?access_token={}",
            app.url, viewer.key
        ))
        .bearer_auth(&revoked.key)
        .send()
        .await
        .unwrap();
    assert_eq!(header_wins.status(), 401);
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let verifier = JwtVerifier::hs256(SECRET)
        .with_issuer("https://login.example")
        .with_audience("distorch");
    let exp = chrono::Utc::now().timestamp() + 600;
    let claims = |extra: Value| {
        let mut claims = json!({ "sub": "dave", "role": "operator", "exp": exp });
        for (key, value) in extra.as_object().unwrap() {
            claims[key] = value.clone();
        }
        sign(claims)
    };
    let accepted = [
        json!({ "iss": "https://login.example", "aud": "distorch" }),
        json!({ "iss": "https://login.example", "aud": ["other", "distorch"] }),
    ];
    for extra in accepted {
        let principal = verifier.verify(&claims(extra.clone()));
        assert_eq!(
            principal.map(|p| (p.id, p.roles)),
            Some((
                "jwt:dave".to_owned(),
                vec![Role::Operator.as_str().to_owned()]
            )),
            "{extra}"
        );
    }
    let refused = [
        json!({ "iss": "https://evil.example", "aud": "distorch" }),
        json!({ "aud": "distorch" }),
        json!({ "iss": "https://login.example", "aud": "billing" }),
        json!({ "iss": "https://login.example" }),
    ];
    for extra in refused {
        assert!(verifier.verify(&claims(extra.clone())).is_none(), "{extra}");
    }
    let unconfigured = JwtVerifier::hs256(SECRET);
    assert!(
        unconfigured
            .verify(&claims(json!({ "iss": "anyone", "aud": "anything" })))
            .is_some(),
        "without configuration neither claim is checked"
    );
}
