//! Who is asking for a token: the signing server holds no client secrets, so it asks relyard
//! auth to check the request's Hawk header, with Taskcluster's `authenticateHawk`
//! (`POST <auth_root_url>/api/auth/v1/authenticate-hawk`).

use std::net::IpAddr;
use std::time::Duration;

use relyard_auth::hawk_verify::HawkInput;
use relyard_core::ApiError;
use serde::Deserialize;
use serde_json::json;

/// A caller relyard auth vouched for.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub client_id: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct AuthClient {
    url: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthenticateHawkResponse {
    status: String,
    client_id: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    message: Option<String>,
}

impl AuthClient {
    pub fn new(auth_root_url: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            url: format!("{auth_root_url}/api/auth/v1/authenticate-hawk"),
            http,
        })
    }

    /// 401 when the request is not signed or auth refuses it; 503 when auth cannot be asked.
    pub async fn authenticate(
        &self,
        req: &HawkInput<'_>,
        source_ip: IpAddr,
    ) -> Result<Authenticated, ApiError> {
        let Some(authorization) = req.authorization else {
            return Err(ApiError::unauthenticated(
                "a token request must be signed with Hawk (relyard credentials)",
            ));
        };
        let body = json!({
            "method": req.method.to_ascii_lowercase(),
            "resource": req.resource,
            "host": req.host,
            "port": req.port,
            "authorization": authorization,
            "sourceIp": source_ip,
        });
        let unavailable = |e: &dyn std::fmt::Display| {
            tracing::warn!(error = %e, url = %self.url, "relyard auth cannot be asked");
            ApiError::unavailable("relyard auth, which checks the credentials, cannot be reached")
        };
        let resp = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        if !resp.status().is_success() {
            return Err(unavailable(&format!("status {}", resp.status())));
        }
        let answer: AuthenticateHawkResponse = resp.json().await.map_err(|e| unavailable(&e))?;
        match (answer.status.as_str(), answer.client_id) {
            ("auth-success", Some(client_id)) => Ok(Authenticated {
                client_id,
                scopes: answer.scopes,
            }),
            ("auth-success", None) => Err(ApiError::unauthenticated(
                "a token request must be signed with Hawk (relyard credentials)",
            )),
            _ => Err(ApiError::unauthenticated(answer.message.unwrap_or_else(
                || "relyard auth refused the credentials".to_string(),
            ))),
        }
    }
}
