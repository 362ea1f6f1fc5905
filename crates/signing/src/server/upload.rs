//! Receiving an upload: the body is hashed as it streams in and refused (413) as soon as it
//! passes the format's size limit, so a large body is never read to its end. Small bodies stay
//! in memory; one that grows past [`IN_MEMORY_MAX`] goes on into a temp file, so a large input
//! is never held in memory while it arrives.

use std::path::Path;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures::TryStreamExt as _;
use relyard_core::ApiError;
use sha2::{Digest, Sha256};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt as _;

use crate::Sha256Digest;

/// Inputs up to this size are kept in memory (a temp file per small input costs more than
/// signing it).
pub const IN_MEMORY_MAX: usize = 1 << 20;

/// A received body, its sha256 and size.
pub struct Received {
    pub body: ReceivedBody,
    pub sha256: Sha256Digest,
    pub size: u64,
}

pub enum ReceivedBody {
    Memory(Bytes),
    /// Deleted when dropped.
    File(TempPath),
}

impl Received {
    /// A body that came whole in memory (a batch request's input).
    pub fn from_bytes(bytes: Bytes) -> Self {
        Self {
            sha256: Sha256Digest::of(&bytes),
            size: bytes.len() as u64,
            body: ReceivedBody::Memory(bytes),
        }
    }

    /// The input's bytes. Blocking when it is in a file: call it off the async runtime (the
    /// signer threads do).
    pub fn read(self) -> std::io::Result<Bytes> {
        match self.body {
            ReceivedBody::Memory(bytes) => Ok(bytes),
            ReceivedBody::File(path) => std::fs::read(&path).map(Bytes::from),
        }
    }
}

pub fn too_large(max: u64) -> ApiError {
    ApiError::too_large(format!(
        "the input is larger than this format's limit of {max} bytes"
    ))
}

pub async fn receive(body: Body, dir: &Path, max: u64) -> Result<Received, ApiError> {
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut memory = BytesMut::new();
    let mut file: Option<(tokio::fs::File, TempPath)> = None;
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
        if file.is_none() && memory.len() + chunk.len() <= IN_MEMORY_MAX {
            memory.extend_from_slice(&chunk);
            continue;
        }
        let (out, _) = match &mut file {
            Some(open) => open,
            None => {
                let (std_file, path) = tempfile::NamedTempFile::new_in(dir)
                    .map_err(ApiError::internal)?
                    .into_parts();
                let mut out = tokio::fs::File::from_std(std_file);
                out.write_all(&memory).await.map_err(ApiError::internal)?;
                memory = BytesMut::new();
                file.insert((out, path))
            }
        };
        out.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    let body = match file {
        None => ReceivedBody::Memory(memory.freeze()),
        Some((mut out, path)) => {
            out.flush().await.map_err(ApiError::internal)?;
            ReceivedBody::File(path)
        }
    };
    Ok(Received {
        body,
        sha256: Sha256Digest::from_bytes(hasher.finalize().into()),
        size,
    })
}
