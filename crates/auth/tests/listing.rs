//! Listing clients by prefix, with paging, on both backends.

mod common;

use common::{make_client, root_auth};
use relyard_testing::TestServer;

#[tokio::test]
async fn list_clients_by_prefix_and_page() {
    let server = TestServer::start().await;
    for id in ["test/a", "test/b", "test/c", "other/x"] {
        make_client(&server, id, &[]).await;
    }
    let root = root_auth(&server);
    let ids = |page: &serde_json::Value| -> Vec<String> {
        page["clients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["clientId"].as_str().unwrap().to_string())
            .collect()
    };
    let all = root.listClients(Some("test/"), None, None).await.unwrap();
    assert_eq!(ids(&all), ["test/a", "test/b", "test/c"]);

    let first = root
        .listClients(Some("test/"), None, Some("2"))
        .await
        .unwrap();
    assert_eq!(ids(&first), ["test/a", "test/b"]);
    let token = first["continuationToken"].as_str().unwrap();
    let rest = root
        .listClients(Some("test/"), Some(token), Some("2"))
        .await
        .unwrap();
    assert_eq!(ids(&rest), ["test/c"]);
    assert!(rest.get("continuationToken").is_none());

    let everyone = root.listClients(None, None, None).await.unwrap();
    assert!(ids(&everyone).contains(&relyard_auth::ROOT_CLIENT_ID.to_string()));
}
