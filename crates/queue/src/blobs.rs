//! The byte storage behind the queue's `s3` artifacts.
//!
//! Bytes live in an object store ([`object_store`]): a local directory by default, an
//! S3-compatible bucket (AWS, MinIO, …) in production. Each finished upload is recorded in the
//! `blobs` table with its size, SHA-256, content type and content encoding.
//!
//! Clients never talk to the object store directly. The queue hands out URLs that point at relyard
//! itself (`<rootUrl>/api/queue/v1/blobs/<key>?expires=…&signature=…`), signed with HMAC-SHA256, and
//! the handlers in `http/blobs.rs` stream the bytes between the client and the object store. So a
//! single `relyard up` needs no S3, and a worker's `PUT putUrl` works the same against either
//! backend, exactly as Taskcluster's workers do against presigned S3 URLs.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use futures::Stream;
use hmac::{Hmac, Mac};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::{Path as ObjectPath, PathPart};
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use relyard_core::{ApiError, Timestamp};
use relyard_store::{Db, Row, StoreError};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// How long a `PUT` URL stays valid at most, like an S3 presigned URL: the artifact's `expires` is
/// the life of the object, not of the URL that uploads it.
pub const PUT_URL_MAX_TTL_MS: i64 = 60 * 60 * 1000;

/// The largest blob accepted unless [`BlobStore::with_max_size`] says otherwise (S3's limit for a
/// single `PUT`).
pub const DEFAULT_MAX_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// The longest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Bodies up to this size are buffered and written with one `put`; larger ones stream through a
/// multipart upload.
const MULTIPART_THRESHOLD: usize = 8 * 1024 * 1024;
/// Size of each multipart part (S3 needs at least 5 MiB for all but the last).
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts uploaded concurrently while the body streams in; bounds memory per upload.
const PARTS_IN_FLIGHT: usize = 4;
/// The longest path segment once encoded (file-name limit of common file systems).
const MAX_SEGMENT_BYTES: usize = 255;

/// Characters escaped in a URL path segment or query value: everything but RFC 3986's unreserved.
const URL_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What a signed URL allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Upload the blob (`PUT`).
    Put,
    /// Download the blob (`GET` and `HEAD`).
    Get,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Access::Put => "PUT",
            Access::Get => "GET",
        }
    }
}

/// What the `blobs` table knows about a finished upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub size: i64,
    /// Lower-case hex SHA-256 of the bytes as stored.
    pub sha256: String,
    pub content_type: String,
    /// The `Content-Encoding` the bytes were uploaded with (e.g. `gzip`), served back on download.
    pub content_encoding: Option<String>,
    pub uploaded: Timestamp,
}

/// A blob opened for reading: its record and its bytes.
pub struct BlobReader {
    pub info: BlobInfo,
    /// Length of the stream, from the object store.
    pub size: u64,
    pub stream: BoxStream<'static, Result<Bytes, object_store::Error>>,
}

impl fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobReader")
            .field("info", &self.info)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid blob name {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("no blob named {0:?}")]
    NotFound(String),
    #[error("bad signed URL: {0}")]
    BadSignature(&'static str),
    #[error("the signed URL expired at {0}")]
    Expired(Timestamp),
    #[error(
        "Content-Type {got:?} does not match the content type {signed:?} this URL was signed for"
    )]
    ContentTypeMismatch { signed: String, got: String },
    #[error("invalid Content-Encoding {0:?}")]
    InvalidContentEncoding(String),
    #[error("Content-Length says {declared} bytes but the body had {received}")]
    LengthMismatch { declared: u64, received: u64 },
    #[error("blob is larger than the limit of {max} bytes")]
    TooLarge { max: u64 },
    #[error("could not read the request body: {0}")]
    Body(String),
    #[error("blob name {key:?} conflicts with the existing blob {existing:?} (one is a prefix directory of the other)")]
    Conflict { key: String, existing: String },
    #[error("invalid blob store configuration: {0}")]
    Config(String),
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for BlobError {
    fn from(e: sqlx::Error) -> Self {
        BlobError::Store(StoreError::Sqlx(e))
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::InvalidKey { .. }
            | BlobError::ContentTypeMismatch { .. }
            | BlobError::InvalidContentEncoding(_)
            | BlobError::LengthMismatch { .. }
            | BlobError::Body(_) => ApiError::input(e.to_string()),
            BlobError::NotFound(_) => ApiError::not_found(e.to_string()),
            BlobError::ObjectStore(object_store::Error::NotFound { .. }) => {
                ApiError::not_found("blob not found")
            }
            BlobError::BadSignature(_) | BlobError::Expired(_) => {
                ApiError::unauthenticated(e.to_string())
            }
            BlobError::TooLarge { .. } => ApiError::too_large(e.to_string()),
            BlobError::Conflict { .. } => ApiError::conflict(e.to_string()),
            BlobError::Config(_) | BlobError::ObjectStore(_) => ApiError::internal(e),
            BlobError::Store(e) => ApiError::from(e),
        }
    }
}

/// Artifact bytes in an object store, the `blobs` table that records them, and the key that signs
/// URLs to them.
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    db: Db,
    root_url: String,
    signing_key: Vec<u8>,
    max_size: u64,
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobStore")
            .field("store", &self.store.to_string())
            .field("root_url", &self.root_url)
            .field("max_size", &self.max_size)
            .finish_non_exhaustive()
    }
}

impl BlobStore {
    /// Blobs in files under `dir` (created when missing).
    pub fn local(
        dir: PathBuf,
        root_url: String,
        signing_key: Vec<u8>,
        db: Db,
    ) -> Result<BlobStore, BlobError> {
        std::fs::create_dir_all(&dir).map_err(|e| {
            BlobError::Config(format!(
                "cannot create blob directory {}: {e}",
                dir.display()
            ))
        })?;
        let fs = LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| BlobError::Config(format!("blob directory {}: {e}", dir.display())))?
            .with_automatic_cleanup(true);
        Self::new(Arc::new(fs), root_url, signing_key, db)
    }

    /// Blobs in an S3 bucket. `endpoint` selects an S3-compatible server (`http://127.0.0.1:9000`
    /// for MinIO; plain http is allowed) with path-style requests; `None` means AWS itself.
    #[allow(clippy::too_many_arguments)]
    pub fn s3(
        bucket: String,
        endpoint: Option<String>,
        region: String,
        access_key: String,
        secret_key: String,
        root_url: String,
        signing_key: Vec<u8>,
        db: Db,
    ) -> Result<BlobStore, BlobError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(region)
            .with_access_key_id(access_key)
            .with_secret_access_key(secret_key);
        if let Some(endpoint) = endpoint {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false)
                .with_endpoint(endpoint);
        }
        let s3 = builder
            .build()
            .map_err(|e| BlobError::Config(format!("S3: {e}")))?;
        Self::new(Arc::new(s3), root_url, signing_key, db)
    }

    /// Blobs in any object store (e.g. `object_store::memory::InMemory` in tests).
    pub fn new(
        store: Arc<dyn ObjectStore>,
        root_url: String,
        signing_key: Vec<u8>,
        db: Db,
    ) -> Result<BlobStore, BlobError> {
        if signing_key.len() < 16 {
            return Err(BlobError::Config(
                "the URL signing key must be at least 16 bytes".into(),
            ));
        }
        let root_url = root_url.trim_end_matches('/').to_string();
        if !(root_url.starts_with("http://") || root_url.starts_with("https://")) {
            return Err(BlobError::Config(format!(
                "root URL {root_url:?} is not an http(s) URL"
            )));
        }
        Ok(BlobStore {
            store,
            db,
            root_url,
            signing_key,
            max_size: DEFAULT_MAX_SIZE,
        })
    }

    /// Refuses blobs larger than `max` bytes (413).
    pub fn with_max_size(mut self, max: u64) -> Self {
        self.max_size = max;
        self
    }

    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// The object store underneath.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    // ----- signed URLs -------------------------------------------------------------------------

    /// A URL that uploads `key` with `PUT`, with `Content-Type: content_type`. It is valid until
    /// `expires` (the artifact's expiry) or for [`PUT_URL_MAX_TTL_MS`], whichever comes first.
    pub fn put_url(&self, key: &str, content_type: &str, expires: Timestamp) -> String {
        self.signed_put_url(key, content_type, expires).0
    }

    /// [`put_url`](Self::put_url) and the time the URL stops working (what Taskcluster answers as
    /// `expires` next to `putUrl`).
    pub fn signed_put_url(
        &self,
        key: &str,
        content_type: &str,
        expires: Timestamp,
    ) -> (String, Timestamp) {
        let until = expires.min(Timestamp::now().plus_ms(PUT_URL_MAX_TTL_MS));
        let signature = self.sign(Access::Put, key, until.millis(), content_type);
        let url = format!(
            "{}?expires={}&contentType={}&signature={}",
            self.blob_url(key),
            until.millis(),
            utf8_percent_encode(content_type, URL_ESCAPE),
            signature
        );
        (url, until)
    }

    /// A URL that downloads `key` (`GET` or `HEAD`) until `valid_until`.
    pub fn get_url(&self, key: &str, valid_until: Timestamp) -> String {
        let signature = self.sign(Access::Get, key, valid_until.millis(), "");
        format!(
            "{}?expires={}&signature={}",
            self.blob_url(key),
            valid_until.millis(),
            signature
        )
    }

    /// `<rootUrl>/api/queue/v1/blobs/<key>`, each segment of the key percent-encoded.
    fn blob_url(&self, key: &str) -> String {
        let mut url = format!("{}/api/queue/v1/blobs", self.root_url);
        for segment in key.split('/') {
            url.push('/');
            url.extend(utf8_percent_encode(segment, URL_ESCAPE));
        }
        url
    }

    fn mac(&self, access: Access, key: &str, expires_ms: i64, content_type: &str) -> HmacSha256 {
        // Length prefixes keep the message unambiguous whatever the key and content type contain.
        let message = format!(
            "relyard-blob-v1\n{}\n{}:{}\n{}\n{}:{}",
            access.as_str(),
            key.len(),
            key,
            expires_ms,
            content_type.len(),
            content_type
        );
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.signing_key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(message.as_bytes());
        mac
    }

    fn sign(&self, access: Access, key: &str, expires_ms: i64, content_type: &str) -> String {
        hex::encode(
            self.mac(access, key, expires_ms, content_type)
                .finalize()
                .into_bytes(),
        )
    }

    /// Checks a signed URL's parameters: the signature (compared in constant time) and expiry.
    /// `content_type` is the URL's `contentType` (empty for downloads).
    pub fn verify(
        &self,
        access: Access,
        key: &str,
        expires_ms: i64,
        content_type: &str,
        signature_hex: &str,
    ) -> Result<(), BlobError> {
        let signature = hex::decode(signature_hex)
            .map_err(|_| BlobError::BadSignature("signature is not hex"))?;
        self.mac(access, key, expires_ms, content_type)
            .verify_slice(&signature)
            .map_err(|_| BlobError::BadSignature("signature does not match"))?;
        let expires = Timestamp::from_millis(expires_ms);
        if expires < Timestamp::now() {
            return Err(BlobError::Expired(expires));
        }
        Ok(())
    }

    // ----- bytes -------------------------------------------------------------------------------

    /// Stores `body` under `key`, replacing any earlier blob there, and records it.
    ///
    /// The body streams into the object store (bodies above a few MiB through a multipart upload)
    /// while its SHA-256 and size are computed; nothing is recorded unless the whole body arrived
    /// and, when `declared_len` is given, matched it.
    pub async fn put_stream<S, E>(
        &self,
        key: &str,
        content_type: &str,
        content_encoding: Option<&str>,
        declared_len: Option<u64>,
        body: S,
    ) -> Result<BlobInfo, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: fmt::Display,
    {
        let path = object_path(key)?;
        let content_encoding = normalize_content_encoding(content_encoding)?;
        if let Some(declared) = declared_len {
            if declared > self.max_size {
                return Err(BlobError::TooLarge { max: self.max_size });
            }
        }
        let mut body = std::pin::pin!(body);
        let mut sink = Sink {
            pending: Vec::new(),
            pending_len: 0,
            upload: None,
        };
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let received = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| BlobError::Body(e.to_string()))?;
                if chunk.is_empty() {
                    continue;
                }
                size += chunk.len() as u64;
                if size > self.max_size {
                    return Err(BlobError::TooLarge { max: self.max_size });
                }
                if let Some(declared) = declared_len {
                    if size > declared {
                        return Err(BlobError::LengthMismatch {
                            declared,
                            received: size,
                        });
                    }
                }
                hasher.update(&chunk);
                sink.push(&*self.store, &path, chunk).await?;
            }
            match declared_len {
                Some(declared) if declared != size => Err(BlobError::LengthMismatch {
                    declared,
                    received: size,
                }),
                _ => Ok(()),
            }
        }
        .await;
        if let Err(e) = received {
            sink.abort().await;
            return Err(self.explain_store_error(key, e).await);
        }
        if let Err(e) = sink.finish(&*self.store, &path).await {
            return Err(self.explain_store_error(key, e).await);
        }

        let info = BlobInfo {
            size: i64::try_from(size).map_err(|_| BlobError::TooLarge { max: self.max_size })?,
            sha256: hex::encode(hasher.finalize()),
            content_type: content_type.to_string(),
            content_encoding,
            uploaded: Timestamp::now(),
        };
        sqlx::query(
            "INSERT INTO blobs (key, size, sha256, content_type, content_encoding, uploaded) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (key) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, \
             content_type = excluded.content_type, content_encoding = excluded.content_encoding, \
             uploaded = excluded.uploaded",
        )
        .bind(key)
        .bind(info.size)
        .bind(&info.sha256)
        .bind(&info.content_type)
        .bind(info.content_encoding.as_deref().unwrap_or(""))
        .bind(info.uploaded.millis())
        .execute(self.db.writer())
        .await?;
        Ok(info)
    }

    /// Stores `bytes` under `key` (see [`put_stream`](Self::put_stream)).
    pub async fn put_bytes(
        &self,
        key: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> Result<BlobInfo, BlobError> {
        let len = bytes.len() as u64;
        let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes)]);
        self.put_stream(key, content_type, None, Some(len), body)
            .await
    }

    /// A write that failed because the local file system has `a` as a file where `a/b` needs a
    /// directory (or the reverse) is a conflict between names, not an internal error.
    async fn explain_store_error(&self, key: &str, e: BlobError) -> BlobError {
        if !matches!(e, BlobError::ObjectStore(_)) {
            return e;
        }
        match self.conflicting_key(key).await {
            Ok(Some(existing)) => BlobError::Conflict {
                key: key.to_string(),
                existing,
            },
            _ => e,
        }
    }

    async fn conflicting_key(&self, key: &str) -> Result<Option<String>, BlobError> {
        for (i, _) in key.match_indices('/') {
            let ancestor = &key[..i];
            if self.info(ancestor).await?.is_some() {
                return Ok(Some(ancestor.to_string()));
            }
        }
        let below = format!("{key}/");
        let row = sqlx::query(
            "SELECT key FROM blobs WHERE substr(key, 1, CAST($2 AS INTEGER)) = $1 LIMIT 1",
        )
        .bind(&below)
        .bind(below.chars().count() as i64)
        .fetch_optional(self.db.reader())
        .await?;
        Ok(match row {
            Some(row) => Some(row.try_get::<String, _>("key")?),
            None => None,
        })
    }

    /// The record of the blob under `key`, if one was uploaded.
    pub async fn info(&self, key: &str) -> Result<Option<BlobInfo>, BlobError> {
        let row = sqlx::query(
            "SELECT size, sha256, content_type, content_encoding, uploaded FROM blobs WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(self.db.reader())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let content_encoding: String = row.try_get("content_encoding")?;
        Ok(Some(BlobInfo {
            size: row.try_get("size")?,
            sha256: row.try_get("sha256")?,
            content_type: row.try_get("content_type")?,
            content_encoding: (!content_encoding.is_empty()).then_some(content_encoding),
            uploaded: Timestamp::from_millis(row.try_get("uploaded")?),
        }))
    }

    /// Opens the blob under `key` for reading; [`BlobError::NotFound`] when there is none.
    pub async fn open(&self, key: &str) -> Result<BlobReader, BlobError> {
        let path = object_path(key)?;
        let info = self
            .info(key)
            .await?
            .ok_or_else(|| BlobError::NotFound(key.to_string()))?;
        let got = match self.store.get(&path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(BlobError::NotFound(key.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        let size = got.meta.size as u64;
        Ok(BlobReader {
            info,
            size,
            stream: got.into_stream(),
        })
    }

    /// The record of the blob under `key` and its stored size, without reading it.
    pub async fn stat(&self, key: &str) -> Result<(BlobInfo, u64), BlobError> {
        let path = object_path(key)?;
        let info = self
            .info(key)
            .await?
            .ok_or_else(|| BlobError::NotFound(key.to_string()))?;
        match self.store.head(&path).await {
            Ok(meta) => Ok((info, meta.size as u64)),
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::NotFound(key.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads the whole blob into memory (for small blobs).
    pub async fn read_all(&self, key: &str) -> Result<Bytes, BlobError> {
        let reader = self.open(key).await?;
        let chunks: Vec<Bytes> = reader.stream.try_collect().await?;
        Ok(chunks.concat().into())
    }

    /// Deletes the blob under `key` and its record; a missing blob is fine.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        if let Ok(path) = object_path(key) {
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        sqlx::query("DELETE FROM blobs WHERE key = $1")
            .bind(key)
            .execute(self.db.writer())
            .await?;
        Ok(())
    }

    /// Deletes every blob whose key starts with `prefix` (e.g. `t/<taskId>/` when a task
    /// expires), objects and records, including objects whose upload was never recorded. Returns
    /// how many objects were deleted.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError> {
        if prefix.is_empty() {
            return Err(BlobError::InvalidKey {
                key: String::new(),
                reason: "an empty prefix would delete every blob",
            });
        }
        // List the deepest whole directory of the prefix, then keep the keys that really start
        // with it (a prefix may end inside a segment).
        let dir = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        let dir_path: ObjectPath = dir
            .split('/')
            .filter(|s| !s.is_empty())
            .map(PathPart::from)
            .collect();
        let listed: Vec<_> = self
            .store
            .list(if dir.is_empty() {
                None
            } else {
                Some(&dir_path)
            })
            .try_collect()
            .await?;
        let doomed: Vec<ObjectPath> = listed
            .into_iter()
            .map(|meta| meta.location)
            .filter(|location| key_of(location).is_some_and(|key| key.starts_with(prefix)))
            .collect();
        let mut deleted = 0u64;
        let mut results = self
            .store
            .delete_stream(futures::stream::iter(doomed.into_iter().map(Ok)).boxed());
        while let Some(result) = results.next().await {
            match result {
                Ok(_) => deleted += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        drop(results);
        sqlx::query("DELETE FROM blobs WHERE substr(key, 1, CAST($2 AS INTEGER)) = $1")
            .bind(prefix)
            .bind(prefix.chars().count() as i64)
            .execute(self.db.writer())
            .await?;
        Ok(deleted)
    }
}

/// Where an upload's bytes go: buffered while small, then a multipart upload.
struct Sink {
    pending: Vec<Bytes>,
    pending_len: usize,
    upload: Option<WriteMultipart>,
}

impl Sink {
    async fn push(
        &mut self,
        store: &dyn ObjectStore,
        path: &ObjectPath,
        chunk: Bytes,
    ) -> Result<(), BlobError> {
        if let Some(upload) = self.upload.as_mut() {
            upload.wait_for_capacity(PARTS_IN_FLIGHT).await?;
            upload.put(chunk);
            return Ok(());
        }
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= MULTIPART_THRESHOLD {
            let multipart = store.put_multipart(path).await?;
            let mut upload = WriteMultipart::new_with_chunk_size(multipart, PART_SIZE);
            for chunk in self.pending.drain(..) {
                upload.put(chunk);
            }
            self.pending_len = 0;
            self.upload = Some(upload);
        }
        Ok(())
    }

    async fn finish(self, store: &dyn ObjectStore, path: &ObjectPath) -> Result<(), BlobError> {
        match self.upload {
            Some(upload) => {
                upload.finish().await?;
            }
            None => {
                store.put(path, PutPayload::from_iter(self.pending)).await?;
            }
        }
        Ok(())
    }

    async fn abort(self) {
        if let Some(upload) = self.upload {
            if let Err(e) = upload.abort().await {
                tracing::warn!(error = %e, "could not abort a failed multipart upload");
            }
        }
    }
}

/// Checks that `key` can name a blob: non-empty, at most [`MAX_KEY_BYTES`], no control characters,
/// `/`-separated segments that are neither empty nor `.`/`..` (HTTP clients rewrite those) and not
/// longer than 255 bytes once encoded.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let invalid = |reason| {
        Err(BlobError::InvalidKey {
            key: key.to_string(),
            reason,
        })
    };
    if key.is_empty() {
        return invalid("it is empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return invalid("it is longer than 1024 bytes");
    }
    if key.chars().any(char::is_control) {
        return invalid("it contains control characters");
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return invalid("it has an empty segment (a leading, trailing or doubled '/')");
        }
        if segment == "." || segment == ".." {
            return invalid("it has a '.' or '..' segment");
        }
        if PathPart::from(segment).as_ref().len() > MAX_SEGMENT_BYTES {
            return invalid("a segment is longer than 255 bytes once encoded");
        }
    }
    Ok(())
}

/// The object-store path of `key`: each segment percent-encoded by [`PathPart`], so that distinct
/// keys get distinct paths and [`key_of`] reverses it.
fn object_path(key: &str) -> Result<ObjectPath, BlobError> {
    validate_key(key)?;
    Ok(key.split('/').map(PathPart::from).collect())
}

/// The key of an object-store path written by [`object_path`].
fn key_of(path: &ObjectPath) -> Option<String> {
    let mut key = String::new();
    for (i, part) in path.parts().enumerate() {
        if i > 0 {
            key.push('/');
        }
        key.push_str(&percent_decode_str(part.as_ref()).decode_utf8().ok()?);
    }
    Some(key)
}

/// `identity` and absence mean none; anything else must be a plain HTTP token.
fn normalize_content_encoding(value: Option<&str>) -> Result<Option<String>, BlobError> {
    let Some(value) = value.map(str::trim) else {
        return Ok(None);
    };
    if value.is_empty() || value.eq_ignore_ascii_case("identity") {
        return Ok(None);
    }
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~, ".contains(c);
    if value.len() > 64 || !value.chars().all(token) {
        return Err(BlobError::InvalidContentEncoding(value.to_string()));
    }
    Ok(Some(value.to_ascii_lowercase()))
}

/// The routes of signed blob URLs, relative to `/api/queue/v1`: `PUT`, `GET` and `HEAD` on
/// `/blobs/{*key}`.
pub fn router(blobs: Arc<BlobStore>) -> axum::Router {
    crate::http::blobs::router(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_paths_and_back() {
        for key in [
            "t/abc/0/public/logs/live.log",
            "a%b/c#1/d e/%2E/ü",
            "x?y*z/[q]",
        ] {
            let path = object_path(key).unwrap();
            assert_eq!(key_of(&path).as_deref(), Some(key), "{key} via {path}");
        }
        assert_ne!(object_path("a/%2E").unwrap(), object_path("a/.x").unwrap());
    }

    #[test]
    fn rejects_unusable_keys() {
        for key in [
            "",
            "/a",
            "a/",
            "a//b",
            "a/./b",
            "..",
            "a\nb",
            &"x".repeat(300),
            &"y/".repeat(600),
        ] {
            assert!(validate_key(key).is_err(), "{key:?}");
        }
        assert!(validate_key("public/build/target.tar.gz").is_ok());
    }

    #[test]
    fn content_encodings() {
        assert_eq!(normalize_content_encoding(None).unwrap(), None);
        assert_eq!(normalize_content_encoding(Some("identity")).unwrap(), None);
        assert_eq!(
            normalize_content_encoding(Some("GZIP")).unwrap().as_deref(),
            Some("gzip")
        );
        assert!(normalize_content_encoding(Some("gz\"ip")).is_err());
    }
}
