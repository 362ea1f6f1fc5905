//! The Queue API v1 routes (relative to `/api/queue/v1`). Handlers parse, authorize with the
//! caller's scopes, call a [`Queue`] method and serialize; the logic lives in the service.

mod artifacts;
pub(crate) mod blobs;
mod claims;
mod groups;
mod queues;
mod task_queue_paths;
mod tasks;

use std::sync::Arc;

use axum::routing::{get, post, put};
use axum::Router;
use relyard_core::error::ApiResult;
use relyard_core::paging::PageQuery;

use crate::Queue;

/// Default and largest page sizes of listings (Taskcluster's).
const DEFAULT_PAGE: usize = 1000;
const MAX_PAGE: usize = 1000;

pub fn router(queue: Arc<Queue>) -> Router {
    let routes = Router::new()
        .route("/ping", get(relyard_core::ping::ping))
        .route("/task/{task_id}", put(tasks::create_task).get(tasks::task))
        .route("/task/{task_id}/status", get(tasks::status))
        .route("/task/{task_id}/schedule", post(tasks::schedule_task))
        .route("/task/{task_id}/rerun", post(tasks::rerun_task))
        .route("/task/{task_id}/cancel", post(tasks::cancel_task))
        .route(
            "/task/{task_id}/dependents",
            get(tasks::list_dependent_tasks),
        )
        .route("/tasks", post(tasks::tasks))
        .route("/tasks/status", post(tasks::statuses))
        .route(
            "/claim-work/{provisioner_id}/{worker_type}",
            post(claims::claim_work),
        )
        .route(
            "/task/{task_id}/runs/{run_id}/reclaim",
            post(claims::reclaim_task),
        )
        .route(
            "/task/{task_id}/runs/{run_id}/completed",
            post(claims::report_completed),
        )
        .route(
            "/task/{task_id}/runs/{run_id}/failed",
            post(claims::report_failed),
        )
        .route(
            "/task/{task_id}/runs/{run_id}/exception",
            post(claims::report_exception),
        )
        .route(
            "/task/{task_id}/runs/{run_id}/artifacts/{*name}",
            post(artifacts::create_artifact)
                .put(artifacts::finish_artifact)
                .get(artifacts::get_artifact),
        )
        .route(
            "/task/{task_id}/runs/{run_id}/artifacts",
            get(artifacts::list_artifacts),
        )
        .route(
            "/task/{task_id}/runs/{run_id}/artifact-content/{*name}",
            get(artifacts::artifact),
        )
        .route(
            "/task/{task_id}/runs/{run_id}/artifact-info/{*name}",
            get(artifacts::artifact_info),
        )
        .route(
            "/task/{task_id}/artifacts/{*name}",
            get(artifacts::get_latest_artifact),
        )
        .route(
            "/task/{task_id}/artifacts",
            get(artifacts::list_latest_artifacts),
        )
        .route(
            "/task/{task_id}/artifact-content/{*name}",
            get(artifacts::latest_artifact_content),
        )
        .route(
            "/task/{task_id}/artifact-info/{*name}",
            get(artifacts::latest_artifact_info),
        )
        .route("/task-group/{task_group_id}", get(groups::get_task_group))
        .route(
            "/task-group/{task_group_id}/list",
            get(groups::list_task_group),
        )
        .route(
            "/task-group/{task_group_id}/seal",
            post(groups::seal_task_group),
        )
        .route(
            "/task-group/{task_group_id}/cancel",
            post(groups::cancel_task_group),
        )
        .route(
            "/pending/{provisioner_id}/{worker_type}",
            get(queues::pending_tasks),
        )
        .route(
            "/task-queues/{provisioner_id}/{worker_type}/counts",
            get(queues::task_queue_counts),
        )
        .route(
            "/task-queues/{provisioner_id}/{worker_type}/pending",
            get(queues::list_pending_tasks),
        )
        .route(
            "/task-queues/{provisioner_id}/{worker_type}/claimed",
            get(queues::list_claimed_tasks),
        )
        .with_state(queue);
    task_queue_paths::accept_encoded(routes)
}

/// `limit` (default and cap 1000) and the continuation token of a listing.
fn page(q: &PageQuery) -> ApiResult<(Option<&str>, usize)> {
    Ok((
        q.continuation_token.as_deref().filter(|t| !t.is_empty()),
        q.limit(DEFAULT_PAGE, MAX_PAGE)?,
    ))
}
