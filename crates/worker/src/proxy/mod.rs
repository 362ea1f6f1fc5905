//! The task proxy (taskcluster-proxy's HTTP surface): tasks with `features.taskclusterProxy` call
//! Taskcluster through `TASKCLUSTER_PROXY_URL` and never see a credential. The proxy signs
//! their calls with the task's temporary credentials, limited to the task's scopes through
//! `authorizedScopes`.
//!
//! - `/api/<service>/<version>/<path>` (and the legacy `/<service>/<version>/<path>`) is
//!   forwarded to the rootUrl, re-signed; the answer comes back as the server gave it.
//! - `POST /bewit` with a URL as body answers `303 See Other` to that URL signed for an hour.
//! - `PUT /credentials` with `{clientId, accessToken, certificate}` swaps the credentials, as the
//!   worker does after each reclaim ([`TaskProxy::update_credentials`] from Rust).

mod forward;
pub(crate) mod signer;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::{from_fn, from_fn_with_state, map_response_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::Router;
use bytes::Bytes;
use http::{header, Method, StatusCode, Uri};
use relyard_core::error::request_info_layer;
use relyard_core::{ApiError, ErrorCode};
use serde::Deserialize;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use url::Url;

pub use forward::{api_target, MAX_REQUEST_BODY};
use signer::Signer;

/// How long a bewit from `/bewit` lasts, as taskcluster-proxy's.
pub const BEWIT_TTL: Duration = Duration::from_secs(60 * 60);

/// How long [`TaskProxy::shutdown`] lets calls under way finish before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A connection that never succeeds must not hang a task forever; answers themselves may take
/// long (claim long polls, large artifacts), so only connecting is bounded.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The credentials a task's calls are signed with: claimWork's `credentials` object.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskCredentials {
    pub client_id: String,
    pub access_token: String,
    /// The certificate of temporary credentials, as a JSON string; `None` or empty for
    /// permanent ones.
    #[serde(default)]
    pub certificate: Option<String>,
}

impl TaskCredentials {
    /// The certificate as the JSON object `ext` carries (clients parse the string first).
    fn certificate_object(&self) -> Result<Option<Value>, ProxyError> {
        match self.certificate.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => match serde_json::from_str(text) {
                Ok(cert @ Value::Object(_)) => Ok(Some(cert)),
                Ok(_) => Err(ProxyError::Certificate("not a JSON object".into())),
                Err(err) => Err(ProxyError::Certificate(err.to_string())),
            },
        }
    }
}

/// The access token stays out of logs.
impl fmt::Debug for TaskCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskCredentials")
            .field("client_id", &self.client_id)
            .field("access_token", &"<hidden>")
            .field("certificate", &self.certificate)
            .finish()
    }
}

impl From<taskcluster::Credentials> for TaskCredentials {
    fn from(c: taskcluster::Credentials) -> TaskCredentials {
        TaskCredentials {
            client_id: c.client_id,
            access_token: c.access_token,
            certificate: c.certificate,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("rootUrl {0:?} is not an http(s) URL with a host")]
    RootUrl(String),
    #[error("the credentials' certificate is not valid: {0}")]
    Certificate(String),
    #[error("clientId {0:?} cannot go in a Hawk header")]
    ClientId(String),
    #[error("the credentials cannot sign: {0}")]
    Signing(#[from] hawk::Error),
    #[error("{0} cannot be signed: it needs an http(s) URL with a host")]
    Unsignable(String),
    #[error("the body of PUT /credentials is not {{clientId, accessToken, certificate}}: {0}")]
    CredentialsBody(#[source] serde_json::Error),
    #[error("the request body is larger than {MAX_REQUEST_BODY} bytes")]
    BodyTooLarge,
    #[error("the request body could not be read")]
    BodyUnreadable,
    #[error("{target} could not be reached: {source}")]
    Upstream {
        target: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("cannot listen on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

impl ProxyError {
    /// The answer a task gets, in Taskcluster's error shape, with its status (`ApiError` has no
    /// code for 502, so an unreachable server keeps the generic code under that status).
    fn to_api_error(&self) -> (StatusCode, ApiError) {
        let api = match self {
            ProxyError::Certificate(_)
            | ProxyError::ClientId(_)
            | ProxyError::CredentialsBody(_) => ApiError::input(self.to_string()),
            ProxyError::Unsignable(_) => ApiError::invalid_arguments(self.to_string()),
            ProxyError::BodyTooLarge => ApiError::too_large(self.to_string()),
            ProxyError::BodyUnreadable => ApiError::malformed(self.to_string()),
            ProxyError::Upstream { .. } => {
                tracing::warn!(error = %self, "task proxy: upstream unreachable");
                let status = StatusCode::BAD_GATEWAY;
                return (
                    status,
                    ApiError::new(ErrorCode::for_status(status), self.to_string()),
                );
            }
            ProxyError::RootUrl(_)
            | ProxyError::Signing(_)
            | ProxyError::Bind(_)
            | ProxyError::HttpClient(_) => ApiError::internal(self),
        };
        (api.status(), api)
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let (status, api) = self.to_api_error();
        let mut resp = api.into_response();
        *resp.status_mut() = status;
        resp
    }
}

/// What the proxy's handlers share: where to forward, with what, and the current credentials.
#[derive(Clone)]
pub struct ProxyState(Arc<Shared>);

struct Shared {
    root_url: String,
    http: reqwest::Client,
    authorized_scopes: Vec<String>,
    signer: RwLock<Arc<Signer>>,
}

impl ProxyState {
    pub fn new(
        root_url: &str,
        creds: TaskCredentials,
        authorized_scopes: Vec<String>,
    ) -> Result<ProxyState, ProxyError> {
        let parsed = Url::parse(root_url).map_err(|_| ProxyError::RootUrl(root_url.into()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ProxyError::RootUrl(root_url.into()));
        }
        let http = reqwest::Client::builder()
            // Redirects go back to the task (see `forward`).
            .redirect(reqwest::redirect::Policy::none())
            // Bodies are relayed byte for byte, encoding and length as the server sent them.
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .no_zstd()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(ProxyError::HttpClient)?;
        let signer = Signer::new(&creds, Some(&authorized_scopes))?;
        Ok(ProxyState(Arc::new(Shared {
            root_url: root_url.trim_end_matches('/').to_string(),
            http,
            authorized_scopes,
            signer: RwLock::new(Arc::new(signer)),
        })))
    }

    /// Signs new calls with `creds` from now on; calls under way finish with the old ones.
    /// Invalid credentials (a certificate that is not JSON) are refused and the old ones kept.
    pub fn update_credentials(&self, creds: TaskCredentials) -> Result<(), ProxyError> {
        let signer = Arc::new(Signer::new(&creds, Some(&self.0.authorized_scopes))?);
        // A panic elsewhere while holding the lock cannot leave a half-written `Arc`.
        *self.0.signer.write().unwrap_or_else(|e| e.into_inner()) = signer;
        Ok(())
    }

    fn signer(&self) -> Arc<Signer> {
        Arc::clone(&self.0.signer.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn http(&self) -> &reqwest::Client {
        &self.0.http
    }
}

/// The proxy's HTTP surface. API calls are forwarded before the error-shaping layer, so that a
/// server's answer (even a non-JSON error from a load balancer) reaches the task untouched.
pub fn router(state: ProxyState) -> Router {
    Router::new()
        .route("/bewit", post(bewit))
        .route("/credentials", put(put_credentials))
        .fallback(not_found)
        .layer(from_fn(request_info_layer))
        .layer(from_fn_with_state(state.clone(), forward_api_calls))
        .layer(map_response_with_state(state.clone(), add_identity))
        .with_state(state)
}

async fn forward_api_calls(State(state): State<ProxyState>, req: Request, next: Next) -> Response {
    let path_and_query = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let Some(target) = api_target(&state.0.root_url, path_and_query) else {
        return next.run(req).await;
    };
    let (method, uri) = (req.method().clone(), req.uri().clone());
    match forward::forward(&state, target, req).await {
        Ok(resp) => resp,
        Err(err) => shaped(method, uri, err).await,
    }
}

/// A proxy-made error on a forwarded path, passed through `request_info_layer` like the errors
/// of the proxy's own routes, so that its `requestInfo` names the request.
async fn shaped(method: Method, uri: Uri, err: ProxyError) -> Response {
    let (status, api) = err.to_api_error();
    let Ok(req) = Request::builder()
        .method(method)
        .uri(uri)
        .body(axum::body::Body::empty())
    else {
        return (status, api).into_response();
    };
    let answer = Router::new()
        .fallback(move || async move { (status, api).into_response() })
        .layer(from_fn(request_info_layer));
    match answer.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

async fn add_identity(State(state): State<ProxyState>, mut resp: Response) -> Response {
    let signer = state.signer();
    for (name, value) in signer.identity() {
        resp.headers_mut().insert(name, value.clone());
    }
    resp
}

/// `POST /bewit`: the URL in the body, signed, as a `303` to it with the URL as body too
/// (taskcluster-proxy's answer, which `curl -L` and browsers follow and scripts read).
async fn bewit(State(state): State<ProxyState>, body: String) -> Result<Response, ProxyError> {
    let text = body.trim();
    let url = Url::parse(text).map_err(|_| ProxyError::Unsignable(text.to_string()))?;
    let signed = state.signer().sign_url(url, BEWIT_TTL)?;
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, signed.to_string())],
        signed.to_string(),
    )
        .into_response())
}

/// `PUT /credentials`: taskcluster-proxy reads the body as JSON whatever its content type, and
/// workers send it without one, so the body is parsed here rather than by `Json`.
async fn put_credentials(
    State(state): State<ProxyState>,
    body: Bytes,
) -> Result<StatusCode, ProxyError> {
    let creds: TaskCredentials =
        serde_json::from_slice(&body).map_err(ProxyError::CredentialsBody)?;
    state.update_credentials(creds)?;
    Ok(StatusCode::OK)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "{} is not a path of the task proxy: it forwards /api/<service>/<version>/..., \
         answers POST /bewit and PUT /credentials",
        uri.path()
    ))
}

/// A running proxy for one task, on 127.0.0.1 at a free port. Stops on [`shutdown`] or when
/// dropped.
///
/// [`shutdown`]: TaskProxy::shutdown
pub struct TaskProxy {
    state: ProxyState,
    addr: SocketAddr,
    stop: CancellationToken,
    serving: Option<JoinHandle<()>>,
}

impl TaskProxy {
    /// Starts a proxy forwarding to `root_url`, signing with `creds` and limiting every call to
    /// `authorized_scopes` (the task's scopes).
    pub async fn start(
        root_url: &str,
        creds: TaskCredentials,
        authorized_scopes: Vec<String>,
    ) -> Result<TaskProxy, ProxyError> {
        let state = ProxyState::new(root_url, creds, authorized_scopes)?;
        // Loopback only: the task runs on this host, and nothing else should borrow its scopes.
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(ProxyError::Bind)?;
        let addr = listener.local_addr().map_err(ProxyError::Bind)?;
        let stop = CancellationToken::new();
        let app = router(state.clone());
        let stopped = stop.clone().cancelled_owned();
        let serving = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::warn!(error = %err, "task proxy stopped serving");
            }
        });
        tracing::debug!(%addr, root_url, "task proxy listening");
        Ok(TaskProxy {
            state,
            addr,
            stop,
            serving: Some(serving),
        })
    }

    /// `TASKCLUSTER_PROXY_URL` for the task.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Swaps the credentials after a reclaim (see [`ProxyState::update_credentials`]).
    pub fn update_credentials(&self, creds: TaskCredentials) -> Result<(), ProxyError> {
        self.state.update_credentials(creds)
    }

    /// Stops accepting calls, lets those under way finish for a few seconds, then cuts them off.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(serving) = self.serving.take() {
            let abort = serving.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, serving).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for TaskProxy {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(serving) = self.serving.take() {
            serving.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_work_credentials_deserialize() {
        let creds: TaskCredentials = serde_json::from_value(serde_json::json!({
            "clientId": "task-client/abc/0/on/x/y/until/1",
            "accessToken": "secret-token",
            "certificate": "{\"version\":1}",
        }))
        .expect("credentials");
        assert_eq!(creds.client_id, "task-client/abc/0/on/x/y/until/1");
        assert_eq!(creds.certificate.as_deref(), Some("{\"version\":1}"));
        assert!(!format!("{creds:?}").contains("secret-token"));
    }

    #[test]
    fn certificates_must_be_json_objects() {
        let with = |cert: Option<&str>| TaskCredentials {
            client_id: "c".into(),
            access_token: "t".into(),
            certificate: cert.map(str::to_string),
        };
        assert!(with(None).certificate_object().unwrap().is_none());
        assert!(with(Some("")).certificate_object().unwrap().is_none());
        assert!(with(Some("{\"version\":1}"))
            .certificate_object()
            .unwrap()
            .is_some());
        assert!(with(Some("[1]")).certificate_object().is_err());
        assert!(with(Some("{not json")).certificate_object().is_err());
    }
}
