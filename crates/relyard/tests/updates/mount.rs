//! The public update endpoints and the dockerflow endpoints on a running server.

use relyard_testing::TestDb;

use crate::common::{get, seed, server_on, UPDATE_URL};

#[tokio::test]
async fn update_xml_is_served_at_the_root_without_credentials() {
    let db = TestDb::new().await;
    let (server, _data) = server_on(&db, |_| {}).await;
    let client = reqwest::Client::new();

    // Nothing stored yet: Balrog's empty document, not a Taskcluster 404 or 401.
    let (status, body) = get(&client, &server.root_url, UPDATE_URL).await;
    assert_eq!(
        (status, body.as_str()),
        (200, "<?xml version=\"1.0\"?>\n<updates>\n</updates>")
    );

    seed(&server.db).await;
    server.updates.changed().await.expect("reload");
    let resp = client
        .get(format!("{}{UPDATE_URL}", server.root_url))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("public, max-age=90")
    );
    assert!(resp.headers().contains_key("rule-id"));
    let body = resp.text().await.expect("body");
    assert!(
        body.contains(r#"<update type="minor" displayVersion="2.0" appVersion="2.0""#),
        "{body}"
    );
    assert!(
        body.contains("http://archive.mozilla.org/pub/firefox/de/win64/firefox.complete.mar"),
        "{body}"
    );

    for path in ["/__heartbeat__", "/__lbheartbeat__", "/__version__"] {
        let resp = client
            .get(format!("{}{path}", server.root_url))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 200, "{path}");
        let v: serde_json::Value = resp.json().await.expect("JSON");
        assert!(v.is_object(), "{path}: {v}");
    }
    server.stop().await.expect("stops");
}
