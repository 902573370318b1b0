//! API keys on both stores: a created key verifies as its roles (business
//! roles beside a permission role, never alone), a wrong or
//! revoked one does not, and only the digest of the secret is stored.

mod support;

use application::Error;
use application::auth::{ApiKeys, Role};
use application::clock::SystemClock;
use application::ports::ApiKeyStore;

async fn keys_verify_until_revoked<K: ApiKeyStore>(store: K) {
    let clock = SystemClock::default();
    let keys = ApiKeys::new(store);
    let issued = keys
        .create(&["operator", "manager", "operator"], "ci", &clock)
        .await
        .unwrap();
    let other = keys
        .create(&[Role::Viewer.as_str()], "dash", &clock)
        .await
        .unwrap();
    for refused in [&["manager"][..], &["two words", "admin"], &[]] {
        let error = keys.create(refused, "x", &clock).await.unwrap_err();
        assert!(
            matches!(error, Error::Invalid { .. }),
            "{refused:?}: {error:?}"
        );
    }
    assert!(
        issued
            .key
            .starts_with(&format!("dtk_{}_", issued.record.id))
    );
    assert!(!issued.key.contains(&hex(&issued.record.secret_sha256)));

    let caller = keys.verify(&issued.key).await.unwrap().unwrap();
    assert_eq!(caller.roles, ["operator", "manager"]);
    assert_eq!(caller.id, format!("apikey:{}", issued.record.id));
    let mut wrong = issued.key.clone();
    wrong.pop();
    wrong.push('x');
    for presented in [wrong.as_str(), "dtk_nope_secret", "dtk_", "bearer"] {
        assert_eq!(keys.verify(presented).await.unwrap(), None, "{presented}");
    }

    keys.revoke(&issued.record.id, &clock).await.unwrap();
    assert_eq!(keys.verify(&issued.key).await.unwrap(), None);
    assert!(keys.revoke(&issued.record.id, &clock).await.is_err());
    assert!(keys.verify(&other.key).await.unwrap().is_some());
    let listed = keys.list().await.unwrap();
    assert_eq!(listed.len(), 2);
    let revoked = listed.iter().find(|k| k.id == issued.record.id).unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(revoked.name, "ci");
    assert_eq!(revoked.secret_sha256, issued.record.secret_sha256);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

support::on_both_stores!(keys_verify_until_revoked);
