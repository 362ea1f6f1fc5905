//! The methods of [`Queue`](crate::Queue), by area. Shared here: a write transaction with what
//! must happen after it commits, and the side effects every state change has (pending and
//! claimed rows, events, dependents, the group's count of unresolved tasks).

mod artifacts;
mod claims;
mod create;
mod groups;
mod lifecycle;
mod read;
mod resolve;

pub use artifacts::{validate_name as validate_artifact_name, ArtifactContent, ArtifactRequest};
pub use claims::{ClaimItem, ReclaimResponse};
pub use groups::{CancelGroupResponse, GroupInfo};
pub use lifecycle::TaskAction;
pub use read::{ClaimedTask, PendingTask};
pub use resolve::Resolution;

use relyard_core::error::ApiResult;
use relyard_core::{ApiError, Timestamp};
use relyard_events::{enqueue, Event};
use relyard_store::Tx;

use crate::events::{group_event, task_event, TaskExchange};
use crate::model::{priority_rank, ReasonCreated, Run, RunState, TaskRow};
use crate::store::{claims as claim_rows, deps, groups as group_rows, tasks};
use crate::{db_error, Queue, TASK_PENDING_SIGNAL};

/// A write transaction and the wake-ups to send once it has committed.
pub(crate) struct Write {
    pub tx: Tx,
    /// `FOR UPDATE` on PostgreSQL. Write transactions lock a task row before anything else
    /// they touch for that task, so concurrent changes to one task serialize without deadlocks.
    pub lock: &'static str,
    /// `FOR UPDATE SKIP LOCKED` on PostgreSQL (claims).
    pub skip_locked: &'static str,
    pending_queues: Vec<String>,
    events: bool,
}

impl Queue {
    pub(crate) async fn begin(&self) -> ApiResult<Write> {
        Ok(Write {
            tx: self.db.begin().await?,
            lock: self.db.for_update(),
            skip_locked: self.db.for_update_skip_locked(),
            pending_queues: Vec::new(),
            events: false,
        })
    }

    /// Commits, then hands the events to the publisher and wakes claimers of queues that got work.
    pub(crate) async fn commit(&self, w: Write) -> ApiResult<()> {
        w.tx.commit().await.map_err(db_error)?;
        if w.events {
            self.bus.kick();
        }
        let mut queues = w.pending_queues;
        queues.sort();
        queues.dedup();
        for q in queues {
            self.bus.signal(TASK_PENDING_SIGNAL, &q).await;
        }
        Ok(())
    }
}

impl Write {
    pub async fn event(&mut self, e: &Event) -> ApiResult<()> {
        enqueue(&mut self.tx, e).await?;
        self.events = true;
        Ok(())
    }

    pub async fn task_event(
        &mut self,
        kind: TaskExchange,
        task: &TaskRow,
        run_id: Option<u32>,
    ) -> ApiResult<()> {
        let run = run_id.and_then(|r| task.runs.get(r as usize));
        self.event(&task_event(kind, task, run)).await
    }

    /// Appends a pending run (in memory) and queues it for workers; the caller saves the row.
    pub async fn add_pending_run(
        &mut self,
        task: &mut TaskRow,
        reason: ReasonCreated,
        now: Timestamp,
    ) -> ApiResult<u32> {
        let run_id = task.runs.len() as u32;
        task.runs.push(Run {
            run_id,
            state: RunState::Pending,
            reason_created: reason,
            reason_resolved: None,
            worker_group: None,
            worker_id: None,
            taken_until: None,
            scheduled: now,
            started: None,
            resolved: None,
        });
        let rank = priority_rank(&task.priority).unwrap_or(6);
        claim_rows::add_pending(
            &mut self.tx,
            &task.task_id,
            run_id,
            &task.task_queue_id,
            rank,
            now,
        )
        .await?;
        self.pending_queues.push(task.task_queue_id.clone());
        Ok(run_id)
    }

    /// Saves the row and announces the pending run added by [`Write::add_pending_run`].
    pub async fn save_and_announce_pending(
        &mut self,
        task: &TaskRow,
        run_id: u32,
    ) -> ApiResult<()> {
        tasks::save(&mut self.tx, task).await?;
        self.task_event(TaskExchange::Pending, task, Some(run_id))
            .await
    }

    /// What follows a change of the task between unresolved and resolved: dependents that become
    /// ready are scheduled (in this transaction) and the group's count is kept, announcing
    /// task-group-resolved when it reaches zero.
    pub async fn after_transition(
        &mut self,
        task: &TaskRow,
        was_active: bool,
        now: Timestamp,
    ) -> ApiResult<()> {
        let active = task.is_active();
        if was_active && !active {
            let completed = task
                .last_run()
                .map(|r| r.state == RunState::Completed)
                .unwrap_or(false);
            if deps::satisfy(&mut self.tx, &task.task_id, completed).await? > 0 {
                deps::lock_waiting_dependents(&mut self.tx, &task.task_id, self.lock).await?;
                for id in deps::ready_dependents(&mut self.tx, &task.task_id).await? {
                    self.schedule_ready(&id, now).await?;
                }
            }
            self.adjust_group(&task.task_group_id, -1).await?;
        } else if !was_active && active {
            self.adjust_group(&task.task_group_id, 1).await?;
        }
        Ok(())
    }

    /// Schedules a dependent whose dependencies are all satisfied (unless something else got to it).
    async fn schedule_ready(&mut self, task_id: &str, now: Timestamp) -> ApiResult<()> {
        let Some(mut dep) = tasks::get(&mut *self.tx, task_id, self.lock).await? else {
            return Ok(());
        };
        if !dep.runs.is_empty() || dep.deadline <= now {
            // Already scheduled, or past its deadline: the deadline reaper resolves it.
            return Ok(());
        }
        let run_id = self
            .add_pending_run(&mut dep, ReasonCreated::Scheduled, now)
            .await?;
        self.save_and_announce_pending(&dep, run_id).await
    }

    async fn adjust_group(&mut self, group: &str, delta: i64) -> ApiResult<()> {
        if let Some(g) = group_rows::adjust_active(&mut self.tx, group, delta).await? {
            if delta < 0 && g.active == 0 {
                let e = group_event(
                    "task-group-resolved",
                    &g.task_group_id,
                    &g.scheduler_id,
                    g.expires,
                    g.sealed,
                );
                self.event(&e).await?;
            }
        }
        Ok(())
    }
}

/// 404 for a task that does not exist.
pub(crate) fn no_task(task_id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Task `{task_id}` not found. Are you sure it was created?"
    ))
}

/// 404 for a run that does not exist.
pub(crate) fn no_run(task_id: &str, run_id: u32) -> ApiError {
    ApiError::not_found(format!("Run {run_id} not found on task `{task_id}`."))
}
