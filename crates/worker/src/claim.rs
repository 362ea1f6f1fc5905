//! The claim loop: keeps `capacity` tasks running with as many claimWork calls as it takes
//! (Taskcluster hands out at most 32 tasks a call), and never lets a claim go unanswered: a
//! claimWork call in flight is always waited for (its answer may hold tasks the queue already
//! marked as ours), and tasks claimed after shutdown began are resolved at once as
//! `worker-shutdown` so the queue retries them elsewhere.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::queue_api::{CallError, Claim, RunApi};
use crate::run::{run_claim, RunOutcome};
use crate::runner::{FinishedTask, RecycleAction};
use crate::Shared;

/// Taskcluster's limit on `tasks` in one claimWork request.
pub const MAX_CLAIM: usize = 32;

type ClaimAnswer = Result<(Vec<Claim>, Instant), CallError>;

/// Runs until shutdown (None) or until the recycle policy asks for something other than
/// continuing (Some(action)); in both cases after every running task has ended.
pub async fn claim_loop(shared: Arc<Shared>, shutdown: CancellationToken) -> Option<RecycleAction> {
    let capacity = shared.config.capacity;
    let mut running: JoinSet<RunOutcome> = JoinSet::new();
    let mut claiming: JoinSet<ClaimAnswer> = JoinSet::new();
    // Slots asked for by each claimWork call in flight.
    let mut asked: HashMap<Id, usize> = HashMap::new();
    let mut retry_at: Option<Instant> = None;
    let mut stopping = false;
    let mut decision: Option<RecycleAction> = None;
    let mut tasks_done: u64 = 0;
    loop {
        let free = capacity.saturating_sub(running.len() + asked.values().sum::<usize>());
        if !stopping && free > 0 && retry_at.is_none() {
            let n = free.min(MAX_CLAIM);
            let handle = claiming.spawn(claim_some(Arc::clone(&shared), n));
            asked.insert(handle.id(), n);
            continue;
        }
        if stopping && claiming.is_empty() && running.is_empty() {
            return decision;
        }
        let backoff = async {
            match retry_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(answer) = claiming.join_next_with_id(), if !claiming.is_empty() => {
                let answer = match answer {
                    Ok((id, a)) => {
                        asked.remove(&id);
                        a
                    }
                    Err(e) => {
                        asked.remove(&e.id());
                        tracing::error!(error = %e, "a claimWork call panicked");
                        continue;
                    }
                };
                match answer {
                    Ok((claims, claimed_at)) => {
                        for claim in claims {
                            if stopping {
                                refuse(&shared, claim).await;
                            } else {
                                running.spawn(run_claim(Arc::clone(&shared), claim, claimed_at, shutdown.clone()));
                            }
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "claimWork failed; trying again shortly");
                        retry_at = Some(Instant::now() + Duration::from_secs(1));
                    }
                }
            }
            _ = backoff => retry_at = None,
            Some(done) = running.join_next(), if !running.is_empty() => {
                let outcome = match done {
                    Ok(o) => o,
                    Err(e) => {
                        tracing::error!(error = %e, "a task run panicked");
                        continue;
                    }
                };
                tracing::info!(task_id = %outcome.task_id, run_id = outcome.run_id, result = outcome.resolution.as_str(), "task finished");
                tasks_done += 1;
                let action = shared.config.recycle.decide(&FinishedTask {
                    hostname: &shared.config.hostname,
                    task_name: &outcome.name,
                    result: outcome.resolution.as_str(),
                    tasks_done,
                });
                if action != RecycleAction::Continue && decision.is_none() {
                    tracing::warn!(?action, task_id = %outcome.task_id, "the recycle policy ends this worker after its running tasks");
                    decision = Some(action);
                    stopping = true;
                }
            }
            _ = shutdown.cancelled(), if !stopping => {
                tracing::info!(running = running.len(), "shutting down: no more claims; running tasks get the grace period");
                stopping = true;
            }
        }
    }
}

async fn claim_some(shared: Arc<Shared>, tasks: usize) -> ClaimAnswer {
    let c = &shared.config;
    let claims = shared
        .api
        .claim_work(&c.task_queue_id, &c.worker_group, &c.worker_id, tasks)
        .await?;
    Ok((claims, Instant::now()))
}

/// A task claimed after shutdown began goes straight back to the queue.
async fn refuse(shared: &Shared, claim: Claim) {
    let task_id = claim.task_id();
    match RunApi::new(&shared.api, &task_id, claim.run_id, &claim.credentials) {
        Ok(run) => {
            if let Err(e) = run.report_exception("worker-shutdown").await {
                tracing::warn!(error = %e, %task_id, "could not hand a task back at shutdown");
            }
        }
        Err(e) => tracing::warn!(error = %e, %task_id, "could not hand a task back at shutdown"),
    }
}
