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
