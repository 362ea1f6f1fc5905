//! scheduleTask, rerunTask, cancelTask.

use relyard_auth::scopes::ScopeExpr;
use relyard_core::error::ApiResult;
use relyard_core::{ApiError, Timestamp};

use super::no_task;
use crate::events::TaskExchange;
use crate::model::{ReasonCreated, ReasonResolved, Run, RunState, TaskRow, TaskStatus, MAX_RUNS};
use crate::store::{claims, tasks};
use crate::Queue;

/// The task actions that share scheduleTask's scope shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskAction {
    Schedule,
    Rerun,
    Cancel,
}

impl TaskAction {
    fn verb(self) -> &'static str {
        match self {
            TaskAction::Schedule => "schedule-task",
            TaskAction::Rerun => "rerun-task",
            TaskAction::Cancel => "cancel-task",
        }
    }
}

impl Queue {
    /// `AnyOf[queue:<verb>:<schedulerId>/<taskGroupId>/<taskId>, queue:<verb>-in-project:<projectId>,
    /// AllOf[queue:<verb>, assume:scheduler-id:<schedulerId>/<taskGroupId>]]`
    pub fn task_action_scopes(action: TaskAction, s: &TaskStatus) -> ScopeExpr {
        let verb = action.verb();
        ScopeExpr::any_of([
            ScopeExpr::scope(format!(
                "queue:{verb}:{}/{}/{}",
                s.scheduler_id, s.task_group_id, s.task_id
            )),
            ScopeExpr::scope(format!("queue:{verb}-in-project:{}", s.project_id)),
            ScopeExpr::all_of([
                ScopeExpr::scope(format!("queue:{verb}")),
                ScopeExpr::scope(format!(
                    "assume:scheduler-id:{}/{}",
                    s.scheduler_id, s.task_group_id
                )),
            ]),
        ])
    }

    /// Makes an unscheduled task pending whatever its dependencies; idempotent otherwise.
    pub async fn schedule_task(&self, task_id: &str) -> ApiResult<TaskStatus> {
        let now = Timestamp::now();
        let mut w = self.begin().await?;
        let mut task = tasks::get(&mut *w.tx, task_id, w.lock)
            .await?
            .ok_or_else(|| no_task(task_id))?;
        if task.deadline <= now {
            return Err(ApiError::conflict(format!(
                "Task `{task_id}` can't be scheduled past its deadline at {}.",
                task.deadline
            )));
        }
        if !task.runs.is_empty() {
            return Ok(task.status());
        }
        let run_id = w
            .add_pending_run(&mut task, ReasonCreated::Scheduled, now)
            .await?;
        w.save_and_announce_pending(&task, run_id).await?;
        self.commit(w).await?;
        Ok(task.status())
    }

    /// Adds a `rerun` run to a task that has nothing pending or running.
    pub async fn rerun_task(&self, task_id: &str) -> ApiResult<TaskStatus> {
        let now = Timestamp::now();
        let mut w = self.begin().await?;
        let mut task = tasks::get(&mut *w.tx, task_id, w.lock)
            .await?
            .ok_or_else(|| no_task(task_id))?;
        if task.deadline <= now {
            return Err(ApiError::conflict(format!(
                "Task `{task_id}` can't be rescheduled past its deadline of {}.",
                task.deadline
            )));
        }
        if matches!(
            task.last_run().map(|r| r.state),
            Some(RunState::Pending | RunState::Running)
        ) {
            return Ok(task.status());
        }
        if task.runs.len() >= MAX_RUNS {
            return Err(ApiError::conflict(format!(
                "Maximum number of runs reached ({MAX_RUNS}) for task `{task_id}`."
            )));
        }
        let was_active = task.is_active();
        let last_run_id = task.runs.len() as i64 - 1;
        task.retries_left = task.retries.min(MAX_RUNS as i64 - last_run_id - 2).max(0);
        let run_id = w
            .add_pending_run(&mut task, ReasonCreated::Rerun, now)
            .await?;
        w.save_and_announce_pending(&task, run_id).await?;
        w.after_transition(&task, was_active, now).await?;
        self.commit(w).await?;
        Ok(task.status())
    }

    /// Resolves the current run as `exception/canceled` (adding one to an unscheduled task).
    pub async fn cancel_task(&self, task_id: &str) -> ApiResult<TaskStatus> {
        let now = Timestamp::now();
        let mut w = self.begin().await?;
        let task = tasks::get(&mut *w.tx, task_id, w.lock)
            .await?
            .ok_or_else(|| no_task(task_id))?;
        if task.deadline <= now {
            return Err(ApiError::conflict(format!(
                "Task `{task_id}` can't be canceled past its deadline of {}.",
                task.deadline
            )));
        }
        let task = self.cancel_locked(&mut w, task, now).await?;
        self.commit(w).await?;
        Ok(task.status())
    }

    /// Cancels a task whose row `w` holds; no change when it is already resolved.
    pub(crate) async fn cancel_locked(
        &self,
        w: &mut super::Write,
        task: TaskRow,
        now: Timestamp,
    ) -> ApiResult<TaskRow> {
        self.resolve_as_exception(w, task, ReasonResolved::Canceled, now)
            .await
    }

    /// Cancel and deadline share this: the last unresolved run (or a new one for an unscheduled
    /// task) becomes `exception/<reason>`, without retry.
    pub(crate) async fn resolve_as_exception(
        &self,
        w: &mut super::Write,
        mut task: TaskRow,
        reason: ReasonResolved,
        now: Timestamp,
    ) -> ApiResult<TaskRow> {
        if !task.is_active() {
            return Ok(task);
        }
        match task.runs.last_mut() {
            None => task.runs.push(Run {
                run_id: 0,
                state: RunState::Exception,
                reason_created: ReasonCreated::Exception,
                reason_resolved: Some(reason),
                worker_group: None,
                worker_id: None,
                taken_until: None,
                scheduled: now,
                started: None,
                resolved: Some(now),
            }),
            Some(run) => {
                let was = run.state;
                run.state = RunState::Exception;
                run.reason_resolved = Some(reason);
                run.resolved = Some(now);
                match was {
                    RunState::Pending => claims::remove_pending(&mut w.tx, &task.task_id).await?,
                    RunState::Running => claims::remove_claimed(&mut w.tx, &task.task_id).await?,
                    _ => {}
                }
            }
        }
        let run_id = task.runs.len() as u32 - 1;
        tasks::save(&mut w.tx, &task).await?;
        w.task_event(TaskExchange::Exception, &task, Some(run_id))
            .await?;
        w.after_transition(&task, true, now).await?;
        Ok(task)
    }
}
