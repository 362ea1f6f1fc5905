//! The claim loop: keeps `capacity` tasks running, one claimWork call at a time, and never lets
//! a claim go unanswered: a claimWork call in flight is always waited for (its answer may hold
//! tasks the queue already marked as ours), and tasks claimed after shutdown began are resolved
//! at once as `worker-shutdown` so the queue retries them elsewhere.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::queue_api::{CallError, Claim, RunApi};
use crate::run::{run_claim, RunOutcome};
use crate::runner::{FinishedTask, RecycleAction};
use crate::Shared;

type ClaimAnswer = Result<(Vec<Claim>, Instant), CallError>;

/// Runs until shutdown (None) or until the recycle policy asks for something other than
/// continuing (Some(action)); in both cases after every running task has ended.
pub async fn claim_loop(shared: Arc<Shared>, shutdown: CancellationToken) -> Option<RecycleAction> {
    let capacity = shared.config.capacity;
    let mut running: JoinSet<RunOutcome> = JoinSet::new();
    let mut in_flight: Option<tokio::task::JoinHandle<ClaimAnswer>> = None;
    let mut stopping = false;
    let mut decision: Option<RecycleAction> = None;
    let mut tasks_done: u64 = 0;
    loop {
        let free = capacity.saturating_sub(running.len());
        if in_flight.is_none() && !stopping && free > 0 {
            in_flight = Some(tokio::spawn(claim_some(Arc::clone(&shared), free)));
        }
        if stopping && in_flight.is_none() && running.is_empty() {
            return decision;
        }
        tokio::select! {
            answer = async { in_flight.as_mut().expect("guarded").await }, if in_flight.is_some() => {
                in_flight = None;
                match answer {
                    Ok(Ok((claims, claimed_at))) => {
                        for claim in claims {
                            if stopping {
                                refuse(&shared, claim).await;
                            } else {
                                running.spawn(run_claim(Arc::clone(&shared), claim, claimed_at, shutdown.clone()));
                            }
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "claimWork failed; trying again shortly");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            _ = shutdown.cancelled() => {}
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "the claimWork call panicked"),
                }
            }
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
        .claim_work(
            &c.credentials,
            &c.task_queue_id,
            &c.worker_group,
            &c.worker_id,
            tasks,
        )
        .await?;
    Ok((claims, Instant::now()))
}

/// A task claimed after shutdown began goes straight back to the queue.
async fn refuse(shared: &Shared, claim: Claim) {
    let task_id = claim
        .status
        .get("taskId")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    match RunApi::new(&shared.api, &task_id, claim.run_id, &claim.credentials) {
        Ok(run) => {
            if let Err(e) = run.report_exception("worker-shutdown").await {
                tracing::warn!(error = %e, %task_id, "could not hand a task back at shutdown");
            }
        }
        Err(e) => tracing::warn!(error = %e, %task_id, "could not hand a task back at shutdown"),
    }
}
