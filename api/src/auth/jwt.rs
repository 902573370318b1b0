//! JWT bearer tokens: HS256 with a shared secret or RS256 with a public key,
//! from configuration. The token names its caller (`sub`) and its role
//! (`role`); `exp` is required, and `iss` and `aud` when the node is
//! configured to expect them.

use application::auth::{Principal, Role};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    role: Role,
}

pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
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
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { key, validation }
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
        let claims = decode::<Claims>(token, &self.key, &self.validation)
            .ok()?
            .claims;
        Some(Principal {
            id: format!("jwt:{}", claims.sub),
            role: claims.role,
        })
    }
}
