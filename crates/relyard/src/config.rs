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
    /// Where artifact bytes are kept when `artifact_s3` is not set.
    pub data_dir: PathBuf,
    /// S3-compatible storage for artifact bytes (AWS, MinIO, …) instead of `data_dir`.
    pub artifact_s3: Option<S3Config>,
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

/// An S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    /// e.g. `http://127.0.0.1:9000` for MinIO; AWS when absent.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}
