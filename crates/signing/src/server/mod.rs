//! The signing server: its HTTP API (`http.rs`), the signing jobs (`jobs.rs`) and the pool of
//! signer threads that runs them (`run.rs`), and start-up ([`SigningServer::start`]).
//!
//! Every request is first checked against the allowed networks (403 otherwise). Tokens come
//! from `POST /api/signing/v1/token` to callers relyard auth vouches for; uploads are streamed,
//! hashed and size-checked, signed once per (format, input) in a pool of `pool_size`, written to
//! the audit log, kept in the result store and fetched with a long poll.

mod authn;
mod batch;
pub use batch::{BATCH_MAX_BYTES, BATCH_MAX_INPUTS};
mod http;
mod jobs;
mod run;
mod upload;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::access::{Access, TokenKeys};
use crate::audit::AuditLog;
use crate::config::{FormatPolicy, SigningConfig};
use crate::formats::Format;
use crate::results::{ResultKey, ResultStore};
use crate::Keyring;
use crate::Sha256Digest;

pub use authn::AuthClient;
pub use jobs::JobState;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error(transparent)]
    Results(#[from] crate::results::ResultStoreError),
    #[error("HTTP client for relyard auth: {0}")]
    Http(#[from] reqwest::Error),
    #[error("starting the signer threads: {0}")]
    Threads(#[source] std::io::Error),
    #[error("format {0} is configured but no key signs it")]
    NoSigner(Format),
}

/// What every handler shares.
pub(crate) struct State {
    access: Access,
    formats: HashMap<Format, FormatPolicy>,
    results: Arc<ResultStore>,
    jobs: Arc<jobs::Jobs>,
    pool: run::Pool,
    auth: AuthClient,
    long_poll: Duration,
    /// The id of the key that signs each format here (the keyring's first for it), shared by
    /// every result key.
    signing_keys: HashMap<Format, Arc<str>>,
}

impl State {
    /// The result key of `sha256` in `format`, with the id of the key that signs it here.
    fn result_key(&self, format: Format, sha256: Sha256Digest) -> Option<ResultKey> {
        Some(ResultKey {
            format,
            key_id: Arc::clone(self.signing_keys.get(&format)?),
            input_sha256: sha256,
        })
    }
}

/// A running signing server.
pub struct SigningServer {
    pub addr: SocketAddr,
    results: Arc<ResultStore>,
    shutdown: CancellationToken,
    serving: JoinHandle<std::io::Result<()>>,
}

impl SigningServer {
    /// Opens the audit log and result store and starts listening on `config.listen`, serving
    /// with the unlocked, proven `keyring` (see [`SigningConfig::unlock`]).
    pub async fn start(
        config: &SigningConfig,
        token_keys: TokenKeys,
        keyring: Keyring,
    ) -> Result<Self, ServerError> {
        for format in config.formats.keys() {
            if keyring.signer(*format, None).is_none() {
                return Err(ServerError::NoSigner(*format));
            }
        }
        let audit = AuditLog::open(&config.audit_log)?;
        let results = Arc::new(ResultStore::open(
            &config.results.dir,
            config.results.max_age,
            config.results.max_bytes,
        )?);
        let keyring = Arc::new(keyring);
        let jobs: Arc<jobs::Jobs> = Arc::default();
        let pool = run::Pool::start(
            config.pool_size,
            Arc::clone(&keyring),
            Arc::clone(&results),
            audit,
            Arc::clone(&jobs),
        )
        .map_err(ServerError::Threads)?;
        let signing_keys = Format::ALL
            .into_iter()
            .filter_map(|f| Some((f, Arc::from(keyring.signer(f, None)?.key_id()))))
            .collect();
        let state = Arc::new(State {
            access: Access::new(config.networks.clone(), token_keys),
            signing_keys,
            formats: config.formats.clone(),
            results: Arc::clone(&results),
            jobs,
            pool,
            auth: AuthClient::new(&config.auth_root_url)?,
            long_poll: config.long_poll,
        });
        let listen = |source| ServerError::Listen {
            addr: config.listen,
            source,
        };
        let listener = TcpListener::bind(config.listen).await.map_err(listen)?;
        let addr = listener.local_addr().map_err(listen)?;
        let shutdown = CancellationToken::new();
        let app = http::router(state).into_make_service_with_connect_info::<SocketAddr>();
        let stop = shutdown.clone();
        let serving = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
        tracing::info!(%addr, "signing server listening");
        Ok(Self {
            addr,
            results,
            shutdown,
            serving,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn results(&self) -> &ResultStore {
        &self.results
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled and in-flight requests have finished.
    pub async fn wait(self) -> std::io::Result<()> {
        match self.serving.await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }

    /// Stops listening and waits for in-flight requests.
    pub async fn stop(self) -> std::io::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}
