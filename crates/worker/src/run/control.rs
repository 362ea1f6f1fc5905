//! Run control while a task runs: reclaim before `takenUntil` (hot-swapping the run's
//! credentials), and notice when the run is no longer ours (a reclaim answering 409, or the task's
//! status showing it canceled) so the task is stopped at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::queue_api::{QueueApi, RunApi, TaskCredentials};
use crate::run::commands::Abort;

/// When to reclaim a claim that lasts until `taken_until`: three minutes before it ends, as
/// generic-worker does for the usual 20-minute claims, or after a third of what is left for
/// short claims.
pub fn reclaim_delay(taken_until: &str, now: chrono::DateTime<chrono::Utc>) -> Duration {
    let Ok(until) = chrono::DateTime::parse_from_rfc3339(taken_until) else {
        return Duration::from_secs(1);
    };
    let left = (until.with_timezone(&chrono::Utc) - now)
        .to_std()
        .unwrap_or(Duration::ZERO);
    let margin = Duration::from_secs(180);
    if left > margin * 2 {
        left - margin
    } else {
        left / 3
    }
}

/// Everything that must hear about new credentials after a reclaim.
pub type OnCredentials = Box<dyn Fn(TaskCredentials) + Send + Sync>;

/// Runs until `done` is cancelled; sends an [`Abort::Lost`] when the run is gone.
pub async fn control_run(
    run: Arc<RunApi>,
    api: QueueApi,
    first_taken_until: String,
    cancel_poll: Duration,
    abort: watch::Sender<Option<Abort>>,
    on_credentials: OnCredentials,
    done: CancellationToken,
) {
    let mut taken_until = first_taken_until;
    let mut next_reclaim =
        tokio::time::Instant::now() + reclaim_delay(&taken_until, chrono::Utc::now());
    let mut poll = tokio::time::interval(cancel_poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll.tick().await;
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = tokio::time::sleep_until(next_reclaim) => {
                match run.reclaim().await {
                    Ok((creds, until)) => {
                        if let Err(e) = run.set_credentials(&creds) {
                            tracing::warn!(error = %e, "new run credentials are unusable");
                        }
                        on_credentials(creds);
                        taken_until = until;
                        next_reclaim = tokio::time::Instant::now()
                            + reclaim_delay(&taken_until, chrono::Utc::now());
                    }
                    Err(e) if e.is_conflict() => {
                        let _ = abort.send(Some(Abort::Lost(format!("reclaimTask: {}", e.message))));
                        return;
                    }
                    Err(e) => {
                        // Keep trying until the claim would have run out anyway.
                        tracing::warn!(error = %e, task_id = %run.task_id, "reclaim failed; trying again");
                        next_reclaim = tokio::time::Instant::now() + Duration::from_secs(1);
                    }
                }
            }
            _ = poll.tick() => {
                if let Some(reason) = lost_by_status(&api, &run).await {
                    let _ = abort.send(Some(Abort::Lost(reason)));
                    return;
                }
            }
        }
    }
}

/// The run is lost when the queue shows it as anything but running (canceled, deadline-exceeded,
/// claim-expired, or taken by another run).
async fn lost_by_status(api: &QueueApi, run: &RunApi) -> Option<String> {
    let status = api.status(&run.task_id).await.ok()?;
    let runs = status.pointer("/status/runs")?.as_array()?;
    let ours = runs.iter().find(|r| {
        r.get("runId")
            .and_then(|v| v.as_u64())
            .map(|v| v.to_string())
            == Some(run.run_id.clone())
    })?;
    let state = ours.get("state")?.as_str()?;
    if state == "running" {
        return None;
    }
    let reason = ours
        .get("reasonResolved")
        .and_then(|v| v.as_str())
        .unwrap_or("unknown");
    Some(format!("the run is {state} ({reason})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaims_three_minutes_early_for_long_claims_and_at_a_third_for_short_ones() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("date")
            .with_timezone(&chrono::Utc);
        assert_eq!(
            reclaim_delay("2026-01-01T00:20:00Z", now),
            Duration::from_secs(17 * 60)
        );
        assert_eq!(
            reclaim_delay("2026-01-01T00:00:03Z", now),
            Duration::from_secs(1)
        );
        assert_eq!(reclaim_delay("2025-12-31T23:59:00Z", now), Duration::ZERO);
    }
}
