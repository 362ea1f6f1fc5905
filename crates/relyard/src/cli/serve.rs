use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use relyard::config::{GitHubConfig, S3Config, ServerConfig, TlsConfig, UpdatesConfig};
use relyard::server::Server;

#[derive(Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "RELYARD_LISTEN")]
    listen: SocketAddr,
    /// Root URL clients reach this server at (default: http://<listen>, https:// with TLS).
    #[arg(long, env = "RELYARD_ROOT_URL")]
    root_url: Option<String>,
    /// Database: postgres://… (shared by several servers) or sqlite:path.
    #[arg(long, env = "RELYARD_DATABASE_URL")]
    database_url: String,
    /// RabbitMQ URL for Pulse-compatible events (amqp://…).
    #[arg(long, env = "RELYARD_AMQP_URL")]
    amqp_url: Option<String>,
    /// Directory for artifact bytes.
    #[arg(long, env = "RELYARD_DATA_DIR", default_value = ".relyard/data")]
    data_dir: PathBuf,
    /// Keep artifact bytes in this S3-compatible bucket instead of --data-dir.
    #[arg(long, env = "RELYARD_ARTIFACTS_S3_BUCKET")]
    artifacts_s3_bucket: Option<String>,
    /// Endpoint of an S3-compatible service (e.g. MinIO); AWS when absent.
    #[arg(long, env = "RELYARD_ARTIFACTS_S3_ENDPOINT")]
    artifacts_s3_endpoint: Option<String>,
    #[arg(long, env = "RELYARD_ARTIFACTS_S3_REGION", default_value = "us-east-1")]
    artifacts_s3_region: String,
    #[arg(
        long,
        env = "RELYARD_ARTIFACTS_S3_ACCESS_KEY_ID",
        hide_env_values = true
    )]
    artifacts_s3_access_key_id: Option<String>,
    #[arg(
        long,
        env = "RELYARD_ARTIFACTS_S3_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    artifacts_s3_secret_access_key: Option<String>,
    /// Access token of the root client static/taskcluster/root.
    #[arg(long, env = "RELYARD_ROOT_ACCESS_TOKEN", hide_env_values = true)]
    root_access_token: String,
    /// Seconds a claim lasts before the worker must reclaim it.
    #[arg(long, env = "RELYARD_CLAIM_TIMEOUT", default_value_t = relyard::config::DEFAULT_CLAIM_TIMEOUT_SECS)]
    claim_timeout: i64,
    /// Milliseconds between the queue reaper's sweeps (expired claims, deadlines, expiry).
    #[arg(long, env = "RELYARD_REAPER_INTERVAL_MS", default_value_t = 5000)]
    reaper_interval_ms: u64,
    /// Keys for encryption at rest, `id:secret[,id:secret…]`; the first seals new values.
    #[arg(long, env = "RELYARD_ENCRYPTION_KEYS", hide_env_values = true)]
    encryption_keys: String,
    /// Terminate TLS here: a PEM certificate chain, leaf first (needs --tls-key).
    #[arg(long, env = "RELYARD_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "RELYARD_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// JSON file of the domains patch URLs may point to, `{domain: [products]}` (default:
    /// Balrog's production list).
    #[arg(long, env = "RELYARD_UPDATES_DOMAIN_ALLOWLIST_FILE")]
    updates_domain_allowlist: Option<PathBuf>,
    #[command(flatten)]
    github: GitHubArgs,
}

/// The GitHub integration (Taskcluster-GitHub at `/api/github/v1`), on when a token or an App is
/// given. Secrets come from files or the environment only, never from the command line, where
/// every user of the machine could read them.
#[derive(Args)]
pub struct GitHubArgs {
    /// A file holding one webhook secret; repeat while rotating (each one is accepted). Also
    /// RELYARD_GITHUB_WEBHOOK_SECRETS: secrets separated by commas.
    #[arg(long = "github-webhook-secret-file", value_name = "FILE")]
    github_webhook_secret_files: Vec<PathBuf>,
    /// GitHub's REST API: https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise.
    #[arg(long, env = "RELYARD_GITHUB_API_URL", default_value = relyard_github::ghapi::GITHUB_COM_API)]
    github_api_url: String,
    /// A file holding a personal access token (or set RELYARD_GITHUB_TOKEN).
    #[arg(long, value_name = "FILE", conflicts_with = "github_app_id")]
    github_token_file: Option<PathBuf>,
    /// Act as this GitHub App (needs --github-app-key); installations come from the webhooks.
    #[arg(long, env = "RELYARD_GITHUB_APP_ID", requires = "github_app_key")]
    github_app_id: Option<u64>,
    /// The GitHub App's private key (PEM file).
    #[arg(
        long,
        env = "RELYARD_GITHUB_APP_KEY",
        value_name = "FILE",
        requires = "github_app_id"
    )]
    github_app_key: Option<PathBuf>,
    /// Statuses and check runs are named "<name> (<event>)".
    #[arg(long, env = "RELYARD_GITHUB_APP_NAME", default_value = relyard_github::webhook::DEFAULT_APP_NAME)]
    github_app_name: String,
}

impl GitHubArgs {
    /// The GitHub settings, or `None` when neither a token nor an App is configured.
    pub fn config(&self) -> anyhow::Result<Option<GitHubConfig>> {
        use relyard_github::ghapi::{AppCredentials, GitHubAuth};
        let read = |path: &PathBuf| {
            std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))
                .map(|s| s.trim().to_string())
        };
        let auth = match (
            &self.github_app_id,
            &self.github_app_key,
            &self.github_token_file,
        ) {
            (Some(id), Some(key), _) => {
                let pem =
                    std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
                GitHubAuth::App(
                    AppCredentials::new(&id.to_string(), &pem)
                        .with_context(|| format!("GitHub App key {}", key.display()))?,
                )
            }
            (_, _, Some(file)) => GitHubAuth::Token(read(file)?),
            _ => match std::env::var("RELYARD_GITHUB_TOKEN") {
                Ok(token) if !token.trim().is_empty() => GitHubAuth::Token(token.trim().into()),
                _ => return Ok(None),
            },
        };
        let mut secrets = self
            .github_webhook_secret_files
            .iter()
            .map(read)
            .collect::<anyhow::Result<Vec<_>>>()?;
        if let Ok(list) = std::env::var("RELYARD_GITHUB_WEBHOOK_SECRETS") {
            secrets.extend(
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            );
        }
        anyhow::ensure!(
            secrets.iter().all(|s| !s.is_empty()),
            "a GitHub webhook secret file is empty"
        );
        if secrets.is_empty() {
            tracing::warn!("no GitHub webhook secret: unsigned webhook deliveries are accepted");
        }
        let mut config = GitHubConfig::new(auth);
        config.webhook_secrets = secrets;
        config.api_url = self.github_api_url.trim_end_matches('/').to_string();
        config.app_name = self.github_app_name.clone();
        Ok(Some(config))
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.claim_timeout >= 1,
        "--claim-timeout must be at least 1 second"
    );
    anyhow::ensure!(
        args.reaper_interval_ms >= 10,
        "--reaper-interval-ms must be at least 10"
    );
    let encryption_keys = parse_keys(&args.encryption_keys)?;
    let github = args.github.config()?;
    let artifact_s3 = match args.artifacts_s3_bucket {
        None => None,
        Some(bucket) => Some(S3Config {
            bucket,
            endpoint: args.artifacts_s3_endpoint,
            region: args.artifacts_s3_region,
            access_key_id: args
                .artifacts_s3_access_key_id
                .context("--artifacts-s3-bucket needs RELYARD_ARTIFACTS_S3_ACCESS_KEY_ID")?,
            secret_access_key: args
                .artifacts_s3_secret_access_key
                .context("--artifacts-s3-bucket needs RELYARD_ARTIFACTS_S3_SECRET_ACCESS_KEY")?,
        }),
    };
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let server = Server::start(ServerConfig {
        listen: args.listen,
        root_url: args.root_url,
        database_url: args.database_url,
        amqp_url: args.amqp_url,
        data_dir: args.data_dir,
        artifact_s3,
        root_access_token: args.root_access_token,
        encryption_keys,
        claim_timeout_secs: args.claim_timeout,
        reaper_interval: std::time::Duration::from_millis(args.reaper_interval_ms),
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(TlsConfig { cert, key }),
            _ => None,
        },
        updates: UpdatesConfig {
            domain_allowlist: args.updates_domain_allowlist,
            ..UpdatesConfig::default()
        },
        github,
    })
    .await?;
    eprintln!("relyard serving at {}", server.root_url);
    super::serve_until_signal(server).await
}

fn parse_keys(spec: &str) -> anyhow::Result<Vec<(String, String)>> {
    let keys: Vec<(String, String)> = spec
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|pair| {
            pair.split_once(':')
                .map(|(id, secret)| (id.trim().to_string(), secret.trim().to_string()))
                .filter(|(id, secret)| !id.is_empty() && secret.len() >= 16)
                .with_context(|| {
                    "each encryption key must be `id:secret` with a secret of 16+ characters"
                })
        })
        .collect::<anyhow::Result<_>>()?;
    anyhow::ensure!(!keys.is_empty(), "at least one encryption key is required");
    Ok(keys)
}
