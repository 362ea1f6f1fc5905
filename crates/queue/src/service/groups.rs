//! sealTaskGroup and cancelTaskGroup.

use relyard_auth::scopes::ScopeExpr;
use relyard_core::error::ApiResult;
use relyard_core::{ApiError, Timestamp};
use serde::Serialize;

use crate::events::group_event;
use crate::store::groups::{self, GroupRow};
use crate::store::tasks;
use crate::Queue;

/// Taskcluster's task-group-response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInfo {
    pub task_group_id: String,
    pub scheduler_id: String,
    pub expires: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed: Option<Timestamp>,
}

impl From<GroupRow> for GroupInfo {
    fn from(g: GroupRow) -> Self {
        GroupInfo {
            task_group_id: g.task_group_id,
            scheduler_id: g.scheduler_id,
            expires: g.expires,
            sealed: g.sealed,
        }
    }
}

/// cancelTaskGroup's answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelGroupResponse {
    pub task_group_id: String,
    pub task_group_size: i64,
    pub cancelled_count: i64,
    pub task_ids: Vec<String>,
}

/// Tasks cancelled per transaction, so a big group never holds the writer for long.
const CANCEL_BATCH: usize = 200;

impl Queue {
    /// `queue:seal-task-group:<schedulerId>/<taskGroupId>` (or cancel-task-group).
    pub fn group_scopes(verb: &str, g: &GroupInfo) -> ScopeExpr {
        ScopeExpr::scope(format!(
            "queue:{verb}-task-group:{}/{}",
            g.scheduler_id, g.task_group_id
        ))
    }

    /// Seals a group: no task can be added any more. Idempotent; task-group-sealed once.
    pub async fn seal_task_group(&self, group: &str) -> ApiResult<GroupInfo> {
        let now = Timestamp::now();
        let mut w = self.begin().await?;
        let (g, changed) = groups::seal(&mut w.tx, group, now)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("task-group `{group}` not found")))?;
        if changed {
            w.event(&group_event(
                "task-group-sealed",
                &g.task_group_id,
                &g.scheduler_id,
                g.expires,
                g.sealed,
            ))
            .await?;
            self.commit(w).await?;
        }
        Ok(GroupInfo::from(g))
    }

    /// Cancels every unresolved task of the group (seal it first to stop new ones arriving).
    pub async fn cancel_task_group(&self, group: &str) -> ApiResult<CancelGroupResponse> {
        self.task_group(group).await?;
        let mut cancelled = Vec::new();
        let mut after = String::new();
        loop {
            let ids = tasks::active_in_group(self.db.reader(), group, &after, CANCEL_BATCH).await?;
            let Some(last) = ids.last().cloned() else {
                break;
            };
            let now = Timestamp::now();
            let mut w = self.begin().await?;
            for id in &ids {
                let Some(task) = tasks::get(&mut *w.tx, id, w.lock).await? else {
                    continue;
                };
                if !task.is_active() || task.deadline <= now {
                    continue;
                }
                self.cancel_locked(&mut w, task, now).await?;
                cancelled.push(id.clone());
            }
            self.commit(w).await?;
            after = last;
        }
        let size = tasks::count_group(self.db.reader(), group).await?;
        Ok(CancelGroupResponse {
            task_group_id: group.to_string(),
            task_group_size: size,
            cancelled_count: cancelled.len() as i64,
            task_ids: cancelled,
        })
    }
}
