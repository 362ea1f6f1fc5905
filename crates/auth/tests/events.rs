//! Client and role changes write Taskcluster's auth exchange messages to the outbox in the
//! transaction of the change; refused changes write none.

mod common;

use common::{call, make_client, root_auth, tomorrow};
use relyard_store::Row;
use relyard_testing::TestServer;
use serde_json::{json, Value};

/// Every event in the outbox, oldest first, as `(exchange, routing key, payload)`.
async fn events(server: &TestServer) -> Vec<(String, String, Value)> {
    let rows = sqlx::query("SELECT exchange, routing_key, payload FROM events ORDER BY id")
        .fetch_all(server.db.db.reader())
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let payload: String = r.try_get("payload").unwrap();
            (
                r.try_get("exchange").unwrap(),
                r.try_get("routing_key").unwrap(),
                serde_json::from_str(&payload).unwrap(),
            )
        })
        .collect()
}

fn auth_event(name: &str, payload: Value) -> (String, String, Value) {
    (
        format!("exchange/taskcluster-auth/v1/{name}"),
        "_".to_string(),
        payload,
    )
}

#[tokio::test]
async fn client_and_role_changes_are_announced() {
    let server = TestServer::start().await;
    let root = root_auth(&server);
    let before = events(&server).await.len();

    make_client(&server, "test/ev", &["a"]).await;
    root.updateClient(
        "test/ev",
        &json!({"expires": tomorrow(), "description": "y", "scopes": ["a", "b"]}),
    )
    .await
    .unwrap();
    root.disableClient("test/ev").await.unwrap();
    root.enableClient("test/ev").await.unwrap();
    root.resetAccessToken("test/ev").await.unwrap();
    root.deleteClient("test/ev").await.unwrap();
    root.createRole("r", &json!({"description": "d", "scopes": ["x"]}))
        .await
        .unwrap();
    root.updateRole("r", &json!({"description": "d", "scopes": ["x", "y"]}))
        .await
        .unwrap();
    root.deleteRole("r").await.unwrap();

    let client = |name| auth_event(name, json!({"version": 1, "clientId": "test/ev"}));
    let role = |name| auth_event(name, json!({"version": 1, "roleId": "r"}));
    assert_eq!(
        events(&server).await[before..],
        [
            client("client-created"),
            client("client-updated"),
            client("client-updated"),
            client("client-updated"),
            client("client-updated"),
            client("client-deleted"),
            role("role-created"),
            role("role-updated"),
            role("role-deleted"),
        ]
    );
}

#[tokio::test]
async fn refused_changes_announce_nothing() {
    let server = TestServer::start().await;
    let root = root_auth(&server);
    root.createRole("a", &json!({"description": "d", "scopes": ["assume:b"]}))
        .await
        .unwrap();
    let token = make_client(&server, "test/weak", &["auth:create-client:*"]).await;
    let before = events(&server).await;

    // Escalation: 403.
    let (status, _) = call(
        &server,
        "PUT",
        "/api/auth/v1/clients/test%2Fstrong",
        Some(("test/weak", &token)),
        Some(&json!({"expires": tomorrow(), "description": "x", "scopes": ["*"]})),
    )
    .await;
    assert_eq!(status, 403);
    // Cycle: 400.
    let e = root
        .createRole("b", &json!({"description": "d", "scopes": ["assume:a"]}))
        .await
        .unwrap_err();
    assert_eq!(common::status_of(&e), 400);
    // Conflict: 409.
    let e = root
        .createRole("a", &json!({"description": "other", "scopes": []}))
        .await
        .unwrap_err();
    assert_eq!(common::status_of(&e), 409);

    assert_eq!(events(&server).await, before);
}

#[tokio::test]
async fn events_are_published_to_subscribers() {
    let server = TestServer::start().await;
    let mut published = server.server.auth.bus().subscribe();
    make_client(&server, "test/pub", &[]).await;
    let event = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let e = published.recv().await.unwrap();
            if e.event.exchange.starts_with("exchange/taskcluster-auth/") {
                return e;
            }
        }
    })
    .await
    .expect("client-created is published promptly");
    assert_eq!(
        event.event.exchange,
        "exchange/taskcluster-auth/v1/client-created"
    );
    assert_eq!(
        event.event.payload,
        json!({"version": 1, "clientId": "test/pub"})
    );
}
