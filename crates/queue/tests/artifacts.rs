//! Artifacts: createArtifact for every storage type, uploads through the returned putUrl,
//! getArtifact's 303 / 424 answers over HTTP, links and their scopes, idempotency and conflicts,
//! latest-run lookups, listings, and expiry of records and bytes.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use common::*;
use relyard_auth::Caller;
use relyard_core::{ErrorCode, Timestamp};
use relyard_queue::{ArtifactContent, ArtifactRequest, QueueConfig};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A queue served over HTTP on 127.0.0.1:<port>, with the blob routes its putUrls point at.
/// Instead of Hawk, the test layer gives each request the scopes listed in `x-test-scopes`
/// (comma-separated; all scopes when the header is absent).
struct Served {
    h: Harness,
    base: String,
    http: reqwest::Client,
}

async fn test_caller(mut req: Request, next: Next) -> Response {
    let scopes: Vec<String> = match req
        .headers()
        .get("x-test-scopes")
        .and_then(|v| v.to_str().ok())
    {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        None => vec!["*".to_string()],
    };
    req.extensions_mut().insert(Caller {
        client_id: Some("tester".into()),
        scopes: Arc::new(scopes),
        expires: None,
        source_ip: None,
    });
    next.run(req).await
}

async fn served() -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let root = format!("http://{addr}");
    let h = harness_with(QueueConfig {
        root_url: root.clone(),
        claim_wait: Duration::from_millis(300),
        ..QueueConfig::default()
    })
    .await;
    let app = Router::new()
        .nest(
            "/api/queue/v1",
            relyard_queue::router(Arc::clone(&h.queue))
                .merge(relyard_queue::blobs::router(Arc::clone(&h.blobs))),
        )
        .layer(axum::middleware::from_fn(test_caller))
        .layer(axum::middleware::from_fn(
            relyard_core::error::request_info_layer,
        ));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Served {
        h,
        base: format!("{root}/api/queue/v1"),
        http,
    }
}

impl Served {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET")
    }

    async fn get_as(&self, path: &str, scopes: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("x-test-scopes", scopes)
            .send()
            .await
            .expect("GET")
    }
}

/// `/` as the official clients send it in a name.
fn enc(name: &str) -> String {
    name.replace('/', "%2F")
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn in_days(d: i64) -> Timestamp {
    Timestamp::now().plus_days(d)
}

fn req(v: Value) -> ArtifactRequest {
    ArtifactRequest::parse(v.to_string().as_bytes()).expect("valid createArtifact body")
}

fn s3(content_type: &str, expires: Timestamp) -> ArtifactRequest {
    req(json!({"storageType": "s3", "contentType": content_type, "expires": expires}))
}

fn reference(url: &str, expires: Timestamp) -> ArtifactRequest {
    req(
        json!({"storageType": "reference", "contentType": "text/plain", "url": url, "expires": expires}),
    )
}

fn link(target: &str, expires: Timestamp) -> ArtifactRequest {
    req(json!({"storageType": "link", "artifact": target, "expires": expires}))
}

fn error(reason: &str, message: &str, expires: Timestamp) -> ArtifactRequest {
    req(json!({"storageType": "error", "reason": reason, "message": message, "expires": expires}))
}

/// A task on `prov/wt` claimed by wg/w1; returns its id.
async fn running_task(h: &Harness) -> String {
    let id = slug();
    h.create_ok(&id, body()).await;
    let (claimed, run) = h.claim_one().await;
    assert_eq!((claimed.as_str(), run), (id.as_str(), 0));
    id
}

async fn error_code(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("JSON error body");
    (
        status,
        body["code"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn s3_artifact_uploads_through_put_url_and_downloads_byte_identical() {
    let s = served().await;
    let h = &s.h;
    let id = running_task(h).await;
    let name = "public/build/target file.tar.gz";
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();

    let created = h
        .queue
        .create_artifact(&id, 0, name, &s3("application/gzip", in_days(30)))
        .await
        .unwrap();
    assert_eq!(created["storageType"], "s3");
    assert_eq!(created["contentType"], "application/gzip");
    assert_eq!(created.as_object().unwrap().len(), 4, "{created}");
    let put_url = created["putUrl"].as_str().unwrap();
    assert!(
        put_url.starts_with(&format!("{}/blobs/t/{id}/0/public/build/", s.base)),
        "{put_url}"
    );
    let put_expires = Timestamp::parse(created["expires"].as_str().unwrap()).unwrap();
    assert!(
        put_expires > Timestamp::now().plus_secs(40 * 60)
            && put_expires <= Timestamp::now().plus_secs(46 * 60)
    );

    // Before the upload the artifact exists but has no recorded bytes.
    let info = h.queue.artifact_info(&id, 0, name).await.unwrap();
    assert_eq!((info.size, info.sha256.as_deref()), (None, None));
    assert!(h.queue.artifact_blob(&id, 0, name).await.unwrap().is_none());

    let put = s
        .http
        .put(put_url)
        .header("content-type", "application/gzip")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);

    // getArtifact, the name percent-encoded as the official clients send it.
    let resp = s
        .get(&format!(
            "/task/{id}/runs/0/artifacts/{}",
            enc(name).replace(' ', "%20")
        ))
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["x-taskcluster-artifact-storage-type"], "s3");
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"storageType": "s3", "url": location}));
    let downloaded = s.http.get(&location).send().await.unwrap();
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.headers()["content-type"], "application/gzip");
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // Raw slashes reach the same artifact, and so do the latest-run routes.
    let resp = s
        .get(&format!(
            "/task/{id}/runs/0/artifacts/public/build/target%20file.tar.gz"
        ))
        .await;
    assert_eq!(resp.status(), 303);
    let resp = s
        .get(&format!(
            "/task/{id}/artifacts/{}",
            enc(name).replace(' ', "%20")
        ))
        .await;
    assert_eq!(resp.status(), 303);
    let url = resp.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        s.http
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        bytes.as_slice()
    );

    // artifact / latestArtifact: the same location as a 200 JSON body.
    for path in [
        format!("/task/{id}/runs/0/artifact-content/{}", enc(name)),
        format!("/task/{id}/artifact-content/{}", enc(name)),
    ] {
        let resp = s.get(&path.replace(' ', "%20")).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["storageType"], "s3");
        assert_eq!(body.as_object().unwrap().len(), 2);
        let got = s
            .http
            .get(body["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(got.as_ref(), bytes.as_slice());
    }

    // Size and SHA-256 are recorded; the size is the artifact's contentLength.
    let info = h.queue.artifact_info(&id, 0, name).await.unwrap();
    assert_eq!(info.size, Some(bytes.len() as i64));
    assert_eq!(info.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    let blob = h
        .queue
        .artifact_blob(&id, 0, name)
        .await
        .unwrap()
        .expect("uploaded");
    assert_eq!(
        (blob.size, blob.sha256),
        (bytes.len() as i64, sha256_hex(&bytes))
    );
    let resp = s
        .get(&format!(
            "/task/{id}/runs/0/artifact-info/{}",
            enc(name).replace(' ', "%20")
        ))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"storageType": "s3", "name": name, "expires": info.expires, "contentType": "application/gzip", "contentLength": bytes.len(), "contentSha256": sha256_hex(&bytes)})
    );
    let resp = s.get(&format!("/task/{id}/artifacts")).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["artifacts"][0]["contentLength"], bytes.len());
    assert!(body.get("continuationToken").is_none());
}

#[tokio::test]
async fn reference_link_and_error_artifacts() {
    let s = served().await;
    let h = &s.h;
    let mut rx = h.bus.subscribe();
    let id = running_task(h).await;
    let exp = in_days(10);

    // s3 artifacts publish no artifact-created (the message schema excludes them); others do.
    h.queue
        .create_artifact(
            &id,
            0,
            "public/bytes.bin",
            &s3("application/octet-stream", exp),
        )
        .await
        .unwrap();
    let out = h
        .queue
        .create_artifact(
            &id,
            0,
            "public/ref",
            &reference("https://example.com/a?b=c", exp),
        )
        .await
        .unwrap();
    assert_eq!(out, json!({"storageType": "reference"}));
    let e = next_event(&mut rx, "artifact-created", |p| {
        p["status"]["taskId"] == id.as_str()
    })
    .await;
    assert_eq!(
        e.event.payload["artifact"]["name"], "public/ref",
        "the s3 artifact announced nothing"
    );
    assert_eq!(
        e.event.payload["artifact"],
        json!({"storageType": "reference", "name": "public/ref", "expires": exp, "contentType": "text/plain"})
    );
    assert_eq!(
        (
            e.event.payload["runId"].clone(),
            e.event.payload["workerGroup"].clone()
        ),
        (json!(0), json!("wg"))
    );
    assert_eq!(e.event.payload["workerId"], "w1");
    assert_eq!(e.event.payload["version"], 1);
    assert_eq!(e.event.payload["status"]["state"], "running");
    assert!(e.event.payload.get("task").is_none());
    assert_eq!(
        e.event.routing_key,
        format!("primary.{id}.0.wg.w1.prov.wt.-.{id}._")
    );

    let resp = s
        .get(&format!("/task/{id}/runs/0/artifacts/public%2Fref"))
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "https://example.com/a?b=c");
    assert_eq!(
        resp.headers()["x-taskcluster-artifact-storage-type"],
        "reference"
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"storageType": "reference", "url": "https://example.com/a?b=c"})
    );

    // A link answers as its target.
    assert_eq!(
        h.queue
            .create_artifact(&id, 0, "public/link", &link("public/ref", exp))
            .await
            .unwrap(),
        json!({"storageType": "link"})
    );
    let e = next_event(&mut rx, "artifact-created", |p| {
        p["artifact"]["name"] == "public/link"
    })
    .await;
    assert_eq!(e.event.payload["artifact"]["storageType"], "link");
    assert_eq!(
        e.event.payload["artifact"]["contentType"],
        "application/binary"
    );
    let resp = s
        .get(&format!("/task/{id}/runs/0/artifacts/public/link"))
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "https://example.com/a?b=c");
    assert_eq!(
        resp.headers()["x-taskcluster-artifact-storage-type"],
        "reference"
    );

    // ... including the target's scope check.
    h.queue
        .create_artifact(
            &id,
            0,
            "private/secret",
            &reference("https://example.com/secret", exp),
        )
        .await
        .unwrap();
    h.queue
        .create_artifact(&id, 0, "public/to-secret", &link("private/secret", exp))
        .await
        .unwrap();
    let public_only = "queue:get-artifact:public/*";
    assert_eq!(
        s.get_as(
            &format!("/task/{id}/runs/0/artifacts/public/link"),
            public_only
        )
        .await
        .status(),
        303
    );
    let resp = s
        .get_as(
            &format!("/task/{id}/runs/0/artifacts/public/to-secret"),
            public_only,
        )
        .await;
    assert_eq!(error_code(resp).await, (403, "InsufficientScopes".into()));
    let resp = s
        .get_as(
            &format!("/task/{id}/artifacts/public/to-secret"),
            public_only,
        )
        .await;
    assert_eq!(resp.status(), 403);
    let resp = s
        .get_as(
            &format!("/task/{id}/runs/0/artifacts/private/secret"),
            public_only,
        )
        .await;
    assert_eq!(resp.status(), 403);
    let both = "queue:get-artifact:public/*,queue:get-artifact:private/secret";
    let resp = s
        .get_as(
            &format!("/task/{id}/runs/0/artifacts/public/to-secret"),
            both,
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "https://example.com/secret");
    let (ok, forbidden) = (
        h.queue
            .get_artifact(&id, 0, "public/to-secret", |_| Ok(()))
            .await
            .unwrap(),
        h.queue
            .get_artifact(&id, 0, "public/to-secret", |names| {
                if names.len() > 1 {
                    Err(relyard_core::ApiError::new(
                        ErrorCode::InsufficientScopes,
                        "no",
                    ))
                } else {
                    Ok(())
                }
            })
            .await
            .unwrap_err(),
    );
    assert_eq!(
        ok,
        ArtifactContent::Url {
            storage_type: "reference".into(),
            url: "https://example.com/secret".into()
        }
    );
    assert_eq!(forbidden.code, ErrorCode::InsufficientScopes);

    // Links to missing artifacts, and cycles.
    h.queue
        .create_artifact(&id, 0, "public/dangling", &link("public/nothing", exp))
        .await
        .unwrap();
    assert_eq!(
        error_code(
            s.get(&format!("/task/{id}/runs/0/artifacts/public/dangling"))
                .await
        )
        .await,
        (404, "ResourceNotFound".into())
    );
    h.queue
        .create_artifact(&id, 0, "public/c1", &link("public/c2", exp))
        .await
        .unwrap();
    h.queue
        .create_artifact(&id, 0, "public/c2", &link("public/c1", exp))
        .await
        .unwrap();
    assert_eq!(
        error_code(
            s.get(&format!("/task/{id}/runs/0/artifacts/public/c1"))
                .await
        )
        .await,
        (400, "InputError".into())
    );

    // Error artifacts: 424 with the reason and message (not an API error body).
    let out = h
        .queue
        .create_artifact(
            &id,
            0,
            "public/missing.log",
            &error("file-missing-on-worker", "no such file", exp),
        )
        .await
        .unwrap();
    assert_eq!(out, json!({"storageType": "error"}));
    let resp = s
        .get(&format!("/task/{id}/runs/0/artifacts/public%2Fmissing.log"))
        .await;
    assert_eq!(resp.status(), 424);
    assert_eq!(
        resp.headers()["x-taskcluster-artifact-storage-type"],
        "error"
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"reason": "file-missing-on-worker", "message": "no such file"})
    );
    h.queue
        .create_artifact(&id, 0, "public/err-link", &link("public/missing.log", exp))
        .await
        .unwrap();
    assert_eq!(
        s.get(&format!("/task/{id}/artifacts/public/err-link"))
            .await
            .status(),
        424
    );
    let resp = s
        .get(&format!(
            "/task/{id}/runs/0/artifact-content/public/missing.log"
        ))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"storageType": "error", "reason": "file-missing-on-worker", "message": "no such file"})
    );
    let resp = s
        .get(&format!("/task/{id}/artifact-content/public/link"))
        .await;
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"storageType": "reference", "url": "https://example.com/a?b=c"})
    );

    // artifactInfo does not follow links.
    let info: Value = s
        .get(&format!("/task/{id}/artifact-info/public/link"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        info,
        json!({"storageType": "link", "name": "public/link", "expires": exp, "contentType": "application/binary"})
    );
    assert_eq!(
        error_code(
            s.get(&format!("/task/{id}/artifact-info/public/nothing"))
                .await
        )
        .await,
        (404, "ResourceNotFound".into())
    );
    assert_eq!(
        error_code(
            s.get(&format!("/task/{id}/runs/0/artifacts/public/nothing"))
                .await
        )
        .await,
        (404, "ResourceNotFound".into())
    );

    let (all, next) = h
        .queue
        .list_artifacts(&id, Some(0), None, 1000)
        .await
        .unwrap();
    assert!(next.is_none());
    let names: Vec<&str> = all.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "private/secret",
            "public/bytes.bin",
            "public/c1",
            "public/c2",
            "public/dangling",
            "public/err-link",
            "public/link",
            "public/missing.log",
            "public/ref",
            "public/to-secret"
        ]
    );
}

#[tokio::test]
async fn bodies_are_checked_against_the_schema() {
    let bad = [
        json!({"storageType": "s3", "expires": in_days(1)}),
        json!({"storageType": "s3", "contentType": "a/b"}),
        json!({"storageType": "s3", "contentType": "a/b", "expires": in_days(1), "url": "https://x"}),
        json!({"storageType": "s3", "contentType": "a/b", "expires": in_days(1), "contentLength": -1}),
        json!({"storageType": "reference", "contentType": "a/b", "expires": in_days(1)}),
        json!({"storageType": "reference", "contentType": "a/b", "expires": in_days(1), "url": "not a url"}),
        json!({"storageType": "link", "expires": in_days(1)}),
        json!({"storageType": "error", "expires": in_days(1), "reason": "oops", "message": "m"}),
        json!({"storageType": "error", "expires": in_days(1), "reason": "file-missing-on-worker", "message": "m", "contentType": "a/b"}),
        json!({"storageType": "error", "expires": in_days(1), "reason": "file-missing-on-worker", "message": "x".repeat(4097)}),
        json!({"storageType": "blob", "expires": in_days(1)}),
        json!({"storageType": "object", "contentType": "a/b", "expires": in_days(1)}),
        json!({"storageType": "s3", "contentType": "a/b", "expires": "tomorrow"}),
        json!({"storageType": "s3", "contentType": "a/b", "expires": in_days(1), "extra": 1}),
    ];
    for body in bad {
        let err = ArtifactRequest::parse(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.status(), 400, "{body}: {err}");
    }
    assert_eq!(
        ArtifactRequest::parse(b"{").unwrap_err().code,
        ErrorCode::MalformedPayload
    );
    let ok = ArtifactRequest::parse(
        json!({"storageType": "s3", "contentType": "a/b", "expires": in_days(1), "contentLength": 5}).to_string().as_bytes(),
    );
    assert!(ok.is_ok());
}

#[tokio::test]
async fn repeated_creates_follow_taskclusters_immutability_rules() {
    let h = harness().await;
    let id = running_task(&h).await;
    let exp = in_days(10);
    let conflict =
        |e: relyard_core::ApiError| assert_eq!(e.code, ErrorCode::RequestConflict, "{e}");

    // Identical s3 requests are fine (each gets a fresh putUrl); a different type or content type is not.
    h.queue
        .create_artifact(&id, 0, "public/a", &s3("text/plain", exp))
        .await
        .unwrap();
    let again = h
        .queue
        .create_artifact(&id, 0, "public/a", &s3("text/plain", exp))
        .await
        .unwrap();
    assert_eq!(again["storageType"], "s3");
    conflict(
        h.queue
            .create_artifact(&id, 0, "public/a", &s3("text/html", exp))
            .await
            .unwrap_err(),
    );
    conflict(
        h.queue
            .create_artifact(&id, 0, "public/a", &reference("https://x.example", exp))
            .await
            .unwrap_err(),
    );
    conflict(
        h.queue
            .create_artifact(&id, 0, "public/a", &link("public/b", exp))
            .await
            .unwrap_err(),
    );
    // expires may grow, never shrink.
    conflict(
        h.queue
            .create_artifact(&id, 0, "public/a", &s3("text/plain", in_days(9)))
            .await
            .unwrap_err(),
    );
    h.queue
        .create_artifact(&id, 0, "public/a", &s3("text/plain", in_days(11)))
        .await
        .unwrap();
    assert!(
        h.queue
            .artifact_info(&id, 0, "public/a")
            .await
            .unwrap()
            .expires
            > exp
    );

    // A reference may change its url, and become a link; not the reverse.
    h.queue
        .create_artifact(&id, 0, "public/r", &reference("https://one.example", exp))
        .await
        .unwrap();
    h.queue
        .create_artifact(&id, 0, "public/r", &reference("https://two.example", exp))
        .await
        .unwrap();
    let got = h
        .queue
        .get_artifact(&id, 0, "public/r", |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(
        got,
        ArtifactContent::Url {
            storage_type: "reference".into(),
            url: "https://two.example".into()
        }
    );
    h.queue
        .create_artifact(&id, 0, "public/r", &link("public/a", exp))
        .await
        .unwrap();
    assert_eq!(
        h.queue
            .artifact_info(&id, 0, "public/r")
            .await
            .unwrap()
            .storage_type,
        "link"
    );
    conflict(
        h.queue
            .create_artifact(&id, 0, "public/r", &reference("https://one.example", exp))
            .await
            .unwrap_err(),
    );
    conflict(
        h.queue
            .create_artifact(&id, 0, "public/r", &link("public/other", exp))
            .await
            .unwrap_err(),
    );
    h.queue
        .create_artifact(&id, 0, "public/r", &link("public/a", exp))
        .await
        .unwrap();

    // Errors must repeat their reason and message.
    h.queue
        .create_artifact(
            &id,
            0,
            "public/e",
            &error("file-missing-on-worker", "gone", exp),
        )
        .await
        .unwrap();
    h.queue
        .create_artifact(
            &id,
            0,
            "public/e",
            &error("file-missing-on-worker", "gone", exp),
        )
        .await
        .unwrap();
    conflict(
        h.queue
            .create_artifact(
                &id,
                0,
                "public/e",
                &error("file-missing-on-worker", "different", exp),
            )
            .await
            .unwrap_err(),
    );
    conflict(
        h.queue
            .create_artifact(
                &id,
                0,
                "public/e",
                &error("too-large-file-on-worker", "gone", exp),
            )
            .await
            .unwrap_err(),
    );

    // Nothing of a refused request was written.
    let before = h.row_counts().await;
    conflict(
        h.queue
            .create_artifact(&id, 0, "public/e", &s3("text/plain", exp))
            .await
            .unwrap_err(),
    );
    assert_eq!(h.row_counts().await, before);
}

#[tokio::test]
async fn creation_needs_a_running_run_and_an_expiry_within_the_task() {
    let h = harness().await;
    let exp = in_days(10);
    let code = |r: Result<Value, relyard_core::ApiError>| r.unwrap_err().code;

    // No such task or run, or a run no worker claimed: 400 as in Taskcluster.
    let missing = slug();
    assert_eq!(
        code(
            h.queue
                .create_artifact(&missing, 0, "public/a", &s3("a/b", exp))
                .await
        ),
        ErrorCode::InputError
    );
    let pending = slug();
    h.create_ok(
        &pending,
        with(body(), json!({"taskQueueId": "prov/elsewhere"})),
    )
    .await;
    assert_eq!(
        code(
            h.queue
                .create_artifact(&pending, 0, "public/a", &s3("a/b", exp))
                .await
        ),
        ErrorCode::InputError
    );
    assert_eq!(
        code(
            h.queue
                .create_artifact(&pending, 1, "public/a", &s3("a/b", exp))
                .await
        ),
        ErrorCode::InputError
    );

    let id = running_task(&h).await;
    let task_expires = h.queue.status(&id).await.unwrap().expires;
    let before = h.row_counts().await;
    // Past the task's expiry, or long gone: 400.
    let late = task_expires.plus_ms(1);
    assert_eq!(
        code(
            h.queue
                .create_artifact(&id, 0, "public/a", &s3("a/b", late))
                .await
        ),
        ErrorCode::InputError
    );
    let past = Timestamp::now().plus_secs(-16 * 60);
    assert_eq!(
        code(
            h.queue
                .create_artifact(&id, 0, "public/a", &s3("a/b", past))
                .await
        ),
        ErrorCode::InputError
    );
    // Names that are not printable ASCII, or that cannot name stored bytes.
    assert_eq!(
        code(
            h.queue
                .create_artifact(&id, 0, "public/ü", &s3("a/b", exp))
                .await
        ),
        ErrorCode::InvalidRequestArguments
    );
    assert_eq!(
        code(
            h.queue
                .create_artifact(&id, 0, "public//x", &s3("a/b", exp))
                .await
        ),
        ErrorCode::InputError
    );
    assert_eq!(h.row_counts().await, before);
    // Exactly the task's expiry is fine.
    h.queue
        .create_artifact(&id, 0, "public/a", &s3("a/b", task_expires))
        .await
        .unwrap();

    // Once completed: 409.
    h.queue.report_completed(&id, 0).await.unwrap();
    assert_eq!(
        code(
            h.queue
                .create_artifact(&id, 0, "public/late", &reference("https://x.example", exp))
                .await
        ),
        ErrorCode::RequestConflict
    );
    // ... also for a repeat of an existing artifact.
    assert_eq!(
        code(
            h.queue
                .create_artifact(&id, 0, "public/a", &s3("a/b", task_expires))
                .await
        ),
        ErrorCode::RequestConflict
    );

    let failed = running_task(&h).await;
    h.queue.report_failed(&failed, 0).await.unwrap();
    assert_eq!(
        code(
            h.queue
                .create_artifact(&failed, 0, "public/x", &s3("a/b", exp))
                .await
        ),
        ErrorCode::RequestConflict
    );

    // Resolved exception: 25 more minutes to upload logs, on that run even after a retry.
    let ex = running_task(&h).await;
    h.queue
        .report_exception(&ex, 0, "worker-shutdown")
        .await
        .unwrap();
    assert_eq!(h.state(&ex).await, "pending");
    h.queue
        .create_artifact(
            &ex,
            0,
            "public/logs/live_backing.log",
            &s3("text/plain", exp),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn latest_routes_use_the_last_run() {
    let s = served().await;
    let h = &s.h;
    let id = running_task(h).await;
    let exp = in_days(10);
    h.queue
        .create_artifact(&id, 0, "public/x", &reference("https://run0.example/", exp))
        .await
        .unwrap();
    h.queue
        .create_artifact(
            &id,
            0,
            "public/only-in-0",
            &reference("https://run0.example/o", exp),
        )
        .await
        .unwrap();
    h.queue
        .report_exception(&id, 0, "worker-shutdown")
        .await
        .unwrap();
    // Run 1 is pending: the latest run has no artifacts yet.
    assert_eq!(h.queue.latest_run_id(&id).await.unwrap(), 1);
    assert_eq!(
        error_code(s.get(&format!("/task/{id}/artifacts/public/x")).await).await,
        (404, "ResourceNotFound".into())
    );
    let (claimed, run) = h.claim_one().await;
    assert_eq!((claimed.as_str(), run), (id.as_str(), 1));
    h.queue
        .create_artifact(&id, 1, "public/x", &reference("https://run1.example/", exp))
        .await
        .unwrap();

    let resp = s.get(&format!("/task/{id}/artifacts/public%2Fx")).await;
    assert_eq!(resp.headers()["location"], "https://run1.example/");
    let resp = s
        .get(&format!("/task/{id}/runs/0/artifacts/public%2Fx"))
        .await;
    assert_eq!(resp.headers()["location"], "https://run0.example/");
    let latest: Value = s
        .get(&format!("/task/{id}/artifacts"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(latest["artifacts"].as_array().unwrap().len(), 1);
    assert_eq!(latest["artifacts"][0]["name"], "public/x");
    let run0: Value = s
        .get(&format!("/task/{id}/runs/0/artifacts"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(run0["artifacts"].as_array().unwrap().len(), 2);
    let info: Value = s
        .get(&format!("/task/{id}/artifact-info/public/only-in-0"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["code"], "ResourceNotFound");

    // Runs and tasks that do not exist, and tasks without runs.
    assert_eq!(
        error_code(s.get(&format!("/task/{id}/runs/2/artifacts")).await).await,
        (404, "ResourceNotFound".into())
    );
    assert_eq!(
        error_code(s.get(&format!("/task/{}/artifacts", slug())).await).await,
        (404, "ResourceNotFound".into())
    );
    let waiting = slug();
    h.create_ok(&waiting, with(body(), json!({"dependencies": [id]})))
        .await;
    assert_eq!(
        error_code(s.get(&format!("/task/{waiting}/artifacts/public/x")).await).await,
        (404, "ResourceNotFound".into())
    );
    assert_eq!(
        error_code(s.get(&format!("/task/{waiting}/artifacts")).await).await,
        (404, "ResourceNotFound".into())
    );
    assert_eq!(
        error_code(s.get(&format!("/task/{id}/runs/1001/artifacts")).await).await,
        (400, "InvalidRequestArguments".into())
    );
    assert_eq!(
        error_code(s.get("/task/not-a-slug/artifacts").await).await,
        (400, "InvalidRequestArguments".into())
    );
}

#[tokio::test]
async fn listings_page_in_name_order() {
    let s = served().await;
    let h = &s.h;
    let id = running_task(h).await;
    let exp = in_days(10);
    let mut names: Vec<String> = (0..7)
        .map(|i| format!("public/dir/{}", (b'g' - i as u8) as char))
        .collect();
    for n in &names {
        h.queue
            .create_artifact(&id, 0, n, &reference("https://x.example/", exp))
            .await
            .unwrap();
    }
    names.sort();

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let (items, next) = h
            .queue
            .list_artifacts(&id, Some(0), token.as_deref(), 3)
            .await
            .unwrap();
        pages += 1;
        seen.extend(items.into_iter().map(|a| a.name));
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen, names);
    assert_eq!(pages, 3);

    // Over HTTP, with the scopes Taskcluster asks for.
    let first: Value = s
        .get(&format!("/task/{id}/runs/0/artifacts?limit=4"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["artifacts"].as_array().unwrap().len(), 4);
    assert_eq!(
        first["artifacts"][0],
        json!({"storageType": "reference", "name": names[0], "expires": exp, "contentType": "text/plain"})
    );
    let token = first["continuationToken"].as_str().unwrap();
    let rest: Value = s
        .get(&format!(
            "/task/{id}/runs/0/artifacts?limit=4&continuationToken={token}"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["artifacts"].as_array().unwrap().len(), 3);
    assert!(rest.get("continuationToken").is_none());
    assert_eq!(rest["artifacts"][2]["name"], names[6].as_str());

    let list_run = format!("queue:list-artifacts:{id}:0");
    let list_latest = format!("queue:list-artifacts:{id}");
    assert_eq!(
        s.get_as(&format!("/task/{id}/runs/0/artifacts"), &list_run)
            .await
            .status(),
        200
    );
    assert_eq!(
        s.get_as(&format!("/task/{id}/runs/0/artifacts"), &list_latest)
            .await
            .status(),
        403
    );
    assert_eq!(
        s.get_as(&format!("/task/{id}/artifacts"), &list_latest)
            .await
            .status(),
        200
    );
    assert_eq!(
        s.get_as(
            &format!("/task/{id}/artifact-info/public/dir/a"),
            &list_latest
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        s.get_as(
            &format!("/task/{id}/runs/0/artifact-info/public/dir/a"),
            &list_run
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        s.get_as(
            &format!("/task/{id}/runs/0/artifact-info/public/dir/a"),
            "queue:get-artifact:*"
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        error_code(
            s.get(&format!("/task/{id}/artifacts?continuationToken=garbage!"))
                .await
        )
        .await,
        (400, "InvalidRequestArguments".into())
    );
}

#[tokio::test]
async fn create_over_http_checks_scopes_and_bodies() {
    let s = served().await;
    let h = &s.h;
    let id = running_task(h).await;
    let url = format!(
        "{}/task/{id}/runs/0/artifacts/public%2Flogs%2Flive.log",
        s.base
    );
    let body = json!({"storageType": "reference", "contentType": "text/plain", "url": "https://livelog.example/x", "expires": in_days(1)});

    let resp = s
        .http
        .post(&url)
        .header("x-test-scopes", "queue:create-artifact:other/0")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await, (403, "InsufficientScopes".into()));
    let resp = s
        .http
        .post(&url)
        .header("x-test-scopes", format!("queue:create-artifact:{id}/0"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"storageType": "reference"})
    );
    let resp = s
        .http
        .post(&url)
        .json(&json!({"storageType": "reference"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await, (400, "InputValidationError".into()));
    let resp = s.http.post(&url).body("{nope").send().await.unwrap();
    assert_eq!(error_code(resp).await, (400, "MalformedPayload".into()));
    // Raw slashes work too.
    let raw = format!(
        "{}/task/{id}/runs/0/artifacts/public/logs/other.log",
        s.base
    );
    let resp = s.http.post(&raw).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(h
        .queue
        .artifact_info(&id, 0, "public/logs/other.log")
        .await
        .is_ok());
    // finishArtifact only exists for object artifacts.
    let resp = s
        .http
        .put(&url)
        .json(&json!({"uploadId": slug()}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await, (400, "InputError".into()));
    let resp = s
        .http
        .put(format!("{}/task/{id}/runs/0/artifacts/public/none", s.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn expiry_deletes_records_and_bytes() {
    let s = served().await;
    let h = &s.h;
    let id = running_task(h).await;
    let upload = |name: &'static str, expires: Timestamp| {
        let q = Arc::clone(&h.queue);
        let http = s.http.clone();
        let id = id.clone();
        async move {
            let out = q
                .create_artifact(&id, 0, name, &s3("text/plain", expires))
                .await
                .unwrap();
            let resp = http
                .put(out["putUrl"].as_str().unwrap())
                .header("content-type", "text/plain")
                .body(format!("bytes of {name}"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
        }
    };
    upload("public/short.txt", Timestamp::now().plus_ms(500)).await;
    upload("public/long.txt", in_days(30)).await;
    h.queue
        .create_artifact(
            &id,
            0,
            "public/short-ref",
            &reference("https://x.example/", Timestamp::now().plus_ms(500)),
        )
        .await
        .unwrap();
    // Bytes under the task's prefix that no artifact record names (an interrupted upload, say).
    h.blobs
        .put_bytes(
            &format!("t/{id}/0/public/orphan"),
            "text/plain",
            "orphan".into(),
        )
        .await
        .unwrap();
    let short_key = format!("t/{id}/0/public/short.txt");
    let long_key = format!("t/{id}/0/public/long.txt");
    assert!(h.blobs.info(&short_key).await.unwrap().is_some());

    // Expired but not yet reaped: 410.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        error_code(
            s.get(&format!("/task/{id}/runs/0/artifacts/public/short.txt"))
                .await
        )
        .await,
        (410, "ResourceExpired".into())
    );

    let report = h.queue.reap(Timestamp::now()).await.unwrap();
    assert_eq!(report.artifacts_deleted, 2);
    assert_eq!(report.tasks_deleted, 0);
    assert!(h.blobs.info(&short_key).await.unwrap().is_none());
    assert!(h
        .blobs
        .object_store()
        .head(&object_store::path::Path::from(short_key.as_str()))
        .await
        .is_err());
    assert_eq!(
        error_code(
            s.get(&format!("/task/{id}/runs/0/artifacts/public/short.txt"))
                .await
        )
        .await,
        (404, "ResourceNotFound".into())
    );
    assert_eq!(
        h.queue
            .artifact_info(&id, 0, "public/short-ref")
            .await
            .unwrap_err()
            .code,
        ErrorCode::ResourceNotFound
    );
    let long = h
        .queue
        .artifact_info(&id, 0, "public/long.txt")
        .await
        .unwrap();
    assert_eq!(long.size, Some("bytes of public/long.txt".len() as i64));
    assert_eq!(
        h.blobs.read_all(&long_key).await.unwrap().as_ref(),
        b"bytes of public/long.txt"
    );

    // The task expires: its artifacts and every byte under t/<taskId>/ go with it.
    h.queue.report_completed(&id, 0).await.unwrap();
    let task_expires = h.queue.status(&id).await.unwrap().expires;
    let report = h.queue.reap(task_expires.plus_secs(1)).await.unwrap();
    assert_eq!(report.tasks_deleted, 1);
    assert!(h.blobs.info(&long_key).await.unwrap().is_none());
    assert!(h
        .blobs
        .info(&format!("t/{id}/0/public/orphan"))
        .await
        .unwrap()
        .is_none());
    let listed: Vec<_> = futures_list(h).await;
    assert!(listed.iter().all(|p| !p.contains(&id)), "{listed:?}");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queue_artifacts")
        .fetch_one(h.db.db.reader())
        .await
        .unwrap();
    assert_eq!(left, 0);
}

/// Every object left in the blob store.
async fn futures_list(h: &Harness) -> Vec<String> {
    use futures::TryStreamExt;
    h.blobs
        .object_store()
        .list(None)
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap()
}
