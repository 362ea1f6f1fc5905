//! getTaskGroup, listTaskGroup, sealTaskGroup, cancelTaskGroup.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use relyard_auth::scopes::ScopeExpr;
use relyard_auth::Caller;
use relyard_core::error::ApiResult;
use relyard_core::ids::is_slugid;
use relyard_core::paging::PageQuery;
use relyard_core::ApiError;
use serde_json::{json, Value};

use crate::Queue;

fn check(group: &str) -> ApiResult<()> {
    if is_slugid(group) {
        Ok(())
    } else {
        Err(ApiError::invalid_arguments(format!(
            "taskGroupId `{group}` is not a valid slugid"
        )))
    }
}

pub async fn get_task_group(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path(group): Path<String>,
) -> ApiResult<Json<Value>> {
    check(&group)?;
    caller.require(&ScopeExpr::scope(format!("queue:list-task-group:{group}")))?;
    Ok(Json(json!(q.task_group(&group).await?)))
}

pub async fn list_task_group(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path(group): Path<String>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Value>> {
    check(&group)?;
    caller.require(&ScopeExpr::scope(format!("queue:list-task-group:{group}")))?;
    let (token, limit) = super::page(&page)?;
    Ok(Json(q.list_task_group(&group, token, limit).await?))
}

pub async fn seal_task_group(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path(group): Path<String>,
) -> ApiResult<Json<Value>> {
    check(&group)?;
    let info = q.task_group(&group).await?;
    caller.require(&Queue::group_scopes("seal", &info))?;
    Ok(Json(json!(q.seal_task_group(&group).await?)))
}

pub async fn cancel_task_group(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path(group): Path<String>,
) -> ApiResult<Json<Value>> {
    check(&group)?;
    let info = q.task_group(&group).await?;
    caller.require(&Queue::group_scopes("cancel", &info))?;
    Ok(Json(json!(q.cancel_task_group(&group).await?)))
}
