//! authenticateHawk, as a service outside this process calls it for a request it received.

mod common;

use common::make_client;
use relyard_testing::TestServer;
use serde_json::{json, Value};

/// A Hawk header for `POST https://signing.example:443/api/x/v1/thing`, with a payload hash
/// when `body` is given (as the official clients always send for bodies).
fn header(client_id: &str, access_token: &str, body: Option<&[u8]>) -> String {
    let credentials = hawk::Credentials {
        id: client_id.to_string(),
        key: hawk::Key::new(access_token.as_bytes(), hawk::DigestAlgorithm::Sha256)
            .expect("hawk key"),
    };
    let hash = body.map(|b| {
        hawk::PayloadHasher::hash(b"application/json", hawk::DigestAlgorithm::Sha256, b)
            .expect("payload hash")
    });
    let header = hawk::RequestBuilder::new("POST", "signing.example", 443, "/api/x/v1/thing")
        .hash(hash.as_deref())
        .request()
        .make_header(&credentials)
        .expect("hawk header");
    format!("Hawk {header}")
}

async fn authenticate(server: &TestServer, authorization: &str) -> Value {
    // The call itself needs no scopes; the root client's credentials are as good as any.
    let auth = common::root_auth(server);
    auth.authenticateHawk(&json!({
        "method": "post",
        "resource": "/api/x/v1/thing",
        "host": "signing.example",
        "port": 443,
        "authorization": authorization,
        "sourceIp": "127.0.0.1",
    }))
    .await
    .expect("authenticateHawk answers")
}

#[tokio::test]
async fn a_request_with_a_payload_hash_authenticates_and_a_forged_mac_does_not() {
    let server = TestServer::start().await;
    let token = make_client(&server, "svc-caller", &["signing:token:gpg"]).await;

    let with_hash = header("svc-caller", &token, Some(br#"{"formats":["gpg"]}"#));
    let answer = authenticate(&server, &with_hash).await;
    assert_eq!(answer["status"], "auth-success", "{answer}");
    assert_eq!(answer["clientId"], "svc-caller");
    assert!(answer["scopes"]
        .as_array()
        .is_some_and(|s| s.contains(&json!("signing:token:gpg"))));

    let without_hash = header("svc-caller", &token, None);
    assert_eq!(
        authenticate(&server, &without_hash).await["status"],
        "auth-success"
    );

    // The claimed hash is covered by the MAC: changing it breaks the signature.
    let forged = with_hash.replacen("hash=\"", "hash=\"A", 1);
    assert_eq!(
        authenticate(&server, &forged).await["status"],
        "auth-failed"
    );
    let wrong_key = header("svc-caller", "not-the-token", Some(b"{}"));
    assert_eq!(
        authenticate(&server, &wrong_key).await["status"],
        "auth-failed"
    );
}
