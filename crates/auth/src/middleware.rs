//! The authentication layer: every service route runs behind it, so handlers find a [`Caller`]
//! in the request (unauthenticated requests get the `anonymous` role's scopes).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::HeaderMap;
use relyard_core::ApiError;

use crate::hawk_verify::HawkInput;
use crate::service::AuthService;

/// Largest body whose Hawk payload hash is checked (bigger uploads go through signed URLs).
const MAX_HASHED_BODY: usize = 64 * 1024 * 1024;

/// axum middleware: `axum::middleware::from_fn_with_state(auth, authenticate)`.
pub async fn authenticate(
    State(auth): State<Arc<AuthService>>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let headers = &parts.headers;
    let authorization = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let wants_hash = authorization
        .as_deref()
        .is_some_and(|a| a.contains("hash="));
    let (body, body_bytes) = if wants_hash {
        match axum::body::to_bytes(body, MAX_HASHED_BODY).await {
            Ok(b) => (Body::from(b.clone()), Some(b)),
            Err(_) => return ApiError::too_large("request body is too large").into_response(),
        }
    } else {
        (body, None)
    };
    let (host, port) = match host_and_port(headers) {
        Ok(hp) => hp,
        Err(message) => return ApiError::unauthenticated(message).into_response(),
    };
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let resource = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/")
        .to_string();
    let method = parts.method.as_str().to_string();
    let source_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let input = HawkInput {
        method: &method,
        resource: &resource,
        host: &host,
        port,
        authorization: authorization.as_deref(),
        payload: body_bytes
            .as_ref()
            .map(|b| (content_type.as_str(), b.as_ref())),
    };
    let caller = match auth.authenticate(&input, source_ip).await {
        Ok(c) => c,
        Err(failure) => return ApiError::from(failure).into_response(),
    };
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}

/// The host and port the client signed: from `Host`, with `X-Forwarded-Port` or
/// `X-Forwarded-Proto: https` (port 443) taking precedence, as behind a TLS-terminating proxy.
fn host_and_port(headers: &HeaderMap) -> Result<(String, u16), String> {
    let host_header = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| "request has no Host header".to_string())?;
    let (host, port) = split_host_port(host_header)?;
    let forwarded_port = headers
        .get("x-forwarded-port")
        .and_then(|v| v.to_str().ok());
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok());
    let port = match (forwarded_port, forwarded_proto) {
        (Some(p), _) => p
            .trim()
            .parse()
            .map_err(|_| format!("bad X-Forwarded-Port {p:?}"))?,
        (None, Some(proto)) if proto.eq_ignore_ascii_case("https") => 443,
        _ => port.unwrap_or(80),
    };
    Ok((host, port))
}

fn split_host_port(value: &str) -> Result<(String, Option<u16>), String> {
    let bad = || format!("bad Host header {value:?}");
    if let Some(rest) = value.strip_prefix('[') {
        // [v6]:port
        let (addr, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| bad())?),
            None if after.is_empty() => None,
            None => return Err(bad()),
        };
        return Ok((format!("[{addr}]"), port));
    }
    match value.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_string(), Some(p.parse().map_err(|_| bad())?))),
        None => Ok((value.to_string(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn host_and_port_follow_forwarding_headers() {
        assert_eq!(
            host_and_port(&headers(&[("host", "127.0.0.1:8080")])).unwrap(),
            ("127.0.0.1".into(), 8080)
        );
        assert_eq!(
            host_and_port(&headers(&[("host", "example.com")])).unwrap(),
            ("example.com".into(), 80)
        );
        assert_eq!(
            host_and_port(&headers(&[
                ("host", "example.com"),
                ("x-forwarded-proto", "https")
            ]))
            .unwrap(),
            ("example.com".into(), 443)
        );
        assert_eq!(
            host_and_port(&headers(&[
                ("host", "example.com:80"),
                ("x-forwarded-port", "8443")
            ]))
            .unwrap(),
            ("example.com".into(), 8443)
        );
        assert_eq!(
            host_and_port(&headers(&[("host", "[::1]:9")])).unwrap(),
            ("[::1]".into(), 9)
        );
        assert!(host_and_port(&headers(&[("host", "h:notaport")])).is_err());
        assert!(host_and_port(&HeaderMap::new()).is_err());
    }
}
