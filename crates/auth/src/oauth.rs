//! OAuth2 client credentials (RFC 6749 §4.4): a client trades its clientId and accessToken for a
//! short-lived JWT carrying its expanded scopes, and then calls any service with
//! `Authorization: Bearer <jwt>` (what `balrogclient` and browser sessions use).
//!
//! Tokens are HS256 under a key derived from the root token, so every server of a deployment
//! issues and accepts the same tokens. A token names its client and is re-checked on each use
//! against the (cached) client: deleting, disabling or expiring the client, resetting its access
//! token, or taking scopes away from it ends the token at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::{CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use http::StatusCode;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use relyard_core::{ApiError, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::authn::Realm;
use crate::caller::Caller;
use crate::scopes::{is_valid_scope, normalize_scopes, ScopeExpr};
use crate::service::{derive_token, AuthFailure, AuthService};
use crate::tempcreds::constant_time_eq;

/// The longest a token lives; shorter when the client expires sooner.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 3600;
/// The `iss` of every token; checked on use so that tokens of other issuers never pass.
const ISSUER: &str = "relyard";
/// Clock difference tolerated between the servers of a deployment.
const LEEWAY_SECS: u64 = 30;
const GRANT_TYPE: &str = "client_credentials";

/// Signing material, derived from the root token like the queue's client token.
pub(crate) struct OAuthKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Keys the fingerprint binding a token to the access token it was issued for.
    binding: String,
}

impl OAuthKeys {
    pub(crate) fn new(root_access_token: &str) -> OAuthKeys {
        let secret = derive_token(root_access_token, "relyard oauth2 jwt hs256");
        OAuthKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            binding: derive_token(root_access_token, "relyard oauth2 token binding"),
        }
    }

    /// Tells access tokens apart without revealing them (an HMAC under a server key).
    fn fingerprint(&self, access_token: &str) -> String {
        derive_token(&self.binding, access_token)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    /// The clientId.
    sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
    iat: i64,
    exp: i64,
    jti: String,
    scopes: Vec<String>,
    /// Fingerprint of the client's access token at issue: a reset revokes earlier tokens.
    tkf: String,
}

/// An RFC 6749 §5.2 error, answered as `{error, error_description}`.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidClient(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidScope(String),
    #[error(transparent)]
    Internal(ApiError),
}

impl OAuthError {
    fn code(&self) -> (StatusCode, &'static str) {
        match self {
            OAuthError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            OAuthError::InvalidClient(_) => (StatusCode::UNAUTHORIZED, "invalid_client"),
            OAuthError::UnsupportedGrantType(_) => {
                (StatusCode::BAD_REQUEST, "unsupported_grant_type")
            }
            OAuthError::InvalidScope(_) => (StatusCode::BAD_REQUEST, "invalid_scope"),
            OAuthError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        if let OAuthError::Internal(e) = self {
            return e.into_response();
        }
        let (status, error) = self.code();
        let body = json!({ "error": error, "error_description": self.to_string() });
        let mut resp = (status, no_store(), Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6749 §5.2: a 401 names the authentication scheme the client may use.
            resp.headers_mut().insert(
                WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Basic realm=\"relyard\""),
            );
        }
        resp
    }
}

/// Token responses must not be cached (RFC 6749 §5.1).
fn no_store() -> [(http::HeaderName, &'static str); 2] {
    [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")]
}

/// A token request, from a form or JSON body, with the client authenticated by the body or by
/// `Authorization: Basic`.
#[derive(Debug)]
pub struct TokenRequest {
    pub grant_type: String,
    pub client_id: String,
    pub client_secret: String,
    pub audience: Option<String>,
    /// `scope`: space-separated (RFC 6749 §3.3) or, in JSON, a list.
    pub scopes: Option<Vec<String>>,
}

impl TokenRequest {
    pub fn parse(
        content_type: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<TokenRequest, OAuthError> {
        let mut params = if content_type == "application/json" {
            json_params(body)?
        } else {
            form_params(body)?
        };
        let mut take = |name: &str| params.remove(name);
        let grant_type = take("grant_type")
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or_else(|| OAuthError::InvalidRequest("grant_type is required".into()))?;
        let from_body = (take("client_id"), take("client_secret"));
        let audience = match take("audience") {
            None => None,
            Some(Value::String(a)) if !a.is_empty() && a.len() <= 1024 => Some(a),
            Some(_) => {
                return Err(OAuthError::InvalidRequest(
                    "audience must be a non-empty string".into(),
                ))
            }
        };
        let scopes = take("scope").map(scope_list).transpose()?;
        let basic = authorization.map(basic_credentials).transpose()?;
        let (client_id, client_secret) = match (basic, from_body) {
            (Some(_), (Some(_), _) | (_, Some(_))) => return Err(OAuthError::InvalidRequest(
                "authenticate the client either with Authorization: Basic or in the body, not both"
                    .into(),
            )),
            (Some(pair), _) => pair,
            (None, (Some(Value::String(id)), Some(Value::String(secret)))) => (id, secret),
            (None, _) => {
                return Err(OAuthError::InvalidClient(
                    "client_id and client_secret are required".into(),
                ))
            }
        };
        Ok(TokenRequest {
            grant_type,
            client_id,
            client_secret,
            audience,
            scopes,
        })
    }
}

fn json_params(body: &[u8]) -> Result<HashMap<String, Value>, OAuthError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map.into_iter().collect()),
        _ => Err(OAuthError::InvalidRequest(
            "body must be a JSON object".into(),
        )),
    }
}

fn form_params(body: &[u8]) -> Result<HashMap<String, Value>, OAuthError> {
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        // RFC 6749 §3.2: parameters must not be repeated.
        if params
            .insert(name.to_string(), Value::String(value.into_owned()))
            .is_some()
        {
            return Err(OAuthError::InvalidRequest(format!(
                "parameter {name} is repeated"
            )));
        }
    }
    Ok(params)
}

fn scope_list(value: Value) -> Result<Vec<String>, OAuthError> {
    let scopes: Vec<String> = match value {
        Value::String(s) => s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(OAuthError::InvalidScope("scope must list strings".into())),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(OAuthError::InvalidScope("scope must be a string".into())),
    };
    if let Some(bad) = scopes.iter().find(|s| !is_valid_scope(s)) {
        return Err(OAuthError::InvalidScope(format!("invalid scope {bad:?}")));
    }
    Ok(scopes)
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(authorization: &str) -> Result<(String, String), OAuthError> {
    let bad = || OAuthError::InvalidClient("malformed Authorization: Basic header".into());
    let (scheme, encoded) = authorization.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::InvalidClient(
            "the token endpoint takes Authorization: Basic or credentials in the body".into(),
        ));
    }
    let raw = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    Ok((decode(id)?, decode(secret)?))
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        (no_store(), Json(self)).into_response()
    }
}

impl AuthService {
    /// Issues a token for a client that proves its access token.
    pub async fn issue_token(&self, req: TokenRequest) -> Result<TokenResponse, OAuthError> {
        if req.grant_type != GRANT_TYPE {
            return Err(OAuthError::UnsupportedGrantType(format!(
                "grant_type {:?} is not supported; use {GRANT_TYPE}",
                req.grant_type
            )));
        }
        let now = Timestamp::now();
        // One message for every failure, so that callers cannot probe which clients exist.
        let refused = || OAuthError::InvalidClient("client authentication failed".into());
        let client = match self.active_client(&req.client_id, now).await {
            Ok(c) => c,
            Err(AuthFailure::Internal(e)) => return Err(OAuthError::Internal(e)),
            Err(AuthFailure::Failed(_)) => return Err(refused()),
        };
        if !constant_time_eq(&client.access_token, &req.client_secret) {
            return Err(refused());
        }
        let held = self.with_anonymous(Realm::Live, client.expanded.as_ref().clone());
        let scopes = match req.scopes {
            None => client.expanded.as_ref().clone(),
            Some(wanted) => {
                let all = ScopeExpr::all_of(wanted.iter().map(ScopeExpr::scope));
                if !all.satisfied_by(&held) {
                    return Err(OAuthError::InvalidScope(
                        "scope asks for scopes the client does not hold".into(),
                    ));
                }
                normalize_scopes(wanted)
            }
        };
        let lifetime = MAX_TOKEN_LIFETIME_SECS.min((client.expires.millis() - now.millis()) / 1000);
        if lifetime <= 0 {
            return Err(refused());
        }
        let claims = Claims {
            iss: ISSUER.to_string(),
            sub: req.client_id,
            aud: req.audience,
            iat: now.millis() / 1000,
            exp: now.millis() / 1000 + lifetime,
            jti: relyard_core::ids::slugid(),
            scopes,
            tkf: self.oauth.fingerprint(&client.access_token),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.oauth.encoding,
        )
        .map_err(|e| OAuthError::Internal(ApiError::internal(format!("signing a token: {e}"))))?;
        Ok(TokenResponse {
            access_token: token,
            token_type: "Bearer",
            expires_in: lifetime,
        })
    }

    /// Authenticates `Authorization: Bearer <token>`: a valid, unexpired token of a client that
    /// still exists, is enabled, has the same access token and still holds the token's scopes.
    pub(crate) async fn authenticate_bearer(
        &self,
        token: &str,
        source_ip: Option<IpAddr>,
    ) -> Result<Caller, AuthFailure> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // The audience tells relying parties who the token is for; relyard accepts its own
        // tokens whatever audience they name.
        validation.validate_aud = false;
        validation.leeway = LEEWAY_SECS;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.oauth.decoding, &validation)
            .map_err(|e| AuthFailure::Failed(format!("Bearer token is not valid: {e}")))?
            .claims;
        let now = Timestamp::now();
        let client = self.active_client(&claims.sub, now).await?;
        if !constant_time_eq(&self.oauth.fingerprint(&client.access_token), &claims.tkf) {
            return Err(AuthFailure::Failed(
                "Bearer token was issued before the client's access token was reset".into(),
            ));
        }
        let held = self.with_anonymous(Realm::Live, client.expanded.as_ref().clone());
        if !ScopeExpr::all_of(claims.scopes.iter().map(ScopeExpr::scope)).satisfied_by(&held) {
            return Err(AuthFailure::Failed(
                "the client no longer holds the Bearer token's scopes; get a new token".into(),
            ));
        }
        let expires = Timestamp::from_millis(claims.exp.saturating_mul(1000)).min(client.expires);
        Ok(Caller {
            client_id: Some(claims.sub),
            scopes: Arc::new(self.with_anonymous(Realm::Live, claims.scopes)),
            expires: Some(expires),
            source_ip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_form_and_json_requests() {
        let r = TokenRequest::parse(
            "application/x-www-form-urlencoded",
            None,
            b"grant_type=client_credentials&client_id=a%2Fb&client_secret=s&scope=x%3Ay+z&audience=balrog",
        )
        .unwrap();
        assert_eq!(r.client_id, "a/b");
        assert_eq!(r.scopes, Some(vec!["x:y".to_string(), "z".to_string()]));
        assert_eq!(r.audience.as_deref(), Some("balrog"));

        let r = TokenRequest::parse(
            "application/json",
            None,
            br#"{"grant_type":"client_credentials","client_id":"a","client_secret":"s","scope":["with space"]}"#,
        )
        .unwrap();
        assert_eq!(r.scopes, Some(vec!["with space".to_string()]));
    }

    #[test]
    fn reads_basic_client_authentication() {
        let header = format!("Basic {}", STANDARD.encode("a%2Fb:p%3Aw"));
        let r = TokenRequest::parse("", Some(&header), b"grant_type=client_credentials").unwrap();
        assert_eq!(
            (r.client_id.as_str(), r.client_secret.as_str()),
            ("a/b", "p:w")
        );
        // both ways at once is refused
        let e = TokenRequest::parse(
            "",
            Some(&header),
            b"grant_type=client_credentials&client_id=a",
        )
        .unwrap_err();
        assert!(matches!(e, OAuthError::InvalidRequest(_)));
    }

    #[test]
    fn malformed_requests() {
        assert!(matches!(
            TokenRequest::parse("", None, b"client_id=a&client_secret=b").unwrap_err(),
            OAuthError::InvalidRequest(_)
        ));
        assert!(matches!(
            TokenRequest::parse("", None, b"grant_type=x&grant_type=y").unwrap_err(),
            OAuthError::InvalidRequest(_)
        ));
        assert!(matches!(
            TokenRequest::parse("", None, b"grant_type=client_credentials").unwrap_err(),
            OAuthError::InvalidClient(_)
        ));
        assert!(matches!(
            TokenRequest::parse("application/json", None, b"[1]").unwrap_err(),
            OAuthError::InvalidRequest(_)
        ));
    }
}
