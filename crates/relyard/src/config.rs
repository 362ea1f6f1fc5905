//! Server configuration, filled by the CLI (`relyard up` / `relyard serve`) or by tests.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The root URL clients use; defaults to `http://<bound address>`.
    pub root_url: Option<String>,
    /// `sqlite:<path>` or `postgres://…`.
    pub database_url: String,
    /// RabbitMQ, for Pulse-compatible events; in-process only when absent.
    pub amqp_url: Option<String>,
    /// Where artifact bytes are kept (local object store).
    pub data_dir: PathBuf,
    /// Access token of `static/taskcluster/root`.
    pub root_access_token: String,
    /// Encryption keys `(id, secret)` for values at rest; the first is current.
    pub encryption_keys: Vec<(String, String)>,
    /// How long a claim lasts before it must be reclaimed (Taskcluster's default: 1200 s).
    pub claim_timeout_secs: i64,
    /// How often the queue's reaper looks for expired claims, deadlines and expired tasks.
    pub reaper_interval: std::time::Duration,
}

/// Taskcluster's claim timeout.
pub const DEFAULT_CLAIM_TIMEOUT_SECS: i64 = 1200;
pub const DEFAULT_REAPER_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
