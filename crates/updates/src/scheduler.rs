//! The background loop that enacts due scheduled changes: every server runs it and the
//! store's lease ([`crate::store::enact_due`]) lets exactly one of them enact at a time.

use std::time::Duration;

use relyard_store::Row;
use tokio_util::sync::CancellationToken;

use crate::service::UpdatesService;
use crate::store::{self, StoreError, StoreResult};

/// How long the loop sleeps at most between two runs (a sign-off does not wake it).
pub const DEFAULT_SCHEDULER_INTERVAL: Duration = Duration::from_secs(5);

/// Runs [`store::enact_due`] as `holder` every `interval`, or sooner when a pending change
/// falls due, and calls [`UpdatesService::changed`] after anything was enacted; until
/// `shutdown`.
pub async fn run(
    service: UpdatesService,
    holder: String,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        let now = relyard_core::Timestamp::now().millis();
        let next = match enact_once(&service, &holder, now).await {
            Ok(next_due) => next_due,
            Err(e) => {
                tracing::warn!(error = %e, "enacting scheduled updates changes failed");
                None
            }
        };
        let wait = match next {
            Some(due) => {
                Duration::from_millis(due.saturating_sub(now).max(10) as u64).min(interval)
            }
            None => interval,
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One run; returns when the next pending change falls due (after `now_ms`), if any.
async fn enact_once(
    service: &UpdatesService,
    holder: &str,
    now_ms: i64,
) -> StoreResult<Option<i64>> {
    let db = service.db().ok_or(StoreError::NoDatabase)?;
    let report = store::enact_due(db, holder, now_ms).await?;
    if !report.enacted.is_empty() || !report.releases_enacted.is_empty() {
        tracing::info!(rules = ?report.enacted, releases = ?report.releases_enacted,
            "enacted scheduled updates changes");
        service.changed().await?;
    }
    if !report.failed.is_empty() || !report.releases_failed.is_empty() {
        tracing::warn!(rules = ?report.failed, releases = ?report.releases_failed,
            "scheduled updates changes could not apply");
    }
    let mut next: Option<i64> = None;
    for table in [
        "updates_rules_scheduled_changes",
        "updates_releases_scheduled_changes",
    ] {
        let row = sqlx::query(&format!(
            "SELECT MIN(\"when\") AS due FROM {table} \
             WHERE complete = 0 AND failed IS NULL AND \"when\" > $1"
        ))
        .bind(now_ms)
        .fetch_one(db.reader())
        .await?;
        if let Some(due) = row.try_get::<Option<i64>, _>("due")? {
            next = Some(next.map_or(due, |n| n.min(due)));
        }
    }
    Ok(next)
}
