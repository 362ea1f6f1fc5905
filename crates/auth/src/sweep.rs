//! Deleting clients that expired and asked to be deleted then (`deleteOnExpiration`), as
//! Taskcluster's `expire-clients` job does. Expired clients already fail authentication; the
//! sweep only removes the rows. Every server may run it: the delete is idempotent.

use std::sync::Arc;
use std::time::Duration;

use relyard_core::{ApiError, Timestamp};
use tokio_util::sync::CancellationToken;

use crate::service::AuthService;
use crate::store;

/// How often the sweep runs (the first time right after start, to catch up after downtime).
pub const SWEEP_EVERY: Duration = Duration::from_secs(15 * 60);

/// Runs the sweep until `shutdown`; [`AuthService::start`] spawns it.
pub async fn run_background(auth: Arc<AuthService>, shutdown: CancellationToken) {
    loop {
        if let Err(e) = auth.purge_expired_clients(Timestamp::now()).await {
            tracing::warn!(error = %e, "purging expired clients failed; will retry");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}

impl AuthService {
    /// Deletes the clients with `deleteOnExpiration` whose `expires` is before `now`; returns
    /// how many. Like Taskcluster, announces no `client-deleted` for them.
    pub async fn purge_expired_clients(&self, now: Timestamp) -> Result<u64, ApiError> {
        let purged = store::purge_expired_clients(&self.db, now).await?;
        if purged > 0 {
            tracing::info!(purged, "deleted expired clients");
            self.changed().await?;
        }
        Ok(purged)
    }
}
