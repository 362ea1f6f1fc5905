//! Server configuration, filled by the CLI (`relyard up` / `relyard serve`) or by tests.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The root URL clients use; defaults to `http://<bound address>` (`https://` with `tls`).
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
    /// Terminate TLS here (rustls) with this certificate and key instead of serving plain HTTP.
    pub tls: Option<TlsConfig>,
    /// The update service's settings.
    pub updates: UpdatesConfig,
    /// The GitHub integration, served at `/api/github/v1` when set.
    pub github: Option<GitHubConfig>,
}

/// Taskcluster-GitHub's settings: how webhooks are checked and how GitHub is called.
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    /// Every secret a webhook delivery may be signed with (several while rotating). With none,
    /// unsigned deliveries are accepted, as Taskcluster-GitHub does.
    pub webhook_secrets: Vec<String>,
    /// `https://api.github.com`, or `https://<host>/api/v3` for GitHub Enterprise.
    pub api_url: String,
    /// A personal token or a GitHub App.
    pub auth: relyard_github::ghapi::GitHubAuth,
    /// Statuses are named `"<app name> (<event>)"` (Taskcluster-GitHub's `APPLICATION_NAME`).
    pub app_name: String,
}

impl GitHubConfig {
    /// github.com with `auth`, no webhook secrets, and the default application name.
    pub fn new(auth: relyard_github::ghapi::GitHubAuth) -> GitHubConfig {
        GitHubConfig {
            webhook_secrets: Vec::new(),
            api_url: relyard_github::ghapi::GITHUB_COM_API.to_string(),
            auth,
            app_name: relyard_github::webhook::DEFAULT_APP_NAME.to_string(),
        }
    }
}

/// A PEM certificate chain (leaf first) and its PEM private key (PKCS#8, PKCS#1 or SEC1).
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct UpdatesConfig {
    /// The domain allow-list file for patch URLs (else `RELYARD_UPDATES_DOMAIN_ALLOWLIST_FILE`,
    /// else Balrog's production list).
    pub domain_allowlist: Option<PathBuf>,
    /// How often each server checks the store for changes it was not told of; `None` picks the
    /// default for the backend (see `relyard_updates::sync::default_poll_interval`).
    pub poll_interval: Option<std::time::Duration>,
    /// The longest wait between two runs of the scheduled-change loop.
    pub scheduler_interval: std::time::Duration,
}

impl Default for UpdatesConfig {
    fn default() -> Self {
        UpdatesConfig {
            domain_allowlist: None,
            poll_interval: None,
            scheduler_interval: relyard_updates::scheduler::DEFAULT_SCHEDULER_INTERVAL,
        }
    }
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
