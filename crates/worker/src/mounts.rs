//! Mounts: files and read-only directories put into the task directory before the task starts,
//! from another task's artifact, a URL, or bytes in the payload; checked against `sha256` when the
//! payload gives one.

use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::payload::{Content, Mount};
use crate::queue_api::{CallError, RunApi};

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("fetching {what}: {message}")]
    Fetch { what: String, message: String },
    #[error("{what}: sha256 is {got}, the payload expects {want}")]
    Checksum {
        what: String,
        got: String,
        want: String,
    },
    #[error("unpacking into {dir}: {source}")]
    Unpack {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl MountError {
    /// A checksum mismatch or bytes that are not what the payload says are the task's fault
    /// (malformed-payload); a failed download may be passing.
    pub fn is_task_fault(&self) -> bool {
        matches!(
            self,
            MountError::Checksum { .. } | MountError::Unpack { .. }
        )
    }
}

/// Puts every mount in place under `task_dir`.
pub async fn apply_all(
    run: &RunApi,
    http: &reqwest::Client,
    task_dir: &Path,
    mounts: &[Mount],
) -> Result<Vec<String>, MountError> {
    let mut done = Vec::new();
    for m in mounts {
        match m {
            Mount::File(f) => {
                let bytes = fetch(run, http, &f.content).await?;
                let path = task_dir.join(&f.file);
                write_file(&path, &bytes).await?;
                done.push(format!("file {}", f.file));
            }
            Mount::ReadOnlyDirectory(d) => {
                let bytes = fetch(run, http, &d.content).await?;
                let dir = task_dir.join(&d.directory);
                let format = d.format.clone();
                let target = dir.clone();
                tokio::task::spawn_blocking(move || unpack_read_only(&bytes, &format, &target))
                    .await
                    .map_err(|e| MountError::Unpack {
                        dir: dir.clone(),
                        source: std::io::Error::other(e),
                    })??;
                done.push(format!("read-only directory {}", d.directory));
            }
            // parse() refuses cache mounts, so none reaches here.
            Mount::Cache(_) => {}
        }
    }
    Ok(done)
}

async fn write_file(path: &Path, bytes: &[u8]) -> Result<(), MountError> {
    let err = |source| MountError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(err)?;
    }
    tokio::fs::write(path, bytes).await.map_err(err)
}

/// The bytes of a mount's content, checked against its sha256.
async fn fetch(
    run: &RunApi,
    http: &reqwest::Client,
    content: &Content,
) -> Result<Vec<u8>, MountError> {
    let (what, bytes, want) = match content {
        Content::Raw { raw } => ("raw content".to_string(), raw.as_bytes().to_vec(), None),
        Content::Base64 { base64 } => (
            "base64 content".to_string(),
            base64::engine::general_purpose::STANDARD
                .decode(base64)
                .map_err(|e| MountError::Fetch {
                    what: "base64 content".into(),
                    message: e.to_string(),
                })?,
            None,
        ),
        Content::Url { url, sha256 } => (
            url.clone(),
            download(run, http, url, url).await?,
            sha256.clone(),
        ),
        Content::Artifact {
            task_id,
            artifact,
            sha256,
        } => {
            let what = format!("artifact {artifact} of task {task_id}");
            let url = run
                .artifact_url(task_id, artifact)
                .map_err(|e| MountError::Fetch {
                    what: what.clone(),
                    message: e.to_string(),
                })?;
            (
                what.clone(),
                download(run, http, &url, &what).await?,
                sha256.clone(),
            )
        }
        Content::Indexed { namespace, .. } => {
            return Err(MountError::Fetch {
                what: namespace.clone(),
                message: "indexed content is not supported".into(),
            })
        }
    };
    if let Some(want) = want {
        let got = hex::encode(Sha256::digest(&bytes));
        if !got.eq_ignore_ascii_case(&want) {
            return Err(MountError::Checksum { what, got, want });
        }
    }
    Ok(bytes)
}

async fn download(
    run: &RunApi,
    http: &reqwest::Client,
    url: &str,
    what: &str,
) -> Result<Vec<u8>, MountError> {
    let bytes = run
        .api()
        .retrying(what, || async {
            let resp = http
                .get(url)
                .send()
                .await
                .map_err(|e| CallError::new(what, None, e.to_string()))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(CallError::new(
                    what,
                    Some(status.as_u16()),
                    format!("HTTP {status}"),
                ));
            }
            resp.bytes()
                .await
                .map_err(|e| CallError::new(what, None, e.to_string()))
        })
        .await
        .map_err(|e| MountError::Fetch {
            what: what.to_string(),
            message: e.message,
        })?;
    Ok(bytes.to_vec())
}

/// Unpacks a tar (optionally gzipped) archive, then takes write permission away from everything.
fn unpack_read_only(bytes: &[u8], format: &str, dir: &Path) -> Result<(), MountError> {
    let err = |source| MountError::Unpack {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    match format {
        "tar.gz" => tar::Archive::new(flate2::read::GzDecoder::new(bytes))
            .unpack(dir)
            .map_err(err)?,
        "tar" => tar::Archive::new(bytes).unpack(dir).map_err(err)?,
        other => {
            return Err(err(std::io::Error::other(format!(
                "unsupported archive format {other}"
            ))))
        }
    }
    make_read_only(dir).map_err(err)
}

fn make_read_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            make_read_only(&entry?.path())?;
        }
    }
    let mode = meta.permissions().mode() & !0o222;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(enc);
        for (name, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, name, *data)
                .expect("append");
        }
        builder.into_inner().expect("tar").finish().expect("gz")
    }

    #[test]
    fn a_directory_mount_is_unpacked_read_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("tools");
        let archive = tar_gz_of(&[("bin/tool.sh", b"echo hi"), ("README", b"r")]);
        unpack_read_only(&archive, "tar.gz", &target).expect("unpacks");
        let tool = target.join("bin/tool.sh");
        assert_eq!(std::fs::read(&tool).expect("read"), b"echo hi");
        let mode = std::fs::metadata(&tool).expect("meta").permissions().mode();
        assert_eq!(mode & 0o222, 0, "still writable: {mode:o}");
        // Let the tempdir be removed.
        for p in [target.join("bin"), target.clone()] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }

    #[test]
    fn a_corrupt_archive_is_the_tasks_fault() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e =
            unpack_read_only(b"not a tarball", "tar.gz", &dir.path().join("x")).expect_err("fails");
        assert!(e.is_task_fault());
    }
}
