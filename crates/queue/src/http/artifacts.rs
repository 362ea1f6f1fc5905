//! createArtifact, finishArtifact, getArtifact / getLatestArtifact, artifact / latestArtifact,
//! listArtifacts / listLatestArtifacts, artifactInfo / latestArtifactInfo.
//!
//! Artifact names contain slashes: the routes end in a wildcard, which accepts both the raw
//! slashes of hand-made requests and the `%2F` of the official clients (path parameters are
//! percent-decoded).

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use http::header::LOCATION;
use http::{HeaderName, HeaderValue, StatusCode};
use relyard_auth::Caller;
use relyard_core::error::ApiResult;
use relyard_core::paging::PageQuery;
use relyard_core::ApiError;
use serde_json::{json, Value};

use crate::service::{validate_artifact_name, ArtifactContent, ArtifactRequest};
use crate::store::artifacts as rows;
use crate::validate;
use crate::Queue;

/// Set on every download answer, as Taskcluster does, so download tools can tell the types apart.
const STORAGE_TYPE_HEADER: HeaderName =
    HeaderName::from_static("x-taskcluster-artifact-storage-type");

fn params<T>(path: Result<Path<T>, PathRejection>) -> ApiResult<T> {
    path.map(|Path(p)| p).map_err(|e| {
        ApiError::invalid_arguments(format!("invalid path parameters: {}", e.body_text()))
    })
}

/// `(taskId, runId, name)` of a run's artifact route, checked.
fn run_artifact(
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> ApiResult<(String, u32, String)> {
    let (task_id, run_id, name) = params(path)?;
    validate::task_id(&task_id)?;
    let run_id = validate::run_id(&run_id)?;
    validate_artifact_name(&name)?;
    Ok((task_id, run_id, name))
}

/// `(taskId, name)` of a latest-run artifact route, checked.
fn latest_artifact(
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<(String, String)> {
    let (task_id, name) = params(path)?;
    validate::task_id(&task_id)?;
    validate_artifact_name(&name)?;
    Ok((task_id, name))
}

pub async fn create_artifact(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    path: Result<Path<(String, String, String)>, PathRejection>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let (task_id, run_id, name) = run_artifact(path)?;
    caller.require(&Queue::create_artifact_scopes(&task_id, run_id))?;
    let req = ArtifactRequest::parse(&body)?;
    Ok(Json(
        q.create_artifact(&task_id, run_id, &name, &req).await?,
    ))
}

/// finishArtifact exists for `object` artifacts only, which relyard does not create: every
/// existing artifact answers 400 as Taskcluster answers for the other storage types.
pub async fn finish_artifact(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> ApiResult<Response> {
    let (task_id, run_id, name) = run_artifact(path)?;
    caller.require(&Queue::create_artifact_scopes(&task_id, run_id))?;
    q.artifact_info(&task_id, run_id, &name).await?;
    Err(ApiError::input("Only object artifacts can be finished"))
}

/// getArtifact / getLatestArtifact: 303 to the content with `{storageType, url}`, or 424 with
/// `{reason, message}` for an error artifact.
fn download_response(content: ArtifactContent) -> Response {
    let storage_type =
        HeaderValue::from_str(content.storage_type()).unwrap_or(HeaderValue::from_static("s3"));
    let mut resp = match &content {
        ArtifactContent::Url { storage_type, url } => {
            let mut resp = (
                StatusCode::SEE_OTHER,
                Json(json!({ "storageType": storage_type, "url": url })),
            )
                .into_response();
            if let Ok(location) = HeaderValue::from_str(&header_safe(url)) {
                resp.headers_mut().insert(LOCATION, location);
            }
            resp
        }
        ArtifactContent::Error { reason, message } => {
            // Not an API error body: Taskcluster answers the artifact's own reason and message.
            (
                StatusCode::FAILED_DEPENDENCY,
                Json(json!({ "reason": reason, "message": message })),
            )
                .into_response()
        }
    };
    resp.headers_mut().insert(STORAGE_TYPE_HEADER, storage_type);
    resp
}

/// Percent-encodes what may not appear in a header value (non-ASCII bytes, controls, spaces).
fn header_safe(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for b in url.bytes() {
        if (0x21..=0x7e).contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub async fn get_artifact(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> ApiResult<Response> {
    let (task_id, run_id, name) = run_artifact(path)?;
    let authorize = |names: &[String]| caller.require(&Queue::get_artifact_scopes(names));
    Ok(download_response(
        q.get_artifact(&task_id, run_id, &name, authorize).await?,
    ))
}

pub async fn get_latest_artifact(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Response> {
    let (task_id, name) = latest_artifact(path)?;
    // Permission first, so that a caller without it cannot probe which tasks exist.
    caller.require(&Queue::get_artifact_scopes(std::slice::from_ref(&name)))?;
    let run_id = q.latest_run_id(&task_id).await?;
    let authorize = |names: &[String]| caller.require(&Queue::get_artifact_scopes(names));
    Ok(download_response(
        q.get_artifact(&task_id, run_id, &name, authorize).await?,
    ))
}

/// artifact / latestArtifact: the content's location as a 200 JSON body.
pub async fn artifact(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let (task_id, run_id, name) = run_artifact(path)?;
    let authorize = |names: &[String]| caller.require(&Queue::get_artifact_scopes(names));
    Ok(Json(
        q.get_artifact(&task_id, run_id, &name, authorize)
            .await?
            .to_json(),
    ))
}

pub async fn latest_artifact_content(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let (task_id, name) = latest_artifact(path)?;
    caller.require(&Queue::get_artifact_scopes(std::slice::from_ref(&name)))?;
    let run_id = q.latest_run_id(&task_id).await?;
    let authorize = |names: &[String]| caller.require(&Queue::get_artifact_scopes(names));
    Ok(Json(
        q.get_artifact(&task_id, run_id, &name, authorize)
            .await?
            .to_json(),
    ))
}

fn artifact_list(items: Vec<rows::Artifact>, next: Option<String>) -> Json<Value> {
    let mut out =
        json!({ "artifacts": items.iter().map(rows::Artifact::to_json).collect::<Vec<_>>() });
    if let Some(t) = next {
        out["continuationToken"] = json!(t);
    }
    Json(out)
}

pub async fn list_artifacts(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Value>> {
    let (task_id, run_id) = params(path)?;
    validate::task_id(&task_id)?;
    let run_id = validate::run_id(&run_id)?;
    caller.require(&Queue::list_artifacts_scopes(&task_id, Some(run_id)))?;
    let (token, limit) = super::page(&page)?;
    let (items, next) = q
        .list_artifacts(&task_id, Some(run_id), token, limit)
        .await?;
    Ok(artifact_list(items, next))
}

pub async fn list_latest_artifacts(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Value>> {
    let task_id = params(path)?;
    validate::task_id(&task_id)?;
    caller.require(&Queue::list_artifacts_scopes(&task_id, None))?;
    let (token, limit) = super::page(&page)?;
    let (items, next) = q.list_artifacts(&task_id, None, token, limit).await?;
    Ok(artifact_list(items, next))
}

pub async fn artifact_info(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let (task_id, run_id, name) = run_artifact(path)?;
    caller.require(&Queue::list_artifacts_scopes(&task_id, Some(run_id)))?;
    Ok(Json(
        q.artifact_info(&task_id, run_id, &name).await?.to_json(),
    ))
}

pub async fn latest_artifact_info(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let (task_id, name) = latest_artifact(path)?;
    caller.require(&Queue::list_artifacts_scopes(&task_id, None))?;
    let run_id = q.latest_run_id(&task_id).await?;
    Ok(Json(
        q.artifact_info(&task_id, run_id, &name).await?.to_json(),
    ))
}
