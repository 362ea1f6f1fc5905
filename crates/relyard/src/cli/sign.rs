//! `relyard sign --server URL [--server URL …] --format F FILE…`: signs files on signing
//! servers with failover (the logic is `relyard_signing::client`; this parses and reports).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use relyard_signing::client::{sign_files, SignRequest};
use relyard_signing::Format;

#[derive(Args)]
#[command(after_help = "\
Credentials come from TASKCLUSTER_CLIENT_ID and TASKCLUSTER_ACCESS_TOKEN (and \
TASKCLUSTER_CERTIFICATE for temporary ones); the client needs signing:token:<format>. \
Outputs: <file>.asc (gpg), <file>.minisig (minisign), SHA256SUMS and SHA256SUMS.asc \
(sha256sums, for all the files together), or for embedded formats (mar, authenticode) the \
signed file under its own name in --output-dir, or in place without one.")]
pub struct SignArgs {
    /// A signing server's URL; give several to fail over between them (tried in random order).
    #[arg(long = "server", required = true, value_name = "URL")]
    servers: Vec<String>,
    /// The signature format: gpg, minisign, sha256sums, mar, ...
    #[arg(long, value_parser = parse_format)]
    format: Format,
    /// Keep signed outputs here by input sha256, and reuse them.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Write outputs here instead of beside the inputs (or, for embedded formats, over them).
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Ask the next server when a job is still pending after this long.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pending_deadline: Duration,
    /// Files signed at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
        .map_err(|e: relyard_signing::SigningError| e.to_string())
}

pub async fn run(args: SignArgs) -> anyhow::Result<()> {
    let credentials = taskcluster::Credentials::from_env()
        .context("relyard credentials: set TASKCLUSTER_CLIENT_ID and TASKCLUSTER_ACCESS_TOKEN")?;
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut req = SignRequest::new(args.servers, args.format, args.files, credentials);
    req.cache_dir = args.cache_dir;
    req.output_dir = args.output_dir;
    req.pending_deadline = args.pending_deadline;
    req.concurrency = args.concurrency;

    // indicatif draws on stderr only when it is a terminal, so logs and pipes stay clean.
    let bar = ProgressBar::new(req.files.len() as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} signed {elapsed}") {
        bar.set_style(style);
    }
    let outputs = sign_files(&req, &|_| bar.inc(1)).await;
    bar.finish_and_clear();
    for path in outputs? {
        println!("{}", path.display());
    }
    Ok(())
}
