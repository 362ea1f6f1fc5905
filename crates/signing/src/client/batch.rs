//! Many small files in one request (`POST /api/signing/v1/batch/<format>`): the client side.
//! Files up to [`BATCH_FILE_MAX`] go in batches of up to [`BATCH_FILES`] files and
//! [`BATCH_BYTES`]; larger files are uploaded one by one. A server without the batch endpoint
//! (404) is asked file by file.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::server::{ClientError, Input, InputBody, ServerClient};
use super::{file_name, Servers, SignRequest};
use crate::formats::Format;

/// Files larger than this are uploaded on their own (streamed).
pub const BATCH_FILE_MAX: u64 = 256 << 10;
/// Files per batch request. A batch is answered when its last input's audit round is on disk,
/// so the inputs a client has in flight are what keeps the server's signers busy meanwhile:
/// measured with `relyard bench signing` (4 clients × 4 in flight, gpg), 256 per batch gave
/// 52–58 % of the raw Ed25519 rate where 64 gave 43–49 %. The server takes up to 512.
pub const BATCH_FILES: usize = 256;
const _: () = assert!(BATCH_FILES <= crate::server::BATCH_MAX_INPUTS);
/// Bytes of input per batch request (the server takes up to 16 MiB of base64 JSON).
pub const BATCH_BYTES: u64 = 4 << 20;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What the server said about one input of a batch.
#[derive(Debug)]
pub enum BatchOutcome {
    /// The output, its hash checked.
    Signed(Vec<u8>),
    /// Not signed within the server's wait: fetch it.
    Pending,
    /// What a single upload would have answered (400: the format refused it).
    Failed { status: u16, message: String },
}

/// The request body, serialized straight from the inputs (no intermediate JSON values).
#[derive(Serialize)]
struct Request<'a> {
    inputs: Vec<RequestItem<'a>>,
}

#[derive(Serialize)]
struct RequestItem<'a> {
    name: &'a str,
    sha256: &'a str,
    data: String,
}

/// Borrowing from the answer's body where the JSON has no escapes (base64 and hex never do).
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    results: Vec<AnswerItem<'a>>,
}

#[derive(Deserialize)]
struct AnswerItem<'a> {
    #[serde(borrow)]
    sha256: Cow<'a, str>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow)]
    output: Option<Cow<'a, str>>,
    #[serde(borrow)]
    output_sha256: Option<Cow<'a, str>>,
    error: Option<AnswerError>,
}

#[derive(Deserialize)]
struct AnswerError {
    status: u16,
    message: String,
}

impl ServerClient {
    /// Sends `inputs` (in memory) as one batch; one outcome per input, in order.
    pub async fn sign_batch(
        &self,
        token: &str,
        format: Format,
        inputs: &[Input],
    ) -> Result<Vec<BatchOutcome>, ClientError> {
        let mut items = Vec::with_capacity(inputs.len());
        for input in inputs {
            let data = match &input.body {
                InputBody::Bytes(b) => b.clone(),
                InputBody::File(path) => {
                    Bytes::from(tokio::fs::read(path).await.map_err(ClientError::io(path))?)
                }
            };
            items.push(RequestItem {
                name: &input.name,
                sha256: &input.sha256,
                data: B64.encode(&data),
            });
        }
        let resp = self
            .http()
            .post(format!("{}/api/signing/v1/batch/{format}", self.url))
            .bearer_auth(token)
            .json(&Request { inputs: items })
            .send()
            .await
            .map_err(|e| self.connect_error(e))?;
        if !resp.status().is_success() {
            return Err(self.error_of(resp).await);
        }
        let bad = |message: String| ClientError::Status {
            server: self.url.clone(),
            status: 502,
            message: format!("a bad batch answer: {message}"),
        };
        let body = resp.bytes().await.map_err(|e| self.connect_error(e))?;
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|e| bad(format!("not the expected JSON: {e}")))?;
        if answer.results.len() != inputs.len() {
            return Err(bad(format!(
                "{} results for {} inputs",
                answer.results.len(),
                inputs.len()
            )));
        }
        let mut outcomes = Vec::with_capacity(inputs.len());
        for (input, item) in inputs.iter().zip(answer.results) {
            if item.sha256 != input.sha256 {
                return Err(bad(format!(
                    "result for {} in {}'s place",
                    item.sha256, input.sha256
                )));
            }
            outcomes.push(match (item.status.as_ref(), item.output, item.error) {
                ("done", Some(output), _) => {
                    let output = B64
                        .decode(output.as_bytes())
                        .map_err(|e| bad(format!("output not base64: {e}")))?;
                    let claimed = item.output_sha256.unwrap_or_default().to_ascii_lowercase();
                    BatchOutcome::Signed(self.checked(output, claimed)?)
                }
                ("pending", _, _) => BatchOutcome::Pending,
                ("failed", _, Some(e)) => BatchOutcome::Failed {
                    status: e.status,
                    message: e.message,
                },
                (other, _, _) => return Err(bad(format!("status `{other}`"))),
            });
        }
        Ok(outcomes)
    }
}

impl Servers {
    /// Signs `inputs` on `server`: one batch, then the pending ones fetched one by one.
    async fn batch_on(
        &self,
        req: &SignRequest,
        server: &ServerClient,
        inputs: &[Input],
    ) -> Result<Vec<Vec<u8>>, ClientError> {
        let token = self.token(req, server).await?;
        let outcomes = match server.sign_batch(&token, req.format, inputs).await {
            Ok(o) => o,
            // A server from before batches: file by file.
            Err(ClientError::Status { status: 404, .. }) => {
                let mut outputs = Vec::with_capacity(inputs.len());
                for input in inputs {
                    outputs.push(self.sign_on(req, server, input).await?);
                }
                return Ok(outputs);
            }
            Err(e) => {
                if let ClientError::Status {
                    status: 401 | 403, ..
                } = &e
                {
                    self.forget_token(server).await;
                }
                return Err(e);
            }
        };
        let mut outputs = Vec::with_capacity(inputs.len());
        for (input, outcome) in inputs.iter().zip(outcomes) {
            outputs.push(match outcome {
                BatchOutcome::Signed(output) => output,
                BatchOutcome::Pending => {
                    server
                        .fetch(&token, req.format, &input.sha256, req.pending_deadline)
                        .await?
                }
                BatchOutcome::Failed { status, message } => {
                    return Err(ClientError::Status {
                        server: server.url.clone(),
                        status,
                        message: format!("{}: {message}", input.name),
                    })
                }
            });
        }
        Ok(outputs)
    }

    /// Signs `inputs` with failover and retries like [`Servers::sign`], answering from the
    /// cache what it holds; outputs in the order of `inputs`.
    pub(super) async fn sign_many(
        &self,
        req: &SignRequest,
        inputs: Vec<Input>,
    ) -> Result<Vec<Vec<u8>>, ClientError> {
        let mut outputs: Vec<Option<Vec<u8>>> = Vec::with_capacity(inputs.len());
        let mut missing = Vec::new();
        for (i, input) in inputs.iter().enumerate() {
            let cached = match super::cache_path(req, &input.sha256) {
                Some(path) => tokio::fs::read(path).await.ok(),
                None => None,
            };
            if cached.is_none() {
                missing.push((i, input.clone()));
            }
            outputs.push(cached);
        }
        if !missing.is_empty() {
            let asked: Vec<Input> = missing.iter().map(|(_, input)| input.clone()).collect();
            let signed = relyard_core::retry::retry_async(
                req.retry.delays(),
                || self.batch_round(req, &asked),
                |e: &ClientError| !e.is_final(),
                |e, failure| {
                    tracing::warn!(error = %e, attempt = failure.attempt, sleep = ?failure.sleep, "no signing server signed a batch of {}", asked.len())
                },
            )
            .await?;
            for ((i, input), output) in missing.into_iter().zip(signed) {
                if let Some(path) = super::cache_path(req, &input.sha256) {
                    super::write_atomically(&path, &output)?;
                }
                outputs[i] = Some(output);
            }
        }
        Ok(outputs.into_iter().flatten().collect())
    }

    /// One round over every server; the last error if none signed the batch.
    async fn batch_round(
        &self,
        req: &SignRequest,
        inputs: &[Input],
    ) -> Result<Vec<Vec<u8>>, ClientError> {
        let mut last = ClientError::Usage("no signing servers given".into());
        for server in &self.order {
            match self.batch_on(req, server, inputs).await {
                Ok(out) => return Ok(out),
                Err(e) if e.is_final() => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "trying the next signing server for a batch");
                    last = e;
                }
            }
        }
        Err(last)
    }
}

/// The files of a request in signing groups: batches of small files, and large files alone.
pub(super) fn groups(files: &[PathBuf]) -> Result<Vec<Vec<PathBuf>>, ClientError> {
    let mut groups = Vec::new();
    let mut batch: Vec<PathBuf> = Vec::new();
    let mut batch_bytes = 0;
    for path in files {
        let size = std::fs::metadata(path)
            .map_err(ClientError::io(path))?
            .len();
        if size > BATCH_FILE_MAX {
            groups.push(vec![path.clone()]);
            continue;
        }
        if batch.len() == BATCH_FILES || batch_bytes + size > BATCH_BYTES {
            groups.push(std::mem::take(&mut batch));
            batch_bytes = 0;
        }
        batch_bytes += size;
        batch.push(path.clone());
    }
    if !batch.is_empty() {
        groups.push(batch);
    }
    Ok(groups)
}

/// A small file read whole, with its name and sha256.
pub(super) fn read_input(path: &Path) -> Result<Input, ClientError> {
    let bytes = std::fs::read(path).map_err(ClientError::io(path))?;
    Ok(Input {
        name: file_name(path)?,
        sha256: crate::sha256_hex(&bytes),
        body: InputBody::Bytes(Bytes::from(bytes)),
    })
}

/// How long an upload asks the server to hold the answer for the output (`Prefer: wait`); the
/// server caps it at its long-poll time, and a job pending longer is fetched as before.
pub(super) fn prefer_wait(req: &SignRequest) -> Duration {
    req.pending_deadline.min(Duration::from_secs(30))
}
