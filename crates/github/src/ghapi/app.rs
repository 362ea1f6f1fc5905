//! GitHub App installation tokens: a JWT (RS256, signed with the App's private key, valid for
//! ten minutes at most) is exchanged at `POST /app/installations/<id>/access_tokens` for a token
//! valid an hour, kept until five minutes before it expires.

use std::collections::HashMap;
use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;
use tokio::sync::Mutex;

use super::GhError;

#[derive(Clone)]
pub struct AppCredentials {
    pub app_id: String,
    key: EncodingKey,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl AppCredentials {
    /// `private_key_pem` is the PEM file GitHub hands out for the App.
    pub fn new(app_id: &str, private_key_pem: &[u8]) -> Result<AppCredentials, GhError> {
        let key = EncodingKey::from_rsa_pem(private_key_pem)
            .map_err(|e| GhError::AppToken(e.to_string()))?;
        Ok(AppCredentials {
            app_id: app_id.to_string(),
            key,
        })
    }

    /// The App's own JWT; backdated a minute for clock drift, as GitHub advises.
    pub fn jwt(&self) -> Result<String, GhError> {
        let now = Utc::now().timestamp();
        let claims =
            serde_json::json!({ "iat": now - 60, "exp": now + 9 * 60, "iss": self.app_id });
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| GhError::AppToken(e.to_string()))
    }

    pub(super) async fn installation_token(
        &self,
        http: &reqwest::Client,
        base_url: &str,
        installation: u64,
    ) -> Result<(String, DateTime<Utc>), GhError> {
        let url = format!("{base_url}/app/installations/{installation}/access_tokens");
        let resp = http
            .post(&url)
            .header("accept", "application/vnd.github+json")
            .bearer_auth(self.jwt()?)
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(GhError::Status {
                status: status.as_u16(),
                what: format!("POST {url}"),
                body: body.to_string(),
            });
        }
        let token = body.get("token").and_then(Value::as_str);
        let expires = body
            .get("expires_at")
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<DateTime<Utc>>().ok());
        match (token, expires) {
            (Some(t), Some(e)) => Ok((t.to_string(), e)),
            _ => Err(GhError::AppToken(format!(
                "no token or expires_at in {body}"
            ))),
        }
    }
}

/// Installation tokens by installation id.
#[derive(Debug, Default)]
pub(super) struct TokenCache(Mutex<HashMap<u64, (String, DateTime<Utc>)>>);

impl TokenCache {
    pub(super) async fn get_or_make<F, Fut>(&self, id: u64, make: F) -> Result<String, GhError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(String, DateTime<Utc>), GhError>>,
    {
        // Held across the request so that concurrent events share one new token.
        let mut tokens = self.0.lock().await;
        if let Some((token, expires)) = tokens.get(&id) {
            if *expires - Duration::minutes(5) > Utc::now() {
                return Ok(token.clone());
            }
        }
        let (token, expires) = make().await?;
        tokens.insert(id, (token.clone(), expires));
        Ok(token)
    }
}
