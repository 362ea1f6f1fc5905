//! claimWork and reclaimTask.

use relyard_auth::scopes::ScopeExpr;
use relyard_auth::Credentials;
use relyard_core::error::ApiResult;
use relyard_core::{ApiError, Timestamp};
use serde::Serialize;
use tokio::time::Instant;

use super::{no_run, no_task};
use crate::events::TaskExchange;
use crate::model::{RunState, TaskDef, TaskRow, TaskStatus};
use crate::store::claims::{self as claim_rows, Claim};
use crate::store::tasks;
use crate::{twins, Queue};

/// Most tasks one claimWork call may take (Taskcluster's schema maximum).
pub const MAX_CLAIM: usize = 32;

/// One item of claimWork's `tasks`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimItem {
    pub status: TaskStatus,
    pub run_id: u32,
    pub worker_group: String,
    pub worker_id: String,
    pub taken_until: Timestamp,
    pub task: TaskDef,
    pub credentials: Credentials,
}

/// reclaimTask's answer: a claim item without the task.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReclaimResponse {
    pub status: TaskStatus,
    pub run_id: u32,
    pub worker_group: String,
    pub worker_id: String,
    pub taken_until: Timestamp,
    pub credentials: Credentials,
}

impl Queue {
    /// `AllOf[queue:claim-work:<taskQueueId>, queue:worker-id:<workerGroup>/<workerId>]`
    pub fn claim_work_scopes(
        task_queue_id: &str,
        worker_group: &str,
        worker_id: &str,
    ) -> ScopeExpr {
        ScopeExpr::all_of([
            ScopeExpr::scope(format!("queue:claim-work:{task_queue_id}")),
            ScopeExpr::scope(format!("queue:worker-id:{worker_group}/{worker_id}")),
        ])
    }

    /// Claims up to `count` pending tasks of a queue, waiting up to `claim_wait` for one to appear.
    /// Answers as soon as something was claimed; an empty list after the wait or at shutdown.
    pub async fn claim_work(
        &self,
        task_queue_id: &str,
        worker_group: &str,
        worker_id: &str,
        count: usize,
    ) -> ApiResult<Vec<ClaimItem>> {
        let count = count.clamp(1, MAX_CLAIM);
        let give_up = Instant::now() + self.config.claim_wait;
        let notify = self.waiters.get(task_queue_id);
        loop {
            // Registered before looking, so a task that becomes pending after the look still wakes us.
            let woken = notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.shutdown.is_cancelled() {
                return Ok(Vec::new());
            }
            let claimed = self
                .try_claim(task_queue_id, worker_group, worker_id, count)
                .await?;
            if !claimed.is_empty() {
                return Ok(claimed);
            }
            let now = Instant::now();
            if now >= give_up {
                return Ok(Vec::new());
            }
            let recheck = (now + self.config.claim_recheck).min(give_up);
            tokio::select! {
                _ = &mut woken => {}
                _ = tokio::time::sleep_until(recheck) => {}
                _ = self.shutdown.cancelled() => return Ok(Vec::new()),
            }
        }
    }

    /// One attempt: takes the head of the queue in one transaction.
    pub async fn try_claim(
        &self,
        task_queue_id: &str,
        worker_group: &str,
        worker_id: &str,
        count: usize,
    ) -> ApiResult<Vec<ClaimItem>> {
        let now = Timestamp::now();
        let taken_until = now.plus_secs(self.config.claim_timeout_secs);
        let window = self.config.claim_wait + self.config.claim_recheck;
        self.claimers
            .saw(task_queue_id, worker_group, worker_id, window);
        // Only then can a reproducibility rerun be left for someone else (see `twins`).
        let others = self
            .claimers
            .others_active(task_queue_id, worker_group, worker_id, window);
        let mut w = self.begin().await?;
        let mut claimed: Vec<(TaskRow, TaskDef, u32)> = Vec::new();
        let mut held: Vec<String> = Vec::new();
        // A held-back rerun stays at the head of the queue: look past it (a few times at most).
        for _ in 0..3 {
            let want = count - claimed.len();
            let head = claim_rows::head(&mut w.tx, task_queue_id, want + held.len(), w.skip_locked)
                .await?;
            let head: Vec<(String, u32)> = head
                .into_iter()
                .filter(|(id, _)| !held.contains(id))
                .collect();
            if head.is_empty() {
                break;
            }
            let before = held.len();
            let ids: Vec<String> = head.iter().map(|(id, _)| id.clone()).collect();
            // Tasks another transaction is changing right now (a cancel, say) are skipped this round.
            let mut locked = tasks::lock_many(&mut w.tx, &ids, w.skip_locked).await?;
            locked.sort_by_key(|(t, _)| ids.iter().position(|i| *i == t.task_id));

            let mut done: Vec<String> = Vec::new();
            for (mut task, def) in locked {
                if claimed.len() == count {
                    break;
                }
                let run_id = head
                    .iter()
                    .find(|(id, _)| *id == task.task_id)
                    .map(|(_, r)| *r)
                    .unwrap_or(u32::MAX);
                let is_current = task.runs.len() as u32 == run_id + 1;
                let Some(run) = task
                    .runs
                    .last_mut()
                    .filter(|r| is_current && r.state == RunState::Pending)
                else {
                    done.push(task.task_id.clone());
                    continue; // stale entry: drop it
                };
                if task.deadline <= now {
                    done.push(task.task_id.clone());
                    continue; // the deadline reaper resolves it
                }
                if others
                    && twins::hold_back(&mut w.tx, &def, run, worker_group, worker_id, now).await?
                {
                    held.push(task.task_id.clone());
                    continue; // stays pending for another worker
                }
                done.push(task.task_id.clone());
                run.state = RunState::Running;
                run.worker_group = Some(worker_group.to_string());
                run.worker_id = Some(worker_id.to_string());
                run.taken_until = Some(taken_until);
                run.started = Some(now);
                tasks::save(&mut w.tx, &task).await?;
                w.task_event(TaskExchange::Running, &task, Some(run_id))
                    .await?;
                claimed.push((task, def, run_id));
            }
            claim_rows::remove_pending_many(&mut w.tx, &done).await?;
            if held.len() == before || claimed.len() == count {
                break;
            }
        }
        if claimed.is_empty() {
            self.commit(w).await?;
            return Ok(Vec::new());
        }
        let rows: Vec<Claim<'_>> = claimed
            .iter()
            .map(|(t, _, run_id)| Claim {
                task_id: &t.task_id,
                run_id: *run_id,
                task_queue_id: &t.task_queue_id,
                worker_group,
                worker_id,
                claimed: now,
                taken_until,
            })
            .collect();
        claim_rows::add_claimed(&mut w.tx, &rows).await?;
        drop(rows);
        self.commit(w).await?;

        claimed
            .into_iter()
            .map(|(task, def, run_id)| {
                let credentials = self.auth.task_credentials(
                    &task.task_id,
                    run_id,
                    worker_group,
                    worker_id,
                    taken_until,
                    &task.scopes,
                )?;
                Ok(ClaimItem {
                    status: task.status(),
                    run_id,
                    worker_group: worker_group.to_string(),
                    worker_id: worker_id.to_string(),
                    taken_until,
                    task: def,
                    credentials,
                })
            })
            .collect()
    }

    /// `queue:reclaim-task:<taskId>/<runId>`
    pub fn reclaim_scopes(task_id: &str, run_id: u32) -> ScopeExpr {
        ScopeExpr::scope(format!("queue:reclaim-task:{task_id}/{run_id}"))
    }

    /// Extends the claim of a running run; 409 once it is no longer running (the worker must stop).
    pub async fn reclaim_task(&self, task_id: &str, run_id: u32) -> ApiResult<ReclaimResponse> {
        let now = Timestamp::now();
        let taken_until = now.plus_secs(self.config.claim_timeout_secs);
        let mut w = self.begin().await?;
        let mut task = tasks::get(&mut *w.tx, task_id, w.lock)
            .await?
            .ok_or_else(|| no_task(task_id))?;
        if task.runs.get(run_id as usize).is_none() {
            return Err(no_run(task_id, run_id));
        }
        let deadline = task.deadline;
        let is_last = task.runs.len() as u32 == run_id + 1;
        let run = match task.runs.last_mut() {
            Some(r) if is_last && r.state == RunState::Running && deadline > now => r,
            _ => {
                return Err(ApiError::conflict(format!(
                    "Run {run_id} on task `{task_id}` is resolved or not running."
                )))
            }
        };
        run.taken_until = Some(taken_until);
        let worker_group = run.worker_group.clone().unwrap_or_default();
        let worker_id = run.worker_id.clone().unwrap_or_default();
        tasks::save(&mut w.tx, &task).await?;
        claim_rows::set_taken_until(&mut w.tx, task_id, taken_until).await?;
        self.commit(w).await?;
        let credentials = self.auth.task_credentials(
            task_id,
            run_id,
            &worker_group,
            &worker_id,
            taken_until,
            &task.scopes,
        )?;
        Ok(ReclaimResponse {
            status: task.status(),
            run_id,
            worker_group,
            worker_id,
            taken_until,
            credentials,
        })
    }
}
