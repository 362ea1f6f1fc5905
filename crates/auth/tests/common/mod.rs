//! Helpers for the auth integration tests: a real server on port 0 (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` is set), the official Rust client, and raw Hawk-signed requests for
//! reading error bodies.
#![allow(dead_code)]

use relyard_testing::TestServer;
use serde_json::{json, Value};

pub fn slug() -> String {
    relyard_core::ids::slugid()
}

/// `expires` one day from now, as the API takes it.
pub fn tomorrow() -> String {
    relyard_core::Timestamp::now().plus_days(1).to_string()
}

pub fn creds(client_id: &str, access_token: &str) -> taskcluster::Credentials {
    taskcluster::Credentials::new(client_id, access_token)
}

pub fn auth_as(server: &TestServer, credentials: taskcluster::Credentials) -> taskcluster::Auth {
    taskcluster::Auth::new(server.client(Some(credentials)).retry(no_retry())).expect("client")
}

pub fn root_auth(server: &TestServer) -> taskcluster::Auth {
    taskcluster::Auth::new(server.root_client().retry(no_retry())).expect("client")
}

/// Errors must show at once, not after the client's back-off.
pub fn no_retry() -> taskcluster::Retry {
    taskcluster::Retry {
        retries: 0,
        ..Default::default()
    }
}

/// Creates a client with `scopes` (and optionally an expiry and deleteOnExpiration) as root;
/// returns its access token.
pub async fn make_client(server: &TestServer, client_id: &str, scopes: &[&str]) -> String {
    make_client_with(server, client_id, scopes, &tomorrow(), false).await
}

pub async fn make_client_with(
    server: &TestServer,
    client_id: &str,
    scopes: &[&str],
    expires: &str,
    delete_on_expiration: bool,
) -> String {
    let created = root_auth(server)
        .createClient(
            client_id,
            &json!({
                "expires": expires,
                "description": "made by a test",
                "scopes": scopes,
                "deleteOnExpiration": delete_on_expiration,
            }),
        )
        .await
        .expect("createClient as root");
    created["accessToken"]
        .as_str()
        .expect("accessToken")
        .to_string()
}

/// The HTTP status of a failed client call.
pub fn status_of(err: &anyhow::Error) -> u16 {
    taskcluster::err_status_code(err)
        .map(|s| s.as_u16())
        .unwrap_or_else(|| panic!("not an HTTP error: {err:#}"))
}

/// A Hawk `Authorization` header for `method path` on the test server.
pub fn hawk_header(
    server: &TestServer,
    method: &str,
    path: &str,
    client_id: &str,
    access_token: &str,
) -> String {
    let credentials = hawk::Credentials {
        id: client_id.to_string(),
        key: hawk::Key::new(access_token.as_bytes(), hawk::DigestAlgorithm::Sha256)
            .expect("hawk key"),
    };
    let addr = server.server.addr;
    let header = hawk::RequestBuilder::new(method, &addr.ip().to_string(), addr.port(), path)
        .request()
        .make_header(&credentials)
        .expect("hawk header");
    format!("Hawk {header}")
}

/// A raw request, Hawk-signed when `signer` is given; returns the status and the JSON body.
pub async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    signer: Option<(&str, &str)>,
    body: Option<&Value>,
) -> (u16, Value) {
    let url = format!("{}{}", server.root_url, path);
    let method_value = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = reqwest::Client::new().request(method_value, &url);
    if let Some((id, token)) = signer {
        req = req.header(
            "Authorization",
            hawk_header(server, method, path, id, token),
        );
    }
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}

/// A request with an arbitrary `Authorization` header (e.g. Bearer).
pub async fn call_with_authorization(
    server: &TestServer,
    method: &str,
    path: &str,
    authorization: &str,
) -> (u16, Value) {
    let url = format!("{}{}", server.root_url, path);
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let resp = reqwest::Client::new()
        .request(method, &url)
        .header("Authorization", authorization)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let json = resp.json().await.unwrap_or(Value::Null);
    (status, json)
}
