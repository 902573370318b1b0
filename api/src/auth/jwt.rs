//! JWT bearer tokens: HS256 with a shared secret or RS256 with a public key,
//! from configuration. The token names its caller (`sub`, not empty) and its
//! roles (a claim the node is told, `roles` by default: a list, or a string
//! of space-separated names); `exp` is required, `nbf` is checked when
//! present, and `iss` and `aud` when the node is configured to expect them.
//! Clocks may differ by [`LEEWAY_SECONDS`], no more.

use application::auth::Principal;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde_json::Value;

/// Where a token's roles are unless the node is told otherwise.
pub const DEFAULT_ROLES_CLAIM: &str = "roles";
/// The claim earlier versions read one role from; read when the roles
/// claim is absent, so tokens issued for them keep working.
const LEGACY_ROLE_CLAIM: &str = "role";

/// How far apart the issuer's clock and the node's may be: a token is
/// accepted this long after its `exp` and before its `nbf`.
pub const LEEWAY_SECONDS: u64 = 5;

pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
    /// A claim name, or a dotted path into nested claims
    /// (`realm_access.roles`, as Keycloak issues them).
    roles_claim: String,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    pub fn hs256(secret: &[u8]) -> Self {
        Self::new(DecodingKey::from_secret(secret), Algorithm::HS256)
    }

    /// From a PEM-encoded RSA public key.
    pub fn rs256(public_key_pem: &[u8]) -> Result<Self, String> {
        let key = DecodingKey::from_rsa_pem(public_key_pem)
            .map_err(|error| format!("not an RSA public key in PEM: {error}"))?;
        Ok(Self::new(key, Algorithm::RS256))
    }

    fn new(key: DecodingKey, algorithm: Algorithm) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.validate_aud = false;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            key,
            validation,
            roles_claim: DEFAULT_ROLES_CLAIM.to_owned(),
        }
    }

    /// Reads the roles from `claim` (a name, or a dotted path into nested
    /// objects).
    pub fn with_roles_claim(mut self, claim: &str) -> Self {
        self.roles_claim = claim.to_owned();
        self
    }

    /// Accepts only tokens whose `iss` is `issuer`.
    pub fn with_issuer(mut self, issuer: &str) -> Self {
        self.validation.set_issuer(&[issuer]);
        self.validation
            .required_spec_claims
            .insert("iss".to_owned());
        self
    }

    /// Accepts only tokens whose `aud` is (or, as an array, holds) `audience`.
    pub fn with_audience(mut self, audience: &str) -> Self {
        self.validation.set_audience(&[audience]);
        self.validation.validate_aud = true;
        self.validation
            .required_spec_claims
            .insert("aud".to_owned());
        self
    }

    /// The caller a token stands for; `None` for a bad signature, an
    /// expired token or missing claims.
    pub fn verify(&self, token: &str) -> Option<Principal> {
        let claims = decode::<Value>(token, &self.key, &self.validation)
            .ok()?
            .claims;
        let sub = claims.get("sub")?.as_str()?;
        if sub.trim().is_empty() {
            return None;
        }
        let found = self
            .roles_claim
            .split('.')
            .try_fold(&claims, |claims, name| claims.get(name))
            .or_else(|| claims.get(LEGACY_ROLE_CLAIM));
        Some(Principal {
            id: format!("jwt:{sub}"),
            roles: found.map(roles).unwrap_or_default(),
        })
    }
}

/// The role names a claim holds: a list of strings, or one string of
/// space-separated names (as OAuth's `scope`). Anything else holds none.
fn roles(claim: &Value) -> Vec<String> {
    match claim {
        Value::String(names) => names.split_whitespace().map(str::to_owned).collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    fn token(claims: Value) -> String {
        let key = EncodingKey::from_secret(b"secret");
        encode(&Header::default(), &claims, &key).unwrap()
    }

    fn roles_of(verifier: &JwtVerifier, extra: Value) -> Option<Vec<String>> {
        let mut claims = json!({"sub": "ann", "exp": 4_000_000_000u64});
        claims.as_object_mut()?.extend(extra.as_object()?.clone());
        verifier.verify(&token(claims)).map(|caller| caller.roles)
    }

    #[test]
    fn roles_come_from_the_configured_claim_as_a_list_or_a_string() {
        let default = JwtVerifier::hs256(b"secret");
        let nested = JwtVerifier::hs256(b"secret").with_roles_claim("realm_access.roles");
        let cases = [
            (
                &default,
                json!({"roles": ["approver", "manager"]}),
                vec!["approver", "manager"],
            ),
            (
                &default,
                json!({"roles": "approver manager"}),
                vec!["approver", "manager"],
            ),
            (&default, json!({"role": "operator"}), vec!["operator"]),
            (&default, json!({"roles": 7}), vec![]),
            (&default, json!({}), vec![]),
            (
                &nested,
                json!({"realm_access": {"roles": ["viewer"]}}),
                vec!["viewer"],
            ),
        ];
        for (verifier, extra, expected) in cases {
            assert_eq!(
                roles_of(verifier, extra.clone()),
                Some(expected.iter().map(|r| r.to_string()).collect()),
                "{extra}"
            );
        }
    }

    const SECRET: &[u8] = b"a secret for these tests only";

    fn verify(claims: Value) -> Option<Principal> {
        let token = encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        JwtVerifier::hs256(SECRET).verify(&token)
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn a_token_is_valid_only_between_its_nbf_and_exp_give_or_take_the_leeway() {
        let claims =
            |nbf: i64, exp: i64| json!({"sub": "ann", "role": "viewer", "nbf": nbf, "exp": exp});
        assert!(verify(claims(now() - 10, now() + 600)).is_some());
        assert!(
            verify(claims(now() + 600, now() + 1200)).is_none(),
            "not yet valid"
        );
        assert!(
            verify(claims(now() - 600, now() - 30)).is_none(),
            "expired 30 s ago"
        );
        assert!(
            verify(claims(now() - 600, now() - 2)).is_some(),
            "within the leeway"
        );
    }

    #[test]
    fn a_token_must_name_its_caller() {
        let exp = now() + 600;
        assert!(verify(json!({"sub": "", "role": "admin", "exp": exp})).is_none());
        assert!(verify(json!({"sub": "  ", "role": "admin", "exp": exp})).is_none());
        assert!(verify(json!({"role": "admin", "exp": exp})).is_none());
        let named = verify(json!({"sub": "ann", "role": "admin", "exp": exp})).unwrap();
        assert_eq!(named.id, "jwt:ann");
    }
}
