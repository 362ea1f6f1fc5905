//! The signing server: its HTTP API (`http.rs`), the signing jobs and their pool (`jobs.rs`,
//! [`State::spawn_job`]), and start-up ([`SigningServer::start`]).
//!
//! Every request is first checked against the allowed networks (403 otherwise). Tokens come
//! from `POST /api/signing/v1/token` to callers relyard auth vouches for; uploads are streamed,
//! hashed and size-checked, signed once per (format, input) in a pool of `pool_size`, written to
//! the audit log, kept in the result store and fetched with a long poll.

mod authn;
mod http;
mod jobs;
mod upload;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::access::{Access, Claims, TokenKeys};
use crate::audit::{AuditEntry, AuditLog};
use crate::config::{FormatPolicy, SigningConfig};
use crate::formats::Format;
use crate::results::{ResultKey, ResultStore};
use crate::{Keyring, SigningError};

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
    #[error("format {0} is configured but no key signs it")]
    NoSigner(Format),
}

/// What every handler shares.
pub(crate) struct State {
    access: Access,
    keyring: Arc<Keyring>,
    formats: HashMap<Format, FormatPolicy>,
    results: Arc<ResultStore>,
    jobs: Arc<jobs::Jobs>,
    pool: Arc<Semaphore>,
    audit: AuditLog,
    auth: AuthClient,
    long_poll: Duration,
}

impl State {
    /// The result key of `sha256` in `format`, with the id of the key that signs it here.
    fn result_key(&self, format: Format, sha256: String) -> Option<ResultKey> {
        let signer = self.keyring.signer(format, None)?;
        Some(ResultKey {
            format,
            key_id: signer.key_id().to_string(),
            input_sha256: sha256,
        })
    }

    /// Signs the received input in the pool, then records it: audit line (fsync'd) first, then
    /// the result store, then the waiters are woken. A failure at any step hands out nothing.
    fn spawn_job(&self, key: ResultKey, input: upload::Received, claims: Claims) {
        let pool = Arc::clone(&self.pool);
        let keyring = Arc::clone(&self.keyring);
        let results = Arc::clone(&self.results);
        let jobs = Arc::clone(&self.jobs);
        let audit = self.audit.clone();
        tokio::spawn(async move {
            let state = match pool.acquire_owned().await {
                Err(_closed) => JobState::Failed {
                    bad_input: false,
                    message: "the server is shutting down".into(),
                },
                Ok(permit) => {
                    let job_key = key.clone();
                    let ran = tokio::task::spawn_blocking(move || {
                        sign_and_record(
                            &keyring, &results, &audit, &job_key, input, &claims, permit,
                        )
                    })
                    .await;
                    match ran {
                        Ok(state) => state,
                        Err(e) => JobState::Failed {
                            bad_input: false,
                            message: format!("the signing job failed: {e}"),
                        },
                    }
                }
            };
            if let JobState::Failed { message, .. } = &state {
                tracing::warn!(format = %key.format, sha256 = %key.input_sha256, %message, "signing failed");
            }
            jobs.finish(&key, state);
        });
    }
}

/// `permit` is the job's pool slot: it bounds the CPU work (reading and signing) and is given
/// back before the audit line and the result are written, so the next job signs while this one
/// waits for the disk.
fn sign_and_record(
    keyring: &Keyring,
    results: &ResultStore,
    audit: &AuditLog,
    key: &ResultKey,
    input: upload::Received,
    claims: &Claims,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> JobState {
    let fault = |message: String| JobState::Failed {
        bad_input: false,
        message,
    };
    let Some(signer) = keyring.signer(key.format, Some(&key.key_id)) else {
        return fault(format!("no key `{}` for {}", key.key_id, key.format));
    };
    let bytes = match std::fs::read(&input.path) {
        Ok(b) => b,
        Err(e) => return fault(format!("reading the upload: {e}")),
    };
    drop(input);
    let signed = match signer.sign(&bytes) {
        Ok(s) => s,
        Err(e @ SigningError::InvalidInput { .. }) => {
            return JobState::Failed {
                bad_input: true,
                message: e.to_string(),
            }
        }
        Err(e) => return fault(e.to_string()),
    };
    drop(permit);
    let entry = AuditEntry {
        time: Utc::now(),
        owner: claims.owner.clone(),
        token_id: claims.jti.clone(),
        address: claims.addr,
        format: key.format,
        key_id: signed.key_id.clone(),
        input_sha256: key.input_sha256.clone(),
        output_sha256: crate::sha256_hex(&signed.signature),
    };
    if let Err(e) = audit.append(&entry) {
        return fault(e.to_string());
    }
    if let Err(e) = results.put(key, &signed.signature) {
        return fault(e.to_string());
    }
    tracing::info!(format = %key.format, key = %entry.key_id, owner = %entry.owner,
        input = %entry.input_sha256, output = %entry.output_sha256, "signed");
    JobState::Done
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
        let state = Arc::new(State {
            access: Access::new(config.networks.clone(), token_keys),
            keyring: Arc::new(keyring),
            formats: config.formats.clone(),
            results: Arc::clone(&results),
            jobs: Arc::default(),
            pool: Arc::new(Semaphore::new(config.pool_size)),
            audit,
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
