//! Helpers of the secrets integration tests: a migrated database, the service, and the HTTP
//! router with a chosen caller standing in for the Hawk layer (tested in relyard-auth).

#![allow(dead_code)]

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::{Extension, Router};
use relyard_auth::{Caller, Cipher};
use relyard_core::Timestamp;
use relyard_secrets::{router, AuditContext, Secrets};
use relyard_testing::TestDb;
use serde_json::Value;
use tower::ServiceExt;

pub const CLIENT_IP: &str = "192.0.2.7";

pub fn cipher() -> Cipher {
    Cipher::new(&[("k1".into(), "secrets test key".into())]).expect("one key")
}

/// A migrated database (kept alive by the returned `TestDb`) and a service on it.
pub async fn setup() -> (TestDb, Arc<Secrets>) {
    let tdb = TestDb::new().await;
    tdb.db
        .migrate(&relyard_secrets::migrations())
        .await
        .expect("migrate");
    let svc = Arc::new(Secrets::new(tdb.db.clone(), cipher()));
    (tdb, svc)
}

pub fn ctx(client_id: &str) -> AuditContext {
    AuditContext::new(client_id, Some(ip()))
}

pub fn ip() -> IpAddr {
    CLIENT_IP.parse().expect("test ip")
}

pub fn in_days(d: i64) -> Timestamp {
    Timestamp::now().plus_days(d)
}

/// The Secrets API as the binary mounts it, called by `client_id` holding `scopes`.
pub fn app(svc: &Arc<Secrets>, client_id: &str, scopes: &[&str]) -> Router {
    let caller = Caller {
        client_id: Some(client_id.to_string()),
        scopes: Arc::new(scopes.iter().map(|s| s.to_string()).collect()),
        expires: None,
        source_ip: Some(ip()),
    };
    Router::new()
        .nest("/api/secrets/v1", router(Arc::clone(svc)))
        .layer(axum::middleware::from_fn(
            relyard_core::error::request_info_layer,
        ))
        // What the authentication middleware leaves in every request.
        .layer(Extension(caller))
}

/// Sends one request; answers the status and the JSON body (`Null` when the body is not JSON).
pub async fn call(
    app: &Router,
    method: Method,
    path: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(format!("/api/secrets/v1{path}"))
        .header("content-type", "application/json")
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("infallible router");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub fn set_body(secret: &str, expires: Timestamp) -> String {
    format!(r#"{{"secret": {secret}, "expires": "{expires}"}}"#)
}
