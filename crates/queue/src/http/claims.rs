//! claimWork, reclaimTask, reportCompleted / reportFailed / reportException.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use bytes::Bytes;
use relyard_auth::Caller;
use relyard_core::error::ApiResult;
use relyard_core::ids::is_task_queue_id;
use relyard_core::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::validate::{self, parse_body, worker_identifier};
use crate::Queue;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClaimWorkRequest {
    worker_group: String,
    worker_id: String,
    #[serde(default = "one")]
    tasks: i64,
}

fn one() -> i64 {
    1
}

pub async fn claim_work(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path((provisioner_id, worker_type)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let task_queue_id = format!("{provisioner_id}/{worker_type}");
    if !is_task_queue_id(&task_queue_id) {
        return Err(ApiError::invalid_arguments(format!(
            "`{task_queue_id}` is not a valid taskQueueId"
        )));
    }
    let req: ClaimWorkRequest = parse_body(&body)?;
    worker_identifier("workerGroup", &req.worker_group)?;
    worker_identifier("workerId", &req.worker_id)?;
    if !(1..=32).contains(&req.tasks) {
        return Err(ApiError::validation("`tasks` must be between 1 and 32"));
    }
    caller.require(&Queue::claim_work_scopes(
        &task_queue_id,
        &req.worker_group,
        &req.worker_id,
    ))?;
    let claims = q
        .claim_work(
            &task_queue_id,
            &req.worker_group,
            &req.worker_id,
            req.tasks as usize,
        )
        .await?;
    Ok(Json(json!({ "tasks": claims })))
}

fn ids(task_id: &str, run_id: &str) -> ApiResult<u32> {
    validate::task_id(task_id)?;
    validate::run_id(run_id)
}

pub async fn reclaim_task(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path((task_id, run_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let run_id = ids(&task_id, &run_id)?;
    caller.require(&Queue::reclaim_scopes(&task_id, run_id))?;
    Ok(Json(json!(q.reclaim_task(&task_id, run_id).await?)))
}

pub async fn report_completed(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path((task_id, run_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let run_id = ids(&task_id, &run_id)?;
    caller.require(&Queue::resolve_scopes(&task_id, run_id))?;
    Ok(Json(
        json!({ "status": q.report_completed(&task_id, run_id).await? }),
    ))
}

pub async fn report_failed(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path((task_id, run_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let run_id = ids(&task_id, &run_id)?;
    caller.require(&Queue::resolve_scopes(&task_id, run_id))?;
    Ok(Json(
        json!({ "status": q.report_failed(&task_id, run_id).await? }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptionRequest {
    reason: String,
}

pub async fn report_exception(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path((task_id, run_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let run_id = ids(&task_id, &run_id)?;
    let req: ExceptionRequest = parse_body(&body)?;
    caller.require(&Queue::resolve_scopes(&task_id, run_id))?;
    Ok(Json(
        json!({ "status": q.report_exception(&task_id, run_id, &req.reason).await? }),
    ))
}
