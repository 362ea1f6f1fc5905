//! Resolving runs: reportCompleted / reportFailed / reportException, and the reaper's claim-expired
//! and deadline-exceeded resolutions.

use relyard_auth::scopes::ScopeExpr;
use relyard_core::error::ApiResult;
use relyard_core::{ApiError, Timestamp};

use super::{no_run, no_task, Write};
use crate::events::TaskExchange;
use crate::model::{ReasonResolved, RunState, TaskRow, TaskStatus};
use crate::store::{claims, tasks};
use crate::Queue;

/// How a worker reports the end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Completed,
    Failed,
    Exception(ReasonResolved),
}

impl Resolution {
    fn state(self) -> RunState {
        match self {
            Resolution::Completed => RunState::Completed,
            Resolution::Failed => RunState::Failed,
            Resolution::Exception(_) => RunState::Exception,
        }
    }
    fn reason(self) -> ReasonResolved {
        match self {
            Resolution::Completed => ReasonResolved::Completed,
            Resolution::Failed => ReasonResolved::Failed,
            Resolution::Exception(r) => r,
        }
    }
    fn exchange(self) -> TaskExchange {
        match self {
            Resolution::Completed => TaskExchange::Completed,
            Resolution::Failed => TaskExchange::Failed,
            Resolution::Exception(_) => TaskExchange::Exception,
        }
    }
}

impl Queue {
    /// `queue:resolve-task:<taskId>/<runId>`
    pub fn resolve_scopes(task_id: &str, run_id: u32) -> ScopeExpr {
        ScopeExpr::scope(format!("queue:resolve-task:{task_id}/{run_id}"))
    }

    pub async fn report_completed(&self, task_id: &str, run_id: u32) -> ApiResult<TaskStatus> {
        self.report(task_id, run_id, Resolution::Completed).await
    }

    pub async fn report_failed(&self, task_id: &str, run_id: u32) -> ApiResult<TaskStatus> {
        self.report(task_id, run_id, Resolution::Failed).await
    }

    /// `reason` is one of the six a worker may report; worker-shutdown and intermittent-task
    /// retry the task while it has retries left.
    pub async fn report_exception(
        &self,
        task_id: &str,
        run_id: u32,
        reason: &str,
    ) -> ApiResult<TaskStatus> {
        let reason = ReasonResolved::from_worker_report(reason).ok_or_else(|| {
            ApiError::validation(format!(
                "`reason` must be one of worker-shutdown, malformed-payload, resource-unavailable, \
                 internal-error, superseded, intermittent-task; got {reason:?}"
            ))
        })?;
        self.report(task_id, run_id, Resolution::Exception(reason))
            .await
    }

    /// A worker's report on its run. Repeating a report that already took effect answers the same
    /// status (workers retry requests); anything else on a run that is not running is a 409.
    pub async fn report(
        &self,
        task_id: &str,
        run_id: u32,
        how: Resolution,
    ) -> ApiResult<TaskStatus> {
        let now = Timestamp::now();
        let mut w = self.begin().await?;
        let task = tasks::get(&mut *w.tx, task_id, w.lock)
            .await?
            .ok_or_else(|| no_task(task_id))?;
        let Some(run) = task.runs.get(run_id as usize) else {
            return Err(no_run(task_id, run_id));
        };
        if run.state == how.state() && run.reason_resolved == Some(how.reason()) {
            return Ok(task.status());
        }
        if run.state != RunState::Running || task.runs.len() as u32 != run_id + 1 {
            return Err(ApiError::conflict(format!(
                "Run {run_id} on task `{task_id}` is resolved or not running."
            )));
        }
        let task = self.resolve_running(&mut w, task, how, now).await?;
        self.commit(w).await?;
        Ok(task.status())
    }

    /// Resolves the running last run of a locked task, retrying when the reason allows it.
    async fn resolve_running(
        &self,
        w: &mut Write,
        mut task: TaskRow,
        how: Resolution,
        now: Timestamp,
    ) -> ApiResult<TaskRow> {
        let run_id = task.runs.len() as u32 - 1;
        if let Some(run) = task.runs.last_mut() {
            run.state = how.state();
            run.reason_resolved = Some(how.reason());
            run.resolved = Some(now);
        }
        claims::remove_claimed(&mut w.tx, &task.task_id).await?;
        let retry = how
            .reason()
            .retry_reason()
            .filter(|_| task.retries_left > 0 && task.deadline > now);
        let retry_run = match retry {
            Some(reason) => {
                task.retries_left -= 1;
                Some(w.add_pending_run(&mut task, reason, now).await?)
            }
            None => None,
        };
        tasks::save(&mut w.tx, &task).await?;
        w.task_event(how.exchange(), &task, Some(run_id)).await?;
        if let Some(r) = retry_run {
            w.task_event(TaskExchange::Pending, &task, Some(r)).await?;
        }
        w.after_transition(&task, true, now).await?;
        Ok(task)
    }

    /// Reaper: resolves a claim whose `takenUntil` passed before `now` as `claim-expired`.
    /// Returns whether it changed anything (another server or a late report may have won).
    pub async fn expire_claim(
        &self,
        task_id: &str,
        run_id: u32,
        now: Timestamp,
    ) -> ApiResult<bool> {
        let mut w = self.begin().await?;
        let Some(task) = tasks::get(&mut *w.tx, task_id, w.lock).await? else {
            claims::remove_claimed(&mut w.tx, task_id).await?;
            self.commit(w).await?;
            return Ok(false);
        };
        let expired = task.runs.len() as u32 == run_id + 1
            && task.last_run().is_some_and(|r| {
                r.state == RunState::Running && r.taken_until.is_some_and(|t| t < now)
            });
        if !expired {
            return Ok(false);
        }
        self.resolve_running(
            &mut w,
            task,
            Resolution::Exception(ReasonResolved::ClaimExpired),
            now,
        )
        .await?;
        self.commit(w).await?;
        Ok(true)
    }

    /// Reaper: resolves an unresolved task whose deadline is not after `now` as `deadline-exceeded`.
    pub async fn expire_deadline(&self, task_id: &str, now: Timestamp) -> ApiResult<bool> {
        let mut w = self.begin().await?;
        let Some(task) = tasks::get(&mut *w.tx, task_id, w.lock).await? else {
            return Ok(false);
        };
        if !task.is_active() || task.deadline > now {
            return Ok(false);
        }
        self.resolve_as_exception(&mut w, task, ReasonResolved::DeadlineExceeded, now)
            .await?;
        self.commit(w).await?;
        Ok(true)
    }
}
