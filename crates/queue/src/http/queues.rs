//! pendingTasks, taskQueueCounts, listPendingTasks, listClaimedTasks.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use relyard_auth::scopes::ScopeExpr;
use relyard_auth::Caller;
use relyard_core::error::ApiResult;
use relyard_core::ids::is_task_queue_id;
use relyard_core::paging::PageQuery;
use relyard_core::ApiError;
use serde_json::{json, Value};

use crate::Queue;

fn queue_id(provisioner_id: &str, worker_type: &str) -> ApiResult<String> {
    let q = format!("{provisioner_id}/{worker_type}");
    if is_task_queue_id(&q) {
        Ok(q)
    } else {
        Err(ApiError::invalid_arguments(format!(
            "`{q}` is not a valid taskQueueId"
        )))
    }
}

pub async fn pending_tasks(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path((p, w)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let tq = queue_id(&p, &w)?;
    caller.require(&ScopeExpr::scope(format!("queue:pending-count:{tq}")))?;
    let n = q.pending_count(&tq).await?;
    Ok(Json(
        json!({ "provisionerId": p, "workerType": w, "taskQueueId": tq, "pendingTasks": n }),
    ))
}

pub async fn task_queue_counts(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path((p, w)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let tq = queue_id(&p, &w)?;
    caller.require(&ScopeExpr::all_of([
        ScopeExpr::scope(format!("queue:pending-count:{tq}")),
        ScopeExpr::scope(format!("queue:claimed-count:{tq}")),
    ]))?;
    let (pending, claimed) = q.task_queue_counts(&tq).await?;
    Ok(Json(json!({
        "provisionerId": p, "workerType": w, "taskQueueId": tq,
        "pendingTasks": pending, "claimedTasks": claimed,
    })))
}

pub async fn list_pending_tasks(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path((p, w)): Path<(String, String)>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Value>> {
    let tq = queue_id(&p, &w)?;
    caller.require(&ScopeExpr::scope(format!("queue:pending-list:{tq}")))?;
    let (token, limit) = super::page(&page)?;
    let (items, next) = q.list_pending_tasks(&tq, token, limit).await?;
    let mut out = json!({ "tasks": items });
    if let Some(t) = next {
        out["continuationToken"] = json!(t);
    }
    Ok(Json(out))
}

pub async fn list_claimed_tasks(
    State(q): State<Arc<Queue>>,
    caller: Caller,
    Path((p, w)): Path<(String, String)>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Value>> {
    let tq = queue_id(&p, &w)?;
    caller.require(&ScopeExpr::scope(format!("queue:claimed-list:{tq}")))?;
    let (token, limit) = super::page(&page)?;
    let (items, next) = q.list_claimed_tasks(&tq, token, limit).await?;
    let mut out = json!({ "tasks": items });
    if let Some(t) = next {
        out["continuationToken"] = json!(t);
    }
    Ok(Json(out))
}
