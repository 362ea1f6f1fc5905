//! Talking to one signing server: a token (Hawk-signed request with relyard credentials), the
//! upload and the long poll for the result, and what each failure means for failover.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::formats::Format;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{server}: cannot connect: {message}")]
    Connect { server: String, message: String },
    #[error("{server}: no result after {waited:?} (job still pending)")]
    StillPending { server: String, waited: Duration },
    #[error("{server}: {status}: {message}")]
    Status {
        server: String,
        status: u16,
        message: String,
    },
    #[error("{server}: the output's sha256 is {actual}, but the server said {claimed}")]
    OutputHash {
        server: String,
        actual: String,
        claimed: String,
    },
    #[error("{server}: getting a signing token: {message}")]
    Token { server: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Manifest(#[from] crate::SigningError),
    #[error("{0}")]
    Usage(String),
}

impl ClientError {
    /// Errors no other server and no retry can fix: local files, the input itself (400, 413),
    /// wrong use. Everything else moves on to the next server and, after a round of all of them,
    /// is retried with back-off.
    pub fn is_final(&self) -> bool {
        match self {
            ClientError::Io { .. } | ClientError::Manifest(_) | ClientError::Usage(_) => true,
            ClientError::Status { status, .. } => matches!(status, 400 | 413),
            _ => false,
        }
    }

    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ClientError + '_ {
        move |source| ClientError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

const TOKEN_PATH: &str = "api/signing/v1/token";

/// `Hawk …` for a request to `url` with relyard credentials (temporary ones carry their
/// certificate in `ext`, as Taskcluster's clients send it). No payload hash: the token request
/// is checked by relyard auth's `authenticate-hawk`, which is not given the body.
pub fn hawk_header(
    credentials: &taskcluster::Credentials,
    method: &str,
    url: &str,
) -> Result<String, String> {
    use base64::Engine as _;
    let url = reqwest::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    let host = url.host_str().ok_or_else(|| format!("{url}: no host"))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("{url}: no port"))?;
    let resource = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let ext = match &credentials.certificate {
        None => None,
        Some(cert) => {
            let cert: Value = serde_json::from_str(cert)
                .map_err(|e| format!("TASKCLUSTER_CERTIFICATE is not JSON: {e}"))?;
            let ext = json!({ "certificate": cert }).to_string();
            Some(base64::engine::general_purpose::STANDARD.encode(ext))
        }
    };
    let key = hawk::Key::new(&credentials.access_token, hawk::SHA256)
        .map_err(|e| format!("access token: {e}"))?;
    let hawk_credentials = hawk::Credentials {
        id: credentials.client_id.clone(),
        key,
    };
    let header = hawk::RequestBuilder::new(method, host, port, &resource)
        .ext(ext.as_deref())
        .request()
        .make_header(&hawk_credentials)
        .map_err(|e| format!("Hawk header: {e}"))?;
    Ok(format!("Hawk {header}"))
}

/// What one input is: its name for the server's allow-list, sha256 and where its bytes are.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub sha256: String,
    pub body: InputBody,
}

#[derive(Debug, Clone)]
pub enum InputBody {
    File(std::path::PathBuf),
    Bytes(bytes::Bytes),
}

/// What an upload got.
#[derive(Debug)]
pub enum Uploaded {
    /// The output, in the answer (`Prefer: wait`); its hash is checked.
    Signed(Vec<u8>),
    /// Queued or already signed: fetch it.
    Queued,
}

/// One signing server.
#[derive(Debug, Clone)]
pub struct ServerClient {
    pub url: String,
    http: reqwest::Client,
}

fn connect_error(server: &str, e: reqwest::Error) -> ClientError {
    ClientError::Connect {
        server: server.to_string(),
        message: format!("{e}"),
    }
}

/// The message of a Taskcluster-shaped error body, first line only (the rest is the trailer).
async fn status_error(server: &str, resp: reqwest::Response) -> ClientError {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or(body);
    let message = message
        .split("\n\n---")
        .next()
        .unwrap_or_default()
        .to_string();
    ClientError::Status {
        server: server.to_string(),
        status,
        message,
    }
}

impl ServerClient {
    pub fn new(url: &str, http: reqwest::Client) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            http,
        }
    }

    /// A token for `formats`, valid for `lifetime`, from this server.
    pub async fn token(
        &self,
        credentials: &taskcluster::Credentials,
        formats: &[Format],
        lifetime: Duration,
    ) -> Result<String, ClientError> {
        let token_error = |message: String| ClientError::Token {
            server: self.url.clone(),
            message,
        };
        let url = format!("{}/{TOKEN_PATH}", self.url);
        let authorization = hawk_header(credentials, "POST", &url).map_err(token_error)?;
        let names: Vec<&str> = formats.iter().map(|f| f.as_str()).collect();
        let resp = self
            .http
            .post(&url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .json(&json!({ "formats": names, "duration": lifetime.as_secs() }))
            .send()
            .await
            .map_err(|e| connect_error(&self.url, e))?;
        if !resp.status().is_success() {
            return Err(match status_error(&self.url, resp).await {
                ClientError::Status {
                    status, message, ..
                } => token_error(format!("{status}: {message}")),
                other => other,
            });
        }
        let answer: Value = resp
            .json()
            .await
            .map_err(|e| token_error(format!("bad answer: {e}")))?;
        answer
            .get("token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| token_error("the answer has no token".into()))
    }

    /// Uploads `input`, asking (`Prefer: wait=N`) for the output in the answer when it is signed
    /// within `wait`: 200 gives it (hash checked), 202 means queued or already signed, to be
    /// fetched. A server that ignores the preference answers 202.
    pub async fn upload(
        &self,
        token: &str,
        format: Format,
        input: &Input,
        wait: Option<Duration>,
    ) -> Result<Uploaded, ClientError> {
        let body = match &input.body {
            InputBody::Bytes(b) => reqwest::Body::from(b.clone()),
            InputBody::File(path) => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(ClientError::io(path))?;
                reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file))
            }
        };
        let mut request = self
            .http
            .post(format!("{}/api/signing/v1/sign/{format}", self.url))
            .bearer_auth(token)
            .header("X-Content-SHA256", &input.sha256)
            .header("X-Filename", &input.name);
        if let Some(wait) = wait {
            request = request.header("Prefer", format!("wait={}", wait.as_secs()));
        }
        let resp = request
            .body(body)
            .send()
            .await
            .map_err(|e| connect_error(&self.url, e))?;
        match resp.status() {
            StatusCode::OK => Ok(Uploaded::Signed(self.signed_output(resp).await?)),
            StatusCode::ACCEPTED => Ok(Uploaded::Queued),
            _ => Err(status_error(&self.url, resp).await),
        }
    }

    /// The body of a 200 with the output, checked against its `X-Content-SHA256`.
    async fn signed_output(&self, resp: reqwest::Response) -> Result<Vec<u8>, ClientError> {
        let claimed = resp
            .headers()
            .get("X-Content-SHA256")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| connect_error(&self.url, e))?;
        self.checked(bytes.to_vec(), claimed)
    }

    /// `output` if its sha256 is `claimed`.
    pub(crate) fn checked(&self, output: Vec<u8>, claimed: String) -> Result<Vec<u8>, ClientError> {
        let actual = crate::sha256_hex(&output);
        if actual != claimed {
            return Err(ClientError::OutputHash {
                server: self.url.clone(),
                actual,
                claimed,
            });
        }
        Ok(output)
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) async fn error_of(&self, resp: reqwest::Response) -> ClientError {
        status_error(&self.url, resp).await
    }

    pub(crate) fn connect_error(&self, e: reqwest::Error) -> ClientError {
        connect_error(&self.url, e)
    }

    /// Long-polls for the output until `deadline` has passed, and checks its sha256.
    pub async fn fetch(
        &self,
        token: &str,
        format: Format,
        sha256: &str,
        deadline: Duration,
    ) -> Result<Vec<u8>, ClientError> {
        let started = Instant::now();
        let url = format!("{}/api/signing/v1/sign/{format}/{sha256}", self.url);
        loop {
            let resp = self
                .http
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .map_err(|e| connect_error(&self.url, e))?;
            match resp.status() {
                StatusCode::OK => return self.signed_output(resp).await,
                // The server held the request for its long-poll time; ask again until ours is up.
                StatusCode::ACCEPTED if started.elapsed() < deadline => continue,
                StatusCode::ACCEPTED => {
                    return Err(ClientError::StillPending {
                        server: self.url.clone(),
                        waited: started.elapsed(),
                    })
                }
                _ => return Err(status_error(&self.url, resp).await),
            }
        }
    }
}
