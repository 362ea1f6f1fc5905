//! Reads: task, status, listings of groups, dependents and task queues, counts.

use relyard_core::error::ApiResult;
use relyard_core::paging;
use relyard_core::{ApiError, Timestamp};
use serde::Serialize;
use serde_json::{json, Value};

use super::no_task;
use crate::model::{TaskDef, TaskStatus};
use crate::store::claims::{self, ClaimedKey, PendingKey};
use crate::store::{deps, groups, tasks};
use crate::Queue;

/// An item of listPendingTasks.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingTask {
    pub task_id: String,
    pub run_id: u32,
    pub task: TaskDef,
    pub inserted: Timestamp,
}

/// An item of listClaimedTasks.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimedTask {
    pub task_id: String,
    pub run_id: u32,
    pub worker_group: String,
    pub worker_id: String,
    pub claimed: Timestamp,
    pub task: TaskDef,
}

/// One page of a listing and the token for the next, if there may be one.
pub type Page<T> = (Vec<T>, Option<String>);

impl Queue {
    pub async fn task(&self, task_id: &str) -> ApiResult<TaskDef> {
        let (_, def) = tasks::get_full(self.db.reader(), task_id)
            .await?
            .ok_or_else(|| no_task(task_id))?;
        Ok(def)
    }

    pub async fn status(&self, task_id: &str) -> ApiResult<TaskStatus> {
        let row = tasks::get(self.db.reader(), task_id, "")
            .await?
            .ok_or_else(|| no_task(task_id))?;
        Ok(row.status())
    }

    /// Definitions and statuses of several tasks (missing ones left out), in the order asked.
    pub async fn tasks_and_statuses(
        &self,
        ids: &[String],
    ) -> ApiResult<Vec<(TaskDef, TaskStatus)>> {
        let mut found = tasks::get_many_full(self.db.reader(), ids).await?;
        found.sort_by_key(|(t, _)| ids.iter().position(|i| *i == t.task_id));
        Ok(found.into_iter().map(|(t, d)| (d, t.status())).collect())
    }

    /// listTaskGroup: `{taskGroupId, schedulerId, expires, sealed?, tasks: [{status, task}],
    /// continuationToken?}` in taskId order.
    pub async fn list_task_group(
        &self,
        group: &str,
        token: Option<&str>,
        limit: usize,
    ) -> ApiResult<Value> {
        let info = self.task_group(group).await?;
        let after: String = token.map(paging::decode).transpose()?.unwrap_or_default();
        let rows = tasks::list_group(self.db.reader(), group, &after, limit).await?;
        let next = (rows.len() == limit)
            .then(|| rows.last().map(|(t, _)| paging::encode(&t.task_id)))
            .flatten();
        let items: Vec<Value> = rows
            .into_iter()
            .map(|(t, d)| json!({"status": t.status(), "task": d}))
            .collect();
        let mut out = serde_json::to_value(info).unwrap_or_else(|_| json!({}));
        out["tasks"] = Value::Array(items);
        if let Some(t) = next {
            out["continuationToken"] = json!(t);
        }
        Ok(out)
    }

    /// listDependentTasks: `{taskId, tasks: [{status, task}], continuationToken?}`.
    pub async fn list_dependent_tasks(
        &self,
        task_id: &str,
        token: Option<&str>,
        limit: usize,
    ) -> ApiResult<Value> {
        if tasks::get(self.db.reader(), task_id, "").await?.is_none() {
            return Err(no_task(task_id));
        }
        let after: String = token.map(paging::decode).transpose()?.unwrap_or_default();
        let ids = deps::list_dependents(self.db.reader(), task_id, &after, limit).await?;
        let next = (ids.len() == limit)
            .then(|| ids.last().map(paging::encode))
            .flatten();
        let items = self
            .tasks_and_statuses(&ids)
            .await?
            .into_iter()
            .map(|(d, s)| json!({"status": s, "task": d}))
            .collect::<Vec<Value>>();
        let mut out = json!({"taskId": task_id, "tasks": items});
        if let Some(t) = next {
            out["continuationToken"] = json!(t);
        }
        Ok(out)
    }

    /// pendingTasks: how many runs wait in the queue.
    pub async fn pending_count(&self, task_queue_id: &str) -> ApiResult<i64> {
        Ok(claims::count_pending(self.db.reader(), task_queue_id).await?)
    }

    /// taskQueueCounts: `(pending, claimed)`.
    pub async fn task_queue_counts(&self, task_queue_id: &str) -> ApiResult<(i64, i64)> {
        let pending = claims::count_pending(self.db.reader(), task_queue_id).await?;
        let claimed = claims::count_claimed(self.db.reader(), task_queue_id).await?;
        Ok((pending, claimed))
    }

    /// listPendingTasks, in claim order.
    pub async fn list_pending_tasks(
        &self,
        task_queue_id: &str,
        token: Option<&str>,
        limit: usize,
    ) -> ApiResult<Page<PendingTask>> {
        let after: Option<PendingKey> = token.map(paging::decode).transpose()?;
        let entries =
            claims::list_pending(self.db.reader(), task_queue_id, after.as_ref(), limit).await?;
        self.with_definitions(
            entries,
            limit,
            |e| &e.key,
            |e| &e.task_id,
            |e, task| PendingTask {
                task_id: e.task_id,
                run_id: e.run_id,
                task,
                inserted: e.inserted,
            },
        )
        .await
    }

    /// listClaimedTasks, oldest claim first.
    pub async fn list_claimed_tasks(
        &self,
        task_queue_id: &str,
        token: Option<&str>,
        limit: usize,
    ) -> ApiResult<Page<ClaimedTask>> {
        let after: Option<ClaimedKey> = token.map(paging::decode).transpose()?;
        let entries =
            claims::list_claimed(self.db.reader(), task_queue_id, after.as_ref(), limit).await?;
        self.with_definitions(
            entries,
            limit,
            |e| &e.key,
            |e| &e.task_id,
            |e, task| ClaimedTask {
                task_id: e.task_id,
                run_id: e.run_id,
                worker_group: e.worker_group,
                worker_id: e.worker_id,
                claimed: e.claimed,
                task,
            },
        )
        .await
    }

    /// A page of a task-queue listing: each entry joined with its task's definition (entries
    /// whose task vanished meanwhile are dropped), with a token after the last entry when the
    /// page is full.
    async fn with_definitions<E, K: Serialize, T>(
        &self,
        entries: Vec<E>,
        limit: usize,
        key: impl Fn(&E) -> &K,
        task_id: impl Fn(&E) -> &String,
        build: impl Fn(E, TaskDef) -> T,
    ) -> ApiResult<Page<T>> {
        let next = (entries.len() == limit)
            .then(|| entries.last().map(|e| paging::encode(key(e))))
            .flatten();
        let ids: Vec<String> = entries.iter().map(|e| task_id(e).clone()).collect();
        let defs = self.definitions(&ids).await?;
        let items = entries
            .into_iter()
            .zip(defs)
            .filter_map(|(e, d)| d.map(|task| build(e, task)))
            .collect();
        Ok((items, next))
    }

    /// The definitions of `ids`, position by position (`None` where a task vanished).
    async fn definitions(&self, ids: &[String]) -> ApiResult<Vec<Option<TaskDef>>> {
        let found = tasks::get_many_full(self.db.reader(), ids).await?;
        let mut by_id: std::collections::HashMap<String, TaskDef> =
            found.into_iter().map(|(t, d)| (t.task_id, d)).collect();
        Ok(ids.iter().map(|i| by_id.remove(i)).collect())
    }

    /// getTaskGroup.
    pub async fn task_group(&self, group: &str) -> ApiResult<super::GroupInfo> {
        let g = groups::get(self.db.reader(), group)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("task-group `{group}` not found")))?;
        Ok(super::GroupInfo::from(g))
    }
}
