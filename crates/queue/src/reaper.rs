//! The background work of the queue: expired claims, passed deadlines, expired tasks.
//!
//! Every server runs it; each resolution re-checks its condition under the task's row lock, so
//! two reapers racing over the same task change it once.

use std::sync::Arc;

use relyard_core::error::ApiResult;
use relyard_core::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::store::{claims, groups, tasks};
use crate::Queue;

/// Rows looked at per kind and tick; a full batch makes the next tick start at once.
const BATCH: usize = 200;

/// What one tick did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickReport {
    pub claims_expired: usize,
    pub deadlines_exceeded: usize,
    pub tasks_deleted: usize,
}

impl TickReport {
    fn busy(&self) -> bool {
        self.claims_expired >= BATCH || self.deadlines_exceeded >= BATCH || self.tasks_deleted >= BATCH
    }
}

impl Queue {
    /// One pass of the reaper as of `now` (tests pass a future `now` instead of sleeping).
    pub async fn reap(&self, now: Timestamp) -> ApiResult<TickReport> {
        let mut report = TickReport::default();
        for (task_id, run_id) in claims::expired_claims(self.db.reader(), now, BATCH).await? {
            if self.expire_claim(&task_id, run_id, now).await? {
                report.claims_expired += 1;
            }
        }
        for task_id in tasks::past_deadline(self.db.reader(), now, BATCH).await? {
            if self.expire_deadline(&task_id, now).await? {
                report.deadlines_exceeded += 1;
            }
        }
        report.tasks_deleted = self.delete_expired(now).await?;
        Ok(report)
    }

    /// Deletes tasks (with runs, queue rows and edges) whose `expires` passed, then empty groups.
    async fn delete_expired(&self, now: Timestamp) -> ApiResult<usize> {
        let ids = tasks::expired(self.db.reader(), now, BATCH).await?;
        let mut w = self.begin().await?;
        let deleted = if ids.is_empty() { 0 } else { tasks::delete(&mut w.tx, &ids).await? as usize };
        groups::delete_expired(&mut w.tx, now).await?;
        self.commit(w).await?;
        Ok(deleted)
    }
}

/// Runs the reaper until `shutdown`. (claimWork wake-ups are relayed by a task [`Queue::new`]
/// starts, so that a queue without background work still wakes its waiters.)
pub async fn run_background(queue: Arc<Queue>, shutdown: CancellationToken) {
    loop {
        let busy = match queue.reap(Timestamp::now()).await {
            Ok(report) => report.busy(),
            Err(e) => {
                tracing::warn!(error = %e, "queue reaper pass failed; will retry");
                false
            }
        };
        if busy {
            if shutdown.is_cancelled() {
                return;
            }
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(queue.config.reaper_interval) => {}
        }
    }
}
