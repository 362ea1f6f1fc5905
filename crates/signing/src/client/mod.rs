//! The failover client behind `relyard sign`: signs files on any of several signing servers.
//!
//! For each input: the local cache (by format and input sha256) first; otherwise a round over
//! the servers in a shuffled order, moving to the next on a connection error, a job still
//! pending after the deadline, a bad output hash or a server error; rounds are retried with the
//! back-off of [`RetryPolicy`] (what `relyard retry` uses). Input errors (400, 413) and local
//! errors stop at once. Outputs are written next to the input or into `output_dir`:
//! `<file>.asc`, `<file>.minisig`, `SHA256SUMS` + `SHA256SUMS.asc`, or for embedded formats the
//! signed file under the input's name (in place when there is no `output_dir`).

mod batch;
mod server;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use rand::seq::SliceRandom as _;
use relyard_core::retry::{retry_async, RetryPolicy};
use sha2::{Digest as _, Sha256};
use tokio::sync::Mutex;

pub use batch::{BatchOutcome, BATCH_BYTES, BATCH_FILES, BATCH_FILE_MAX};
pub use server::{hawk_header, ClientError, Input, InputBody, ServerClient, Uploaded};

use crate::formats::Format;

/// What to sign, where, and how patiently.
#[derive(Debug, Clone)]
pub struct SignRequest {
    pub servers: Vec<String>,
    pub format: Format,
    pub files: Vec<PathBuf>,
    pub output_dir: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub credentials: taskcluster::Credentials,
    /// Back-off between rounds over all servers.
    pub retry: RetryPolicy,
    /// A job still pending this long on one server is asked of the next.
    pub pending_deadline: Duration,
    pub token_lifetime: Duration,
    /// Files signed at once.
    pub concurrency: usize,
}

/// Uploads or batches one `relyard sign` keeps in flight unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 4;

impl SignRequest {
    pub fn new(
        servers: Vec<String>,
        format: Format,
        files: Vec<PathBuf>,
        credentials: taskcluster::Credentials,
    ) -> Self {
        Self {
            servers,
            format,
            files,
            output_dir: None,
            cache_dir: None,
            credentials,
            retry: RetryPolicy::http(),
            pending_deadline: Duration::from_secs(300),
            token_lifetime: Duration::from_secs(3600),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// The servers in this run's order, and a token per server (fetched when first needed).
struct Servers {
    order: Vec<ServerClient>,
    tokens: Mutex<HashMap<String, String>>,
}

impl Servers {
    async fn token(&self, req: &SignRequest, server: &ServerClient) -> Result<String, ClientError> {
        let mut tokens = self.tokens.lock().await;
        if let Some(t) = tokens.get(&server.url) {
            return Ok(t.clone());
        }
        let token = server
            .token(&req.credentials, &[req.format], req.token_lifetime)
            .await?;
        tokens.insert(server.url.clone(), token.clone());
        Ok(token)
    }

    async fn forget_token(&self, server: &ServerClient) {
        self.tokens.lock().await.remove(&server.url);
    }

    async fn sign_on(
        &self,
        req: &SignRequest,
        server: &ServerClient,
        input: &Input,
    ) -> Result<Vec<u8>, ClientError> {
        let token = self.token(req, server).await?;
        let run = async {
            let started = std::time::Instant::now();
            let wait = batch::prefer_wait(req);
            match server.upload(&token, req.format, input, Some(wait)).await? {
                Uploaded::Signed(output) => Ok(output),
                Uploaded::Queued => {
                    let left = req.pending_deadline.saturating_sub(started.elapsed());
                    server.fetch(&token, req.format, &input.sha256, left).await
                }
            }
        };
        let result = run.await;
        if let Err(ClientError::Status {
            status: 401 | 403, ..
        }) = &result
        {
            // An expired token, or a server with another key ring: a fresh one next round.
            self.forget_token(server).await;
        }
        result
    }

    /// One round over every server; the last error if none signed.
    async fn round(&self, req: &SignRequest, input: &Input) -> Result<Vec<u8>, ClientError> {
        let mut last = ClientError::Usage("no signing servers given".into());
        for server in &self.order {
            match self.sign_on(req, server, input).await {
                Ok(out) => return Ok(out),
                Err(e) if e.is_final() => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, file = %input.name, "trying the next signing server");
                    last = e;
                }
            }
        }
        Err(last)
    }

    async fn sign(&self, req: &SignRequest, input: &Input) -> Result<Vec<u8>, ClientError> {
        let cached = cache_path(req, &input.sha256);
        if let Some(path) = &cached {
            if let Ok(bytes) = tokio::fs::read(path).await {
                return Ok(bytes);
            }
        }
        let out = retry_async(
            req.retry.delays(),
            || self.round(req, input),
            |e: &ClientError| !e.is_final(),
            |e, failure| {
                tracing::warn!(error = %e, attempt = failure.attempt, sleep = ?failure.sleep, "no signing server signed {}", input.name)
            },
        )
        .await?;
        if let Some(path) = &cached {
            write_atomically(path, &out)?;
        }
        Ok(out)
    }
}

fn cache_path(req: &SignRequest, sha256: &str) -> Option<PathBuf> {
    req.cache_dir
        .as_ref()
        .map(|d| d.join(req.format.as_str()).join(sha256))
}

/// Writes `bytes` to `path` through a temp file in the same folder, so a reader (or a crash)
/// never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(ClientError::io(dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(ClientError::io(dir))?;
    tmp.write_all(bytes).map_err(ClientError::io(path))?;
    tmp.persist(path)
        .map_err(|e| ClientError::io(path)(e.error))?;
    Ok(())
}

fn file_name(path: &Path) -> Result<String, ClientError> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| ClientError::Usage(format!("{}: not a file name in UTF-8", path.display())))
}

fn sha256_file(path: &Path) -> Result<String, ClientError> {
    let mut file = std::fs::File::open(path).map_err(ClientError::io(path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(ClientError::io(path))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Signs every file of `req`, calling `on_signed` after each; returns the files written.
pub async fn sign_files(
    req: &SignRequest,
    on_signed: &(dyn Fn(&Path) + Sync),
) -> Result<Vec<PathBuf>, ClientError> {
    if req.servers.is_empty() {
        return Err(ClientError::Usage("give at least one --server".into()));
    }
    if req.files.is_empty() {
        return Err(ClientError::Usage("give at least one file to sign".into()));
    }
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ClientError::Usage(format!("HTTP client: {e}")))?;
    let mut order: Vec<ServerClient> = req
        .servers
        .iter()
        .map(|url| ServerClient::new(url, http.clone()))
        .collect();
    order.shuffle(&mut rand::thread_rng());
    let servers = Servers {
        order,
        tokens: Mutex::default(),
    };
    if req.format == Format::Sha256sums {
        return sign_manifest(req, &servers, on_signed).await;
    }
    // Small files go in batches (one request and one audit flush for many), large ones alone.
    // The futures are made before they become a stream: a closure inside the stream would make
    // the whole future fail rustc's Send check for any lifetime, and callers spawn it.
    let jobs: Vec<_> = batch::groups(&req.files)?
        .into_iter()
        .map(|group| sign_group(req, &servers, group, on_signed))
        .collect();
    let written: Vec<Vec<PathBuf>> = futures::stream::iter(jobs)
        .buffer_unordered(req.concurrency.max(1))
        .try_collect()
        .await?;
    Ok(written.into_iter().flatten().collect())
}

/// Signs one group of [`batch::groups`]: a file alone (streamed), or a batch of small ones.
async fn sign_group(
    req: &SignRequest,
    servers: &Servers,
    group: Vec<PathBuf>,
    on_signed: &(dyn Fn(&Path) + Sync),
) -> Result<Vec<PathBuf>, ClientError> {
    if let [path] = group.as_slice() {
        if std::fs::metadata(path)
            .map_err(ClientError::io(path))?
            .len()
            > batch::BATCH_FILE_MAX
        {
            return Ok(vec![sign_one_file(req, servers, path, on_signed).await?]);
        }
    }
    let paths = group.clone();
    let inputs = tokio::task::spawn_blocking(move || {
        paths
            .iter()
            .map(|p| batch::read_input(p))
            .collect::<Result<Vec<Input>, ClientError>>()
    })
    .await
    .map_err(|e| ClientError::Usage(format!("reading the files: {e}")))??;
    let outputs = servers.sign_many(req, inputs).await?;
    let mut written = Vec::with_capacity(group.len());
    for (path, output) in group.iter().zip(outputs) {
        let target = target_of(req, path, &file_name(path)?);
        write_atomically(&target, &output)?;
        on_signed(path);
        written.push(target);
    }
    Ok(written)
}

/// Where the output for `path` goes.
fn target_of(req: &SignRequest, path: &Path, name: &str) -> PathBuf {
    match (&req.output_dir, req.format.is_embedded()) {
        (Some(dir), true) => dir.join(name),
        // In place: the signed file takes the input's name.
        (None, true) => path.to_path_buf(),
        (dir, false) => {
            let dir = dir
                .clone()
                .unwrap_or_else(|| path.parent().unwrap_or(Path::new(".")).to_path_buf());
            dir.join(format!("{name}{}", req.format.detached_suffix()))
        }
    }
}

async fn sign_one_file(
    req: &SignRequest,
    servers: &Servers,
    path: &Path,
    on_signed: &(dyn Fn(&Path) + Sync),
) -> Result<PathBuf, ClientError> {
    let name = file_name(path)?;
    let hash_path = path.to_path_buf();
    let sha256 = tokio::task::spawn_blocking(move || sha256_file(&hash_path))
        .await
        .map_err(|e| ClientError::Usage(format!("hashing {}: {e}", path.display())))??;
    let input = Input {
        name: name.clone(),
        sha256,
        body: InputBody::File(path.to_path_buf()),
    };
    let output = servers.sign(req, &input).await?;
    let target = target_of(req, path, &name);
    write_atomically(&target, &output)?;
    on_signed(path);
    Ok(target)
}

/// `sha256sums`: the manifest of the files (by file name) is written as `SHA256SUMS` and signed
/// as one input, giving `SHA256SUMS.asc`; both go to `output_dir`, or beside the first file.
async fn sign_manifest(
    req: &SignRequest,
    servers: &Servers,
    on_signed: &(dyn Fn(&Path) + Sync),
) -> Result<Vec<PathBuf>, ClientError> {
    let mut digests: Vec<(String, [u8; 32])> = Vec::new();
    for path in &req.files {
        let sha = sha256_file(path)?;
        let mut digest = [0u8; 32];
        hex::decode_to_slice(&sha, &mut digest)
            .map_err(|e| ClientError::Usage(format!("sha256 of {}: {e}", path.display())))?;
        digests.push((file_name(path)?, digest));
    }
    let entries: Vec<(&str, [u8; 32])> = digests.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    let manifest = crate::manifest_from_digests(&entries)?;
    let dir = match &req.output_dir {
        Some(d) => d.clone(),
        None => req.files[0]
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf(),
    };
    let input = Input {
        name: crate::MANIFEST_NAME.to_string(),
        sha256: crate::sha256_hex(manifest.as_bytes()),
        body: InputBody::Bytes(bytes::Bytes::from(manifest.clone().into_bytes())),
    };
    let signature = servers.sign(req, &input).await?;
    let manifest_path = dir.join(crate::MANIFEST_NAME);
    let signature_path = dir.join(format!(
        "{}{}",
        crate::MANIFEST_NAME,
        req.format.detached_suffix()
    ));
    write_atomically(&manifest_path, manifest.as_bytes())?;
    write_atomically(&signature_path, &signature)?;
    for path in &req.files {
        on_signed(path);
    }
    Ok(vec![manifest_path, signature_path])
}
