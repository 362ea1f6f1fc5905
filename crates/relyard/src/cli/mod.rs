//! Subcommands.

mod auth;
mod banner;
mod ci;
mod connect;
mod retry;
mod secrets;
mod serve;
mod sign;
mod signin;
mod signing_server;
mod task;
mod up;
mod updates;
mod worker;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "relyard",
    version,
    about = "A release-engineering platform in one binary"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole platform locally: server on SQLite under ./.relyard, root credentials on first start.
    Up(up::UpArgs),
    /// Run the API server on a shared database (PostgreSQL for several servers).
    Serve(serve::ServeArgs),
    /// Manage clients and roles.
    Auth(auth::AuthArgs),
    /// Read and write secrets.
    Secrets(secrets::SecretsArgs),
    /// Print temporary credentials for some scopes, as lines to export.
    Signin(signin::SigninArgs),
    /// Benchmarks that print a table (`relyard bench queue`, `relyard bench auth`).
    Bench(crate::bench::BenchArgs),
    /// Run a worker: claim tasks of one task queue and run them from a clean slate.
    Worker(worker::WorkerArgs),
    /// Look at tasks (`relyard task log -f <taskId>`).
    Task(task::TaskArgs),
    /// Run a command again until it succeeds, with redo's back-off schedule.
    Retry(retry::RetryArgs),
    /// Run the signing server: unlock its keys, then sign for callers holding signing tokens.
    SigningServer(signing_server::SigningServerArgs),
    /// Sign files on signing servers, failing over between them.
    Sign(sign::SignArgs),
    /// The update service: list rules, a rule's history, explain an update URL, stage a rollout.
    Updates(updates::UpdatesArgs),
    /// A repository's `.taskcluster.yml`: check it, or run its graph on this machine.
    Ci(ci::CiArgs),
}

impl Cli {
    /// Logging when RUST_LOG is not set: `ci` and `bench` print their own progress, so only
    /// warnings there.
    pub fn default_log_filter(&self) -> &'static str {
        match self.command {
            // A bench's servers run in its process too; their request and round lines at
            // info (hundreds a second) would bury the progress lines and the table.
            Command::Ci(_) | Command::Bench(_) => "warn,sqlx=error",
            _ => "info,sqlx=warn,tower_http=warn",
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => up::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Auth(args) => auth::run(args).await,
        Command::Secrets(args) => secrets::run(args).await,
        Command::Signin(args) => signin::run(args).await,
        Command::Bench(args) => crate::bench::run(args).await,
        Command::Worker(args) => worker::run(args).await,
        Command::Task(args) => task::run(args).await,
        Command::Retry(args) => retry::run(args).await,
        Command::SigningServer(args) => signing_server::run(args).await,
        Command::Sign(args) => sign::run(args).await,
        Command::Updates(args) => updates::run(args).await,
        Command::Ci(args) => ci::run(args).await,
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn termination() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Serves until a termination signal, then shuts down gracefully.
pub async fn serve_until_signal(server: relyard::server::Server) -> anyhow::Result<()> {
    let token = server.shutdown_token();
    tokio::spawn(async move {
        termination().await;
        tracing::info!("shutting down: finishing in-flight requests");
        token.cancel();
    });
    server.wait().await?;
    Ok(())
}
