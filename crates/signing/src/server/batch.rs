//! `POST /api/signing/v1/batch/<format>`: many small inputs in one request, so that a signature
//! costs a share of one HTTP exchange and one audit fsync instead of two requests and a flush
//! of its own. Every input is checked (name, size, hash) before anything is signed: one bad
//! input refuses the whole batch. Inputs are signed once, like uploads (already stored → from
//! the store; being signed → joined), and the answer waits up to the long-poll time; anything
//! still pending then is fetched with `GET /api/signing/v1/sign/<format>/<sha256>`.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State as Extract};
use axum::http::HeaderMap;
use axum::Json;
use base64::Engine as _;
use bytes::Bytes;
use relyard_core::ApiError;
use serde::{Deserialize, Serialize};

use super::http::{check_token, forbidden, format_of, outcome_of, stored, Outcome};
use super::jobs::{wait_all, Started};
use super::run::Work;
use super::upload::{too_large, Received};
use super::State;
use crate::access::canonical_ip;
use crate::Sha256Digest;

/// At most this many inputs in one batch.
pub const BATCH_MAX_INPUTS: usize = 512;
/// At most this many bytes of request body (JSON, base64 inputs).
pub const BATCH_MAX_BYTES: usize = 16 << 20;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Borrowing from the request body where the JSON has no escapes (base64 and hex never do),
/// so an input costs no string copies before it is decoded.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest<'a> {
    #[serde(borrow)]
    inputs: Vec<BatchInput<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchInput<'a> {
    /// The file name, checked against the format's allow-list.
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    sha256: Cow<'a, str>,
    /// The input, base64.
    #[serde(borrow)]
    data: Cow<'a, str>,
}

/// The answer: one result per input, in request order.
#[derive(Serialize, Debug)]
pub struct BatchAnswer {
    results: Vec<BatchResult>,
}

#[derive(Serialize, Debug)]
pub struct BatchResult {
    sha256: Sha256Digest,
    /// `done`, `pending` or `failed`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_sha256: Option<Sha256Digest>,
    /// For `failed`: the HTTP status a single upload would have had (400: the format refused
    /// the input; 500: a server fault) and its message.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<BatchError>,
}

#[derive(Serialize, Debug)]
struct BatchError {
    status: u16,
    message: String,
}

pub(super) async fn sign_batch(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(format): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BatchAnswer>, ApiError> {
    let ip = canonical_ip(peer.ip());
    let format = format_of(&state, &format)?;
    let claims = check_token(&state, &headers, ip, format)?;
    let policy = &state.formats[&format];
    let raw = axum::body::to_bytes(body, BATCH_MAX_BYTES)
        .await
        .map_err(|_| ApiError::too_large(format!("a batch is at most {BATCH_MAX_BYTES} bytes")))?;
    let request: BatchRequest = serde_json::from_slice(&raw).map_err(|e| {
        ApiError::malformed(format!(
            "batch: {e} (want {{inputs: [{{name, sha256, data}}]}})"
        ))
    })?;
    if request.inputs.is_empty() || request.inputs.len() > BATCH_MAX_INPUTS {
        return Err(ApiError::invalid_arguments(format!(
            "a batch has 1 to {BATCH_MAX_INPUTS} inputs, not {}",
            request.inputs.len()
        )));
    }

    // Every input is checked before any is signed.
    let mut received = Vec::with_capacity(request.inputs.len());
    for (i, input) in request.inputs.into_iter().enumerate() {
        let what = format!("input {i} (`{}`)", input.name);
        if !policy.filenames.allows(&input.name) {
            return Err(forbidden(format!(
                "{what}: the file name is not on the allow-list for {format}"
            )));
        }
        let expected = Sha256Digest::parse_hex(&input.sha256)
            .ok_or_else(|| ApiError::input(format!("{what}: sha256 must be 64 hex digits")))?;
        let data = B64
            .decode(input.data.as_bytes())
            .map_err(|e| ApiError::input(format!("{what}: data is not base64: {e}")))?;
        if data.len() as u64 > policy.max_size {
            return Err(too_large(policy.max_size));
        }
        let body = Received::from_bytes(Bytes::from(data));
        if body.sha256 != expected {
            return Err(ApiError::input(format!(
                "{what}: its sha256 is {}, not the declared {expected}",
                body.sha256
            )));
        }
        received.push(body);
    }

    // Subscribed before anything is signed, so no job can end unseen; inputs already stored
    // have no waiter and are read from the store.
    let mut keys = Vec::with_capacity(received.len());
    let mut waiters = Vec::with_capacity(received.len());
    let mut stored_keys = Vec::new();
    let mut work = Vec::new();
    for input in received {
        let Some(key) = state.result_key(format, input.sha256) else {
            return Err(ApiError::internal(format!("no signer for {format}")));
        };
        waiters.push(if state.results.contains(&key) {
            stored_keys.push(key.clone());
            None
        } else {
            Some(match state.jobs.start(&key) {
                Started::Joined(waiter) => waiter,
                Started::New(waiter) => {
                    work.push(Work {
                        key: key.clone(),
                        input,
                    });
                    waiter
                }
            })
        });
        keys.push(key);
    }
    tracing::debug!(%format, inputs = keys.len(), new = work.len(), "batch queued");
    state.pool.sign(work, claims);

    // In request order, like the inputs without a waiter they answer.
    let mut from_store = stored(&state, stored_keys).await.into_iter();
    let jobs = wait_all(waiters, state.long_poll).await;
    let results: Vec<BatchResult> = keys
        .into_iter()
        .zip(jobs)
        .map(|(key, job)| {
            let outcome = match job {
                Some(job) => outcome_of(job),
                None => from_store.next().unwrap_or(Ok(Outcome::Unknown)),
            };
            result_of(key.input_sha256, outcome)
        })
        .collect();
    Ok(Json(BatchAnswer { results }))
}

fn result_of(sha256: Sha256Digest, outcome: Result<Outcome, ApiError>) -> BatchResult {
    let mut result = BatchResult {
        sha256,
        status: "pending",
        output: None,
        output_sha256: None,
        error: None,
    };
    match outcome {
        Ok(Outcome::Signed { output, sha256 }) => {
            result.status = "done";
            result.output_sha256 = Some(sha256);
            result.output = Some(B64.encode(&output));
        }
        Ok(Outcome::Pending) => {}
        Ok(Outcome::Unknown) => {
            // Signed and then lost (e.g. evicted at once by a tiny store): a fault here.
            result.status = "failed";
            result.error = Some(BatchError {
                status: 500,
                message: "the result was not kept; send the input again".into(),
            });
        }
        Err(e) => {
            result.status = "failed";
            result.error = Some(BatchError {
                status: e.status().as_u16(),
                message: e.message,
            });
        }
    }
    result
}
