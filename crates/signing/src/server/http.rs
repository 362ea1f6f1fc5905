//! The signing server's routes; handlers parse, check access, call and answer. Errors are
//! Taskcluster's JSON shape ([`ApiError`]); every access refusal is a 403 that does not say
//! which check failed (the server's log does).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State as Extract};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use chrono::Utc;
use relyard_core::error::ErrorCode;
use relyard_core::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::jobs::{JobState, Started};
use super::run::Work;
use super::upload::{self, too_large};
use super::State;
use crate::access::{canonical_ip, Claims};
use crate::formats::Format;
use crate::results::ResultKey;
use crate::Sha256Digest;
use relyard_auth::hawk_verify::HawkInput;

type Shared = Extract<Arc<State>>;

/// The header a client sends its input's sha256 in, and the server its output's.
pub const CONTENT_SHA256: &str = "x-content-sha256";
pub const FILENAME: &str = "x-filename";
pub const SIGNING_TOKEN: &str = "x-signing-token";

pub(super) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/api/signing/v1/token", post(token))
        .route("/api/signing/v1/sign/{format}", post(upload_input))
        .route("/api/signing/v1/sign/{format}/{sha256}", get(fetch_result))
        .route(
            "/api/signing/v1/batch/{format}",
            post(super::batch::sign_batch),
        )
        .route("/__heartbeat__", get(heartbeat))
        .route("/__lbheartbeat__", get(|| async { Json(json!({})) }))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(from_fn_with_state(Arc::clone(&state), allowed_networks))
        .layer(from_fn(relyard_core::error::request_info_layer))
        .with_state(state)
}

pub(super) fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InsufficientScopes, message)
}

fn caller(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| canonical_ip(addr.ip()))
}

/// Before anything else: a caller outside the allowed networks gets 403 and nothing more.
async fn allowed_networks(Extract(state): Shared, req: Request, next: Next) -> Response {
    let Some(ip) = caller(&req) else {
        return ApiError::internal("no peer address on the connection").into_response();
    };
    if let Err(e) = state.access.check_network(ip) {
        tracing::info!(%ip, "refused: not in the allowed networks");
        return forbidden(e.to_string()).into_response();
    }
    next.run(req).await
}

pub(super) fn format_of(state: &State, name: &str) -> Result<Format, ApiError> {
    let format: Format = name
        .parse()
        .map_err(|e: crate::SigningError| ApiError::invalid_arguments(e.to_string()))?;
    if !state.formats.contains_key(&format) {
        return Err(ApiError::not_found(format!(
            "this server does not sign {format}"
        )));
    }
    Ok(format)
}

/// The signing token of the request (`Authorization: Bearer …` or `X-Signing-Token`), checked
/// for `format` from `ip`.
pub(super) fn check_token(
    state: &State,
    headers: &HeaderMap,
    ip: IpAddr,
    format: Format,
) -> Result<Claims, ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let token = bearer.or_else(|| headers.get(SIGNING_TOKEN).and_then(|v| v.to_str().ok()));
    let Some(token) = token else {
        return Err(ApiError::unauthenticated(
            "a signing token is needed (Authorization: Bearer <token> or X-Signing-Token)",
        ));
    };
    state
        .access
        .check(token.trim(), ip, format, Utc::now())
        .map_err(|e| {
            tracing::info!(%ip, %format, reason = %e, "signing token refused");
            forbidden(format!(
                "the signing token does not allow signing {format} from {ip}"
            ))
        })
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Lifetime {
    Seconds(u64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    formats: Vec<String>,
    duration: Lifetime,
}

fn host_and_port(headers: &HeaderMap) -> Result<(String, u16), ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::input("the request has no Host header"))?;
    let authority: http::uri::Authority = host
        .parse()
        .map_err(|_| ApiError::input(format!("bad Host header `{host}`")))?;
    Ok((
        authority.host().trim_matches(['[', ']']).to_string(),
        authority.port_u16().unwrap_or(80),
    ))
}

/// `POST /api/signing/v1/token {formats, duration}`: for a caller relyard auth authenticates
/// holding `signing:token:<format>` for every format asked.
async fn token(
    Extract(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let ip = canonical_ip(peer.ip());
    let (parts, body) = req.into_parts();
    let (host, port) = host_and_port(&parts.headers)?;
    let resource = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string());
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let who = state
        .auth
        .authenticate(
            &HawkInput {
                method: parts.method.as_str(),
                resource: &resource,
                host: &host,
                port,
                authorization,
                payload: None,
            },
            ip,
        )
        .await?;

    let raw = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| ApiError::too_large("a token request is at most 64 KiB"))?;
    let request: TokenRequest = serde_json::from_slice(&raw).map_err(|e| {
        ApiError::malformed(format!("token request: {e} (want {{formats, duration}})"))
    })?;
    let lifetime = match request.duration {
        Lifetime::Seconds(s) => Duration::from_secs(s),
        Lifetime::Text(t) => humantime::parse_duration(&t)
            .map_err(|e| ApiError::invalid_arguments(format!("duration `{t}`: {e}")))?,
    };
    let mut formats = Vec::new();
    for name in &request.formats {
        formats.push(format_of(&state, name)?);
    }
    let required: Vec<String> = formats
        .iter()
        .map(|f| format!("signing:token:{f}"))
        .collect();
    let missing: Vec<&String> = required
        .iter()
        .filter(|r| !relyard_auth::scopes::scope_satisfied(&who.scopes, r))
        .collect();
    if !missing.is_empty() {
        return Err(forbidden(format!(
            "client `{}` lacks the scopes {missing:?} for this token",
            who.client_id
        ))
        .with_details(json!({ "required": required, "unsatisfied": missing })));
    }
    let now = Utc::now();
    let token = state
        .access
        .issue(&who.client_id, ip, &formats, lifetime, now)
        .map_err(|e| match e {
            crate::AccessError::Issue(e) => ApiError::invalid_arguments(e.to_string()),
            other => forbidden(other.to_string()),
        })?;
    let expires = now + chrono::Duration::seconds(lifetime.as_secs() as i64);
    tracing::info!(client = %who.client_id, %ip, ?request.formats, "signing token issued");
    Ok(Json(
        json!({ "token": token, "expires": expires.to_rfc3339() }),
    ))
}

pub(super) fn accepted(sha256: &Sha256Digest, status: &str) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(json!({ "sha256": sha256, "status": status })),
    )
        .into_response()
}

/// `POST /api/signing/v1/sign/<format>`: the input, streamed; → 202 `{sha256, status}`, or with
/// `Prefer: wait=N` 200 and the output when it is signed within N seconds.
async fn upload_input(
    Extract(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(format): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let ip = canonical_ip(peer.ip());
    let format = format_of(&state, &format)?;
    let claims = check_token(&state, &headers, ip, format)?;
    let policy = &state.formats[&format];

    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let expected = header_text(CONTENT_SHA256)
        .and_then(Sha256Digest::parse_hex)
        .ok_or_else(|| ApiError::input("X-Content-SHA256 (64 hex digits) is required"))?;
    let filename =
        header_text(FILENAME).ok_or_else(|| ApiError::input("X-Filename is required"))?;
    if !policy.filenames.allows(filename) {
        return Err(forbidden(format!(
            "file name `{filename}` is not on the allow-list for {format}"
        )));
    }
    let declared = header_text(header::CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > policy.max_size) {
        return Err(too_large(policy.max_size));
    }

    let received = upload::receive(body, state.results.tmp_dir(), policy.max_size).await?;
    if received.sha256 != expected {
        return Err(ApiError::input(format!(
            "the body's sha256 is {}, not the X-Content-SHA256 {expected}",
            received.sha256
        )));
    }
    let Some(key) = state.result_key(format, received.sha256) else {
        return Err(ApiError::internal(format!("no signer for {format}")));
    };
    let wait = prefer_wait(&headers).map(|w| w.min(state.long_poll));
    let already = state.results.contains(&key);
    let waiter = if already {
        None
    } else {
        Some(match state.jobs.start(&key) {
            Started::Joined(waiter) => waiter,
            Started::New(waiter) => {
                tracing::debug!(%format, sha256 = %key.input_sha256, size = received.size, file = %filename, "queued");
                let work = Work {
                    key: key.clone(),
                    input: received,
                };
                state.pool.sign(vec![work], claims);
                waiter
            }
        })
    };
    // `Prefer: wait=N`: answer with the output itself when it is ready within N seconds.
    if let Some(wait) = wait {
        let outcome = match waiter {
            Some(waiter) => outcome_of(waiter.wait(wait).await)?,
            None => stored_one(&state, &key).await?,
        };
        if let Outcome::Signed { output, sha256 } = outcome {
            return Ok(signed_response(output, &sha256));
        }
    }
    Ok(accepted(
        &key.input_sha256,
        if already { "done" } else { "pending" },
    ))
}

/// The seconds of an RFC 7240 `Prefer: wait=N` header, if any (other preferences are ignored).
fn prefer_wait(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .find_map(|p| {
            let (name, value) = p.split_once('=')?;
            (name.trim().eq_ignore_ascii_case("wait"))
                .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        })
        .map(Duration::from_secs)
}

/// Where the signature of one input stands after waiting up to `wait` for its job.
pub(super) enum Outcome {
    Signed {
        output: Bytes,
        sha256: Sha256Digest,
    },
    Pending,
    /// No job and nothing stored: never uploaded, expired, or a damaged record forgotten.
    Unknown,
}

/// What the end of a job means for its callers: a failure is an error, 400 when the format
/// refused the input, else 500.
pub(super) fn outcome_of(job: JobState) -> Result<Outcome, ApiError> {
    match job {
        JobState::Pending => Ok(Outcome::Pending),
        JobState::Done { output, sha256 } => Ok(Outcome::Signed { output, sha256 }),
        JobState::Failed {
            bad_input: true,
            message,
        } => Err(ApiError::input(message)),
        JobState::Failed { message, .. } => Err(ApiError::internal(message)),
    }
}

/// The stored results of `keys` (`Unknown` where there is none), read in one blocking task;
/// one outcome per key, so that a read error fails only its own input.
pub(super) async fn stored(state: &State, keys: Vec<ResultKey>) -> Vec<Result<Outcome, ApiError>> {
    let count = keys.len();
    if count == 0 {
        return Vec::new();
    }
    let results = Arc::clone(&state.results);
    let read = tokio::task::spawn_blocking(move || {
        keys.iter().map(|key| results.get(key)).collect::<Vec<_>>()
    })
    .await;
    let outputs = match read {
        Ok(outputs) => outputs,
        Err(e) => {
            let message = format!("reading the result store: {e}");
            return (0..count)
                .map(|_| Err(ApiError::internal(&message)))
                .collect();
        }
    };
    outputs
        .into_iter()
        .map(|output| match output {
            Ok(Some(output)) => Ok(Outcome::Signed {
                sha256: Sha256Digest::of(&output),
                output: Bytes::from(output),
            }),
            Ok(None) => Ok(Outcome::Unknown),
            Err(e) => Err(ApiError::internal(e)),
        })
        .collect()
}

/// The stored result of one key; see [`stored`].
async fn stored_one(state: &State, key: &ResultKey) -> Result<Outcome, ApiError> {
    stored(state, vec![key.clone()])
        .await
        .pop()
        .unwrap_or(Ok(Outcome::Unknown))
}

/// Waits up to `wait` for the job of `key`, else looks in the result store.
async fn outcome(state: &State, key: &ResultKey, wait: Duration) -> Result<Outcome, ApiError> {
    match state.jobs.wait(key, wait).await {
        Some(job) => outcome_of(job),
        None => stored_one(state, key).await,
    }
}

/// 200 with the signed bytes and their `X-Content-SHA256`.
fn signed_response(output: Bytes, sha256: &Sha256Digest) -> Response {
    let mut resp = (StatusCode::OK, output).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&sha256.to_hex()) {
        h.insert(CONTENT_SHA256, v);
    }
    resp
}

/// `GET /api/signing/v1/sign/<format>/<sha256>`: waits up to the long-poll time for the job,
/// then 200 with the output (and its `X-Content-SHA256`), 202 while pending, 404 if unknown.
async fn fetch_result(
    Extract(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((format, sha256)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ip = canonical_ip(peer.ip());
    let format = format_of(&state, &format)?;
    check_token(&state, &headers, ip, format)?;
    let sha256 = Sha256Digest::parse_hex(&sha256)
        .ok_or_else(|| ApiError::invalid_arguments("the sha256 must be 64 hex digits"))?;
    let Some(key) = state.result_key(format, sha256) else {
        return Err(ApiError::internal(format!("no signer for {format}")));
    };
    match outcome(&state, &key, state.long_poll).await? {
        Outcome::Signed { output, sha256 } => Ok(signed_response(output, &sha256)),
        Outcome::Pending => Ok(accepted(&key.input_sha256, "pending")),
        Outcome::Unknown => Err(ApiError::not_found(format!(
            "no {format} signature of {} here (upload it first)",
            key.input_sha256
        ))),
    }
}

/// Every key still signs and verifies (its start-up proof, again); 500 naming each that does not.
async fn heartbeat(Extract(state): Shared) -> Response {
    // The proofs are signatures too: they run on a signer thread, so frequent heartbeats
    // cannot take more CPU than `pool_size` allows.
    match state.pool.prove().await {
        Some(Ok(())) => Json(json!({})).into_response(),
        Some(Err(messages)) => {
            tracing::error!(?messages, "heartbeat: a key no longer signs");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "keys": "failing", "failures": messages })),
            )
                .into_response()
        }
        None => ApiError::unavailable("the server is shutting down").into_response(),
    }
}
