//! Keeping every server's catalog in step with the store.
//!
//! A writer calls [`UpdatesService::changed`] after it commits: that server reloads at once and
//! raises [`UPDATES_CHANGED`] on the event bus; every server follows the bus
//! ([`UpdatesService::follow`]) and reloads when it hears it. Loads are coalesced (a burst of
//! signals is one load in flight plus at most one after it) and skipped when the store's
//! [`DataVersion`] is the one already loaded, so a periodic check for missed signals costs one
//! small query.

use std::sync::Arc;
use std::time::Duration;

use relyard_events::Bus;
use relyard_store::{Backend, Row};
use sqlx::AnyConnection;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::service::UpdatesService;
use crate::store::StoreResult;

/// The bus channel a committed change of rules, releases, pins or shutoffs is announced on.
pub const UPDATES_CHANGED: &str = "updates-changed";

/// How often a server checks the store's data version without having been told: a missed
/// signal (a dropped LISTEN connection) is caught within this. On SQLite signals do not leave
/// the process, so there the check is what tells a second server sharing the file.
pub fn default_poll_interval(backend: Backend) -> Duration {
    match backend {
        Backend::Postgres => Duration::from_secs(60),
        Backend::Sqlite => Duration::from_secs(1),
    }
}

/// What the served tables looked like at a load: every id counter (each history row takes one,
/// in the change's transaction, so a change of rules, releases, pins or shutoffs moves one),
/// row counts and data_version sums of rules and releases, and the shutoff rows (a change
/// written behind the store's back shows there too). Equal versions mean nothing a request
/// reads changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataVersion(String);

impl DataVersion {
    /// Reads the version on `conn` (inside a load's snapshot, so it describes what was loaded).
    pub(crate) async fn read(conn: &mut AnyConnection) -> StoreResult<DataVersion> {
        let mut text = String::new();
        for r in sqlx::query("SELECT name, value FROM updates_counters ORDER BY name")
            .fetch_all(&mut *conn)
            .await?
        {
            let name: String = r.try_get("name")?;
            let value: i64 = r.try_get("value")?;
            text.push_str(&format!("{name}={value};"));
        }
        for table in ["updates_rules", "updates_releases"] {
            let r = sqlx::query(&format!(
                "SELECT CAST(COUNT(*) AS BIGINT) AS n, \
                 CAST(COALESCE(SUM(data_version), 0) AS BIGINT) AS s FROM {table}"
            ))
            .fetch_one(&mut *conn)
            .await?;
            let n: i64 = r.try_get("n")?;
            let s: i64 = r.try_get("s")?;
            text.push_str(&format!("{table}={n}/{s};"));
        }
        for r in sqlx::query(
            "SELECT product, channel, data_version FROM updates_emergency_shutoffs \
             ORDER BY product, channel",
        )
        .fetch_all(&mut *conn)
        .await?
        {
            let product: String = r.try_get("product")?;
            let channel: String = r.try_get("channel")?;
            let v: i64 = r.try_get("data_version")?;
            text.push_str(&format!("shutoff {product:?} {channel:?} {v};"));
        }
        Ok(DataVersion(text))
    }
}

/// Follows the bus and a timer, reloading `service` when the store changed, until `shutdown`.
pub(crate) async fn follow(
    service: UpdatesService,
    bus: Arc<Bus>,
    poll_interval: Duration,
    shutdown: CancellationToken,
) {
    let mut signals = bus.listen();
    let mut tick = tokio::time::interval(poll_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate: the service was just loaded
    loop {
        let relevant = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => true,
            s = signals.recv() => match s {
                Ok(s) => s.channel == UPDATES_CHANGED || s.channel == "*",
                // Missed some signals: check, to be safe.
                Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => return,
            },
        };
        if relevant {
            if let Err(e) = service.reload_if_changed().await {
                tracing::warn!(error = %e, "reloading the updates catalog failed");
            }
        }
    }
}

/// Waits until `service` has swapped in a catalog loaded after this call, or `timeout` passes;
/// for tests and tools that must see another server's change. Returns whether one was loaded.
pub async fn wait_for_load(service: &UpdatesService, timeout: Duration) -> bool {
    let mut loads = service.loads();
    loads.borrow_and_update();
    matches!(
        tokio::time::timeout(timeout, loads.changed()).await,
        Ok(Ok(()))
    )
}
