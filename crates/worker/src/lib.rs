//! The relyard worker: claims tasks from a queue over the public HTTP API (like any Taskcluster
//! worker), runs each one from a clean slate, streams its log, uploads its artifacts and resolves it.
//!
//! [`Worker::run`] is the whole life of a worker process: start-up steps, then the claim loop
//! until a signal or the recycle policy says stop; [`router`] is its small HTTP surface (live logs
//! and metrics).

pub mod artifacts;
mod claim;
pub mod cleanslate;
pub mod config;
pub mod http;
pub mod livelog;
pub mod metrics;
pub mod mounts;
pub mod payload;
pub mod proxy;
pub mod queue_api;
pub mod reproducible;
pub mod run;
pub mod runner;
pub mod signing;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use config::WorkerConfig;
pub use http::router;

use crate::livelog::LogRegistry;
use crate::metrics::Metrics;
use crate::queue_api::QueueApi;
use crate::runner::{Hook, RecycleAction, StartupOutcome};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("start-up: {0}")]
    Startup(#[from] runner::RunnerError),
    #[error("{0}")]
    Config(String),
}

/// Why a worker stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// A signal asked it to; running tasks were finished or resolved as worker-shutdown.
    Shutdown,
    /// A start-up step halted the worker.
    Halted { step: String, reason: String },
    /// The recycle policy asks for a fresh worker process.
    Restart,
    /// The recycle policy asks for the machine to be rebooted (its command has been run).
    Reboot,
}

/// What every run of this worker shares.
pub struct Shared {
    pub config: WorkerConfig,
    pub api: QueueApi,
    pub http: reqwest::Client,
    pub logs: LogRegistry,
    pub metrics: Arc<Metrics>,
    pub hook: Hook,
    /// `http://host:port` of this worker's HTTP server, for live log URLs.
    pub livelog_base: String,
}

pub struct Worker {
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
}

impl Worker {
    /// Binds the worker's HTTP port; nothing is claimed before [`Worker::run`].
    pub async fn new(mut config: WorkerConfig) -> Result<Worker, WorkerError> {
        // Tasks see their directory as TASK_WORKDIR and HOME, which must not depend on their cwd.
        config.work_dir = std::path::absolute(&config.work_dir).map_err(|e| {
            WorkerError::Config(format!("work dir {}: {e}", config.work_dir.display()))
        })?;
        if config.capacity == 0 {
            return Err(WorkerError::Config("capacity must be at least 1".into()));
        }
        if !config.task_queue_id.contains('/') {
            return Err(WorkerError::Config(format!(
                "task queue {:?} is not <provisionerId>/<workerType>",
                config.task_queue_id
            )));
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| WorkerError::Listen {
                addr: config.listen,
                source,
            })?;
        let bound = listener
            .local_addr()
            .map_err(|source| WorkerError::Listen {
                addr: config.listen,
                source,
            })?;
        let livelog_base = match &config.public_address {
            Some(a) if a.starts_with("http://") || a.starts_with("https://") => {
                a.trim_end_matches('/').to_string()
            }
            Some(a) => format!("http://{a}"),
            None => format!("http://{bound}"),
        };
        let metrics = Arc::new(Metrics::new());
        // One HTTP client for every call of every run: connections and TLS set-up are reused.
        let http = reqwest::Client::new();
        let api = QueueApi::new(
            &config.root_url,
            &config.credentials,
            config.retry.clone(),
            Arc::clone(&metrics),
            http.clone(),
        )
        .map_err(|e| WorkerError::Config(e.to_string()))?;
        let hook = Hook::new(config.hook.clone());
        Ok(Worker {
            shared: Arc::new(Shared {
                config,
                api,
                http,
                logs: LogRegistry::default(),
                metrics,
                hook,
                livelog_base,
            }),
            listener,
        })
    }

    /// Where live logs and `/metrics` are served.
    pub fn http_base(&self) -> &str {
        &self.shared.livelog_base
    }

    /// Runs start-up steps, then claims and runs tasks until `shutdown` is cancelled or the
    /// recycle policy ends the worker.
    pub async fn run(self, shutdown: CancellationToken) -> Result<Exit, WorkerError> {
        cleanslate::become_subreaper();
        if self.shared.config.cleanslate != cleanslate::Mode::Snapshot {
            cleanslate::sweep_orphaned_cgroups(self.shared.config.kill_grace).await;
        }
        let server_stop = CancellationToken::new();
        let app = router(Arc::clone(&self.shared));
        let stop = server_stop.clone();
        let Worker { shared, listener } = self;
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
        let exit = run_lifecycle(&shared, shutdown).await;
        server_stop.cancel();
        // Live-log readers still attached are cut off here: every log is closed by now.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), server).await;
        exit
    }
}

async fn run_lifecycle(
    shared: &Arc<Shared>,
    shutdown: CancellationToken,
) -> Result<Exit, WorkerError> {
    if let Some(startup) = &shared.config.startup {
        match runner::run_startup(startup, &shared.hook).await? {
            StartupOutcome::Ready => {}
            StartupOutcome::Halted { step, reason } => {
                tracing::error!(%step, %reason, "a start-up step halted the worker");
                return Ok(Exit::Halted {
                    step,
                    reason: reason.to_string(),
                });
            }
        }
    }
    let decision = claim::claim_loop(Arc::clone(shared), shutdown).await;
    Ok(match decision {
        None => Exit::Shutdown,
        Some(RecycleAction::Continue) => Exit::Shutdown,
        Some(RecycleAction::Restart) => Exit::Restart,
        Some(RecycleAction::Reboot) => {
            reboot(shared).await;
            Exit::Reboot
        }
    })
}

async fn reboot(shared: &Shared) {
    tracing::warn!(command = ?shared.config.recycle.reboot_command(), "rebooting as the recycle policy asks");
    if let Err(e) = shared.config.recycle.reboot().await {
        tracing::error!(error = %e, "the reboot failed");
    }
}
