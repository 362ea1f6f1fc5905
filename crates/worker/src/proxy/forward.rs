//! Forwarding a task's API call to the deployment, re-signed with the task's credentials.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use relyard_core::retry::{retry_async, RetryPolicy};
use url::Url;

use super::signer::Signer;
use super::{ProxyError, ProxyState};

/// Largest request body forwarded: the server's own limit for bodies it checks the hash of.
/// Bodies are read whole so that they can be hashed into the signature and sent again on a retry;
/// API bodies are small JSON, and artifacts go straight to their `putUrl`, not through here.
pub const MAX_REQUEST_BODY: usize = 64 * 1024 * 1024;

/// Headers that describe one connection rather than the message, so they are never relayed.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Where a task's request goes: `/api/<service>/<version>/<rest>` and the legacy
/// `/<service>/<version>/<rest>` (from before rootUrls, when each service had a host of its own)
/// both become `<rootUrl>/api/<service>/<version>/<rest>`, query included. `None` for any other
/// path. The version must look like `v1` so that stray paths (`/favicon.ico/x/y`) are not taken
/// for legacy calls; taskcluster-proxy's third form, `/<hostname>/<path>` to any host, is not
/// offered, since it would sign the task's credentials for servers outside the deployment.
pub fn api_target(root_url: &str, path_and_query: &str) -> Option<Url> {
    let rest = path_and_query.strip_prefix('/')?;
    let rest = rest.strip_prefix("api/").unwrap_or(rest);
    let (service, rest) = rest.split_once('/')?;
    let (version, rest) = rest.split_once('/')?;
    let service_ok = !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let version_ok = version
        .strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !service_ok || !version_ok {
        return None;
    }
    Url::parse(&format!(
        "{}/api/{service}/{version}/{rest}",
        root_url.trim_end_matches('/')
    ))
    .ok()
}

/// Sends the task's request to `target` and relays the answer: status, headers and a streamed
/// body, untouched. Redirects are passed back rather than followed, as taskcluster-proxy does:
/// the task's own client decides, and the proxy's credentials never go to the redirect target.
/// Connection failures and 5xx answers are retried, as taskcluster-proxy does too, so that a
/// task's plain `curl` survives a server restart; the last answer is passed on as it is.
pub(super) async fn forward(
    state: &ProxyState,
    target: Url,
    req: Request,
) -> Result<Response, ProxyError> {
    // Taken once: retries of this call keep the credentials it started with.
    let signer = state.signer();
    let (parts, body) = req.into_parts();
    let body = read_body(&parts, body).await?;
    let headers = request_headers(&parts.headers, !body.is_empty());
    let content_type = hawk_content_type(&headers);
    let payload = (!body.is_empty()).then(|| (content_type.as_str(), body.as_ref()));

    let outcome = retry_async(
        RetryPolicy::http().delays(),
        || async {
            match send(state, &signer, &parts, &target, &headers, payload, &body).await {
                Ok(resp) if resp.status().is_server_error() => Err(Attempt::ServerError(resp)),
                Ok(resp) => Ok(resp),
                Err(err) => Err(Attempt::Failed(err)),
            }
        },
        |attempt| match attempt {
            Attempt::ServerError(_) => true,
            Attempt::Failed(err) => matches!(err, ProxyError::Upstream { .. }),
        },
        |attempt, failure| match attempt {
            Attempt::ServerError(resp) => {
                tracing::debug!(%target, status = %resp.status(), ?failure, "upstream error")
            }
            Attempt::Failed(err) => {
                tracing::debug!(%target, error = %err, ?failure, "upstream unreachable")
            }
        },
    )
    .await;
    match outcome {
        Ok(resp) | Err(Attempt::ServerError(resp)) => Ok(relay(resp, &target)),
        Err(Attempt::Failed(err)) => Err(err),
    }
}

/// How one attempt ended when it was not a plain answer.
enum Attempt {
    /// A 5xx: worth another try, and passed to the task as it is if it is the last.
    ServerError(reqwest::Response),
    Failed(ProxyError),
}

async fn send(
    state: &ProxyState,
    signer: &Signer,
    parts: &Parts,
    target: &Url,
    headers: &HeaderMap,
    payload: Option<(&str, &[u8])>,
    body: &Bytes,
) -> Result<reqwest::Response, ProxyError> {
    // Signed afresh for each attempt: Hawk timestamps and nonces are per request.
    let authorization = signer.authorization(parts.method.as_str(), target, payload)?;
    state
        .http()
        .request(parts.method.clone(), target.clone())
        .headers(headers.clone())
        .header(header::AUTHORIZATION, authorization)
        .body(body.clone())
        .send()
        .await
        .map_err(|source| ProxyError::Upstream {
            target: target.to_string(),
            source,
        })
}

async fn read_body(parts: &Parts, body: Body) -> Result<Bytes, ProxyError> {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BODY as u64) {
        return Err(ProxyError::BodyTooLarge);
    }
    axum::body::to_bytes(body, MAX_REQUEST_BODY)
        .await
        .map_err(|err| {
            let too_large = err
                .into_inner()
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            if too_large {
                ProxyError::BodyTooLarge
            } else {
                ProxyError::BodyUnreadable
            }
        })
}

/// The task's headers as sent on: without its `Authorization` (the proxy signs instead), and
/// without those that describe the task's connection to the proxy rather than the call. The
/// `X-Forwarded-*` family goes too: the server would take the signed host and port from it.
fn request_headers(from_task: &HeaderMap, has_body: bool) -> HeaderMap {
    let mut headers = without_hop_by_hop(from_task);
    for name in [
        header::HOST,
        header::AUTHORIZATION,
        header::CONTENT_LENGTH,
        header::EXPECT,
        header::FORWARDED,
    ] {
        headers.remove(name);
    }
    let forwarded: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("x-forwarded-"))
        .cloned()
        .collect();
    for name in forwarded {
        headers.remove(name);
    }
    // Taskcluster's APIs take JSON, and taskcluster-proxy labels unlabelled bodies so for the
    // tasks that post with `curl -d` (taskcluster#3521).
    if has_body && !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    headers
}

/// The content type as Hawk's payload hash covers it (and the server recomputes it): lower case,
/// without parameters.
fn hawk_content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `headers` less the hop-by-hop ones, including any the `Connection` header names.
fn without_hop_by_hop(headers: &HeaderMap) -> HeaderMap {
    let named_by_connection: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    let mut kept = headers.clone();
    for name in HOP_BY_HOP
        .iter()
        .copied()
        .chain(named_by_connection.iter().map(String::as_str))
    {
        kept.remove(name);
    }
    kept
}

/// The upstream answer as the task gets it; the body streams, so large artifacts are not held
/// in memory.
fn relay(resp: reqwest::Response, target: &Url) -> Response {
    let status = resp.status();
    let mut headers = without_hop_by_hop(resp.headers());
    if let Ok(endpoint) = HeaderValue::from_str(target.as_str()) {
        headers.insert(HeaderName::from_static("x-taskcluster-endpoint"), endpoint);
    }
    let mut out = Response::new(Body::from_stream(resp.bytes_stream()));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Option<String> {
        api_target("https://tc.example.com/", path).map(|u| u.to_string())
    }

    #[test]
    fn api_and_legacy_paths_go_to_the_root_url() {
        for (path, url) in [
            (
                "/api/secrets/v1/secret/a%2Fb?x=1&y=%20",
                "https://tc.example.com/api/secrets/v1/secret/a%2Fb?x=1&y=%20",
            ),
            (
                "/queue/v1/task/abc/status",
                "https://tc.example.com/api/queue/v1/task/abc/status",
            ),
            (
                "/api/worker-manager/v1/",
                "https://tc.example.com/api/worker-manager/v1/",
            ),
        ] {
            assert_eq!(target(path).as_deref(), Some(url), "{path}");
        }
    }

    #[test]
    fn other_paths_are_not_api_calls() {
        for path in [
            "/",
            "/bewit",
            "/credentials",
            "/api/queue/v1",
            "/api/queue",
            "/queue/v1",
            "/favicon.ico/x/y",
            "/api/queue/latest/ping",
            "/api//v1/ping",
            "/example.com/v1/ping",
            "/api/que?ue/v1/ping",
        ] {
            assert_eq!(target(path), None, "{path}");
        }
    }

    #[test]
    fn a_root_url_with_a_path_keeps_it() {
        assert_eq!(
            api_target("http://127.0.0.1:8080/tc", "/api/auth/v1/ping").map(|u| u.to_string()),
            Some("http://127.0.0.1:8080/tc/api/auth/v1/ping".to_string())
        );
    }

    #[test]
    fn the_task_authorization_and_connection_headers_stay_behind() {
        let mut from_task = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Hawk id=\"x\""),
            ("host", "127.0.0.1:1234"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("x-forwarded-proto", "https"),
            ("accept", "application/json"),
        ] {
            from_task.insert(name, HeaderValue::from_static(value));
        }
        let sent = request_headers(&from_task, true);
        let mut names: Vec<&str> = sent.keys().map(|n| n.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["accept", "content-type"]);
        assert_eq!(sent[header::CONTENT_TYPE], "application/json");
        assert!(!request_headers(&HeaderMap::new(), false).contains_key(header::CONTENT_TYPE));
    }

    #[test]
    fn hawk_hashes_the_bare_content_type() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(hawk_content_type(&headers), "application/json");
    }
}
