//! The upload / long-poll API: signatures verify with gpg and minisign, tampered files do not;
//! the same input is signed once; uploads are checked (hash, name, size) before anything is
//! signed; the heartbeat proves the keys.

use crate::common::*;

async fn token_for(env: &Env, url: &str, formats: &[&str]) -> String {
    let id = format!("project/builder-{}", formats.join("-"));
    signing_token(env, url, &id, formats).await
}

#[tokio::test]
async fn signatures_verify_with_gpg_and_minisign_and_tampered_files_fail() {
    let env = Env::new().await;
    let s = env.signing("one", &["127.0.0.0/8"]).await;
    let token = token_for(&env, &s.url, &["gpg", "minisign"]).await;
    let data = env.path("release.tar.gz");
    std::fs::write(&data, b"the release itself\n").expect("write");
    let input = std::fs::read(&data).expect("read");
    let sha = sha256_hex(&input);

    for (format, suffix) in [("gpg", "asc"), ("minisign", "minisig")] {
        let (status, body) = upload(&s.url, format, &token, "release.tar.gz", &input).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["sha256"], sha.as_str());
        let (status, out) = fetch(&s.url, format, &token, &sha).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out));
        std::fs::write(env.path(&format!("release.tar.gz.{suffix}")), &out).expect("write");
    }
    let home = gpg_home(env.dir.path());
    let asc = env.path("release.tar.gz.asc");
    let minisig = env.path("release.tar.gz.minisig");
    assert!(gpg_verifies(&home, &asc, &data));
    assert!(minisign_verifies(env.dir.path(), &data, &minisig));

    let audit = relyard_signing::audit::AuditLog::read(&s.audit_log).expect("audit log");
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].owner, "project/builder-gpg-minisign");
    assert_eq!(audit[0].input_sha256, sha);
    assert_eq!(audit[0].address.to_string(), "127.0.0.1");
    let keys: Vec<&str> = audit.iter().map(|e| e.key_id.as_str()).collect();
    assert!(
        keys.contains(&"release-gpg") && keys.contains(&"release-minisign"),
        "{keys:?}"
    );
    assert_eq!(
        audit[0].output_sha256,
        sha256_hex(
            &std::fs::read(if audit[0].key_id == "release-gpg" {
                &asc
            } else {
                &minisig
            })
            .expect("read")
        )
    );

    // Signed once: uploading the same input again is answered from the result store.
    let (status, body) = upload(&s.url, "gpg", &token, "release.tar.gz", &input).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (202, Some("done")),
        "{body}"
    );
    assert_eq!(fetch(&s.url, "gpg", &token, &sha).await.0, 200);
    assert_eq!(s.audit_lines(), 2);
    assert_eq!(s.server.results().len(), 2);

    tamper(&data);
    assert!(!gpg_verifies(&home, &asc, &data));
    assert!(!minisign_verifies(env.dir.path(), &data, &minisig));
}

#[tokio::test]
async fn uploads_are_checked_before_anything_is_signed() {
    let env = Env::new().await;
    let s = env.signing("checks", &["127.0.0.0/8"]).await;
    let token = token_for(&env, &s.url, &["gpg", "minisign"]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/signing/v1/sign/gpg", s.url);

    // The body is not what X-Content-SHA256 says.
    let resp = client
        .post(&url)
        .bearer_auth(&token)
        .header("X-Content-SHA256", sha256_hex(b"something else"))
        .header("X-Filename", "a.txt")
        .body("the body")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["code"], "InputError", "{body}");

    // A name not on gpg's allow-list.
    assert_eq!(
        upload(&s.url, "gpg", &token, "setup.exe", b"x").await.0,
        403
    );
    // Larger than gpg's max_size (100000): refused while streaming too (no Content-Length).
    let big = vec![7u8; 100_001];
    assert_eq!(upload(&s.url, "gpg", &token, "big.bin", &big).await.0, 413);
    let chunks = futures::stream::iter((0..30).map(|_| Ok::<_, std::io::Error>(vec![1u8; 4096])));
    let resp = client
        .post(&url)
        .bearer_auth(&token)
        .header("X-Content-SHA256", "0".repeat(64))
        .header("X-Filename", "stream.bin")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 413);
    // No token at all, and an unknown format.
    let resp = client
        .post(&url)
        .header("X-Filename", "a.txt")
        .body("x")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    assert_eq!(upload(&s.url, "pdf", &token, "a.txt", b"x").await.0, 400);
    // Nothing uploaded: nothing to fetch.
    assert_eq!(
        fetch(&s.url, "gpg", &token, &sha256_hex(b"never sent"))
            .await
            .0,
        404
    );
    // A malformed manifest is the input's fault: 400 when fetched, and nothing is signed.
    let sums_token = token_for(&env, &s.url, &["sha256sums"]).await;
    assert_eq!(
        upload(
            &s.url,
            "sha256sums",
            &sums_token,
            "SHA256SUMS",
            b"not a manifest\n"
        )
        .await
        .0,
        202
    );
    assert_eq!(
        fetch(
            &s.url,
            "sha256sums",
            &sums_token,
            &sha256_hex(b"not a manifest\n")
        )
        .await
        .0,
        400
    );

    assert_eq!(s.audit_lines(), 0);
    assert!(s.server.results().is_empty());
}

#[tokio::test]
async fn heartbeats_answer_and_prove_the_keys() {
    let env = Env::new().await;
    let s = env.signing("beat", &["127.0.0.0/8"]).await;
    for path in ["__heartbeat__", "__lbheartbeat__"] {
        let resp = reqwest::get(format!("{}/{path}", s.url))
            .await
            .expect("get");
        assert_eq!(resp.status(), 200, "{path}");
    }
}
