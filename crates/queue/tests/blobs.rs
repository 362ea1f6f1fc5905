//! Signed blob URLs end to end: a real server on port 0, a temporary directory store, reqwest.

use std::sync::Arc;

use axum::Router;
use bytes::Bytes;
use relyard_core::Timestamp;
use relyard_queue::blobs::{self, BlobError, BlobStore};
use relyard_testing::TestDb;
use sha2::{Digest, Sha256};

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

struct Server {
    blobs: Arc<BlobStore>,
    root: String,
    http: reqwest::Client,
    dir: tempfile::TempDir,
    _db: TestDb,
}

async fn server() -> Server {
    server_with(|b| b).await
}

async fn server_with(configure: impl FnOnce(BlobStore) -> BlobStore) -> Server {
    let db = TestDb::new().await;
    db.db
        .migrate(&relyard_queue::migrations())
        .await
        .expect("migrations");
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let root = format!("http://{}", listener.local_addr().expect("addr"));
    let store = BlobStore::local(
        dir.path().join("blobs"),
        root.clone(),
        KEY.to_vec(),
        db.db.clone(),
    )
    .expect("blob store");
    let blobs = Arc::new(configure(store));
    let app = Router::new()
        .nest("/api/queue/v1", blobs::router(blobs.clone()))
        .layer(axum::middleware::from_fn(
            relyard_core::error::request_info_layer,
        ));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    Server {
        blobs,
        root,
        http: reqwest::Client::new(),
        dir,
        _db: db,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn soon() -> Timestamp {
    Timestamp::now().plus_secs(600)
}

/// Deterministic bytes that are not all alike.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i * 31 % 251) as u8 ^ (i >> 13) as u8)
        .collect()
}

impl Server {
    async fn put(
        &self,
        key: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let url = self.blobs.put_url(key, content_type, soon());
        self.http
            .put(url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("PUT")
    }

    async fn get(&self, key: &str) -> reqwest::Response {
        self.http
            .get(self.blobs.get_url(key, soon()))
            .send()
            .await
            .expect("GET")
    }
}

/// Asserts a Taskcluster error body with `code` and `status`.
async fn assert_error(resp: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let body: serde_json::Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["requestInfo"]["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/api/queue/v1/blobs/")),
        "{body}"
    );
    body
}

#[tokio::test]
async fn put_then_get_round_trips_bytes_and_records_them() {
    let s = server().await;
    let key = "t/fN1pVOuBQJ2ZDEtHMKNBQQ/0/public/build/a b+c%d#1/ü.json";
    let content_type = "application/vnd.relyard+json; charset=utf-8";
    let data = b"{\"hello\": \"world\"}\n".to_vec();

    let url = s.blobs.put_url(key, content_type, soon());
    assert!(
        url.starts_with(&format!(
            "{}/api/queue/v1/blobs/t/fN1pVOuBQJ2ZDEtHMKNBQQ/0/public/build/a%20b%2Bc%25d%231/",
            s.root
        )),
        "{url}"
    );
    let resp = s.put(key, content_type, data.clone()).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);

    let info = s.blobs.info(key).await.unwrap().expect("recorded");
    assert_eq!(info.size, data.len() as i64);
    assert_eq!(info.sha256, sha256_hex(&data));
    assert_eq!(info.content_type, content_type);
    assert_eq!(info.content_encoding, None);
    assert!(info.uploaded <= Timestamp::now() && info.uploaded > Timestamp::now().plus_secs(-60));

    let resp = s.get(key).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], content_type);
    assert_eq!(
        resp.headers()["content-length"],
        data.len().to_string().as_str()
    );
    assert!(resp
        .headers()
        .keys()
        .all(|h| !h.as_str().starts_with("x-amz")));
    assert_eq!(resp.bytes().await.unwrap(), data);

    let resp = s
        .http
        .head(s.blobs.get_url(key, soon()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-length"],
        data.len().to_string().as_str()
    );
    assert_eq!(resp.headers()["content-type"], content_type);
    assert!(resp.bytes().await.unwrap().is_empty());

    assert_eq!(s.blobs.read_all(key).await.unwrap(), data);
    assert_eq!(s.blobs.info("t/nothing/here").await.unwrap(), None);
}

#[tokio::test]
async fn put_url_lives_at_most_an_hour_and_get_url_until_asked() {
    let s = server().await;
    let far = Timestamp::now().plus_days(365);
    let (url, until) = s.blobs.signed_put_url("k", "text/plain", far);
    assert!(
        until <= Timestamp::now().plus_secs(3600) && until > Timestamp::now().plus_secs(3500),
        "{until}"
    );
    assert!(
        url.contains(&format!("expires={}", until.millis())),
        "{url}"
    );
    let near = Timestamp::now().plus_secs(60);
    assert_eq!(s.blobs.signed_put_url("k", "text/plain", near).1, near);
    assert!(s
        .blobs
        .get_url("k", far)
        .contains(&format!("expires={}", far.millis())));
}

#[tokio::test]
async fn bad_signatures_and_expired_urls_are_refused() {
    let s = server().await;
    let key = "t/x/0/public/file.txt";
    assert_eq!(s.put(key, "text/plain", "original").await.status(), 200);

    // A tampered signature.
    let url = s.blobs.put_url(key, "text/plain", soon());
    let last = url.chars().last().unwrap();
    let tampered = format!(
        "{}{}",
        &url[..url.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let resp = s
        .http
        .put(tampered)
        .header("content-type", "text/plain")
        .body("evil")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AuthenticationFailed").await;

    // A signature that is not hex, and one signed for another key.
    let resp = s
        .http
        .put(format!("{}zz", url))
        .header("content-type", "text/plain")
        .body("evil")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AuthenticationFailed").await;
    let other = s
        .blobs
        .put_url("t/x/0/public/other.txt", "text/plain", soon());
    let moved = other.replace("other.txt", "file.txt");
    let resp = s
        .http
        .put(moved)
        .header("content-type", "text/plain")
        .body("evil")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AuthenticationFailed").await;

    // A later expiry than was signed.
    let (url, until) = s.blobs.signed_put_url(key, "text/plain", soon());
    let extended = url.replace(
        &until.millis().to_string(),
        &until.plus_days(10).millis().to_string(),
    );
    let resp = s
        .http
        .put(extended)
        .header("content-type", "text/plain")
        .body("evil")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AuthenticationFailed").await;

    // Expired URLs, both ways.
    let past = Timestamp::now().plus_secs(-5);
    let resp = s
        .http
        .put(s.blobs.put_url(key, "text/plain", past))
        .header("content-type", "text/plain")
        .body("late")
        .send()
        .await
        .unwrap();
    let body = assert_error(resp, 401, "AuthenticationFailed").await;
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    let resp = s.http.get(s.blobs.get_url(key, past)).send().await.unwrap();
    assert_error(resp, 401, "AuthenticationFailed").await;

    // A download URL does not upload, and an upload URL does not download.
    let resp = s
        .http
        .put(s.blobs.get_url(key, soon()))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AuthenticationFailed").await;
    let resp = s
        .http
        .get(s.blobs.put_url(key, "text/plain", soon()))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AuthenticationFailed").await;

    // No signature at all, or a malformed expiry.
    let bare = format!("{}/api/queue/v1/blobs/{key}", s.root);
    assert_error(
        s.http.get(&bare).send().await.unwrap(),
        401,
        "AuthenticationFailed",
    )
    .await;
    let resp = s
        .http
        .get(format!("{bare}?expires=soon&signature=00"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AuthenticationFailed").await;

    // A store with another key does not accept these URLs.
    let stranger = BlobStore::local(
        s.dir.path().join("other"),
        s.root.clone(),
        vec![7; 32],
        s._db.db.clone(),
    )
    .unwrap();
    let resp = s
        .http
        .get(stranger.get_url(key, soon()))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AuthenticationFailed").await;

    // Nothing was overwritten.
    assert_eq!(s.get(key).await.text().await.unwrap(), "original");
}

#[tokio::test]
async fn the_signed_content_type_is_enforced() {
    let s = server().await;
    let key = "t/x/0/public/data.json";
    let url = s.blobs.put_url(key, "application/json", soon());
    let resp = s
        .http
        .put(&url)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    let body = assert_error(resp, 400, "InputError").await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("application/json"),
        "{body}"
    );
    let resp = s.http.put(&url).body("{}").send().await.unwrap();
    assert_error(resp, 400, "InputError").await;
    // Changing the URL's contentType breaks the signature.
    let swapped = url.replace("contentType=application%2Fjson", "contentType=text%2Fplain");
    assert_ne!(swapped, url);
    let resp = s
        .http
        .put(&swapped)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AuthenticationFailed").await;
    assert_eq!(s.blobs.info(key).await.unwrap(), None);

    let resp = s
        .http
        .put(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn missing_blobs_and_bad_names() {
    let s = server().await;
    assert_error(
        s.get("t/x/0/public/never-uploaded").await,
        404,
        "ResourceNotFound",
    )
    .await;
    let resp = s
        .http
        .head(s.blobs.get_url("t/x/0/public/never-uploaded", soon()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    for bad in ["a//b", "a/b/", "a\u{7}b"] {
        let resp = s.put(bad, "text/plain", "x").await;
        assert_error(resp, 400, "InputError").await;
    }
    assert!(matches!(
        blobs::validate_key("../etc/passwd"),
        Err(BlobError::InvalidKey { .. })
    ));

    // The object vanished behind the table's back: still a 404, not a 500.
    assert_eq!(s.put("t/x/0/gone", "text/plain", "x").await.status(), 200);
    s.blobs
        .object_store()
        .delete(&"t/x/0/gone".into())
        .await
        .unwrap();
    assert_error(s.get("t/x/0/gone").await, 404, "ResourceNotFound").await;
}

#[tokio::test]
async fn large_bodies_stream_through() {
    let s = server().await;

    // 5 MB with a Content-Length.
    let data = pattern(5_000_000);
    let resp = s
        .put(
            "t/big/0/public/five.bin",
            "application/octet-stream",
            data.clone(),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let info = s
        .blobs
        .info("t/big/0/public/five.bin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (info.size, info.sha256.as_str()),
        (5_000_000, sha256_hex(&data).as_str())
    );
    let got = s
        .get("t/big/0/public/five.bin")
        .await
        .bytes()
        .await
        .unwrap();
    assert!(got == data, "5 MB body differs");

    // 20 MiB chunked, with no Content-Length: goes through a multipart upload.
    let data = pattern(20 * 1024 * 1024 + 17);
    let chunks: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(300_001)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let resp = s
        .put("t/big/0/public/twenty.bin", "application/x-tar", body)
        .await;
    assert_eq!(resp.status(), 200);
    let info = s
        .blobs
        .info("t/big/0/public/twenty.bin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.size, data.len() as i64);
    assert_eq!(info.sha256, sha256_hex(&data));
    let resp = s.get("t/big/0/public/twenty.bin").await;
    assert_eq!(
        resp.headers()["content-length"],
        data.len().to_string().as_str()
    );
    let got = resp.bytes().await.unwrap();
    assert!(got == data, "20 MiB body differs");
}

#[tokio::test]
async fn reuploads_replace_and_encodings_are_served_back() {
    let s = server().await;
    let key = "t/r/0/public/logs/live_backing.log";
    assert_eq!(
        s.put(key, "text/plain", "first version").await.status(),
        200
    );
    let first = s.blobs.info(key).await.unwrap().unwrap();

    let url = s.blobs.put_url(key, "text/plain; charset=utf-8", soon());
    let gz = vec![
        0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let resp = s
        .http
        .put(url)
        .header("content-type", "text/plain; charset=utf-8")
        .header("content-encoding", "gzip")
        .body(gz.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let second = s.blobs.info(key).await.unwrap().unwrap();
    assert_ne!(first.sha256, second.sha256);
    assert_eq!(second.size, gz.len() as i64);
    assert_eq!(second.content_type, "text/plain; charset=utf-8");
    assert_eq!(second.content_encoding.as_deref(), Some("gzip"));

    let resp = s.get(key).await;
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(resp.bytes().await.unwrap(), gz);
}

#[tokio::test]
async fn size_limits_and_length_mismatches() {
    let s = server_with(|b| b.with_max_size(1000)).await;
    let resp = s
        .put("t/l/0/big", "application/octet-stream", vec![1u8; 2000])
        .await;
    assert_error(resp, 413, "InputTooLarge").await;
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        (0..4).map(|_| Ok(Bytes::from(vec![2u8; 400]))).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let resp = s.put("t/l/0/big", "application/octet-stream", body).await;
    assert_error(resp, 413, "InputTooLarge").await;
    assert_eq!(s.blobs.info("t/l/0/big").await.unwrap(), None);
    assert_eq!(
        s.put("t/l/0/big", "application/octet-stream", vec![3u8; 1000])
            .await
            .status(),
        200
    );

    // A body shorter or longer than declared is refused and not recorded.
    let short = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"12345"))]);
    let err = s
        .blobs
        .put_stream("t/l/0/short", "text/plain", None, Some(10), short)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BlobError::LengthMismatch {
                declared: 10,
                received: 5
            }
        ),
        "{err}"
    );
    let long =
        futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"1234567890ab"))]);
    let err = s
        .blobs
        .put_stream("t/l/0/short", "text/plain", None, Some(10), long)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::LengthMismatch { .. }), "{err}");
    assert_eq!(s.blobs.info("t/l/0/short").await.unwrap(), None);
    let broken = futures::stream::iter([
        Ok(Bytes::from_static(b"12345")),
        Err(std::io::Error::other("client went away")),
    ]);
    let err = s
        .blobs
        .put_stream("t/l/0/short", "text/plain", None, None, broken)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::Body(_)), "{err}");
    assert_eq!(s.blobs.info("t/l/0/short").await.unwrap(), None);

    // Over the wire: a Content-Length the body never reaches.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = s.blobs.put_url("t/l/0/wire", "text/plain", soon());
    let path = url.strip_prefix(&s.root).unwrap();
    let mut conn = tokio::net::TcpStream::connect(s.root.strip_prefix("http://").unwrap())
        .await
        .unwrap();
    let request = format!(
        "PUT {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: text/plain\r\ncontent-length: 10\r\n\r\n12345"
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    conn.shutdown().await.unwrap();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer).await;
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(s.blobs.info("t/l/0/wire").await.unwrap(), None);
}

#[tokio::test]
async fn deleting_blobs_and_prefixes() {
    let s = server().await;
    let keys = [
        "t/A/0/public/a.txt",
        "t/A/0/public/logs/live.log",
        "t/A/1/b.txt",
        "t/AB/0/c.txt",
        "t/B/0/d.txt",
    ];
    for key in keys {
        assert_eq!(
            s.put(key, "text/plain", key.to_string()).await.status(),
            200
        );
    }
    assert_eq!(s.blobs.delete_prefix("t/A/").await.unwrap(), 3);
    for key in &keys[..3] {
        assert_eq!(s.blobs.info(key).await.unwrap(), None, "{key}");
        assert_error(s.get(key).await, 404, "ResourceNotFound").await;
    }
    for key in &keys[3..] {
        assert_eq!(s.get(key).await.text().await.unwrap(), *key);
    }
    // A prefix that ends inside a segment.
    assert_eq!(s.blobs.delete_prefix("t/A").await.unwrap(), 1);
    assert_eq!(s.blobs.info("t/AB/0/c.txt").await.unwrap(), None);
    assert_eq!(s.blobs.delete_prefix("t/nothing/").await.unwrap(), 0);
    assert!(s.blobs.delete_prefix("").await.is_err());

    s.blobs.delete("t/B/0/d.txt").await.unwrap();
    assert_eq!(s.blobs.info("t/B/0/d.txt").await.unwrap(), None);
    assert_error(s.get("t/B/0/d.txt").await, 404, "ResourceNotFound").await;
    s.blobs.delete("t/B/0/d.txt").await.unwrap();
    s.blobs.delete("never//existed").await.unwrap();

    // Emptied directories are cleaned away.
    assert!(!s.dir.path().join("blobs/t/A").exists());
}

#[tokio::test]
async fn names_that_clash_as_files_and_directories_conflict() {
    let s = server().await;
    assert_eq!(
        s.put("t/c/0/public/build", "text/plain", "file")
            .await
            .status(),
        200
    );
    let resp = s
        .put("t/c/0/public/build/inner.txt", "text/plain", "below a file")
        .await;
    assert_error(resp, 409, "RequestConflict").await;
    assert_eq!(
        s.put("t/c/0/public/dir/inner.txt", "text/plain", "x")
            .await
            .status(),
        200
    );
    let resp = s
        .put("t/c/0/public/dir", "text/plain", "over a directory")
        .await;
    assert_error(resp, 409, "RequestConflict").await;
    assert_eq!(
        s.get("t/c/0/public/build").await.text().await.unwrap(),
        "file"
    );
}

#[tokio::test]
async fn stores_are_configured_from_their_arguments() {
    let db = TestDb::new().await;
    let s3 = BlobStore::s3(
        "artifacts".into(),
        Some("http://127.0.0.1:9000".into()),
        "us-east-1".into(),
        "minio".into(),
        "minio-secret".into(),
        "https://relyard.example.com/".into(),
        KEY.to_vec(),
        db.db.clone(),
    )
    .expect("S3-compatible store over http");
    let url = s3.get_url("t/x/0/public/a.txt", soon());
    assert!(
        url.starts_with(
            "https://relyard.example.com/api/queue/v1/blobs/t/x/0/public/a.txt?expires="
        ),
        "{url}"
    );
    assert!(BlobStore::s3(
        "artifacts".into(),
        None,
        "eu-west-1".into(),
        "AKIA".into(),
        "secret".into(),
        "https://relyard.example.com".into(),
        KEY.to_vec(),
        db.db.clone(),
    )
    .is_ok());

    let dir = tempfile::tempdir().unwrap();
    let short_key = BlobStore::local(
        dir.path().join("b"),
        "http://x".into(),
        b"short".to_vec(),
        db.db.clone(),
    );
    assert!(matches!(short_key, Err(BlobError::Config(_))));
    let bad_root = BlobStore::local(
        dir.path().join("b"),
        "relyard.example.com".into(),
        KEY.to_vec(),
        db.db.clone(),
    );
    assert!(matches!(bad_root, Err(BlobError::Config(_))));
    let in_memory = BlobStore::new(
        Arc::new(object_store::memory::InMemory::new()),
        "http://x".into(),
        KEY.to_vec(),
        db.db.clone(),
    );
    assert!(in_memory.is_ok());
}
