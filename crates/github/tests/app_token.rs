//! GitHub App authentication against a stand-in: the JWT is RS256 with the App's id as issuer,
//! installation tokens are fetched per installation and reused until five minutes before expiry.

use std::sync::{Arc, Mutex};

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
    Json, Router,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use relyard_github::ghapi::{AppCredentials, GhError, GitHubAuth, GitHubClient};
use serde_json::{json, Value};

const APP_ID: &str = "12345";

#[derive(Clone, Default)]
struct Stand {
    /// Installation ids tokens were made for, in order.
    minted: Arc<Mutex<Vec<u64>>>,
    /// How long minted tokens last.
    lifetime_secs: Arc<Mutex<i64>>,
}

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(path).expect("fixture")
}

async fn mint(
    State(s): State<Stand>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    let jwt = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let key = DecodingKey::from_rsa_pem(&fixture("app-key.pub.pem"))
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[APP_ID]);
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .map_err(|_| StatusCode::UNAUTHORIZED)?
        .claims;
    // GitHub refuses JWTs valid for more than ten minutes.
    let span = claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0);
    if span > 600 {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let mut minted = s.minted.lock().expect("lock");
    minted.push(id);
    let lifetime = *s.lifetime_secs.lock().expect("lock");
    let expires = chrono::Utc::now() + chrono::Duration::seconds(lifetime);
    Ok(Json(
        json!({"token": format!("inst-{id}-{}", minted.len()), "expires_at": expires.to_rfc3339()}),
    ))
}

async fn repository(headers: HeaderMap) -> Json<Value> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Json(json!({"default_branch": auth}))
}

async fn start() -> (Stand, GitHubClient) {
    let stand = Stand::default();
    *stand.lifetime_secs.lock().expect("lock") = 3600;
    let api = Router::new()
        .route("/app/installations/{id}/access_tokens", post(mint))
        .route("/repos/{owner}/{repo}", get(repository))
        .with_state(stand.clone());
    let app = Router::new().nest("/api/v3", api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let app = AppCredentials::new(APP_ID, &fixture("app-key.pem")).expect("key");
    let client =
        GitHubClient::new(&format!("http://{addr}/api/v3"), GitHubAuth::App(app)).expect("client");
    (stand, client)
}

/// The authorization the stand-in saw for one call as `installation`.
async fn authorization(client: &GitHubClient, installation: u64, repo: &str) -> String {
    let gh = client.installation(Some(installation));
    gh.default_branch("org", repo).await.expect("call")
}

#[tokio::test]
async fn installation_tokens_are_minted_once_per_installation_and_renewed_near_expiry() {
    let (stand, client) = start().await;
    // The stand-in answers under /api/v3 like GitHub Enterprise; it echoes the authorization.
    let seen = [
        authorization(&client, 4242, "a").await,
        authorization(&client, 4242, "b").await,
        authorization(&client, 77, "c").await,
    ];
    assert_eq!(
        seen,
        ["token inst-4242-1", "token inst-4242-1", "token inst-77-2"]
    );
    assert_eq!(*stand.minted.lock().expect("lock"), [4242, 77]);
    assert!(matches!(
        client.installation(None).default_branch("org", "a").await,
        Err(GhError::NoInstallation)
    ));

    // A token within five minutes of expiry is replaced at every call.
    *stand.lifetime_secs.lock().expect("lock") = 120;
    let seen = [
        authorization(&client, 9, "a").await,
        authorization(&client, 9, "a").await,
    ];
    assert_eq!(seen, ["token inst-9-3", "token inst-9-4"]);
}
