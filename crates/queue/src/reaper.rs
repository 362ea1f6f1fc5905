//! The background work of the queue: expired claims, passed deadlines, expired tasks and
//! expired artifacts (records and the bytes of `s3` artifacts).
//!
//! Every server runs it; each resolution re-checks its condition under the task's row lock, so
//! two reapers racing over the same task change it once.

use std::sync::Arc;

use relyard_core::error::ApiResult;
use relyard_core::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::store::{artifacts, claims, groups, tasks};
use crate::Queue;

/// Rows looked at per kind and tick; a full batch makes the next tick start at once.
const BATCH: usize = 200;

/// What one tick did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickReport {
    pub claims_expired: usize,
    pub deadlines_exceeded: usize,
    pub tasks_deleted: usize,
    /// Artifacts deleted because their own `expires` passed (not counting those of deleted tasks).
    pub artifacts_deleted: usize,
}

impl TickReport {
    fn busy(&self) -> bool {
        self.claims_expired >= BATCH
            || self.deadlines_exceeded >= BATCH
            || self.tasks_deleted >= BATCH
            || self.artifacts_deleted >= BATCH
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
        report.artifacts_deleted = self.delete_expired_artifacts(now).await?;
        Ok(report)
    }

    /// Deletes tasks (with runs, queue rows, edges and artifacts) whose `expires` passed, then
    /// empty groups. Artifact bytes go first: if that fails the rows stay, and the next pass
    /// tries again.
    async fn delete_expired(&self, now: Timestamp) -> ApiResult<usize> {
        let ids = tasks::expired(self.db.reader(), now, BATCH).await?;
        for id in &ids {
            self.blobs.delete_prefix(&format!("t/{id}/")).await?;
        }
        let mut w = self.begin().await?;
        let deleted = if ids.is_empty() {
            0
        } else {
            // Task rows first: createArtifact locks the task row before its artifact rows.
            let n = tasks::delete(&mut w.tx, &ids).await? as usize;
            artifacts::delete_for_tasks(&mut w.tx, &ids).await?;
            n
        };
        groups::delete_expired(&mut w.tx, now).await?;
        self.commit(w).await?;
        Ok(deleted)
    }

    /// Deletes artifacts whose own `expires` passed, and the bytes of those stored in `s3`. The
    /// record goes first (re-checked in the delete, as a repeated createArtifact may extend it);
    /// bytes whose deletion fails are left for the expiry of their task, which deletes
    /// everything under `t/<taskId>/`.
    async fn delete_expired_artifacts(&self, now: Timestamp) -> ApiResult<usize> {
        let expired = artifacts::expired(self.db.reader(), now, BATCH).await?;
        if expired.is_empty() {
            return Ok(0);
        }
        let mut w = self.begin().await?;
        let mut doomed_blobs = Vec::new();
        let mut deleted = 0;
        for (task_id, run_id, name, storage_type) in &expired {
            if artifacts::delete_if_expired(&mut w.tx, task_id, *run_id, name, now).await? {
                deleted += 1;
                if storage_type == "s3" {
                    doomed_blobs.push(artifacts::blob_key(task_id, *run_id, name));
                }
            }
        }
        self.commit(w).await?;
        for key in doomed_blobs {
            if let Err(e) = self.blobs.delete(&key).await {
                tracing::warn!(error = %e, key, "could not delete the bytes of an expired artifact; they go when the task expires");
            }
        }
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
