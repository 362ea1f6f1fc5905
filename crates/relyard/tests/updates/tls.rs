//! `relyard serve --tls-cert --tls-key`: the server terminates TLS itself.

use relyard::config::TlsConfig;
use relyard_testing::TestDb;

use crate::common::{server_on, UPDATE_URL};

#[tokio::test]
async fn serves_https_with_the_given_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("self-signed certificate");
    let dir = tempfile::tempdir().expect("temp dir");
    let tls = TlsConfig {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&tls.cert, cert.cert.pem()).expect("write cert");
    std::fs::write(&tls.key, cert.signing_key.serialize_pem()).expect("write key");

    let db = TestDb::new().await;
    let (server, _data) = server_on(&db, |c| c.tls = Some(tls)).await;
    assert!(
        server.root_url.starts_with("https://127.0.0.1:"),
        "{}",
        server.root_url
    );

    let trusting = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).expect("PEM"),
        )
        .build()
        .expect("client");
    for path in [UPDATE_URL, "/__heartbeat__", "/api/auth/v1/ping"] {
        let resp = trusting
            .get(format!("{}{path}", server.root_url))
            .send()
            .await
            .expect("https request");
        assert_eq!(resp.status(), 200, "{path}");
    }

    // A client that does not trust the certificate is refused, and plain HTTP gets no answer.
    assert!(reqwest::get(format!("{}/__heartbeat__", server.root_url))
        .await
        .is_err());
    let plain = server.root_url.replacen("https://", "http://", 1);
    let answered = reqwest::get(format!("{plain}/__heartbeat__")).await;
    assert!(answered.map(|r| !r.status().is_success()).unwrap_or(true));
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_missing_certificate_is_a_clear_start_error() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let result = relyard::server::Server::start({
        let mut c = crate::common::config_on(&db, dir.path());
        c.tls = Some(TlsConfig {
            cert: dir.path().join("missing.pem"),
            key: dir.path().join("missing-key.pem"),
        });
        c
    })
    .await;
    let err = result.err().expect("start fails").to_string();
    assert!(err.contains("missing.pem"), "{err}");
}
