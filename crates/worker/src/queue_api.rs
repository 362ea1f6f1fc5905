//! The worker's calls to the queue, through the official Taskcluster client like any worker.
//!
//! Every call is retried by the project's one retry policy on connection errors and 5xx answers;
//! the client's own retries are turned off so that there is one schedule, not two nested ones.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use relyard_core::retry::RetryPolicy;
use serde::Deserialize;
use serde_json::{json, Value};
use taskcluster::{ClientBuilder, Credentials, Queue, Retry};

use crate::metrics::Metrics;

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
}

pub use crate::proxy::TaskCredentials;

fn client_credentials(creds: &TaskCredentials) -> Credentials {
    Credentials {
        client_id: creds.client_id.clone(),
        access_token: creds.access_token.clone(),
        certificate: creds.certificate.clone().filter(|c| !c.is_empty()),
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

#[derive(Clone)]
pub struct QueueApi {
    root_url: String,
    policy: RetryPolicy,
    metrics: Arc<Metrics>,
}

impl QueueApi {
    pub fn new(root_url: &str, policy: RetryPolicy, metrics: Arc<Metrics>) -> QueueApi {
        QueueApi {
            root_url: root_url.trim_end_matches('/').to_string(),
            policy,
            metrics,
        }
    }

    pub fn root_url(&self) -> &str {
        &self.root_url
    }

    /// A client signed with `creds`, with a request timeout a little over claimWork's 20 s poll.
    pub fn client(&self, creds: &Credentials) -> Result<Queue, CallError> {
        Queue::new(
            ClientBuilder::new(&self.root_url)
                .credentials(creds.clone())
                .timeout(Duration::from_secs(60))
                .retry(Retry {
                    retries: 0,
                    ..Retry::default()
                }),
        )
        .map_err(|e| CallError {
            what: "building a queue client".into(),
            status: None,
            message: format!("{e:#}"),
        })
    }

    /// Runs `op` under the retry policy; 4xx answers are final.
    pub async fn call<T, F, Fut>(&self, what: &str, op: F) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let mut op = op;
        relyard_core::retry::retry_async(
            self.policy.delays(),
            || {
                let fut = op();
                async move { fut.await.map_err(|e| to_call_error(what, &e)) }
            },
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

    pub async fn claim_work(
        &self,
        creds: &Credentials,
        task_queue_id: &str,
        worker_group: &str,
        worker_id: &str,
        tasks: usize,
    ) -> Result<Vec<Claim>, CallError> {
        let queue = self.client(creds)?;
        let body = json!({"tasks": tasks, "workerGroup": worker_group, "workerId": worker_id});
        let answer = self
            .call("claimWork", || queue.claimWork(task_queue_id, &body))
            .await?;
        let claims = answer.get("tasks").cloned().unwrap_or(Value::Array(vec![]));
        serde_json::from_value(claims).map_err(|e| CallError {
            what: "claimWork".into(),
            status: None,
            message: format!("unexpected answer: {e}"),
        })
    }
}

fn to_call_error(what: &str, e: &anyhow::Error) -> CallError {
    CallError {
        what: what.to_string(),
        status: taskcluster::err_status_code(e).map(|s| s.as_u16()),
        message: format!("{e:#}"),
    }
}

/// Calls made with one run's temporary credentials: reclaim, artifacts, resolution.
pub struct RunApi {
    api: QueueApi,
    pub task_id: String,
    pub run_id: String,
    initial: TaskCredentials,
    queue: tokio::sync::RwLock<Queue>,
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
            queue: tokio::sync::RwLock::new(api.client(&client_credentials(creds))?),
        })
    }

    /// The credentials claimWork gave this run.
    pub fn initial_credentials(&self) -> &TaskCredentials {
        &self.initial
    }

    /// After a reclaim: later calls use the new credentials.
    pub async fn set_credentials(&self, creds: &TaskCredentials) -> Result<(), CallError> {
        let queue = self.api.client(&client_credentials(creds))?;
        *self.queue.write().await = queue;
        Ok(())
    }

    pub async fn reclaim(&self) -> Result<(TaskCredentials, String), CallError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Reclaimed {
            credentials: TaskCredentials,
            taken_until: String,
        }
        let queue = self.queue.read().await;
        let answer = self
            .api
            .call("reclaimTask", || {
                queue.reclaimTask(&self.task_id, &self.run_id)
            })
            .await?;
        let r: Reclaimed = serde_json::from_value(answer).map_err(|e| CallError {
            what: "reclaimTask".into(),
            status: None,
            message: format!("unexpected answer: {e}"),
        })?;
        Ok((r.credentials, r.taken_until))
    }

    pub async fn create_artifact(&self, name: &str, body: &Value) -> Result<Value, CallError> {
        let queue = self.queue.read().await;
        self.api
            .call(&format!("createArtifact {name}"), || {
                queue.createArtifact(&self.task_id, &self.run_id, name, body)
            })
            .await
    }

    pub async fn report_completed(&self) -> Result<(), CallError> {
        let queue = self.queue.read().await;
        self.api
            .call("reportCompleted", || {
                queue.reportCompleted(&self.task_id, &self.run_id)
            })
            .await
            .map(drop)
    }

    pub async fn report_failed(&self) -> Result<(), CallError> {
        let queue = self.queue.read().await;
        self.api
            .call("reportFailed", || {
                queue.reportFailed(&self.task_id, &self.run_id)
            })
            .await
            .map(drop)
    }

    pub async fn report_exception(&self, reason: &str) -> Result<(), CallError> {
        let queue = self.queue.read().await;
        let body = json!({ "reason": reason });
        self.api
            .call("reportException", || {
                queue.reportException(&self.task_id, &self.run_id, &body)
            })
            .await
            .map(drop)
    }

    /// A URL for an artifact of another task, signed with this run's credentials (mounts).
    pub async fn artifact_url(&self, task_id: &str, name: &str) -> Result<String, CallError> {
        let queue = self.queue.read().await;
        queue
            .getLatestArtifact_signed_url(task_id, name, Duration::from_secs(3600))
            .map_err(|e| to_call_error("signing an artifact URL", &e))
    }
}
