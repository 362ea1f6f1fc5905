//! Uploading a task's artifacts: each file through the queue's `s3` storage type (createArtifact
//! answers a signed `putUrl`, the bytes are PUT there and the queue records size and sha256), and
//! an `error` artifact for what the payload promised but the task did not make.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::payload::{ArtifactKind, ArtifactSpec};
use crate::queue_api::{CallError, RunApi};

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("uploading {name}: {message}")]
    Upload { name: String, message: String },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ArtifactError {
    /// The run is no longer ours: the queue refused with 409.
    pub fn is_conflict(&self) -> bool {
        matches!(self, ArtifactError::Call(e) if e.is_conflict())
    }

    /// The queue refused what the payload asked for (a 400: a bad name, content type or
    /// expiry): the task's fault, not the worker's.
    pub fn is_task_fault(&self) -> bool {
        matches!(self, ArtifactError::Call(e) if e.status == Some(400))
    }
}

/// What the upload of a payload's artifacts came to.
#[derive(Debug, Default)]
pub struct UploadOutcome {
    pub uploaded: usize,
    /// Non-optional artifacts that were missing: each got an `error` artifact, and the task fails.
    pub missing: Vec<String>,
}

/// The content type of a file: the payload's, else guessed from its name.
pub(crate) fn content_type_of(spec_type: Option<&str>, path: &Path) -> String {
    if let Some(t) = spec_type {
        return t.to_string();
    }
    mime_guess::from_path(path)
        .first_raw()
        .map(|m| {
            if m.starts_with("text/") {
                format!("{m}; charset=utf-8")
            } else {
                m.to_string()
            }
        })
        .unwrap_or_else(|| "application/octet-stream".into())
}

/// Creates an `s3` artifact and PUTs the file's bytes to its `putUrl`.
pub async fn upload_file(
    run: &RunApi,
    http: &reqwest::Client,
    name: &str,
    path: &Path,
    content_type: &str,
    expires: &str,
) -> Result<(), ArtifactError> {
    let read_err = |source| ArtifactError::Read {
        path: path.to_path_buf(),
        source,
    };
    let len = tokio::fs::metadata(path).await.map_err(read_err)?.len();
    let answer = run
        .create_artifact(
            name,
            &json!({"storageType": "s3", "contentType": content_type, "expires": expires, "contentLength": len}),
        )
        .await?;
    let put_url = answer
        .get("putUrl")
        .and_then(|u| u.as_str())
        .ok_or_else(|| ArtifactError::Upload {
            name: name.into(),
            message: format!("createArtifact answered no putUrl: {answer}"),
        })?;
    // The signed URL stays valid for 45 minutes, so a retry needs no new one.
    let what = format!("uploading {name}");
    run.api()
        .retrying(&what, || async {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| CallError::new(&what, None, format!("{}: {e}", path.display())))?;
            let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
            let resp = http
                .put(put_url)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .header(reqwest::header::CONTENT_LENGTH, len)
                .body(body)
                .send()
                .await
                .map_err(|e| CallError::new(&what, None, e.to_string()))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(());
            }
            let text = resp.text().await.unwrap_or_default();
            Err(CallError::new(
                &what,
                Some(status.as_u16()),
                format!("{status}: {text}"),
            ))
        })
        .await?;
    Ok(())
}

/// An `error` artifact, as generic-worker makes for a missing file.
pub async fn create_error(
    run: &RunApi,
    name: &str,
    reason: &str,
    message: &str,
    expires: &str,
) -> Result<(), ArtifactError> {
    run.create_artifact(
        name,
        &json!({"storageType": "error", "reason": reason, "message": message, "expires": expires}),
    )
    .await?;
    Ok(())
}

/// Uploads the payload's artifacts from the task directory.
pub async fn upload_all(
    run: &RunApi,
    http: &reqwest::Client,
    task_dir: &Path,
    specs: &[ArtifactSpec],
    task_expires: &str,
    log: &crate::livelog::LiveLog,
) -> Result<UploadOutcome, ArtifactError> {
    let mut outcome = UploadOutcome::default();
    for spec in specs {
        let expires = spec.expires.as_deref().unwrap_or(task_expires);
        let path = task_dir.join(&spec.path);
        let found = match spec.kind {
            ArtifactKind::File => tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file()),
            ArtifactKind::Directory => tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir()),
        };
        if !found {
            let what = match spec.kind {
                ArtifactKind::File => "file",
                ArtifactKind::Directory => "directory",
            };
            let message = format!("Could not read {what} {:?}", spec.path);
            if spec.optional {
                log.worker_line(&format!(
                    "optional artifact {} not found: {message}",
                    spec.name()
                ));
                continue;
            }
            log.worker_line(&format!("artifact {} is missing: {message}", spec.name()));
            create_error(
                run,
                spec.name(),
                "file-missing-on-worker",
                &message,
                expires,
            )
            .await?;
            outcome.missing.push(spec.name().to_string());
            continue;
        }
        let files = match spec.kind {
            ArtifactKind::File => vec![(spec.name().to_string(), path.clone())],
            ArtifactKind::Directory => walk(&path, spec.name()).await?,
        };
        for (name, file) in files {
            let ct = content_type_of(spec.content_type.as_deref(), &file);
            upload_file(run, http, &name, &file, &ct, expires).await?;
            log.worker_line(&format!("uploaded artifact {name}"));
            outcome.uploaded += 1;
        }
    }
    Ok(outcome)
}

/// Every regular file below `dir`, named `<prefix>/<relative path>`, in a stable order.
async fn walk(dir: &Path, prefix: &str) -> Result<Vec<(String, PathBuf)>, ArtifactError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries = tokio::fs::read_dir(&d)
            .await
            .map_err(|source| ArtifactError::Read {
                path: d.clone(),
                source,
            })?;
        while let Some(e) = entries
            .next_entry()
            .await
            .map_err(|source| ArtifactError::Read {
                path: d.clone(),
                source,
            })?
        {
            let p = e.path();
            // Symlinks are not followed: a task must not publish files outside its directory.
            let Ok(ft) = e.file_type().await else {
                continue;
            };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                if let Ok(rel) = p.strip_prefix(dir) {
                    let rel = rel.to_string_lossy().replace('\\', "/");
                    out.push((format!("{}/{rel}", prefix.trim_end_matches('/')), p));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type_of(Some("x/y"), Path::new("a.txt")), "x/y");
        assert_eq!(
            content_type_of(None, Path::new("a.txt")),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            content_type_of(None, Path::new("a.unknownext")),
            "application/octet-stream"
        );
    }

    #[tokio::test]
    async fn directory_artifacts_are_named_by_relative_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("a.txt"), "a").expect("write");
        std::fs::write(dir.path().join("sub/b.bin"), "b").expect("write");
        let files = walk(dir.path(), "public/out/").await.expect("walk");
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["public/out/a.txt", "public/out/sub/b.bin"]);
    }
}
