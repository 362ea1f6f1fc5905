//! Which credentials authenticate: disabled, deleted and expired clients do not; named
//! temporary credentials do, within their scopes; the expiry sweep removes clients that asked
//! to be deleted on expiration.

mod common;

use std::time::Duration;

use common::{auth_as, creds, make_client, make_client_with, root_auth, status_of};
use relyard_core::Timestamp;
use relyard_testing::TestServer;
use serde_json::json;

#[tokio::test]
async fn disabled_deleted_and_expired_clients_get_401() {
    let server = TestServer::start().await;
    let root = root_auth(&server);
    let token = make_client(&server, "test/life", &["auth:current-scopes"]).await;
    let me = auth_as(&server, creds("test/life", &token));
    assert!(me.currentScopes().await.is_ok());

    root.disableClient("test/life").await.unwrap();
    assert_eq!(status_of(&me.currentScopes().await.unwrap_err()), 401);
    root.enableClient("test/life").await.unwrap();
    assert!(me.currentScopes().await.is_ok());

    // A reset revokes the old token at once.
    let fresh = root.resetAccessToken("test/life").await.unwrap();
    assert_eq!(status_of(&me.currentScopes().await.unwrap_err()), 401);
    let fresh = fresh["accessToken"].as_str().unwrap();
    let me = auth_as(&server, creds("test/life", fresh));
    assert!(me.currentScopes().await.is_ok());

    root.deleteClient("test/life").await.unwrap();
    assert_eq!(status_of(&me.currentScopes().await.unwrap_err()), 401);

    let past = Timestamp::now().plus_secs(-60).to_string();
    let token = make_client_with(
        &server,
        "test/expired",
        &["auth:current-scopes"],
        &past,
        false,
    )
    .await;
    let expired = auth_as(&server, creds("test/expired", &token));
    assert_eq!(status_of(&expired.currentScopes().await.unwrap_err()), 401);

    let unknown = auth_as(&server, creds("test/nobody", &token));
    assert_eq!(status_of(&unknown.currentScopes().await.unwrap_err()), 401);
}

#[tokio::test]
async fn named_temporary_credentials() {
    let server = TestServer::start().await;
    let token = make_client(
        &server,
        "test/issuer",
        &[
            "auth:current-scopes",
            "foo:*",
            "auth:create-client:test/named/*",
        ],
    )
    .await;
    let issuer = creds("test/issuer", &token);

    let named = issuer
        .create_named_temp_creds(
            "test/named/one",
            Duration::from_secs(600),
            ["auth:current-scopes", "foo:bar"],
        )
        .unwrap();
    assert_eq!(named.client_id, "test/named/one");
    let scopes = auth_as(&server, named).currentScopes().await.unwrap();
    assert_eq!(
        scopes["scopes"],
        json!([
            "assume:anonymous",
            "auth:current-scopes",
            "foo:bar",
            "queue:get-artifact:public/*"
        ])
    );

    // Naming needs auth:create-client:<name>.
    let unauthorized_name = issuer
        .create_named_temp_creds(
            "other/name",
            Duration::from_secs(600),
            ["auth:current-scopes"],
        )
        .unwrap();
    let e = auth_as(&server, unauthorized_name)
        .currentScopes()
        .await
        .unwrap_err();
    assert_eq!(status_of(&e), 401);

    // Scopes beyond the issuer's are refused.
    let too_wide = issuer
        .create_named_temp_creds(
            "test/named/two",
            Duration::from_secs(600),
            ["auth:current-scopes", "bar:x"],
        )
        .unwrap();
    let e = auth_as(&server, too_wide)
        .currentScopes()
        .await
        .unwrap_err();
    assert_eq!(status_of(&e), 401);

    // Temporary credentials die with their issuer.
    let named = issuer
        .create_named_temp_creds(
            "test/named/three",
            Duration::from_secs(600),
            ["auth:current-scopes"],
        )
        .unwrap();
    root_auth(&server)
        .disableClient("test/issuer")
        .await
        .unwrap();
    let e = auth_as(&server, named).currentScopes().await.unwrap_err();
    assert_eq!(status_of(&e), 401);
}

#[tokio::test]
async fn the_sweep_purges_expired_clients_that_asked_for_it() {
    let server = TestServer::start().await;
    let root = root_auth(&server);
    let past = Timestamp::now().plus_secs(-60).to_string();
    let future = Timestamp::now().plus_days(1).to_string();
    make_client_with(&server, "test/purge-me", &[], &past, true).await;
    make_client_with(&server, "test/keep-expired", &[], &past, false).await;
    make_client_with(&server, "test/keep-live", &[], &future, true).await;

    let purged = server
        .server
        .auth
        .purge_expired_clients(Timestamp::now())
        .await
        .unwrap();
    // The sweep AuthService runs at start-up may already have purged it.
    assert!(purged <= 1, "purged {purged}");
    assert_eq!(
        status_of(&root.client("test/purge-me").await.unwrap_err()),
        404
    );
    assert!(root.client("test/keep-expired").await.is_ok());
    assert!(root.client("test/keep-live").await.is_ok());
    // Static clients never expire away.
    assert!(root.client(relyard_auth::ROOT_CLIENT_ID).await.is_ok());
}

/// As in Taskcluster, bad credentials fail the endpoints that check scopes, not public ones.
#[tokio::test]
async fn bad_credentials_fail_only_endpoints_that_check_scopes() {
    let server = TestServer::start().await;
    make_client(&server, "test/x", &["auth:current-scopes"]).await;
    let forged = Some(("test/x", "not-the-token"));
    let (status, _) = common::call(
        &server,
        "GET",
        "/api/auth/v1/clients/test%2Fx",
        forged,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) =
        common::call(&server, "GET", "/api/auth/v1/scopes/current", forged, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "AuthenticationFailed");
}
