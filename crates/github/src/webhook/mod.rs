//! `POST /github` (mounted at `/api/github/v1`): GitHub's webhook. The signature is checked on
//! the raw body before anything else; then the event's `.taskcluster.yml` is fetched, the policy
//! applied, the file rendered and its tasks created with the repository's scopes.

mod event;
mod process;

use std::sync::Arc;

use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post, Json, Router};
use relyard_core::ApiError;
use serde_json::{json, Value};

use relyard_store::Db;

use crate::ghapi::GitHubClient;
use crate::service_queue::ServiceQueue;
use crate::signature;
use crate::tasks::{QueueTaskCreator, TaskCreator};

pub use event::{job_for, taskcluster_command, Job, Kind, Malformed, Skip};
pub use process::Outcome;

/// What the GitHub service needs: its secrets, the GitHub API, where tasks go, and the database
/// its builds are kept in.
pub struct GitHubState {
    /// Every secret a delivery may be signed with (several while one is being rotated).
    pub webhook_secrets: Vec<String>,
    /// The root URL the templates see as `taskcluster_root_url`, and links point to.
    pub root_url: String,
    /// Taskcluster-GitHub's `APPLICATION_NAME`: statuses are `"<app name> (<event>)"`.
    pub app_name: String,
    pub github: Arc<GitHubClient>,
    pub tasks: Arc<dyn TaskCreator>,
    pub queue: Arc<ServiceQueue>,
    pub db: Db,
}

/// The status context's default application name, as Taskcluster deployments commonly set it.
pub const DEFAULT_APP_NAME: &str = "Taskcluster";

impl GitHubState {
    /// The service acting on the queue at `root_url` with `credentials` (each call narrowed to
    /// the scopes it needs with `authorizedScopes`).
    pub fn new(
        db: Db,
        root_url: &str,
        credentials: taskcluster::Credentials,
        github: GitHubClient,
        webhook_secrets: Vec<String>,
    ) -> GitHubState {
        GitHubState {
            webhook_secrets,
            root_url: root_url.to_string(),
            app_name: DEFAULT_APP_NAME.to_string(),
            github: Arc::new(github),
            tasks: Arc::new(QueueTaskCreator {
                root_url: root_url.to_string(),
                credentials: credentials.clone(),
            }),
            queue: Arc::new(ServiceQueue {
                root_url: root_url.to_string(),
                credentials,
            }),
            db,
        }
    }
}

/// `POST /github`, merged into the service's router by [`crate::api::router`].
pub fn routes() -> Router<Arc<GitHubState>> {
    Router::new()
        .route("/github", post(webhook))
        // GitHub caps webhook payloads at 25 MB; axum's default limit is 2 MB.
        .layer(axum::extract::DefaultBodyLimit::max(25 * 1024 * 1024))
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
    let delivery = header("x-github-delivery").unwrap_or("Unknown");
    let outcome = process::run(&state, &job, &payload, delivery)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(outcome.to_json()))
}
