//! Assembles every service into one axum server on one database and event bus.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use relyard_auth::{AuthConfig, AuthService, Cipher};
use relyard_core::ApiError;
use relyard_events::{Bus, BusConfig};
use relyard_store::Db;
use relyard_updates::UpdatesService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use relyard_queue::blobs::BlobStore;
use relyard_queue::{Queue, QueueConfig};

use crate::config::ServerConfig;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] relyard_store::StoreError),
    #[error("event bus: {0}")]
    Bus(#[from] relyard_events::BusError),
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("updates: {0}")]
    Updates(#[from] relyard_updates::store::StoreError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub root_url: String,
    pub db: Db,
    pub auth: Arc<AuthService>,
    /// The event bus: in-process subscribers (e.g. `relyard ci run`) follow tasks through it.
    pub bus: Arc<Bus>,
    /// The update service: its catalog answers `/update/…`; tests and `up` load and watch it.
    pub updates: UpdatesService,
    shutdown: CancellationToken,
    claim_waits: CancellationToken,
    serving: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Connects to the database, runs migrations, starts every service and starts listening.
    pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
        relyard_core::ping::mark_start();
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServerError::Listen {
                addr: config.listen,
                source,
            })?;
        let tls = match &config.tls {
            Some(t) => Some(crate::tls::server_config(t).map_err(ServerError::Config)?),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let root_url = config
            .root_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{addr}"))
            .trim_end_matches('/')
            .to_string();

        let db = Db::connect(&config.database_url).await?;
        db.migrate(&relyard_events::migrations()).await?;
        db.migrate(&relyard_auth::migrations()).await?;
        db.migrate(&relyard_secrets::migrations()).await?;
        db.migrate(&relyard_queue::migrations()).await?;
        db.migrate(&relyard_updates::migrations()).await?;
        // Always, so that enabling GitHub later finds its tables.
        db.migrate(&relyard_github::migrations()).await?;

        let shutdown = CancellationToken::new();
        let bus = Bus::start(
            db.clone(),
            BusConfig {
                amqp_url: config.amqp_url.clone(),
            },
            shutdown.clone(),
        )
        .await?;
        let cipher = Cipher::new(&config.encryption_keys)
            .ok_or_else(|| ServerError::Config("at least one encryption key is required".into()))?;
        let auth = AuthService::start(
            db.clone(),
            Arc::clone(&bus),
            AuthConfig {
                root_access_token: config.root_access_token.clone(),
                cipher: cipher.clone(),
            },
            shutdown.clone(),
        )
        .await?;

        let secrets = Arc::new(relyard_secrets::Secrets::new(db.clone(), cipher.clone()));
        tokio::spawn(purge_expired_secrets(
            Arc::clone(&secrets),
            shutdown.clone(),
        ));

        let blobs = Arc::new(artifact_store(&config, &root_url, db.clone())?);
        // Cancelled by shutdown, or earlier by `release_claim_waits` when local workers stop.
        let claim_waits = shutdown.child_token();
        let queue = Queue::new(
            db.clone(),
            Arc::clone(&bus),
            Arc::clone(&auth),
            Arc::clone(&blobs),
            QueueConfig {
                root_url: root_url.clone(),
                claim_timeout_secs: config.claim_timeout_secs,
                reaper_interval: config.reaper_interval,
                ..QueueConfig::default()
            },
            claim_waits.clone(),
        );
        tokio::spawn(relyard_queue::run_background(
            Arc::clone(&queue),
            shutdown.clone(),
        ));

        let updates = start_updates(&config, &db, &bus, &shutdown).await?;

        let mut services = Router::new()
            .nest(
                "/api/queue/v1",
                relyard_queue::router(queue).merge(relyard_queue::blobs::router(blobs)),
            )
            .nest("/api/auth/v1", relyard_auth::router(Arc::clone(&auth)))
            .nest("/api/secrets/v1", relyard_secrets::router(secrets))
            .nest(
                "/api/updates/v1",
                updates_admin_router(&db, &updates, &auth),
            );
        if let Some(github) = &config.github {
            let state = github_state(github, &config, &db, &root_url)?;
            relyard_github::report::spawn(Arc::clone(&state), &bus, shutdown.clone());
            services = services.nest("/api/github/v1", relyard_github::router(state));
        }
        let services = services.layer(from_fn_with_state(
            Arc::clone(&auth),
            relyard_auth::authenticate,
        ));
        let dockerflow = Router::new()
            .route("/__heartbeat__", get(heartbeat))
            .with_state(db.clone())
            .route("/__lbheartbeat__", get(|| async { Json(json!({})) }))
            .route("/__version__", get(version));
        let app = services
            .merge(dockerflow)
            .merge(relyard_updates::router(updates.clone()))
            .fallback(not_found)
            .layer(from_fn(relyard_core::error::request_info_layer))
            .layer(CatchPanicLayer::custom(|_| {
                ApiError::internal("handler panicked").into_response()
            }))
            .layer(TraceLayer::new_for_http());

        let serving = serve(listener, app, tls, shutdown.clone())?;
        tracing::info!(%root_url, "relyard is serving");
        Ok(Server {
            addr,
            root_url,
            db,
            auth,
            bus,
            updates,
            shutdown,
            claim_waits,
            serving,
        })
    }

    /// Cancelled to stop: long polls return, in-flight requests finish, then the server exits.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Cancelled to make waiting claimWork calls answer `{tasks: []}` at once (and later ones
    /// without waiting) while everything else goes on serving: `relyard up` stops its in-process
    /// workers this way, so they are not held for claimWork's 20 s long poll.
    pub fn claim_waits_token(&self) -> CancellationToken {
        self.claim_waits.clone()
    }

    /// Runs until the shutdown token is cancelled and every connection has finished.
    pub async fn wait(self) -> std::io::Result<()> {
        let result = match self.serving.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        };
        // Serving may also have ended by an error: stop the background tasks either way, and
        // let the bus finish its last drain before the pool closes under it.
        self.shutdown.cancel();
        self.bus.stopped().await;
        self.db.close().await;
        result
    }

    pub async fn stop(self) -> std::io::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}

/// Serves `app` on `listener` until `shutdown`, then lets in-flight requests finish: plain HTTP,
/// or TLS terminated here when `tls` is given.
fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: CancellationToken,
) -> Result<JoinHandle<std::io::Result<()>>, ServerError> {
    let make = app.into_make_service_with_connect_info::<SocketAddr>();
    let Some(tls) = tls else {
        return Ok(tokio::spawn(async move {
            axum::serve(listener, make)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await
        }));
    };
    let addr = listener.local_addr().ok();
    let listener = listener.into_std().map_err(|source| ServerError::Listen {
        addr: addr.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
        source,
    })?;
    let handle = axum_server::Handle::<SocketAddr>::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        stopper.graceful_shutdown(None);
    });
    let config = axum_server::tls_rustls::RustlsConfig::from_config(tls);
    Ok(tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, config)?
            .handle(handle)
            .serve(make)
            .await
    }))
}

/// Builds the update service from the store, keeps it in step with the other servers and
/// starts the loop that enacts scheduled changes.
async fn start_updates(
    config: &ServerConfig,
    db: &Db,
    bus: &Arc<Bus>,
    shutdown: &CancellationToken,
) -> Result<UpdatesService, ServerError> {
    let updates = UpdatesService::from_db(db.clone(), Arc::new(relyard_updates::RandomDice))
        .await?
        .with_bus(Arc::clone(bus));
    let allowlist = relyard_updates::allowlist::DomainAllowlist::configured(
        config.updates.domain_allowlist.as_deref(),
    )
    .map_err(|e| ServerError::Config(format!("updates domain allow-list: {e}")))?;
    updates.set_allowlist(allowlist);
    let poll = config
        .updates
        .poll_interval
        .unwrap_or_else(|| relyard_updates::sync::default_poll_interval(db.backend()));
    tokio::spawn(
        updates
            .clone()
            .follow(Arc::clone(bus), poll, shutdown.clone()),
    );
    tokio::spawn(relyard_updates::scheduler::run(
        updates.clone(),
        format!("server/{}", relyard_core::ids::slugid()),
        config.updates.scheduler_interval,
        shutdown.clone(),
    ));
    Ok(updates)
}

/// The GitHub service acts with the root client, every call narrowed by `authorizedScopes` to
/// what it needs (the repository's roles for createTask, list-task-group for reporting, ...), as
/// Taskcluster-GitHub narrows its own client: `static/` clients come only from configuration in
/// relyard's auth, and the root token is in this process already, so a client of its own would
/// add a secret without taking any power away.
fn github_state(
    github: &crate::config::GitHubConfig,
    config: &ServerConfig,
    db: &Db,
    root_url: &str,
) -> Result<Arc<relyard_github::GitHubState>, ServerError> {
    let client = relyard_github::ghapi::GitHubClient::new(&github.api_url, github.auth.clone())
        .map_err(|e| ServerError::Config(format!("GitHub client: {e}")))?;
    let credentials =
        taskcluster::Credentials::new(relyard_auth::ROOT_CLIENT_ID, &config.root_access_token);
    let mut state = relyard_github::GitHubState::new(
        db.clone(),
        root_url,
        credentials,
        client,
        github.webhook_secrets.clone(),
    );
    state.app_name = github.app_name.clone();
    Ok(Arc::new(state))
}

/// The admin API and the dry-run `explain`, under one prefix. With auth, `/users/<name>/permissions` and `/roles` can answer for other people than the caller.
fn updates_admin_router(db: &Db, updates: &UpdatesService, auth: &Arc<AuthService>) -> Router {
    relyard_updates::admin::router(
        relyard_updates::admin::AdminState::new(db.clone(), updates.clone())
            .with_auth(Arc::clone(auth)),
    )
    .merge(relyard_updates::explain::router(updates.clone()))
}

/// Dockerflow's heartbeat: the database answers (a load balancer takes a server whose database
/// is gone out of rotation).
async fn heartbeat(State(db): State<Db>) -> axum::response::Response {
    match sqlx::query("SELECT 1").execute(db.reader()).await {
        Ok(_) => Json(json!({})).into_response(),
        Err(e) => (
            http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "database": format!("{e}") })),
        )
            .into_response(),
    }
}

async fn version() -> Json<serde_json::Value> {
    Json(json!({ "source": "relyard", "version": env!("CARGO_PKG_VERSION") }))
}

async fn not_found(uri: http::Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}

/// Expired secrets already answer 404; this sweep removes the rows nobody reads again.
async fn purge_expired_secrets(
    secrets: Arc<relyard_secrets::Secrets>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(600)) => {}
        }
        if let Err(e) = secrets.purge_expired(relyard_core::Timestamp::now()).await {
            tracing::warn!(error = %e, "purging expired secrets failed");
        }
    }
}

/// The key artifact URLs are signed with: derived from the root token, so every server of a
/// deployment accepts the URLs the others hand out.
fn blob_signing_key(config: &ServerConfig) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::digest(format!("relyard artifact urls\n{}", config.root_access_token).as_bytes())
        .to_vec()
}

/// Artifact bytes: S3-compatible storage when configured, else a directory under the data dir.
fn artifact_store(config: &ServerConfig, root_url: &str, db: Db) -> Result<BlobStore, ServerError> {
    let key = blob_signing_key(config);
    let store = match &config.artifact_s3 {
        Some(s3) => BlobStore::s3(
            s3.bucket.clone(),
            s3.endpoint.clone(),
            s3.region.clone(),
            s3.access_key_id.clone(),
            s3.secret_access_key.clone(),
            root_url.to_string(),
            key,
            db,
        ),
        None => BlobStore::local(
            config.data_dir.join("artifacts"),
            root_url.to_string(),
            key,
            db,
        ),
    };
    store.map_err(|e| ServerError::Config(format!("artifact storage: {e}")))
}
