//! Access tokens: short-lived JWTs (HS256, pinned) exchanged for an API key.
//!
//! Signing keys come from configuration as `kid:base64` lines; the first signs, all verify, so a
//! key is rotated by adding a new one in front and dropping the old one after 15 minutes.

use crate::error::AppError;
use crate::model::Role;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "stratus";
pub const AUDIENCE: &str = "stratus-api";
/// RFC 9068's type for access tokens: a token of another kind is never taken for one.
pub const TOKEN_TYPE: &str = "at+jwt";
pub const LIFETIME_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user the key belongs to.
    pub sub: Uuid,
    /// The tenant the key is scoped to.
    pub tid: Uuid,
    /// The API key the token was exchanged for (checked on every use: revoking it ends the token).
    pub key: Uuid,
    pub role: Role,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

pub struct JwtKeys {
    keys: Vec<SigningKey>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("JwtKeys").field("kids", &ids).finish()
    }
}

fn invalid() -> AppError {
    AppError::InvalidToken("The access token is invalid or has expired.".into())
}

impl JwtKeys {
    pub fn parse(spec: &str, source: &str) -> Result<JwtKeys, String> {
        let keys = crate::backend::secrets::keyfile::parse(spec, source)?
            .into_iter()
            .map(|(kid, secret)| SigningKey {
                kid,
                encoding: EncodingKey::from_secret(&secret),
                decoding: DecodingKey::from_secret(&secret),
            })
            .collect();
        Ok(JwtKeys { keys })
    }

    pub fn active_kid(&self) -> &str {
        &self.keys[0].kid
    }

    /// Signs `claims` with the active key.
    pub fn issue(&self, claims: &Claims) -> Result<String, AppError> {
        let active = &self.keys[0];
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(active.kid.clone());
        header.typ = Some(TOKEN_TYPE.into());
        jsonwebtoken::encode(&header, claims, &active.encoding).map_err(|error| {
            tracing::error!(%error, "signing an access token failed");
            AppError::Internal
        })
    }

    /// Checks signature, algorithm, type, key id, issuer, audience, expiry and not-before.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::HS256 || header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(invalid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(spec: &str) -> JwtKeys {
        JwtKeys::parse(spec, "test").unwrap()
    }

    fn claims(exp_in: i64) -> Claims {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: Uuid::new_v4(),
            tid: Uuid::new_v4(),
            key: Uuid::new_v4(),
            role: Role::Member,
            iat: now,
            nbf: now,
            exp: now + exp_in,
            jti: Uuid::new_v4(),
        }
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_until_the_old_key_goes() {
        let old = crate::backend::secrets::keyfile::generate_line("old");
        let new = crate::backend::secrets::keyfile::generate_line("new");
        let token = keys(&old).issue(&claims(60)).unwrap();
        let both = keys(&format!("{new}\n{old}"));
        assert_eq!(both.active_kid(), "new");
        assert!(both.verify(&token).is_ok());
        assert!(keys(&new).verify(&token).is_err());
    }

    #[test]
    fn refuses_expired_and_foreign_tokens() {
        let k = keys(&crate::backend::secrets::keyfile::generate_line("a"));
        assert!(k.verify(&k.issue(&claims(-60)).unwrap()).is_err());
        let mut wrong_aud = claims(60);
        wrong_aud.aud = "someone-else".into();
        assert!(k.verify(&k.issue(&wrong_aud).unwrap()).is_err());
        assert!(k.verify("not.a.jwt").is_err());
    }
}
