//! testAuthenticate and testAuthenticateGet answer as Taskcluster's do (the cases of the
//! official JS client's own credential tests, driven here with the official Rust client).

mod common;

use std::time::Duration;

use common::{auth_as, call, creds, no_retry, status_of};
use relyard_testing::TestServer;
use serde_json::{json, Value};

fn tester() -> taskcluster::Credentials {
    creds("tester", "no-secret")
}

async fn probe(
    auth: &taskcluster::Auth,
    client_scopes: &[&str],
    required_scopes: &[&str],
) -> Result<Value, anyhow::Error> {
    auth.testAuthenticate(
        &json!({"clientScopes": client_scopes, "requiredScopes": required_scopes}),
    )
    .await
}

#[tokio::test]
async fn permanent_credentials() {
    let server = TestServer::start().await;
    let auth = auth_as(&server, tester());
    assert_eq!(
        probe(&auth, &[], &[]).await.unwrap(),
        json!({"clientId": "tester", "scopes": ["assume:anonymous"]})
    );
    assert_eq!(
        probe(&auth, &["test:a"], &["test:a"]).await.unwrap(),
        json!({"clientId": "tester", "scopes": ["assume:anonymous", "test:a"]})
    );
    // Roles do not apply to the test client, even ones that exist.
    common::root_auth(&server)
        .createRole("r", &json!({"description": "d", "scopes": ["from:role"]}))
        .await
        .unwrap();
    assert_eq!(
        probe(&auth, &["assume:r"], &[]).await.unwrap()["scopes"],
        json!(["assume:anonymous", "assume:r"])
    );

    let e = probe(&auth, &["some-scope"], &["another-scope"])
        .await
        .unwrap_err();
    assert_eq!(status_of(&e), 403);

    let wrong = auth_as(&server, creds("tester", "wrong"));
    assert_eq!(status_of(&probe(&wrong, &[], &[]).await.unwrap_err()), 401);
    // Real clients are not test clients, root included.
    let root = auth_as(&server, server.root_credentials());
    assert_eq!(
        status_of(&probe(&root, &["*"], &[]).await.unwrap_err()),
        401
    );
}

#[tokio::test]
async fn insufficient_scopes_name_what_is_missing() {
    let server = TestServer::start().await;
    let (status, body) = call(
        &server,
        "POST",
        "/api/auth/v1/test-authenticate",
        Some(("tester", "no-secret")),
        Some(&json!({"clientScopes": ["a:*"], "requiredScopes": ["a:x", "b:y"]})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "InsufficientScopes");
    assert_eq!(
        body["requestInfo"]["details"]["required"],
        json!({"AllOf": ["a:x", "b:y"]})
    );
    assert_eq!(body["requestInfo"]["details"]["unsatisfied"], json!("b:y"));

    let (status, body) = call(
        &server,
        "POST",
        "/api/auth/v1/test-authenticate",
        None,
        Some(&json!({"clientScopes": [], "requiredScopes": []})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"clientId": "auth-failed:no-auth", "scopes": ["assume:anonymous"]})
    );

    let (status, _) = call(
        &server,
        "POST",
        "/api/auth/v1/test-authenticate",
        Some(("tester", "no-secret")),
        Some(&json!({"clientScopes": []})),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn authorized_scopes() {
    let server = TestServer::start().await;
    let narrowed = |scopes: &[&str]| {
        taskcluster::Auth::new(
            server
                .client(Some(tester()))
                .retry(no_retry())
                .authorized_scopes(scopes.iter().copied()),
        )
        .unwrap()
    };
    assert_eq!(
        probe(
            &narrowed(&["scopes:specific"]),
            &["scopes:*"],
            &["scopes:specific"]
        )
        .await
        .unwrap(),
        json!({"clientId": "tester", "scopes": ["assume:anonymous", "scopes:specific"]})
    );
    let e = probe(
        &narrowed(&["scopes:something-else"]),
        &["scopes:*"],
        &["scopes:specific"],
    )
    .await
    .unwrap_err();
    assert_eq!(status_of(&e), 403);
    // More than the client holds: the credentials themselves are refused.
    let e = probe(&narrowed(&["other:x"]), &["scopes:*"], &[])
        .await
        .unwrap_err();
    assert_eq!(status_of(&e), 401);
}

#[tokio::test]
async fn temporary_credentials() {
    let server = TestServer::start().await;
    let hour = Duration::from_secs(3600);

    let unnamed = tester()
        .create_temp_creds(hour, ["scopes:specific"])
        .unwrap();
    assert_eq!(
        probe(
            &auth_as(&server, unnamed),
            &["scopes:*"],
            &["scopes:specific"]
        )
        .await
        .unwrap(),
        json!({"clientId": "tester", "scopes": ["assume:anonymous", "scopes:specific"]})
    );

    let insufficient = tester()
        .create_temp_creds(hour, ["scopes:something-else"])
        .unwrap();
    let e = probe(
        &auth_as(&server, insufficient),
        &["scopes:*"],
        &["scopes:specific"],
    )
    .await
    .unwrap_err();
    assert_eq!(status_of(&e), 403);

    let forged = creds("tester", "wrong")
        .create_temp_creds(hour, ["scopes:specific"])
        .unwrap();
    let e = probe(
        &auth_as(&server, forged),
        &["scopes:*"],
        &["scopes:specific"],
    )
    .await
    .unwrap_err();
    assert_eq!(status_of(&e), 401);

    let named = tester()
        .create_named_temp_creds("my-temp-cred", hour, ["scopes:specific"])
        .unwrap();
    assert_eq!(
        probe(
            &auth_as(&server, named.clone()),
            &["scopes:*", "auth:create-client:my-temp-cred"],
            &["scopes:specific"]
        )
        .await
        .unwrap(),
        json!({"clientId": "my-temp-cred", "scopes": ["assume:anonymous", "scopes:specific"]})
    );
    // Without auth:create-client:<name> the issuer may not name credentials.
    let e = probe(
        &auth_as(&server, named),
        &["scopes:*"],
        &["scopes:specific"],
    )
    .await
    .unwrap_err();
    assert_eq!(status_of(&e), 401);

    // Named credentials narrowed further with authorizedScopes keep the given order.
    let named = tester()
        .create_named_temp_creds("my-temp-cred", hour, ["scopes:*"])
        .unwrap();
    let auth = taskcluster::Auth::new(
        server
            .client(Some(named))
            .retry(no_retry())
            .authorized_scopes(["scopes:specific", "scopes:another"]),
    )
    .unwrap();
    assert_eq!(
        probe(
            &auth,
            &["scopes:*", "auth:create-client:my-temp-cred"],
            &["scopes:specific"]
        )
        .await
        .unwrap(),
        json!({
            "clientId": "my-temp-cred",
            "scopes": ["assume:anonymous", "scopes:specific", "scopes:another"]
        })
    );
}

#[tokio::test]
async fn get_with_headers_and_signed_urls() {
    let server = TestServer::start().await;
    let auth = auth_as(&server, tester());
    let answer = auth.testAuthenticateGet().await.unwrap();
    assert_eq!(
        answer,
        // Taskcluster merges the anonymous role into the fixed, unsorted list as it is.
        json!({"clientId": "tester", "scopes": ["assume:anonymous", "test:*", "auth:create-client:test:*"]})
    );

    let url = auth
        .testAuthenticateGet_signed_url(Duration::from_secs(300))
        .unwrap();
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["clientId"], "tester");

    let wrong = auth_as(&server, creds("tester", "wrong-secret"));
    let url = wrong
        .testAuthenticateGet_signed_url(Duration::from_secs(300))
        .unwrap();
    assert_eq!(reqwest::get(&url).await.unwrap().status().as_u16(), 401);

    // authorizedScopes without test:authenticate-get: 403.
    let narrowed = taskcluster::Auth::new(
        server
            .client(Some(tester()))
            .retry(no_retry())
            .authorized_scopes(["test:get"]),
    )
    .unwrap();
    let url = narrowed
        .testAuthenticateGet_signed_url(Duration::from_secs(300))
        .unwrap();
    assert_eq!(reqwest::get(&url).await.unwrap().status().as_u16(), 403);

    // Unsigned: anonymous lacks test:authenticate-get.
    let (status, _) = call(
        &server,
        "GET",
        "/api/auth/v1/test-authenticate-get/",
        None,
        None,
    )
    .await;
    assert_eq!(status, 403);
}
