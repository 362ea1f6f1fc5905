//! Signed blob URLs: `PUT`, `GET` and `HEAD` `/api/queue/v1/blobs/{*key}`.
//!
//! These are the `putUrl`s of `s3` artifacts and the URLs `getArtifact` redirects to. They carry
//! no Hawk credentials: the query's HMAC signature (see [`BlobStore::put_url`] and
//! [`BlobStore::get_url`]) is the authorization, as with S3 presigned URLs.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::Router;
use http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use relyard_core::ApiError;
use serde::Deserialize;

use crate::blobs::{validate_key, Access, BlobError, BlobInfo, BlobStore};

/// The blob routes, relative to `/api/queue/v1`.
pub fn router(blobs: Arc<BlobStore>) -> Router {
    Router::new()
        .route("/blobs/{*key}", put(put_blob).get(get_blob))
        .with_state(blobs)
}

#[derive(Debug, Deserialize)]
struct Signed {
    expires: Option<String>,
    #[serde(rename = "contentType")]
    content_type: Option<String>,
    signature: Option<String>,
}

fn key_of(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(key) =
        path.map_err(|e| ApiError::input(format!("invalid blob name: {}", e.body_text())))?;
    validate_key(&key)?;
    Ok(key)
}

/// Checks the URL's signature for `access`; returns the signed content type.
fn check_signature(
    blobs: &BlobStore,
    access: Access,
    key: &str,
    query: Result<Query<Signed>, QueryRejection>,
) -> Result<String, ApiError> {
    let Query(signed) = query.map_err(|_| BlobError::BadSignature("malformed query string"))?;
    let expires = signed
        .expires
        .ok_or(BlobError::BadSignature("the URL has no expires parameter"))?;
    let expires: i64 = expires
        .parse()
        .map_err(|_| BlobError::BadSignature("expires is not a number"))?;
    let signature = signed.signature.ok_or(BlobError::BadSignature(
        "the URL has no signature parameter",
    ))?;
    let content_type = match access {
        Access::Put => signed.content_type.ok_or(BlobError::BadSignature(
            "the URL has no contentType parameter",
        ))?,
        Access::Get => String::new(),
    };
    blobs.verify(access, key, expires, &content_type, &signature)?;
    Ok(content_type)
}

fn header_str(headers: &HeaderMap, name: http::HeaderName) -> Result<Option<&str>, ApiError> {
    match headers.get(&name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::input(format!("the {name} header is not valid ASCII"))),
    }
}

async fn put_blob(
    State(blobs): State<Arc<BlobStore>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Signed>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let key = key_of(path)?;
    let content_type = check_signature(&blobs, Access::Put, &key, query)?;

    let got = header_str(&headers, CONTENT_TYPE)?.unwrap_or("").trim();
    if got != content_type {
        return Err(BlobError::ContentTypeMismatch {
            signed: content_type,
            got: got.to_string(),
        }
        .into());
    }
    let declared_len = match header_str(&headers, CONTENT_LENGTH)? {
        None => None,
        Some(value) => Some(
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| ApiError::input(format!("invalid Content-Length {value:?}")))?,
        ),
    };
    let content_encoding = header_str(&headers, CONTENT_ENCODING)?;

    let info = blobs
        .put_stream(
            &key,
            &content_type,
            content_encoding,
            declared_len,
            body.into_data_stream(),
        )
        .await?;
    tracing::debug!(key, size = info.size, sha256 = %info.sha256, "blob uploaded");
    let mut resp = StatusCode::OK.into_response();
    set_etag(resp.headers_mut(), &info);
    Ok(resp)
}

/// `GET` streams the bytes; `HEAD` (routed here too) answers the same headers without them.
async fn get_blob(
    State(blobs): State<Arc<BlobStore>>,
    method: Method,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Signed>, QueryRejection>,
) -> Result<Response, ApiError> {
    let key = key_of(path)?;
    check_signature(&blobs, Access::Get, &key, query)?;
    let (info, size, body) = if method == Method::HEAD {
        let (info, size) = blobs.stat(&key).await?;
        (info, size, Body::empty())
    } else {
        let reader = blobs.open(&key).await?;
        (reader.info, reader.size, Body::from_stream(reader.stream))
    };
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&info.content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(size));
    if let Some(encoding) = info
        .content_encoding
        .as_deref()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        headers.insert(CONTENT_ENCODING, encoding);
    }
    // The URL is signed and short-lived: let the client cache it, but no shared cache.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
    set_etag(headers, &info);
    Ok(resp)
}

fn set_etag(headers: &mut HeaderMap, info: &BlobInfo) {
    if let Ok(value) = HeaderValue::from_str(&format!("\"{}\"", info.sha256)) {
        headers.insert(ETAG, value);
    }
}
