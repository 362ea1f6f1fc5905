//! Access: an expired token, a token for another address, a format not in the token, and a
//! request from outside the allowed networks each get 403 and nothing is signed; a token needs
//! Hawk credentials holding `signing:token:<format>`.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn refused_tokens_get_403_and_nothing_is_signed() {
    let env = Env::new().await;
    let s = env.signing("refusals", &["127.0.0.0/8"]).await;
    let keys = token_keys();
    let here = "127.0.0.1".parse().expect("ip");
    let hour = Duration::from_secs(3600);
    let now = chrono::Utc::now();
    let gpg = [relyard_signing::Format::Gpg];
    let expired = keys
        .issue(
            "project/builder",
            here,
            &gpg,
            Duration::from_secs(60),
            now - chrono::Duration::minutes(5),
        )
        .expect("issue");
    let elsewhere = keys
        .issue(
            "project/builder",
            "10.1.2.3".parse().expect("ip"),
            &gpg,
            hour,
            now,
        )
        .expect("issue");
    let minisign_only = keys
        .issue(
            "project/builder",
            here,
            &[relyard_signing::Format::Minisign],
            hour,
            now,
        )
        .expect("issue");
    let forged = format!(
        "{}x",
        keys.issue("project/builder", here, &gpg, hour, now)
            .expect("issue")
    );

    let input = b"please sign me\n";
    let sha = sha256_hex(input);
    for (what, token) in [
        ("expired", &expired),
        ("another address", &elsewhere),
        ("format not in the token", &minisign_only),
        ("altered", &forged),
    ] {
        let (status, body) = upload(&s.url, "gpg", token, "a.txt", input).await;
        assert_eq!(status, 403, "{what}: {body}");
        assert_eq!(body["code"], "InsufficientScopes", "{what}");
        assert_eq!(fetch(&s.url, "gpg", token, &sha).await.0, 403, "{what}");
    }
    // The X-Signing-Token header is checked the same way.
    let resp = reqwest::Client::new()
        .post(format!("{}/api/signing/v1/sign/gpg", s.url))
        .header("X-Signing-Token", &expired)
        .header("X-Content-SHA256", &sha)
        .header("X-Filename", "a.txt")
        .body(input.to_vec())
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 403);

    assert_eq!(s.audit_lines(), 0);
    assert!(s.server.results().is_empty());

    // The same input with a good token is signed: the refusals were the tokens, not the input.
    let good = keys
        .issue("project/builder", here, &gpg, hour, now)
        .expect("issue");
    assert_eq!(upload(&s.url, "gpg", &good, "a.txt", input).await.0, 202);
    assert_eq!(fetch(&s.url, "gpg", &good, &sha).await.0, 200);
    assert_eq!(s.audit_lines(), 1);
}

#[tokio::test]
async fn outside_the_allowed_networks_everything_is_403() {
    let env = Env::new().await;
    let s = env.signing("closed", &["10.0.0.0/8"]).await;
    let creds = env.client("project/outsider", &["signing:token:*"]).await;
    let (status, body) = ask_token(
        &s.url,
        Some(&creds),
        json!({"formats": ["gpg"], "duration": 600}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // A token that would be good from 127.0.0.1 changes nothing: the network decides first.
    let token = token_keys()
        .issue(
            "project/outsider",
            "127.0.0.1".parse().expect("ip"),
            &[relyard_signing::Format::Gpg],
            Duration::from_secs(600),
            chrono::Utc::now(),
        )
        .expect("issue");
    let (status, body) = upload(&s.url, "gpg", &token, "a.txt", b"x").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not in the allowed networks"),
        "{body}"
    );
    for path in ["__heartbeat__", "api/signing/v1/sign/gpg/00"] {
        let resp = reqwest::get(format!("{}/{path}", s.url))
            .await
            .expect("get");
        assert_eq!(resp.status(), 403, "{path}");
    }
    assert_eq!(s.audit_lines(), 0);
    assert!(s.server.results().is_empty());
}

#[tokio::test]
async fn a_token_needs_hawk_credentials_with_the_scope_for_every_format() {
    let env = Env::new().await;
    let s = env.signing("tokens", &["127.0.0.0/8"]).await;
    let limited = env
        .client("project/limited", &["signing:token:minisign"])
        .await;
    let (status, body) = ask_token(
        &s.url,
        Some(&limited),
        json!({"formats": ["gpg"], "duration": "1h"}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = ask_token(
        &s.url,
        Some(&limited),
        json!({"formats": ["minisign", "gpg"], "duration": "1h"}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = ask_token(
        &s.url,
        Some(&limited),
        json!({"formats": ["minisign"], "duration": "1h"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The token it got signs minisign only.
    let token = body["token"].as_str().expect("token");
    assert_eq!(upload(&s.url, "gpg", token, "a.txt", b"x").await.0, 403);

    // Unsigned, wrongly signed, and longer than an hour.
    let (status, _) = ask_token(
        &s.url,
        None,
        json!({"formats": ["minisign"], "duration": "1h"}),
    )
    .await;
    assert_eq!(status, 401);
    let wrong =
        taskcluster::Credentials::new("project/limited", "not-the-access-token-at-all-xxxxxxxxxxx");
    let (status, _) = ask_token(
        &s.url,
        Some(&wrong),
        json!({"formats": ["minisign"], "duration": "1h"}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = ask_token(
        &s.url,
        Some(&limited),
        json!({"formats": ["minisign"], "duration": "2h"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(s.audit_lines(), 0);
}
