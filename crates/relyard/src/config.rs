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
}
