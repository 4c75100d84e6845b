//! Access tokens (short-lived HS256 JWTs) and refresh tokens (opaque random strings, stored only as SHA-256 hashes).

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::{Caller, Role};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    iat: i64,
    exp: i64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is malformed or its signature does not match")]
    Invalid,
}

#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
}

impl Tokens {
    pub fn new(secret: &[u8], access_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
        }
    }

    pub fn issue_access(&self, caller: Caller, now: DateTime<Utc>) -> anyhow::Result<(String, DateTime<Utc>)> {
        let expires_at = now + self.access_ttl;
        let claims = Claims {
            sub: caller.user_id.to_string(),
            role: role_name(caller.role).into(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, expires_at))
    }

    pub fn verify_access(&self, token: &str) -> Result<Caller, TokenError> {
        self.verify_access_until(token).map(|(caller, _)| caller)
    }

    /// The caller a token names, and when the token stops naming it.
    pub fn verify_access_until(&self, token: &str) -> Result<(Caller, DateTime<Utc>), TokenError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|error| {
                match error.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                }
            })?;
        let user_id = data.claims.sub.parse().map_err(|_| TokenError::Invalid)?;
        let role = match data.claims.role.as_str() {
            "ADMIN" => Role::Admin,
            "USER" => Role::User,
            _ => return Err(TokenError::Invalid),
        };
        let expires_at = DateTime::from_timestamp(data.claims.exp, 0).ok_or(TokenError::Invalid)?;
        Ok((Caller { user_id, role }, expires_at))
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "ADMIN",
        Role::User => "USER",
    }
}

/// A new refresh token: 256 random bits, URL-safe.
pub fn new_refresh_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a refresh token: a leaked table cannot be replayed.
pub fn hash_refresh_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a test secret that is long enough!!";

    #[test]
    fn a_token_round_trips_to_its_caller() {
        let tokens = Tokens::new(SECRET, Duration::from_secs(60));
        let caller = Caller {
            user_id: 7,
            role: Role::Admin,
        };
        let (token, _) = tokens.issue_access(caller, Utc::now()).expect("issue");
        assert_eq!(tokens.verify_access(&token), Ok(caller));
    }

    #[test]
    fn an_old_token_is_expired_and_another_key_is_invalid() {
        let tokens = Tokens::new(SECRET, Duration::from_secs(60));
        let caller = Caller {
            user_id: 7,
            role: Role::User,
        };
        let (old, _) = tokens
            .issue_access(caller, Utc::now() - chrono::Duration::hours(1))
            .expect("issue");
        assert_eq!(tokens.verify_access(&old), Err(TokenError::Expired));
        let other = Tokens::new(b"another secret that is long enough", Duration::from_secs(60));
        let (foreign, _) = other.issue_access(caller, Utc::now()).expect("issue");
        assert_eq!(tokens.verify_access(&foreign), Err(TokenError::Invalid));
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let token = new_refresh_token();
        assert_ne!(token, new_refresh_token());
        assert_eq!(hash_refresh_token(&token).len(), 64);
    }
}
