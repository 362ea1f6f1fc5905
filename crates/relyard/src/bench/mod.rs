//! `relyard bench <service>`: benchmarks that print a table. Nothing here asserts on time; the
//! numbers are for people (and issue notes) to read.

mod auth;
mod child;
mod queue;
mod signing;
mod stats;
mod updates;
mod worker;

use clap::{Args, Subcommand};

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(Subcommand)]
enum Which {
    /// Queue throughput and latency: burn-down, chain, diamond, claimWork wake-up, server RSS.
    Queue(queue::QueueBenchArgs),
    /// Authentication cost: Hawk-verified no-op requests/s, authenticate() and role expansion p50.
    Auth(auth::AuthBenchArgs),
    /// Worker overhead (claim → process start), throughput of many short tasks, worker RSS.
    Worker(worker::WorkerBenchArgs),
    /// Update service: update.xml requests/s and p50/p99 with 1,000 rules and 200 releases, RSS.
    Updates(updates::UpdatesBenchArgs),
    /// Signing: signatures/s per format through a signing server beside the raw crypto rate,
    /// and the latency of a 1 MB file.
    Signing(signing::SigningBenchArgs),
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.which {
        Which::Queue(a) => queue::run(a).await,
        Which::Auth(a) => auth::run(a).await,
        Which::Worker(a) => worker::run(a).await,
        Which::Updates(a) => updates::run(a).await,
        Which::Signing(a) => signing::run(a).await,
    }
}

/// A server on 127.0.0.1:<free port> over a fresh SQLite database under `dir`, with a new root
/// access token (returned beside it), as the in-process benchmarks start one.
async fn local_server(dir: &std::path::Path) -> anyhow::Result<(relyard::server::Server, String)> {
    let token = format!(
        "{}{}",
        relyard_core::ids::slugid(),
        relyard_core::ids::slugid()
    );
    let server = relyard::server::Server::start(relyard::config::ServerConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        root_url: None,
        database_url: format!("sqlite:{}", dir.join("bench.db").display()),
        amqp_url: None,
        data_dir: dir.join("data"),
        artifact_s3: None,
        root_access_token: token.clone(),
        encryption_keys: vec![("bench".into(), "a benchmark encryption key".into())],
        claim_timeout_secs: relyard::config::DEFAULT_CLAIM_TIMEOUT_SECS,
        reaper_interval: relyard::config::DEFAULT_REAPER_INTERVAL,
        tls: None,
        updates: Default::default(),
        github: None,
    })
    .await?;
    Ok((server, token))
}
