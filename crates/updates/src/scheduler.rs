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
            Some(due) => Duration::from_millis(due.saturating_sub(now).max(10) as u64).min(interval),
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
    if !report.enacted.is_empty() {
        tracing::info!(enacted = ?report.enacted, "enacted scheduled updates changes");
        service.changed().await?;
    }
    if !report.failed.is_empty() {
        tracing::warn!(failed = ?report.failed, "scheduled updates changes could not apply");
    }
    let row = sqlx::query(
        "SELECT MIN(\"when\") AS due FROM updates_rules_scheduled_changes \
         WHERE complete = 0 AND failed IS NULL AND \"when\" > $1",
    )
    .bind(now_ms)
    .fetch_one(db.reader())
    .await?;
    Ok(row.try_get::<Option<i64>, _>("due")?)
}
