//! Reruns of reproducibility checks go to another worker than the original's.
//!
//! A task rendered with `extra.reproducible: true` gets a twin carrying `extra.reproducibleOf` =
//! the original's taskId (`relyard_github::tcyml::reproducible`). Both become pending together,
//! so claimWork alone would often hand both to one worker. While the twin is young (pending for
//! less than [`HOLD`]) and another worker is claiming from the same queue, claimWork holds it back
//! from a worker that holds or ran the original, and from everyone while the original is still
//! pending (so whoever takes the original first decides who may not take the twin). After
//! [`HOLD`], or when no other worker is claiming, any worker takes it: with one worker, the check
//! is two clean runs of that worker.
//!
//! Which workers are claiming is what this server saw in the last `claim_wait + claim_recheck`
//! (a waiting claimWork looks again at least every `claim_recheck`); on several servers each knows
//! the workers polling it, so a rerun may go to the original's worker sooner than it would on one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use relyard_core::Timestamp;
use relyard_store::{StoreResult, Tx};
use serde_json::Value;

use crate::model::{Run, RunState, TaskDef};
use crate::store::tasks;

/// How long a twin waits for another worker before the original's worker may take it.
pub const HOLD: Duration = Duration::from_secs(60);
/// The `extra` key naming the task a twin reruns.
pub const REPRODUCIBLE_OF: &str = "reproducibleOf";

type WorkerKey = (String, String);

/// The workers that called claimWork recently, per task queue.
#[derive(Default)]
pub(crate) struct RecentClaimers {
    queues: Mutex<HashMap<String, HashMap<WorkerKey, Instant>>>,
}

impl RecentClaimers {
    /// Records a claim attempt; forgets workers not seen within `window`.
    pub fn saw(&self, task_queue_id: &str, group: &str, id: &str, window: Duration) {
        let now = Instant::now();
        let mut map = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        let workers = map.entry(task_queue_id.to_string()).or_default();
        workers.retain(|_, seen| now.duration_since(*seen) < window);
        workers.insert((group.to_string(), id.to_string()), now);
        // Queues nobody claims from any more are dropped once the map grows.
        if map.len() > 1024 {
            map.retain(|_, w| w.values().any(|seen| now.duration_since(*seen) < window));
        }
    }

    /// Whether a worker other than `group/id` tried to claim from the queue within `window`.
    pub fn others_active(
        &self,
        task_queue_id: &str,
        group: &str,
        id: &str,
        window: Duration,
    ) -> bool {
        let now = Instant::now();
        let map = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        map.get(task_queue_id).is_some_and(|workers| {
            workers
                .iter()
                .any(|((g, i), seen)| (g != group || i != id) && now.duration_since(*seen) < window)
        })
    }
}

/// Whether claimWork should leave this pending run of a twin for another worker.
pub(crate) async fn hold_back(
    tx: &mut Tx,
    def: &TaskDef,
    run: &Run,
    worker_group: &str,
    worker_id: &str,
    now: Timestamp,
) -> StoreResult<bool> {
    let Some(original) = def.extra.get(REPRODUCIBLE_OF).and_then(Value::as_str) else {
        return Ok(false);
    };
    let waited = now.millis().saturating_sub(run.scheduled.millis());
    if waited >= HOLD.as_millis() as i64 {
        return Ok(false);
    }
    // Read, not locked: a claim of the original in flight elsewhere shows as pending (hold).
    let Some(original) = tasks::get(&mut **tx, original, "").await? else {
        return Ok(false);
    };
    Ok(match original.runs.last() {
        None => false,
        Some(last) if last.state == RunState::Pending => true,
        Some(_) => original.runs.iter().any(|r| {
            r.worker_group.as_deref() == Some(worker_group)
                && r.worker_id.as_deref() == Some(worker_id)
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_workers_count_while_recently_seen() {
        let c = RecentClaimers::default();
        let long = Duration::from_secs(60);
        c.saw("p/q", "g", "w1", long);
        assert!(!c.others_active("p/q", "g", "w1", long), "only itself");
        c.saw("p/q", "g", "w2", long);
        assert!(c.others_active("p/q", "g", "w1", long));
        assert!(
            !c.others_active("p/other", "g", "w1", long),
            "another queue"
        );
        assert!(
            !c.others_active("p/q", "g", "w1", Duration::ZERO),
            "too long ago"
        );
    }
}
