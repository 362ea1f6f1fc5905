//! Receiving an upload: the body is streamed to a temp file while its sha256 is computed, and
//! refused (413) as soon as it passes the format's size limit, so a large body is never held in
//! memory or read to its end.

use std::path::Path;

use axum::body::Body;
use futures::TryStreamExt as _;
use relyard_core::ApiError;
use sha2::{Digest, Sha256};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt as _;

/// A received body: its temp file (deleted when dropped), sha256 (lowercase hex) and size.
pub struct Received {
    pub path: TempPath,
    pub sha256: String,
    pub size: u64,
}

pub fn too_large(max: u64) -> ApiError {
    ApiError::too_large(format!(
        "the input is larger than this format's limit of {max} bytes"
    ))
}

pub async fn receive(body: Body, dir: &Path, max: u64) -> Result<Received, ApiError> {
    let (file, path) = tempfile::NamedTempFile::new_in(dir)
        .map_err(ApiError::internal)?
        .into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| ApiError::input(format!("reading the upload: {e}")))?
    {
        size += chunk.len() as u64;
        if size > max {
            return Err(too_large(max));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    Ok(Received {
        path,
        sha256: hex::encode(hasher.finalize()),
        size,
    })
}

/// A sha256 as a client sends it: 64 hex digits, either case; returned lowercase.
pub fn parse_sha256(text: &str) -> Option<String> {
    (text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}
