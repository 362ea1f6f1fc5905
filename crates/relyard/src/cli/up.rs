//! `relyard up`: everything on one machine, state under `./.relyard/`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use relyard::config::ServerConfig;
use relyard::server::Server;
use relyard_worker::{Exit, Worker, WorkerConfig, WorkerError};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::banner::banner;

#[derive(Args)]
pub struct UpArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory for the database, artifacts and credentials.
    #[arg(long, default_value = ".relyard")]
    dir: PathBuf,
    /// Local workers for the task queue `proj-local/default` (0 for none).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Tasks each local worker runs at once (default: number of cores).
    #[arg(long)]
    capacity: Option<usize>,
    #[command(flatten)]
    github: super::serve::GitHubArgs,
    /// Also run a signing server from this configuration (see examples/signing.toml), whose
    /// tokens are issued to this relyard's clients, and a signing worker for
    /// `proj-local/signing`. Its keys are unlocked before anything starts.
    #[arg(long, value_name = "FILE")]
    signing_config: Option<PathBuf>,
    /// With --signing-config: read `KEY_ID=passphrase` lines from this file descriptor instead
    /// of asking on the terminal.
    #[arg(long, value_name = "N", requires = "signing_config")]
    signing_passphrase_fd: Option<u32>,
}

/// What `up` generates once and keeps: the root client's token and the encryption key.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LocalSecrets {
    root_access_token: String,
    encryption_key: String,
}

/// `.relyard/credentials.json`, for people and tools: the root client and where to reach it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CredentialsFile<'a> {
    root_url: &'a str,
    client_id: &'a str,
    access_token: &'a str,
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    // Passphrases first: a key that does not unlock stops `up` before anything listens.
    let signing = args
        .signing_config
        .as_deref()
        .map(|path| super::signing_server::load_and_unlock(path, args.signing_passphrase_fd))
        .transpose()?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let secrets = load_or_create_secrets(&args.dir.join("server-secrets.json"))?;
    let db_path = args.dir.join("relyard.db");
    let github = args.github.config()?;
    let server = Server::start(ServerConfig {
        listen: args.listen,
        root_url: None,
        database_url: format!("sqlite:{}", db_path.display()),
        amqp_url: None,
        data_dir: args.dir.join("data"),
        artifact_s3: None,
        root_access_token: secrets.root_access_token.clone(),
        encryption_keys: vec![("local".into(), secrets.encryption_key.clone())],
        claim_timeout_secs: relyard::config::DEFAULT_CLAIM_TIMEOUT_SECS,
        reaper_interval: relyard::config::DEFAULT_REAPER_INTERVAL,
        tls: None,
        updates: Default::default(),
        github,
    })
    .await?;
    let creds_path = args.dir.join("credentials.json");
    write_private(
        &creds_path,
        &serde_json::to_vec_pretty(&CredentialsFile {
            root_url: &server.root_url,
            client_id: relyard_auth::ROOT_CLIENT_ID,
            access_token: &secrets.root_access_token,
        })?,
    )?;
    banner!("relyard is up at {}", server.root_url);
    banner!(
        "Update service: {}/update/6/… (rules and releases at {}/api/updates/v1/; {} rules loaded)",
        server.root_url,
        server.root_url,
        server.updates.catalog().rules.len()
    );
    banner!(
        "Root credentials are in {} (mode 0600). To use them:",
        creds_path.display()
    );
    banner!("  export TASKCLUSTER_ROOT_URL={}", server.root_url);
    banner!(
        "  export TASKCLUSTER_CLIENT_ID={}",
        relyard_auth::ROOT_CLIENT_ID
    );
    banner!("  export TASKCLUSTER_ACCESS_TOKEN=$(python3 -c 'import json;print(json.load(open(\"{}\"))[\"accessToken\"])')", creds_path.display());

    let root =
        || taskcluster::Credentials::new(relyard_auth::ROOT_CLIENT_ID, &secrets.root_access_token);
    let stop_workers = CancellationToken::new();
    let mut workers = Vec::new();
    let local_worker = |queue: &str, name: &str| {
        let mut config = WorkerConfig::new(
            &server.root_url,
            root(),
            queue,
            args.dir.join("worker").join(name),
        );
        config.worker_id = format!("{}-{name}", config.worker_id);
        config
    };
    for n in 0..args.workers {
        let mut config = local_worker(LOCAL_TASK_QUEUE, &n.to_string());
        if let Some(c) = args.capacity {
            config.capacity = c;
        }
        workers.push(spawn_worker(config, "A worker", &stop_workers).await?);
    }
    let signing_server = match signing {
        None => None,
        Some(mut unlocked) => {
            // Mounted here, the signing server takes its callers' Hawk credentials to this
            // relyard, whatever its configuration names.
            unlocked.config.auth_root_url = server.root_url.trim_end_matches('/').to_string();
            let signing = unlocked.start().await?;
            banner!("signing server listening on {}", signing.url());
            // Only this worker holds signing tokens; the build workers above do not.
            let mut config = local_worker(LOCAL_SIGNING_QUEUE, "signing");
            config.signing = Some(relyard_worker::signing::SigningSettings {
                servers: vec![signing.url()],
                credentials: root(),
            });
            workers.push(spawn_worker(config, "A signing worker", &stop_workers).await?);
            Some(signing)
        }
    };
    // The same news on stderr, for whoever reads the log rather than the banner.
    tracing::info!(root_url = %server.root_url, workers = args.workers,
        signing = signing_server.is_some(), "relyard up is ready");
    let stop_server = server.shutdown_token();
    let stop_signing = signing_server.as_ref().map(|s| s.shutdown_token());
    let release_claims = server.claim_waits_token();
    tokio::spawn(async move {
        super::termination().await;
        tracing::info!("shutting down: workers first, then the server");
        stop_workers.cancel();
        // The server stops right after its workers: answer every waiting claimWork now, so the
        // workers are not held for the rest of a 20 s long poll.
        release_claims.cancel();
        for w in workers {
            match w.await {
                Ok(Ok(exit)) => tracing::info!(?exit, "worker stopped"),
                Ok(Err(e)) => tracing::error!(error = %e, "worker failed"),
                Err(e) => tracing::error!(error = %e, "worker panicked"),
            }
        }
        if let Some(token) = stop_signing {
            token.cancel();
        }
        stop_server.cancel();
    });
    server.wait().await?;
    if let Some(signing) = signing_server {
        signing.wait().await?;
    }
    Ok(())
}

/// Starts a local worker, says where it is, and runs it until `stop`.
async fn spawn_worker(
    config: WorkerConfig,
    what: &str,
    stop: &CancellationToken,
) -> anyhow::Result<JoinHandle<Result<Exit, WorkerError>>> {
    let queue = config.task_queue_id.clone();
    let worker = Worker::new(config).await?;
    banner!(
        "{what} for {queue} runs here (live logs and metrics at {})",
        worker.http_base()
    );
    Ok(tokio::spawn(worker.run(stop.clone())))
}

/// The task queue `relyard up`'s local workers claim from.
pub const LOCAL_TASK_QUEUE: &str = "proj-local/default";
/// The task queue of `relyard up`'s signing worker (with `--signing-config`).
pub const LOCAL_SIGNING_QUEUE: &str = "proj-local/signing";

fn load_or_create_secrets(path: &Path) -> anyhow::Result<LocalSecrets> {
    if path.exists() {
        let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        return serde_json::from_slice(&raw)
            .with_context(|| format!("{} is not valid", path.display()));
    }
    let secrets = LocalSecrets {
        root_access_token: random_token(),
        encryption_key: random_token(),
    };
    write_private(path, &serde_json::to_vec_pretty(&secrets)?)?;
    Ok(secrets)
}

fn random_token() -> String {
    format!(
        "{}{}",
        relyard_core::ids::slugid(),
        relyard_core::ids::slugid()
    )
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
