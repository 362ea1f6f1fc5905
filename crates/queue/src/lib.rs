//! relyard queue: Taskcluster's queue (tasks, runs, the state machine, dependencies, claims,
//! deadlines, expiry and artifact records) on SQLite or PostgreSQL.
//!
//! [`Queue`] holds the logic; its methods are what the HTTP handlers in [`http`] call after
//! authorizing, and what tests call directly. Every state change commits together with its Pulse
//! events (the outbox in `relyard_events`); runs that become pending raise a `task-pending` signal
//! that wakes `claimWork` long polls on every server at once.

pub mod blobs;
pub mod events;
pub mod http;
pub mod model;
pub mod reaper;
mod service;
pub mod store;
mod twins;
pub mod validate;
mod wakeup;

use std::sync::Arc;
use std::time::Duration;

use relyard_auth::AuthService;
use relyard_core::ApiError;
use relyard_events::Bus;
use relyard_store::{Db, StoreError};
use tokio_util::sync::CancellationToken;

use crate::blobs::BlobStore;

pub use http::router;
pub use model::{Run, TaskDef, TaskStatus};
pub use reaper::run_background;
pub use service::{ArtifactContent, ArtifactRequest};
pub use service::{
    CancelGroupResponse, ClaimItem, ClaimedTask, GroupInfo, PendingTask, ReclaimResponse,
    Resolution, TaskAction,
};
pub use store::artifacts::Artifact;

/// The signal channel raised (with the taskQueueId as payload) when runs become pending.
pub const TASK_PENDING_SIGNAL: &str = "task-pending";

#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// The deployment's root URL (`https://relyard.example.com`), used in artifact URLs.
    pub root_url: String,
    /// How long a claim lasts before it must be reclaimed (Taskcluster's `TASK_CLAIM_TIMEOUT`).
    pub claim_timeout_secs: i64,
    /// How long claimWork waits for work before answering `{tasks: []}`.
    pub claim_wait: Duration,
    /// How often a waiting claimWork looks at the database without being woken, in case a
    /// signal was lost (a dropped LISTEN connection is already reported as a wake-everyone).
    pub claim_recheck: Duration,
    /// How often the reaper looks for expired claims, passed deadlines and expired tasks.
    pub reaper_interval: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            root_url: "http://127.0.0.1:8080".into(),
            claim_timeout_secs: 1200,
            claim_wait: Duration::from_secs(20),
            claim_recheck: Duration::from_secs(5),
            reaper_interval: Duration::from_secs(5),
        }
    }
}

/// The queue service.
pub struct Queue {
    pub(crate) db: Db,
    pub(crate) bus: Arc<Bus>,
    pub(crate) auth: Arc<AuthService>,
    /// The bytes of `s3` artifacts.
    pub(crate) blobs: Arc<BlobStore>,
    pub(crate) config: QueueConfig,
    pub(crate) waiters: Arc<wakeup::Waiters>,
    /// Who claims from which queue, for reruns of reproducibility checks (`twins.rs`).
    pub(crate) claimers: twins::RecentClaimers,
    pub(crate) shutdown: CancellationToken,
}

impl Queue {
    /// Creates the service and starts relaying `task-pending` signals to waiting claimWork calls.
    /// `shutdown` makes waiting claimWork calls answer at once and stops the relay.
    /// `blobs` stores the bytes of `s3` artifacts (its signed URLs are the `putUrl`s handed out).
    pub fn new(
        db: Db,
        bus: Arc<Bus>,
        auth: Arc<AuthService>,
        blobs: Arc<BlobStore>,
        config: QueueConfig,
        shutdown: CancellationToken,
    ) -> Arc<Queue> {
        let waiters = Arc::new(wakeup::Waiters::default());
        tokio::spawn(wakeup::relay(
            Arc::clone(&waiters),
            bus.listen(),
            shutdown.clone(),
        ));
        Arc::new(Queue {
            db,
            bus,
            auth,
            blobs,
            config,
            waiters,
            claimers: twins::RecentClaimers::default(),
            shutdown,
        })
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn blobs(&self) -> &Arc<BlobStore> {
        &self.blobs
    }
}

/// The queue's migrations (4xxx).
pub fn migrations() -> relyard_store::Migrations {
    relyard_store::migrations!("queue", portable)
}

/// sqlx errors outside the store modules (commit, begin) become Taskcluster errors here.
pub(crate) fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::from(StoreError::from(e))
}
