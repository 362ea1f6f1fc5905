//! The platform a local run brings along: a server on SQLite in a temporary directory and one
//! in-process worker per task queue the graph uses, for the run only.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use relyard::config::ServerConfig;
use relyard::server::Server;
use relyard_events::PublishedEvent;
use relyard_worker::{Worker, WorkerConfig};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct Embedded {
    server: Server,
    pub root_url: String,
    pub credentials: taskcluster::Credentials,
    workers: Vec<JoinHandle<Result<relyard_worker::Exit, relyard_worker::WorkerError>>>,
    stop_workers: CancellationToken,
    // Removed (database, artifacts, task directories) when the run ends.
    dir: tempfile::TempDir,
}

impl Embedded {
    /// Starts the server (workers come once the graph says which task queues it needs).
    pub async fn start() -> anyhow::Result<Embedded> {
        let dir = tempfile::Builder::new()
            .prefix("relyard-ci-")
            .tempdir()
            .context("making a temporary directory for the run")?;
        let token = format!(
            "{}{}",
            relyard_core::ids::slugid(),
            relyard_core::ids::slugid()
        );
        let server = Server::start(ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            root_url: None,
            database_url: format!("sqlite:{}", dir.path().join("relyard.db").display()),
            amqp_url: None,
            data_dir: dir.path().join("data"),
            artifact_s3: None,
            root_access_token: token.clone(),
            encryption_keys: vec![("ci".into(), relyard_core::ids::slugid())],
            claim_timeout_secs: relyard::config::DEFAULT_CLAIM_TIMEOUT_SECS,
            reaper_interval: relyard::config::DEFAULT_REAPER_INTERVAL,
            tls: None,
            updates: Default::default(),
            github: None,
        })
        .await
        .context("starting the embedded server")?;
        Ok(Embedded {
            root_url: server.root_url.clone(),
            credentials: taskcluster::Credentials::new(relyard_auth::ROOT_CLIENT_ID, &token),
            server,
            workers: Vec::new(),
            stop_workers: CancellationToken::new(),
            dir,
        })
    }

    /// Starts a worker with `capacity` slots for each task queue.
    pub async fn add_workers(
        &mut self,
        task_queues: &[String],
        capacity: usize,
    ) -> anyhow::Result<()> {
        for queue in task_queues {
            let n = self.workers.len();
            let mut config = WorkerConfig::new(
                &self.root_url,
                self.credentials.clone(),
                queue,
                self.dir.path().join("worker").join(n.to_string()),
            );
            config.worker_group = "ci".into();
            config.worker_id = format!("local-{n}");
            config.capacity = capacity;
            // An interrupted run should end promptly, not after the default 30 s of grace.
            config.shutdown_grace = std::time::Duration::from_secs(2);
            let worker = Worker::new(config)
                .await
                .with_context(|| format!("starting a worker for {queue}"))?;
            self.workers
                .push(tokio::spawn(worker.run(self.stop_workers.clone())));
        }
        Ok(())
    }

    /// Every queue event from now on, in commit order.
    pub fn events(&self) -> broadcast::Receiver<Arc<PublishedEvent>> {
        self.server.bus.subscribe()
    }

    /// Stops the workers (their waiting claims answered at once), then the server.
    pub async fn stop(self) {
        self.stop_workers.cancel();
        self.server.claim_waits_token().cancel();
        for w in self.workers {
            match w.await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "a local worker failed"),
                Err(e) => tracing::warn!(error = %e, "a local worker panicked"),
            }
        }
        if let Err(e) = self.server.stop().await {
            tracing::warn!(error = %e, "stopping the embedded server");
        }
    }
}
