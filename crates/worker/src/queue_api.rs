//! The worker's calls to the queue over its public HTTP API.
//!
//! The worker's own calls (claimWork, status) go through the official Taskcluster client, built
//! once. A run's calls (reclaim, artifacts, resolution) are signed with that run's temporary
//! credentials on one shared HTTP client: building a client per run would cost a TLS set-up and
//! a fresh connection pool for every task, which is most of a short task's overhead.
//!
//! Every call is retried by the project's one retry policy on connection errors, 429 and 5xx;
//! the official client's own retries are turned off so that there is one schedule, not two.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use relyard_core::retry::RetryPolicy;
use serde::Deserialize;
use serde_json::{json, Value};
use taskcluster::{ClientBuilder, Credentials, Queue, Retry};
use url::Url;

use crate::metrics::Metrics;
use crate::proxy::signer::Signer;

pub use crate::proxy::TaskCredentials;

/// encodeURIComponent's set, as the official clients encode path segments (`/` included).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// A failed call: the HTTP status when the server answered, and what it said.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct CallError {
    pub what: String,
    pub status: Option<u16>,
    pub message: String,
}

impl CallError {
    /// 409: the run is no longer ours (canceled, resolved, deadline passed, claim expired).
    pub fn is_conflict(&self) -> bool {
        self.status == Some(409)
    }

    fn is_transient(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => s >= 500 || s == 429,
        }
    }

    pub fn new(what: &str, status: Option<u16>, message: impl Into<String>) -> CallError {
        CallError {
            what: what.to_string(),
            status,
            message: message.into(),
        }
    }
}

/// One entry of claimWork's answer.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claim {
    pub status: Value,
    pub run_id: u32,
    pub task: Value,
    pub credentials: TaskCredentials,
    pub taken_until: String,
}

impl Claim {
    pub fn task_id(&self) -> String {
        self.status
            .get("taskId")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    }
}

#[derive(Clone)]
pub struct QueueApi {
    root_url: String,
    policy: RetryPolicy,
    metrics: Arc<Metrics>,
    http: reqwest::Client,
    /// Signed with the worker's own credentials.
    worker: Arc<Queue>,
}

impl QueueApi {
    pub fn new(
        root_url: &str,
        worker_credentials: &Credentials,
        policy: RetryPolicy,
        metrics: Arc<Metrics>,
        http: reqwest::Client,
    ) -> Result<QueueApi, CallError> {
        let root_url = root_url.trim_end_matches('/').to_string();
        let worker = Queue::new(
            ClientBuilder::new(&root_url)
                .credentials(worker_credentials.clone())
                // A little over claimWork's 20 s long poll.
                .timeout(Duration::from_secs(60))
                .retry(Retry {
                    retries: 0,
                    ..Retry::default()
                }),
        )
        .map_err(|e| CallError::new("building a queue client", None, format!("{e:#}")))?;
        Ok(QueueApi {
            root_url,
            policy,
            metrics,
            http,
            worker: Arc::new(worker),
        })
    }

    /// Runs `op` under the retry policy; 4xx answers are final. Every retried call of the
    /// worker goes through here (queue calls, artifact uploads, mount downloads).
    pub async fn retrying<T, F, Fut>(&self, what: &str, op: F) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        relyard_core::retry::retry_async(
            self.policy.delays(),
            op,
            CallError::is_transient,
            |e: &CallError, failure| {
                tracing::warn!(error = %e, attempt = failure.attempt, "queue call failed");
                if failure.sleep.is_some() {
                    self.metrics.retried(what);
                }
            },
        )
        .await
    }

    /// An official-client call under the retry policy.
    async fn call<F, Fut>(&self, what: &str, op: F) -> Result<Value, CallError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<Value>>,
    {
        self.retrying(what, || {
            let fut = op();
            async move {
                fut.await.map_err(|e| {
                    CallError::new(
                        what,
                        taskcluster::err_status_code(&e).map(|s| s.as_u16()),
                        format!("{e:#}"),
                    )
                })
            }
        })
        .await
    }

    pub async fn claim_work(
        &self,
        task_queue_id: &str,
        worker_group: &str,
        worker_id: &str,
        tasks: usize,
    ) -> Result<Vec<Claim>, CallError> {
        let body = json!({"tasks": tasks, "workerGroup": worker_group, "workerId": worker_id});
        let answer = self
            .call("claimWork", || self.worker.claimWork(task_queue_id, &body))
            .await?;
        let claims = answer.get("tasks").cloned().unwrap_or(Value::Array(vec![]));
        serde_json::from_value(claims)
            .map_err(|e| CallError::new("claimWork", None, format!("unexpected answer: {e}")))
    }

    /// latestArtifactInfo with the worker's own credentials: a signing worker checks the chain
    /// of trust as itself (it holds `queue:list-artifacts:*`), so tasks need no extra scopes.
    pub async fn latest_artifact_info(
        &self,
        task_id: &str,
        name: &str,
    ) -> Result<Value, CallError> {
        self.call("latestArtifactInfo", || {
            self.worker.latestArtifactInfo(task_id, name)
        })
        .await
    }

    /// Every artifact record of one run (all pages), with the worker's own credentials
    /// (`queue:list-artifacts:*`), as verification tasks compare two runs.
    pub async fn list_artifacts(
        &self,
        task_id: &str,
        run_id: u32,
    ) -> Result<Vec<Value>, CallError> {
        let run = run_id.to_string();
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .call("listArtifacts", || {
                    self.worker
                        .listArtifacts(task_id, &run, token.as_deref(), None)
                })
                .await?;
            if let Some(items) = page.get("artifacts").and_then(Value::as_array) {
                all.extend(items.iter().cloned());
            }
            match page.get("continuationToken").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(all),
            }
        }
    }

    /// A getArtifact URL of one run signed with the worker's own credentials.
    pub fn run_artifact_url(
        &self,
        task_id: &str,
        run_id: u32,
        name: &str,
    ) -> Result<String, CallError> {
        self.worker
            .getArtifact_signed_url(
                task_id,
                &run_id.to_string(),
                name,
                Duration::from_secs(3600),
            )
            .map_err(|e| CallError::new("signing an artifact URL", None, format!("{e:#}")))
    }

    /// A task's status, read once (no retries: callers poll).
    pub async fn status(&self, task_id: &str) -> Result<Value, CallError> {
        self.worker
            .status(task_id)
            .await
            .map_err(|e| CallError::new("status", None, format!("{e:#}")))
    }
}

/// Calls made with one run's temporary credentials: reclaim, artifacts, resolution.
pub struct RunApi {
    api: QueueApi,
    pub task_id: String,
    pub run_id: String,
    initial: TaskCredentials,
    signer: RwLock<Arc<Signer>>,
}

impl RunApi {
    pub fn new(
        api: &QueueApi,
        task_id: &str,
        run_id: u32,
        creds: &TaskCredentials,
    ) -> Result<RunApi, CallError> {
        Ok(RunApi {
            api: api.clone(),
            task_id: task_id.to_string(),
            run_id: run_id.to_string(),
            initial: creds.clone(),
            signer: RwLock::new(Arc::new(signer_for(creds)?)),
        })
    }

    /// The queue API this run's calls go through (and its retry policy).
    pub fn api(&self) -> &QueueApi {
        &self.api
    }

    /// The credentials claimWork gave this run.
    pub fn initial_credentials(&self) -> &TaskCredentials {
        &self.initial
    }

    /// After a reclaim: later calls use the new credentials.
    pub fn set_credentials(&self, creds: &TaskCredentials) -> Result<(), CallError> {
        let signer = Arc::new(signer_for(creds)?);
        *self.signer.write().unwrap_or_else(|e| e.into_inner()) = signer;
        Ok(())
    }

    fn signer(&self) -> Arc<Signer> {
        Arc::clone(&self.signer.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn run_path(&self, rest: &str) -> String {
        format!(
            "task/{}/runs/{}/{rest}",
            utf8_percent_encode(&self.task_id, SEGMENT),
            utf8_percent_encode(&self.run_id, SEGMENT)
        )
    }

    fn url(&self, path: &str) -> Result<Url, CallError> {
        Url::parse(&format!("{}/api/queue/v1/{path}", self.api.root_url))
            .map_err(|e| CallError::new(path, None, e.to_string()))
    }

    /// A signed POST of JSON to the queue, retried; the answer's JSON.
    async fn post(&self, what: &str, path: &str, body: Option<&Value>) -> Result<Value, CallError> {
        let url = self.url(path)?;
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.api
            .retrying(what, || {
                let url = url.clone();
                let bytes = bytes.clone();
                async move {
                    let auth = self
                        .signer()
                        .authorization(
                            "POST",
                            &url,
                            bytes.as_deref().map(|b| ("application/json", b)),
                        )
                        .map_err(|e| CallError::new(what, None, e.to_string()))?;
                    let mut req = self
                        .api
                        .http
                        .post(url)
                        .header(reqwest::header::AUTHORIZATION, auth)
                        .timeout(Duration::from_secs(60));
                    req = match bytes {
                        Some(b) => req
                            .header(reqwest::header::CONTENT_TYPE, "application/json")
                            .body(b),
                        None => req.header(reqwest::header::CONTENT_LENGTH, 0),
                    };
                    let resp = req
                        .send()
                        .await
                        .map_err(|e| CallError::new(what, None, e.to_string()))?;
                    answer(what, resp).await
                }
            })
            .await
    }

    pub async fn reclaim(&self) -> Result<(TaskCredentials, String), CallError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Reclaimed {
            credentials: TaskCredentials,
            taken_until: String,
        }
        let answer = self
            .post("reclaimTask", &self.run_path("reclaim"), None)
            .await?;
        let r: Reclaimed = serde_json::from_value(answer)
            .map_err(|e| CallError::new("reclaimTask", None, format!("unexpected answer: {e}")))?;
        Ok((r.credentials, r.taken_until))
    }

    pub async fn create_artifact(&self, name: &str, body: &Value) -> Result<Value, CallError> {
        let path = self.run_path(&format!("artifacts/{}", utf8_percent_encode(name, SEGMENT)));
        self.post(&format!("createArtifact {name}"), &path, Some(body))
            .await
    }

    pub async fn report_completed(&self) -> Result<(), CallError> {
        self.post("reportCompleted", &self.run_path("completed"), None)
            .await
            .map(drop)
    }

    pub async fn report_failed(&self) -> Result<(), CallError> {
        self.post("reportFailed", &self.run_path("failed"), None)
            .await
            .map(drop)
    }

    pub async fn report_exception(&self, reason: &str) -> Result<(), CallError> {
        self.post(
            "reportException",
            &self.run_path("exception"),
            Some(&json!({ "reason": reason })),
        )
        .await
        .map(drop)
    }

    /// A URL for the latest artifact of a task, signed (bewit) with this run's credentials, as
    /// mounts need it.
    pub fn artifact_url(&self, task_id: &str, name: &str) -> Result<String, CallError> {
        self.signed_task_url(task_id, "artifacts", name)
    }

    fn signed_task_url(&self, task_id: &str, kind: &str, name: &str) -> Result<String, CallError> {
        let url = self.url(&format!(
            "task/{}/{kind}/{}",
            utf8_percent_encode(task_id, SEGMENT),
            utf8_percent_encode(name, SEGMENT)
        ))?;
        self.signer()
            .sign_url(url, Duration::from_secs(3600))
            .map(|u| u.to_string())
            .map_err(|e| CallError::new("signing an artifact URL", None, e.to_string()))
    }
}

fn signer_for(creds: &TaskCredentials) -> Result<Signer, CallError> {
    Signer::new(creds, None)
        .map_err(|e| CallError::new("the run's credentials", None, e.to_string()))
}

/// A JSON answer, or the error the server gave in Taskcluster's shape.
async fn answer(what: &str, resp: reqwest::Response) -> Result<Value, CallError> {
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| CallError::new(what, None, e.to_string()))?;
    if status.is_success() {
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        return serde_json::from_slice(&bytes)
            .map_err(|e| CallError::new(what, None, format!("unexpected answer: {e}")));
    }
    let message = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    Err(CallError::new(
        what,
        Some(status.as_u16()),
        format!("{status}: {message}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_names_are_one_path_segment() {
        let name = utf8_percent_encode("public/logs/live log.txt", SEGMENT).to_string();
        assert_eq!(name, "public%2Flogs%2Flive%20log.txt");
    }

    #[test]
    fn transient_errors_are_connection_failures_429_and_5xx() {
        assert!(CallError::new("x", None, "").is_transient());
        assert!(CallError::new("x", Some(503), "").is_transient());
        assert!(CallError::new("x", Some(429), "").is_transient());
        assert!(!CallError::new("x", Some(409), "").is_transient());
        assert!(!CallError::new("x", Some(403), "").is_transient());
    }
}
