//! `relyard bench signing`: signatures per second of each format through a signing server, next
//! to the raw crypto library's rate for the same key type in the same run, and the latency of
//! signing a 1 MB file. The batch rate (the target row) is measured in `--slices`
//! slices, each between two raw measurements, and each slice is compared with the mean of the
//! two raw rates around it: the machines this runs on drift by a third within a minute, more
//! than the differences being measured, and a slice and its neighbours see the same machine.
//!
//! One process: a relyard server on SQLite (for the Hawk check of the token request), a signing
//! server with throwaway keys of every format, and `--clients` concurrent clients that send
//! distinct inputs (the server signs an input once and then answers from its result store, so
//! repeating one input would measure the cache), each keeping `--in-flight` requests going at
//! once as `relyard sign` does. Each format is measured two ways: one upload per signature
//! (`Prefer: wait`, the output in the answer) and `--batch` inputs per batch request. The raw
//! and in-process rates use `--clients` threads too, so every figure uses all the machine's
//! cores; the served figures share those cores between the server and its clients.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use rand::RngCore;
use relyard_signing::bench as raw_bench;
use relyard_signing::client::{BatchOutcome, Input, InputBody, ServerClient, Uploaded};
use relyard_signing::config::SigningConfig;
use relyard_signing::formats::{marfile, pe, Format, KeyKind, UnlockedKey};
use relyard_signing::keystore::{generate, KdfParams};
use relyard_signing::passphrases::Passphrases;
use relyard_signing::server::SigningServer;
use tokio::sync::Mutex;

use super::stats::{ms, percentile, print_table};

#[derive(Args)]
pub struct SigningBenchArgs {
    /// How long each rate is measured.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Concurrent clients (and threads for the raw and Signer rates).
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Size of the large input whose latency is measured.
    #[arg(long, default_value_t = 1 << 20)]
    large_size: usize,
    /// Large inputs signed, one after another, per format.
    #[arg(long, default_value_t = 40)]
    large_samples: usize,
    /// Requests each client keeps in flight (by default what `relyard sign` keeps).
    #[arg(long, default_value_t = relyard_signing::client::DEFAULT_CONCURRENCY)]
    in_flight: usize,
    /// Inputs per batch request for the batch rate (by default what `relyard sign` sends).
    #[arg(long, default_value_t = relyard_signing::client::BATCH_FILES)]
    batch: usize,
    /// The signing server's `pool_size` (signer threads); `--clients` by default.
    #[arg(long)]
    pool_size: Option<usize>,
    /// Slices of `--duration` the batch rate is measured in, each between two raw rates.
    #[arg(long, default_value_t = 3)]
    slices: usize,
    /// Formats to measure (all by default).
    #[arg(long, value_delimiter = ',')]
    formats: Vec<Format>,
}

const PASSPHRASE: &str = "relyard bench signing";
/// The bench makes its keys each run: its subject is signing, not key stretching.
const FAST_KDF: KdfParams = KdfParams {
    m_cost_kib: 64,
    t_cost: 1,
    p_cost: 1,
};

/// The key id that signs each format in the bench's configuration.
fn key_for(format: Format) -> (&'static str, KeyKind) {
    match format {
        Format::Gpg | Format::Sha256sums => ("bench-gpg", KeyKind::Gpg),
        Format::Minisign => ("bench-minisign", KeyKind::Minisign),
        Format::Mar => ("bench-rsa", KeyKind::Rsa),
        Format::Authenticode => ("bench-authenticode", KeyKind::Authenticode),
    }
}

pub async fn run(args: SigningBenchArgs) -> anyhow::Result<()> {
    let formats = if args.formats.is_empty() {
        Format::ALL.to_vec()
    } else {
        args.formats.clone()
    };
    let dir = tempfile::tempdir()?;
    eprintln!("making throwaway keys (RSA-4096 takes a moment)…");
    let keys = make_keys(dir.path(), &formats)?;
    let (relyard, token) = super::local_server(dir.path()).await?;
    let pool = args.pool_size.unwrap_or(args.clients);
    let config = signing_config(dir.path(), &relyard.root_url, &keys, pool)?;
    let mut passphrases = Passphrases::default();
    for (id, _) in &keys {
        passphrases.insert(id, PASSPHRASE);
    }
    let (token_keys, keyring) = config.unlock(&passphrases)?;
    let signing = SigningServer::start(&config, token_keys, keyring).await?;

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * args.in_flight.max(1) * 2)
        .build()?;
    let client = ServerClient::new(&signing.url(), http);
    let credentials = taskcluster::Credentials::new(relyard_auth::ROOT_CLIENT_ID, &token);
    let signing_token = client
        .token(&credentials, &formats, Duration::from_secs(3600))
        .await?;

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let noop = noop_rate(&client, &args).await?;
    let mut rows = vec![(
        format!(
            "HTTP floor: GET /__lbheartbeat__ on the signing server, {} clients",
            args.clients
        ),
        format!("{noop:.0} req/s"),
        "bound for 1 request/signature".to_string(),
    )];
    for format in &formats {
        let (id, _) = key_for(*format);
        let key = keys
            .iter()
            .find(|(k, _)| *k == id)
            .map(|(_, k)| k)
            .context("bench key")?;
        let (clients, duration) = (args.clients, args.duration);
        let single = served_rate(&client, &signing_token, *format, key, &args, 1).await?;
        let raw =
            tokio::task::block_in_place(|| raw_bench::measure(key, *format, clients, duration))?;
        let mut raws = vec![raw.raw_per_sec];
        let mut batches = Vec::with_capacity(args.slices.max(1));
        for _ in 0..args.slices.max(1) {
            batches
                .push(served_rate(&client, &signing_token, *format, key, &args, args.batch).await?);
            raws.push(tokio::task::block_in_place(|| {
                raw_bench::raw_rate(key, *format, clients, duration)
            })?);
        }
        let raw_mean = mean(&raws);
        let share = |rate: f64| rate / raw_mean.max(f64::EPSILON) * 100.0;
        let batch_shares = slice_shares(&batches, &raws);
        let mut large = large_latencies(&client, &signing_token, *format, &args).await?;
        rows.push((
            format!(
                "{format}: raw {}, {} threads on {cores} cores",
                raw.raw_algorithm, raw.threads
            ),
            format!(
                "{raw_mean:.0} sig/s ({} runs: {:.0}–{:.0})",
                raws.len(),
                raws.iter().copied().fold(f64::INFINITY, f64::min),
                raws.iter().copied().fold(0.0, f64::max)
            ),
            "-".to_string(),
        ));
        rows.push((
            format!(
                "{format}: Signer::sign in process, {} threads{}",
                raw.threads,
                if *format == Format::Minisign {
                    " (2 Ed25519 signatures each)"
                } else {
                    ""
                }
            ),
            format!(
                "{:.0} sig/s ({:.0}% of raw)",
                raw.signer_per_sec,
                share(raw.signer_per_sec)
            ),
            "ceiling of the served rates".to_string(),
        ));
        rows.push((
            format!(
                "{format}: server, {} clients × {} in flight, 1 upload per small input",
                args.clients, args.in_flight
            ),
            format!("{single:.0} sig/s ({:.0}% of raw)", share(single)),
            "-".to_string(),
        ));
        rows.push((
            format!(
                "{format}: server, {} clients × {} in flight, batches of {} small inputs",
                args.clients, args.in_flight, args.batch
            ),
            format!(
                "{:.0} sig/s ({:.0}% of raw; {} slices in order: {})",
                mean(&batches),
                median(&batch_shares),
                batch_shares.len(),
                batch_shares
                    .iter()
                    .map(|s| format!("{s:.0}%"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "≥ 80% of raw".to_string(),
        ));
        rows.push((
            format!(
                "{format}: {} KiB input through the server, p50 / p99",
                args.large_size / 1024
            ),
            format!(
                "{} / {}",
                ms(percentile(&mut large, 50.0)),
                ms(percentile(&mut large, 99.0))
            ),
            "report".to_string(),
        ));
    }
    signing.stop().await?;
    relyard.stop().await?;
    print_table("relyard bench signing", &rows);
    Ok(())
}

/// One key per key type the formats need, sealed into `dir/keys`.
fn make_keys(
    dir: &std::path::Path,
    formats: &[Format],
) -> anyhow::Result<Vec<(&'static str, UnlockedKey)>> {
    std::fs::create_dir_all(dir.join("keys"))?;
    let mut keys: Vec<(&'static str, UnlockedKey)> = Vec::new();
    for format in formats {
        let (id, kind) = key_for(*format);
        if keys.iter().any(|(k, _)| *k == id) {
            continue;
        }
        let (file, key) = generate(id, kind, PASSPHRASE.as_bytes(), FAST_KDF)?;
        file.write_new(&dir.join(format!("keys/{id}.key")))?;
        keys.push((id, key));
    }
    Ok(keys)
}

fn signing_config(
    dir: &std::path::Path,
    auth_root_url: &str,
    keys: &[(&'static str, UnlockedKey)],
    pool: usize,
) -> anyhow::Result<SigningConfig> {
    let secret = format!(
        "{}{}",
        relyard_core::ids::slugid(),
        relyard_core::ids::slugid()
    );
    std::fs::write(dir.join("keys/token.secret"), secret)?;
    let mut text = format!(
        "listen = \"127.0.0.1:0\"\nauth_root_url = \"{auth_root_url}\"\n\
         allowed_networks = [\"127.0.0.0/8\"]\npool_size = {pool}\naudit_log = \"audit.log\"\n\
         long_poll = \"20s\"\n\n[[token_keys]]\nid = \"bench\"\nsecret_file = \"keys/token.secret\"\n\n\
         [results]\ndir = \"results\"\nmax_age = \"1h\"\nmax_bytes = 4294967296\n"
    );
    let mut formats_seen = Vec::new();
    for (id, _) in keys {
        let formats: Vec<Format> = Format::ALL
            .into_iter()
            .filter(|f| key_for(*f).0 == *id)
            .collect();
        let names: Vec<String> = formats.iter().map(|f| format!("\"{f}\"")).collect();
        text.push_str(&format!(
            "\n[[keys]]\nid = \"{id}\"\nfile = \"keys/{id}.key\"\nformats = [{}]\n",
            names.join(", ")
        ));
        formats_seen.extend(formats);
    }
    for f in formats_seen {
        text.push_str(&format!(
            "\n[formats.{f}]\nmax_size = 67108864\nfilename_globs = [\"*\"]\n"
        ));
    }
    Ok(SigningConfig::parse(&text, dir)?)
}

/// A distinct, valid input of `format` of about `size` bytes, and a file name for it.
fn input_of(format: Format, size: usize, n: u64) -> (String, Vec<u8>) {
    let mut filler = vec![0u8; size.max(16)];
    rand::thread_rng().fill_bytes(&mut filler);
    filler[..8].copy_from_slice(&n.to_be_bytes());
    match format {
        Format::Gpg | Format::Minisign => (format!("bench-{n}.bin"), filler),
        Format::Sha256sums => {
            let manifest = relyard_signing::manifest_from_digests(&[(
                format!("bench-{n}.bin").as_str(),
                sha2_digest(&filler),
            )])
            .unwrap_or_default();
            ("SHA256SUMS".to_string(), manifest.into_bytes())
        }
        Format::Mar => (
            format!("bench-{n}.mar"),
            marfile::build_unsigned(&[("payload.bin", 0o644, &filler)], None),
        ),
        Format::Authenticode => (
            format!("bench-{n}.exe"),
            pe::build_minimal_pe(&[(".text", &[0x31, 0xc0, 0xc3]), (".rdata", &filler)]),
        ),
    }
}

fn sha2_digest(bytes: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).into()
}

/// Uploads `bytes` asking for the output in the answer (`Prefer: wait`), else long-polls; the
/// client checks its hash.
async fn sign_once(
    client: &ServerClient,
    token: &str,
    format: Format,
    name: String,
    bytes: Vec<u8>,
) -> anyhow::Result<Vec<u8>> {
    let input = Input {
        name,
        sha256: relyard_signing::sha256_hex(&bytes),
        body: InputBody::Bytes(bytes.into()),
    };
    let wait = Duration::from_secs(20);
    match client.upload(token, format, &input, Some(wait)).await? {
        Uploaded::Signed(output) => Ok(output),
        Uploaded::Queued => Ok(client
            .fetch(token, format, &input.sha256, Duration::from_secs(120))
            .await?),
    }
}

/// Signs `inputs` (name, bytes) in one batch request; pending ones are fetched.
async fn sign_batch(
    client: &ServerClient,
    token: &str,
    format: Format,
    inputs: Vec<(String, Vec<u8>)>,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let inputs: Vec<Input> = inputs
        .into_iter()
        .map(|(name, bytes)| Input {
            name,
            sha256: relyard_signing::sha256_hex(&bytes),
            body: InputBody::Bytes(bytes.into()),
        })
        .collect();
    let outcomes = client.sign_batch(token, format, &inputs).await?;
    let mut outputs = Vec::with_capacity(inputs.len());
    for (input, outcome) in inputs.iter().zip(outcomes) {
        outputs.push(match outcome {
            BatchOutcome::Signed(output) => output,
            BatchOutcome::Pending => {
                client
                    .fetch(token, format, &input.sha256, Duration::from_secs(120))
                    .await?
            }
            BatchOutcome::Failed { status, message } => {
                anyhow::bail!("{format}: {}: {status} {message}", input.name)
            }
        });
    }
    Ok(outputs)
}

/// Requests per second of `GET /__lbheartbeat__` (no work behind it: the allowed-networks check
/// and the HTTP stack) with `clients` clients: the most any one-request-per-signature path can
/// reach on this machine.
async fn noop_rate(client: &ServerClient, args: &SigningBenchArgs) -> anyhow::Result<f64> {
    let http = reqwest::Client::new();
    let url = format!("{}/__lbheartbeat__", client.url);
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let until = started + args.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.clients {
        let (http, url, counter) = (http.clone(), url.clone(), Arc::clone(&counter));
        tasks.spawn(async move {
            while Instant::now() < until {
                let resp = http.get(&url).send().await?.error_for_status()?;
                resp.bytes().await?;
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), reqwest::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(counter.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Signatures per second with `clients` clients, each with `in_flight` requests going, signing
/// distinct small inputs for `duration`, `batch` inputs per request (1: one upload per input,
/// not the batch endpoint); the first result of each request loop is verified with the key.
async fn served_rate(
    client: &ServerClient,
    token: &str,
    format: Format,
    key: &UnlockedKey,
    args: &SigningBenchArgs,
    batch: usize,
) -> anyhow::Result<f64> {
    let signer: Arc<dyn relyard_signing::formats::Signer> = Arc::from(key.signer(format)?);
    let counter = Arc::new(AtomicU64::new(0));
    let serial = Arc::new(AtomicU64::new(0));
    let failure: Arc<Mutex<Option<anyhow::Error>>> = Arc::default();
    let started = Instant::now();
    let until = started + args.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..args.clients * args.in_flight.max(1) {
        let (client, token) = (client.clone(), token.to_string());
        let (counter, serial, failure, signer) = (
            Arc::clone(&counter),
            Arc::clone(&serial),
            Arc::clone(&failure),
            Arc::clone(&signer),
        );
        tasks.spawn(async move {
            let mut first = true;
            while Instant::now() < until {
                let inputs: Vec<(String, Vec<u8>)> = (0..batch.max(1))
                    .map(|_| {
                        let n = (c as u64) << 40 | serial.fetch_add(1, Ordering::Relaxed);
                        input_of(format, 64, n)
                    })
                    .collect();
                let check = inputs[0].1.clone();
                let signed = if batch <= 1 {
                    let (name, bytes) = inputs.into_iter().next().unwrap_or_default();
                    sign_once(&client, &token, format, name, bytes)
                        .await
                        .map(|o| vec![o])
                } else {
                    sign_batch(&client, &token, format, inputs).await
                };
                match signed {
                    Ok(outputs) => {
                        if first {
                            first = false;
                            let verified = outputs
                                .first()
                                .map(|out| signer.verify(&check, out))
                                .transpose();
                            if let Err(e) = verified {
                                *failure.lock().await = Some(anyhow::anyhow!("{format}: {e}"));
                                return;
                            }
                        }
                        counter.fetch_add(outputs.len() as u64, Ordering::Relaxed);
                    }
                    Err(e) => {
                        *failure.lock().await = Some(e);
                        return;
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    if let Some(e) = failure.lock().await.take() {
        return Err(e);
    }
    Ok(counter.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Latencies of signing distinct large inputs one after another.
async fn large_latencies(
    client: &ServerClient,
    token: &str,
    format: Format,
    args: &SigningBenchArgs,
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(args.large_samples);
    for i in 0..args.large_samples {
        let (name, bytes) = input_of(format, args.large_size, u64::MAX - i as u64);
        let start = Instant::now();
        sign_once(client, token, format, name, bytes).await?;
        times.push(start.elapsed());
    }
    Ok(times)
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// The middle of `values` (the mean of the two middle ones for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Each served slice as a percentage of the mean of the raw rates measured just before and
/// just after it (`raws` has one more entry than `served`: raw, slice, raw, slice, …, raw).
fn slice_shares(served: &[f64], raws: &[f64]) -> Vec<f64> {
    served
        .iter()
        .zip(raws.windows(2))
        .map(|(rate, around)| rate / mean(around).max(f64::EPSILON) * 100.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_slice_is_compared_with_the_raw_rates_around_it() {
        // The machine slows down: the second slice keeps its share although its rate falls.
        let shares = slice_shares(&[50.0, 30.0], &[110.0, 90.0, 30.0]);
        assert_eq!(shares, vec![50.0, 50.0]);
        assert_eq!(median(&[70.0, 40.0, 50.0]), 50.0);
        assert_eq!(median(&[40.0, 60.0]), 50.0);
        assert_eq!(median(&[]), 0.0);
    }
}
