//! The Secrets API's handlers (`/api/secrets/v1/…`): parse, authorize, call [`Secrets`], serialize.
//!
//! Every handler checks its scope before anything else, so a 403 says nothing about whether the
//! secret exists.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use relyard_auth::scopes::ScopeExpr;
use relyard_auth::Caller;
use relyard_core::paging::PageQuery;
use relyard_core::ApiError;
use serde_json::{json, Value};

use crate::audit::{AuditContext, AuditPage, AuditQuery};
use crate::input::SetRequest;
use crate::service::{Secret, SecretList, Secrets};

type Svc = State<Arc<Secrets>>;
type ApiResult<T> = Result<T, ApiError>;

/// Routes relative to `/api/secrets/v1`; the binary nests them behind the authentication layer.
///
/// `{*name}` takes the rest of the path, so a name arrives whole whether the client sent its
/// slashes raw (`/secret/a/b`) or percent-encoded as the official clients do (`/secret/a%2Fb`).
pub fn router(secrets: Arc<Secrets>) -> Router {
    Router::new()
        .route("/ping", get(relyard_core::ping::ping))
        .route(
            "/secret/{*name}",
            get(get_secret).put(set_secret).delete(remove_secret),
        )
        .route("/secrets", get(list_secrets))
        .route("/audit", get(audit_log))
        .with_state(secrets)
}

/// The decoded secret name, with axum's plain-text rejection turned into Taskcluster's error body.
fn name(path: Result<Path<String>, PathRejection>) -> ApiResult<String> {
    path.map(|Path(name)| name)
        .map_err(|e| ApiError::invalid_arguments(format!("invalid secret name: {e}")))
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::invalid_arguments(format!("invalid query string: {e}")))
}

fn scope(s: String) -> ScopeExpr {
    ScopeExpr::scope(s)
}

async fn set_secret(
    State(svc): Svc,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let name = name(path)?;
    caller.require(&scope(format!("secrets:set:{name}")))?;
    let raw = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(e.body_text()),
        _ => ApiError::malformed(e.body_text()),
    })?;
    let input = SetRequest::parse(&raw)?;
    svc.set(
        &name,
        Value::Object(input.secret),
        input.expires,
        &AuditContext::from(&caller),
    )
    .await?;
    Ok(Json(json!({})))
}

async fn get_secret(
    State(svc): Svc,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Secret>> {
    let name = name(path)?;
    caller.require(&scope(format!("secrets:get:{name}")))?;
    Ok(Json(svc.get(&name, &AuditContext::from(&caller)).await?))
}

/// Answers `{}` whether or not the secret existed, as Taskcluster's `remove` does; the audit row
/// records which it was.
async fn remove_secret(
    State(svc): Svc,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let name = name(path)?;
    caller.require(&scope(format!("secrets:set:{name}")))?;
    svc.remove(&name, &AuditContext::from(&caller)).await?;
    Ok(Json(json!({})))
}

async fn list_secrets(
    State(svc): Svc,
    caller: Caller,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult<Json<SecretList>> {
    caller.require(&scope("secrets:list-secrets".into()))?;
    Ok(Json(svc.list(&query(q)?).await?))
}

async fn audit_log(
    State(svc): Svc,
    caller: Caller,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> ApiResult<Json<AuditPage>> {
    caller.require(&scope("secrets:audit".into()))?;
    Ok(Json(svc.audit_log(&query(q)?).await?))
}
