//! A caller cannot grant what it does not hold: createClient, updateClient and createRole
//! answer 403 InsufficientScopes naming what is missing, and create nothing. Role sets that
//! would form a cycle are refused with 400 and nothing is stored.

mod common;

use common::{call, make_client, root_auth, status_of, tomorrow};
use relyard_testing::TestServer;
use serde_json::json;

#[tokio::test]
async fn create_client_with_scopes_the_caller_lacks_is_refused() {
    let server = TestServer::start().await;
    let token = make_client(
        &server,
        "test/limited",
        &["auth:create-client:test/*", "foo:*"],
    )
    .await;
    let me = Some(("test/limited", token.as_str()));

    // foo:* is held, bar:x is not.
    let body = json!({"expires": tomorrow(), "description": "x", "scopes": ["foo:a", "bar:x"]});
    let (status, err) = call(
        &server,
        "PUT",
        "/api/auth/v1/clients/test%2Fescalated",
        me,
        Some(&body),
    )
    .await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["code"], "InsufficientScopes");
    let details = &err["requestInfo"]["details"];
    assert_eq!(
        details["required"],
        json!({"AllOf": ["auth:create-client:test/escalated", "foo:a", "bar:x"]})
    );
    assert_eq!(details["unsatisfied"], json!("bar:x"));

    // The clientId itself needs auth:create-client:<id>.
    let body = json!({"expires": tomorrow(), "description": "x", "scopes": []});
    let (status, err) = call(
        &server,
        "PUT",
        "/api/auth/v1/clients/other%2Fx",
        me,
        Some(&body),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        err["requestInfo"]["details"]["unsatisfied"],
        json!("auth:create-client:other/x")
    );

    let root = root_auth(&server);
    for id in ["test/escalated", "other/x"] {
        let e = root.client(id).await.expect_err("nothing was created");
        assert_eq!(status_of(&e), 404);
    }

    // Within its scopes it succeeds.
    let body = json!({"expires": tomorrow(), "description": "x", "scopes": ["foo:a"]});
    let (status, _) = call(
        &server,
        "PUT",
        "/api/auth/v1/clients/test%2Ffine",
        me,
        Some(&body),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn update_client_cannot_add_scopes_the_caller_lacks() {
    let server = TestServer::start().await;
    make_client(&server, "test/target", &["bar:x"]).await;
    let token = make_client(
        &server,
        "test/updater",
        &["auth:update-client:test/*", "foo:*"],
    )
    .await;
    let me = Some(("test/updater", token.as_str()));

    // Keeping bar:x (which the updater lacks) is fine; adding baz:y is not.
    let body = json!({"expires": tomorrow(), "description": "x", "scopes": ["bar:x", "baz:y"]});
    let (status, err) = call(
        &server,
        "POST",
        "/api/auth/v1/clients/test%2Ftarget",
        me,
        Some(&body),
    )
    .await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["requestInfo"]["details"]["unsatisfied"], json!("baz:y"));
    let client = root_auth(&server).client("test/target").await.unwrap();
    assert_eq!(client["scopes"], json!(["bar:x"]));

    let body = json!({"expires": tomorrow(), "description": "x", "scopes": ["bar:x", "foo:z"]});
    let (status, _) = call(
        &server,
        "POST",
        "/api/auth/v1/clients/test%2Ftarget",
        me,
        Some(&body),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn create_role_with_scopes_the_caller_lacks_is_refused() {
    let server = TestServer::start().await;
    let root = root_auth(&server);
    root.createRole(
        "powerful",
        &json!({"description": "d", "scopes": ["admin:*"]}),
    )
    .await
    .unwrap();
    let token = make_client(&server, "test/roler", &["auth:create-role:*", "foo:*"]).await;
    let me = Some(("test/roler", token.as_str()));

    // Granting assume:powerful would hand out admin:* indirectly.
    let body = json!({"description": "x", "scopes": ["foo:a", "assume:powerful"]});
    let (status, err) = call(&server, "PUT", "/api/auth/v1/roles/sneaky", me, Some(&body)).await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["code"], "InsufficientScopes");
    assert_eq!(
        err["requestInfo"]["details"]["required"],
        json!({"AllOf": ["auth:create-role:sneaky", "foo:a", "assume:powerful"]})
    );
    assert_eq!(
        err["requestInfo"]["details"]["unsatisfied"],
        json!("assume:powerful")
    );

    let body = json!({"description": "x", "scopes": ["*"]});
    let (status, err) = call(&server, "PUT", "/api/auth/v1/roles/sneaky", me, Some(&body)).await;
    assert_eq!(status, 403);
    assert_eq!(err["requestInfo"]["details"]["unsatisfied"], json!("*"));

    let ids = root.listRoleIds(None, None).await.unwrap();
    // `anonymous` comes with every deployment.
    assert_eq!(ids["roleIds"], json!(["anonymous", "powerful"]));
}

#[tokio::test]
async fn role_cycles_are_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let root = root_auth(&server);
    root.createRole("a", &json!({"description": "d", "scopes": ["assume:b"]}))
        .await
        .unwrap();

    let (status, err) = call(
        &server,
        "PUT",
        "/api/auth/v1/roles/b",
        Some((
            relyard_auth::ROOT_CLIENT_ID,
            server.root_access_token.as_str(),
        )),
        Some(&json!({"description": "d", "scopes": ["assume:a"]})),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["code"], "InputError");
    let e = root.role("b").await.expect_err("role b was not stored");
    assert_eq!(status_of(&e), 404);

    // Through an update too, and through a parameterized role.
    root.createRole("b", &json!({"description": "d", "scopes": ["x"]}))
        .await
        .unwrap();
    let e = root
        .updateRole("b", &json!({"description": "d", "scopes": ["assume:a"]}))
        .await
        .expect_err("cycle via update");
    assert_eq!(status_of(&e), 400);
    assert_eq!(root.role("b").await.unwrap()["scopes"], json!(["x"]));

    let e = root
        .createRole(
            "p:*",
            &json!({"description": "d", "scopes": ["assume:p:<..>x"]}),
        )
        .await
        .expect_err("self-feeding parameterized role");
    assert_eq!(status_of(&e), 400);
    let ids = root.listRoleIds(None, None).await.unwrap();
    assert_eq!(ids["roleIds"], json!(["a", "anonymous", "b"]));
}

#[tokio::test]
async fn static_client_ids_are_reserved() {
    let server = TestServer::start().await;
    let e = root_auth(&server)
        .createClient(
            "static/mine",
            &json!({"expires": tomorrow(), "description": "x", "scopes": []}),
        )
        .await
        .expect_err("static/ is reserved");
    assert_eq!(status_of(&e), 400);
}
