//! What one task's latest run produced: its run, the worker that ran it, and the sha256 of each
//! artifact (the queue's recorded `contentSha256`, or the downloaded bytes hashed when there is
//! none), all read with the worker's own credentials.

use futures::StreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::compare::{compared, Digests};
use crate::queue_api::{CallError, QueueApi};

/// The latest run of one task, as compared.
#[derive(Debug, Clone)]
pub struct RunArtifacts {
    pub task_id: String,
    pub run_id: u32,
    pub state: String,
    /// `<workerGroup>/<workerId>`.
    pub worker: String,
    pub digests: Digests,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("task {0} has no run to compare")]
    NoRun(String),
    #[error(transparent)]
    Call(#[from] CallError),
}

impl FetchError {
    /// No run, or a 4xx from the queue (no such task, no scope): the task's fault.
    pub fn is_task_fault(&self) -> bool {
        match self {
            FetchError::NoRun(_) => true,
            FetchError::Call(e) => matches!(e.status, Some(s) if (400..500).contains(&s)),
        }
    }
}

/// Reads the latest run of `task_id` and the digest of each of its compared artifacts.
pub async fn latest_run(
    api: &QueueApi,
    http: &reqwest::Client,
    task_id: &str,
) -> Result<RunArtifacts, FetchError> {
    let status = api.retrying("status", || api.status(task_id)).await?;
    let run = status
        .pointer("/status/runs")
        .and_then(Value::as_array)
        .and_then(|runs| runs.last())
        .ok_or_else(|| FetchError::NoRun(task_id.to_string()))?;
    let run_id = run
        .get("runId")
        .and_then(Value::as_u64)
        .and_then(|r| u32::try_from(r).ok())
        .ok_or_else(|| FetchError::NoRun(task_id.to_string()))?;
    let field = |k: &str| {
        run.get(k)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let worker = format!("{}/{}", field("workerGroup"), field("workerId"));
    let mut digests = Digests::new();
    for artifact in api.list_artifacts(task_id, run_id).await? {
        let Some(name) = artifact.get("name").and_then(Value::as_str) else {
            continue;
        };
        if !compared(name) {
            continue;
        }
        let digest = match artifact.get("contentSha256").and_then(Value::as_str) {
            Some(h) => h.to_ascii_lowercase(),
            None => download_digest(api, http, task_id, run_id, name).await?,
        };
        digests.insert(name.to_string(), digest);
    }
    Ok(RunArtifacts {
        task_id: task_id.to_string(),
        run_id,
        state: field("state"),
        worker,
        digests,
    })
}

/// Hashes an artifact the queue holds no hash of (a reference, a link to one, bytes not yet
/// recorded) by downloading it; an error artifact is described by its reason instead.
async fn download_digest(
    api: &QueueApi,
    http: &reqwest::Client,
    task_id: &str,
    run_id: u32,
    name: &str,
) -> Result<String, CallError> {
    let what = format!("downloading {name} of {task_id} run {run_id}");
    let url = api.run_artifact_url(task_id, run_id, name)?;
    api.retrying(&what, || async {
        let fail = |status, message: String| CallError::new(&what, status, message);
        let resp = http
            .get(&url)
            .send()
            .await
            .map_err(|e| fail(None, e.to_string()))?;
        let status = resp.status();
        // getArtifact answers an error artifact with 424 and its reason.
        if status.as_u16() == 424 {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            let reason = body.get("reason").and_then(Value::as_str).unwrap_or("?");
            return Ok(format!("error artifact ({reason})"));
        }
        if !status.is_success() {
            return Err(fail(Some(status.as_u16()), format!("HTTP {status}")));
        }
        let mut hasher = Sha256::new();
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            hasher.update(&chunk.map_err(|e| fail(None, e.to_string()))?);
        }
        Ok(hex::encode(hasher.finalize()))
    })
    .await
}
