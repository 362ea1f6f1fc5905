//! Hawk signing with the task's credentials: `Authorization` headers for forwarded calls and
//! bewits for `/bewit`.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hawk::{PayloadHasher, RequestBuilder, SHA256};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Map, Value};
use url::Url;

use super::{ProxyError, TaskCredentials};

/// One set of credentials, ready to sign with. A request takes the current one (an `Arc`) when
/// it starts, so a later swap never changes the signature of a request already under way.
pub(crate) struct Signer {
    credentials: hawk::Credentials,
    /// Taskcluster's `ext`: base64 JSON with the certificate (as an object) and `authorizedScopes`;
    /// none for permanent credentials used with all their scopes.
    ext: Option<String>,
    /// taskcluster-proxy's debugging headers, added to every answer.
    identity: HeaderMap,
}

/// What Hawk covers of a URL.
struct Signed<'a> {
    host: &'a str,
    port: u16,
    /// Path and query, still percent-encoded, as the server will see them.
    resource: String,
}

impl<'a> Signed<'a> {
    fn of(url: &'a Url) -> Result<Signed<'a>, ProxyError> {
        let unsignable = || ProxyError::Unsignable(url.to_string());
        let host = url.host_str().ok_or_else(unsignable)?;
        let port = url.port_or_known_default().ok_or_else(unsignable)?;
        let resource = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        Ok(Signed {
            host,
            port,
            resource,
        })
    }
}

impl Signer {
    /// With `authorized_scopes` the signature limits the credentials to them (the proxy);
    /// without, the credentials act with all their scopes (the worker's own calls for a run).
    pub(crate) fn new(
        creds: &TaskCredentials,
        authorized_scopes: Option<&[String]>,
    ) -> Result<Signer, ProxyError> {
        // The id is quoted into every `Authorization` header, so it must fit there; Taskcluster's
        // clientIds (`[A-Za-z0-9!@/:.+|_-]+`) all do.
        let fits = |c: char| c.is_ascii_graphic() && c != '"' && c != '\\';
        if creds.client_id.is_empty() || !creds.client_id.chars().all(fits) {
            return Err(ProxyError::ClientId(creds.client_id.clone()));
        }
        let certificate = creds.certificate_object()?;
        let mut ext = Map::new();
        if let Some(cert) = &certificate {
            ext.insert("certificate".into(), cert.clone());
        }
        // Always sent when given, even when empty: an empty list grants nothing, whereas leaving
        // it out would hand the task every scope of the credentials (taskcluster-proxy run with
        // `--task-id` does the same).
        if let Some(scopes) = authorized_scopes {
            ext.insert("authorizedScopes".into(), json!(scopes));
        }
        let ext = (!ext.is_empty()).then(|| STANDARD.encode(Value::Object(ext).to_string()));
        Ok(Signer {
            credentials: hawk::Credentials {
                id: creds.client_id.clone(),
                key: hawk::Key::new(creds.access_token.as_bytes(), SHA256)?,
            },
            ext,
            identity: identity_headers(
                creds,
                certificate.as_ref(),
                authorized_scopes.unwrap_or_default(),
            ),
        })
    }

    /// The `Authorization` header for `method` on `url`. `payload` (content type without
    /// parameters, body) is hashed into the header when given, so the body cannot be altered on
    /// the way without the server noticing.
    pub(crate) fn authorization(
        &self,
        method: &str,
        url: &Url,
        payload: Option<(&str, &[u8])>,
    ) -> Result<HeaderValue, ProxyError> {
        let signed = Signed::of(url)?;
        let hash = payload
            .map(|(content_type, body)| PayloadHasher::hash(content_type, SHA256, body))
            .transpose()?;
        let header = RequestBuilder::new(method, signed.host, signed.port, &signed.resource)
            .hash(hash.as_deref())
            .ext(self.ext.as_deref())
            .request()
            .make_header(&self.credentials)?;
        HeaderValue::from_str(&format!("Hawk {header}"))
            .map_err(|_| ProxyError::ClientId(self.credentials.id.clone()))
    }

    /// `url` with a `bewit` query parameter that lets anyone GET it for `ttl`, with the same
    /// scopes as the task's calls (the bewit carries the same `ext`).
    pub(crate) fn sign_url(&self, mut url: Url, ttl: Duration) -> Result<Url, ProxyError> {
        // A bare `?` would be signed but disappear when the server takes the bewit out.
        if url.query() == Some("") {
            url.set_query(None);
        }
        let signed = Signed::of(&url)?;
        let bewit = RequestBuilder::new("GET", signed.host, signed.port, &signed.resource)
            .ext(self.ext.as_deref())
            .request()
            .make_bewit_with_ttl(&self.credentials, ttl)?
            .to_str();
        url.query_pairs_mut().append_pair("bewit", &bewit);
        Ok(url)
    }

    pub(crate) fn identity(&self) -> &HeaderMap {
        &self.identity
    }
}

/// The headers by which taskcluster-proxy tells a task whose credentials it uses; tasks and
/// their logs use them to debug scope errors.
fn identity_headers(
    creds: &TaskCredentials,
    certificate: Option<&Value>,
    authorized_scopes: &[String],
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut add = |name: &'static str, value: String| {
        // Scopes and client ids are printable ASCII, so this only skips values no server
        // would have issued; the headers are a debugging aid, not worth failing a request.
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    add(
        "x-taskcluster-proxy-version",
        concat!("relyard ", env!("CARGO_PKG_VERSION")).to_string(),
    );
    match certificate {
        Some(cert) => {
            add("x-taskcluster-proxy-temp-clientid", creds.client_id.clone());
            add(
                "x-taskcluster-proxy-temp-scopes",
                cert.get("scopes").cloned().unwrap_or(json!([])).to_string(),
            );
        }
        None => add("x-taskcluster-proxy-perm-clientid", creds.client_id.clone()),
    }
    add(
        "x-taskcluster-authorized-scopes",
        json!(authorized_scopes).to_string(),
    );
    headers
}
