//! `POST /github` (mounted at `/api/github/v1`): GitHub's webhook. The signature is checked on
//! the raw body before anything else; then the event's `.taskcluster.yml` is fetched, the policy
//! applied, the file rendered and its tasks created with the repository's scopes.

mod event;
mod process;

use std::sync::Arc;

use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post, Json, Router};
use relyard_core::ApiError;
use serde_json::{json, Value};

use crate::ghapi::GitHubClient;
use crate::signature;
use crate::tasks::TaskCreator;

pub use event::{job_for, Job, Kind, Malformed, Skip};
pub use process::Outcome;

/// What the webhook needs: its secrets, the GitHub API, and where tasks go.
pub struct GitHubState {
    /// Every secret a delivery may be signed with (several while one is being rotated).
    pub webhook_secrets: Vec<String>,
    /// The root URL the templates see as `taskcluster_root_url`.
    pub root_url: String,
    pub github: GitHubClient,
    pub tasks: Arc<dyn TaskCreator>,
}

/// The GitHub service's routes, to be nested at `/api/github/v1`.
pub fn router(state: Arc<GitHubState>) -> Router {
    Router::new()
        .route("/github", post(webhook))
        // GitHub caps webhook payloads at 25 MB; axum's default limit is 2 MB.
        .layer(axum::extract::DefaultBodyLimit::max(25 * 1024 * 1024))
        .layer(axum::middleware::from_fn(
            relyard_core::error::request_info_layer,
        ))
        .with_state(state)
}

async fn webhook(
    State(state): State<Arc<GitHubState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let event =
        header("x-github-event").ok_or_else(|| ApiError::input("Missing X-GitHub-Event"))?;
    signature::verify(&state.webhook_secrets, header(signature::HEADER), &body)?;
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::input(format!("webhook body is not JSON: {e}")))?;
    if event == "ping" {
        return Ok(Json(json!({ "outcome": "pong" })));
    }
    let job = match job_for(event, &payload).map_err(|e| ApiError::input(e.to_string()))? {
        Ok(job) => job,
        Err(skip) => {
            return Ok(Json(
                json!({ "outcome": "skipped", "reason": skip.to_string() }),
            ))
        }
    };
    let outcome = process::run(&state, &job, &payload)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(outcome.to_json()))
}
