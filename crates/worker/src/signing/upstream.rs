//! Downloading a signing task's inputs with the chain-of-trust check: the bytes must hash to what
//! the queue recorded when the upstream task uploaded them, or nothing is signed.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::queue_api::{CallError, RunApi};

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The bytes are not what the upstream task uploaded (or the queue holds no hash of them).
    #[error("chain of trust: artifact {name} of task {task_id}: {reason}")]
    ChainOfTrust {
        task_id: String,
        name: String,
        reason: String,
    },
    #[error("artifact {name} of task {task_id}: {source}")]
    Fetch {
        task_id: String,
        name: String,
        source: CallError,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl UpstreamError {
    /// 4xx from the queue (no such artifact, no scope) is the task's fault; the rest is ours.
    pub fn is_task_fault(&self) -> bool {
        match self {
            UpstreamError::ChainOfTrust { .. } => true,
            UpstreamError::Fetch { source, .. } => {
                matches!(source.status, Some(s) if (400..500).contains(&s))
            }
            UpstreamError::Write { .. } => false,
        }
    }
}

/// One verified input, written under the task directory at its artifact name.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub task_id: String,
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
}

/// Downloads `name` of `task_id` into `dir/<name>`, hashing while writing, and checks the hash
/// against the queue's record (latestArtifactInfo's `contentSha256`, asked with the worker's credentials).
pub async fn fetch_verified(
    run: &RunApi,
    http: &reqwest::Client,
    dir: &Path,
    task_id: &str,
    name: &str,
) -> Result<Fetched, UpstreamError> {
    let fetch_err = |source| UpstreamError::Fetch {
        task_id: task_id.to_string(),
        name: name.to_string(),
        source,
    };
    let recorded = recorded_sha256(run, task_id, name)
        .await
        .map_err(fetch_err)?;
    let Some(want) = recorded else {
        return Err(UpstreamError::ChainOfTrust {
            task_id: task_id.into(),
            name: name.into(),
            reason: "the queue recorded no SHA-256 for it (not an uploaded s3 artifact)".into(),
        });
    };
    let path = dir.join(name);
    let got = download_hashing(run, http, task_id, name, &path).await?;
    if !got.eq_ignore_ascii_case(&want) {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(UpstreamError::ChainOfTrust {
            task_id: task_id.into(),
            name: name.into(),
            reason: format!(
                "downloaded SHA-256 {got} is not the {want} the queue recorded at upload"
            ),
        });
    }
    Ok(Fetched {
        task_id: task_id.into(),
        name: name.into(),
        path,
        sha256: got,
    })
}

async fn recorded_sha256(
    run: &RunApi,
    task_id: &str,
    name: &str,
) -> Result<Option<String>, CallError> {
    let info = run.api().latest_artifact_info(task_id, name).await?;
    Ok(info
        .get("contentSha256")
        .and_then(Value::as_str)
        .map(str::to_string))
}

/// Streams the artifact to `path`; returns the hex SHA-256 of what was written.
async fn download_hashing(
    run: &RunApi,
    http: &reqwest::Client,
    task_id: &str,
    name: &str,
    path: &Path,
) -> Result<String, UpstreamError> {
    let what = format!("downloading {name} of {task_id}");
    let url = run
        .artifact_url(task_id, name)
        .map_err(|source| UpstreamError::Fetch {
            task_id: task_id.into(),
            name: name.into(),
            source,
        })?;
    let write_err = |source| UpstreamError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(write_err)?;
    }
    let result = run
        .api()
        .retrying(&what, || async {
            let resp = http
                .get(&url)
                .send()
                .await
                .map_err(|e| CallError::new(&what, None, e.to_string()))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(CallError::new(
                    &what,
                    Some(status.as_u16()),
                    format!("HTTP {status}"),
                ));
            }
            // Each attempt starts the file again, so a retry never appends to a partial one.
            let io =
                |e: std::io::Error| CallError::new(&what, None, format!("{}: {e}", path.display()));
            let mut file = tokio::fs::File::create(path).await.map_err(io)?;
            let mut hasher = Sha256::new();
            let mut body = resp.bytes_stream();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| CallError::new(&what, None, e.to_string()))?;
                hasher.update(&chunk);
                file.write_all(&chunk).await.map_err(io)?;
            }
            file.flush().await.map_err(io)?;
            Ok(hex::encode(hasher.finalize()))
        })
        .await;
    result.map_err(|source| UpstreamError::Fetch {
        task_id: task_id.into(),
        name: name.into(),
        source,
    })
}
