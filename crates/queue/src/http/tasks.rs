//! createTask, task, status, scheduleTask, rerunTask, cancelTask, listDependentTasks, tasks, statuses.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use bytes::Bytes;
use relyard_auth::scopes::ScopeExpr;
use relyard_auth::Caller;
use relyard_core::error::ApiResult;
use relyard_core::paging::PageQuery;
use relyard_core::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::service::TaskAction;
use crate::validate::{self, parse_body};
use crate::Queue;

pub async fn create_task(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path(task_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    validate::task_id(&task_id)?;
    let def = q.task_definition(&task_id, &body)?;
    caller.require(&Queue::create_task_scopes(&def))?;
    let status = q.create_task(&task_id, &def).await?;
    Ok(Json(json!({ "status": status })))
}

pub async fn task(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path(task_id): Path<String>,
) -> ApiResult<Json<Value>> {
    validate::task_id(&task_id)?;
    caller.require(&ScopeExpr::scope(format!("queue:get-task:{task_id}")))?;
    Ok(Json(json!(q.task(&task_id).await?)))
}

pub async fn status(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path(task_id): Path<String>,
) -> ApiResult<Json<Value>> {
    validate::task_id(&task_id)?;
    caller.require(&ScopeExpr::scope(format!("queue:status:{task_id}")))?;
    Ok(Json(json!({ "status": q.status(&task_id).await? })))
}

async fn act(
    q: &Queue,
    caller: &Caller,
    task_id: &str,
    action: TaskAction,
) -> ApiResult<Json<Value>> {
    validate::task_id(task_id)?;
    let current = q.status(task_id).await?;
    caller.require(&Queue::task_action_scopes(action, &current))?;
    let status = match action {
        TaskAction::Schedule => q.schedule_task(task_id).await?,
        TaskAction::Rerun => q.rerun_task(task_id).await?,
        TaskAction::Cancel => q.cancel_task(task_id).await?,
    };
    Ok(Json(json!({ "status": status })))
}

pub async fn schedule_task(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path(task_id): Path<String>,
) -> ApiResult<Json<Value>> {
    act(&q, &caller, &task_id, TaskAction::Schedule).await
}

pub async fn rerun_task(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path(task_id): Path<String>,
) -> ApiResult<Json<Value>> {
    act(&q, &caller, &task_id, TaskAction::Rerun).await
}

pub async fn cancel_task(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path(task_id): Path<String>,
) -> ApiResult<Json<Value>> {
    act(&q, &caller, &task_id, TaskAction::Cancel).await
}

pub async fn list_dependent_tasks(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path(task_id): Path<String>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Value>> {
    validate::task_id(&task_id)?;
    caller.require(&ScopeExpr::scope(format!(
        "queue:list-dependent-tasks:{task_id}"
    )))?;
    let (token, limit) = super::page(&page)?;
    Ok(Json(q.list_dependent_tasks(&task_id, token, limit).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TasksRequest {
    #[serde(default)]
    task_ids: Vec<String>,
}

/// The experimental batch reads are capped so one request stays one cheap query.
const MAX_BATCH: usize = 1000;

fn batch_ids(body: &[u8]) -> ApiResult<Vec<String>> {
    let req: TasksRequest = parse_body(body)?;
    if req.task_ids.len() > MAX_BATCH {
        return Err(ApiError::input(format!(
            "`taskIds` has more than {MAX_BATCH} entries"
        )));
    }
    for id in &req.task_ids {
        validate::task_id(id)?;
    }
    Ok(req.task_ids)
}

pub async fn tasks(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let ids = batch_ids(&body)?;
    caller.require(&ScopeExpr::all_of(
        ids.iter()
            .map(|i| ScopeExpr::scope(format!("queue:get-task:{i}"))),
    ))?;
    let found = q.tasks_and_statuses(&ids).await?;
    let items: Vec<Value> = found
        .into_iter()
        .map(|(d, s)| json!({"taskId": s.task_id, "task": d}))
        .collect();
    Ok(Json(json!({ "tasks": items })))
}

pub async fn statuses(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let ids = batch_ids(&body)?;
    caller.require(&ScopeExpr::all_of(
        ids.iter()
            .map(|i| ScopeExpr::scope(format!("queue:status:{i}"))),
    ))?;
    let found = q.tasks_and_statuses(&ids).await?;
    let items: Vec<Value> = found
        .into_iter()
        .map(|(_, s)| json!({"taskId": s.task_id, "status": s}))
        .collect();
    Ok(Json(json!({ "statuses": items })))
}
