//! The authentication layer: every service route runs behind it, so handlers find a [`Caller`]
//! in the request (unauthenticated requests get the `anonymous` role's scopes).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::request::Parts;
use http::HeaderMap;
use relyard_core::ApiError;

use crate::caller::AuthRejection;
use crate::hawk_verify::HawkInput;
use crate::service::{AuthFailure, AuthService};

/// Largest body whose Hawk payload hash is checked (bigger uploads go through signed URLs).
const MAX_HASHED_BODY: usize = 64 * 1024 * 1024;

/// Routes that check credentials themselves, so the layer must let them through untouched:
/// testAuthenticate(Get) verify Hawk against fixed test clients rather than real ones, and the
/// OAuth2 token endpoint takes `Authorization: Basic`. Full paths: the layer wraps the nested
/// routers, and `/api/auth/v1` is fixed by Taskcluster's URL scheme.
const SELF_AUTHENTICATING: [&str; 3] = [
    "/api/auth/v1/test-authenticate",
    "/api/auth/v1/test-authenticate-get/",
    "/api/auth/v1/oauth/token",
];

/// What a request presents for authentication, as the client signed it: method, path and query
/// still percent-encoded, and the host and port after proxy headers.
#[derive(Debug, Clone)]
pub struct RequestTarget {
    pub method: String,
    pub resource: String,
    pub host: String,
    pub port: u16,
    pub authorization: Option<String>,
    /// Without parameters, lower-cased: the form Hawk's payload hash covers.
    pub content_type: String,
    pub source_ip: Option<IpAddr>,
}

impl RequestTarget {
    /// Reads the request head; `Err` (a 401 message) when the signed host cannot be known.
    pub fn from_parts(parts: &Parts) -> Result<RequestTarget, String> {
        let headers = &parts.headers;
        let authority = parts.uri.authority().map(|a| a.as_str());
        let (host, port) = host_and_port(headers, authority)?;
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
        Ok(RequestTarget {
            method: parts.method.as_str().to_string(),
            resource: parts
                .uri
                .path_and_query()
                .map(|pq| pq.as_str())
                .unwrap_or("/")
                .to_string(),
            host,
            port,
            authorization: headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            content_type,
            source_ip: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        })
    }

    /// True when the Hawk header signs the body, which must then be read to check it.
    pub fn wants_payload_hash(&self) -> bool {
        self.authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Hawk ") && a.contains("hash="))
    }

    /// The request as [`AuthService::authenticate`] checks it; `body` when the header hashes it.
    pub fn hawk_input<'a>(&'a self, body: Option<&'a [u8]>) -> HawkInput<'a> {
        HawkInput {
            method: &self.method,
            resource: &self.resource,
            host: &self.host,
            port: self.port,
            authorization: self.authorization.as_deref(),
            payload: body.map(|b| (self.content_type.as_str(), b)),
        }
    }
}

/// The unauthenticated request head, left by the layer for [`SELF_AUTHENTICATING`] routes.
#[derive(Debug, Clone)]
pub(crate) struct Unauthenticated(pub Result<RequestTarget, String>);

impl<S: Send + Sync> FromRequestParts<S> for Unauthenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Unauthenticated>()
            .cloned()
            .ok_or_else(|| ApiError::internal("route is not behind the authentication layer"))
    }
}

/// axum middleware: `axum::middleware::from_fn_with_state(auth, authenticate)`.
pub async fn authenticate(
    State(auth): State<Arc<AuthService>>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    if SELF_AUTHENTICATING.contains(&parts.uri.path()) {
        let target = Unauthenticated(RequestTarget::from_parts(&parts));
        parts.extensions.insert(target);
        return next.run(Request::from_parts(parts, body)).await;
    }
    let target = match RequestTarget::from_parts(&parts) {
        Ok(t) => t,
        Err(message) => {
            let rejection = AuthRejection(ApiError::unauthenticated(message));
            parts.extensions.insert(rejection);
            return next.run(Request::from_parts(parts, body)).await;
        }
    };
    let (body, body_bytes) = if target.wants_payload_hash() {
        match axum::body::to_bytes(body, MAX_HASHED_BODY).await {
            Ok(b) => (Body::from(b.clone()), Some(b)),
            Err(_) => return ApiError::too_large("request body is too large").into_response(),
        }
    } else {
        (body, None)
    };
    let input = target.hawk_input(body_bytes.as_deref());
    match auth.authenticate(&input, target.source_ip).await {
        Ok(caller) => {
            parts.extensions.insert(caller);
        }
        // Answered with 401 by the first endpoint that asks who is calling (see AuthRejection).
        Err(AuthFailure::Failed(message)) => {
            let rejection = AuthRejection(ApiError::unauthenticated(message));
            parts.extensions.insert(rejection);
        }
        Err(AuthFailure::Internal(e)) => return e.into_response(),
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The host and port the client signed: from `Host`, with `X-Forwarded-Port` or
/// `X-Forwarded-Proto: https` (port 443) taking precedence, as behind a TLS-terminating proxy.
/// HTTP/2 requests carry the host as the URI's authority instead of a `Host` header.
fn host_and_port(headers: &HeaderMap, authority: Option<&str>) -> Result<(String, u16), String> {
    let host_header = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .or(authority)
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

    fn host_and_port_of(h: &HeaderMap) -> Result<(String, u16), String> {
        host_and_port(h, None)
    }

    #[test]
    fn host_and_port_follow_forwarding_headers() {
        assert_eq!(
            host_and_port(&HeaderMap::new(), Some("h2.example:8443")).unwrap(),
            ("h2.example".into(), 8443)
        );
        assert_eq!(
            host_and_port_of(&headers(&[("host", "127.0.0.1:8080")])).unwrap(),
            ("127.0.0.1".into(), 8080)
        );
        assert_eq!(
            host_and_port_of(&headers(&[("host", "example.com")])).unwrap(),
            ("example.com".into(), 80)
        );
        assert_eq!(
            host_and_port_of(&headers(&[
                ("host", "example.com"),
                ("x-forwarded-proto", "https")
            ]))
            .unwrap(),
            ("example.com".into(), 443)
        );
        assert_eq!(
            host_and_port_of(&headers(&[
                ("host", "example.com:80"),
                ("x-forwarded-port", "8443")
            ]))
            .unwrap(),
            ("example.com".into(), 8443)
        );
        assert_eq!(
            host_and_port_of(&headers(&[("host", "[::1]:9")])).unwrap(),
            ("[::1]".into(), 9)
        );
        assert!(host_and_port_of(&headers(&[("host", "h:notaport")])).is_err());
        assert!(host_and_port_of(&HeaderMap::new()).is_err());
    }
}
