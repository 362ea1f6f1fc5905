//! Servers on a shared test database, and release/rule fixtures.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use relyard::config::{ServerConfig, UpdatesConfig};
use relyard::server::Server;
use relyard_testing::TestDb;
use relyard_updates::store;
use relyard_updates::Rule;
use serde_json::{json, Value};

/// A server over `db` (which may already have another server on it), with `adjust` applied.
pub async fn server_on(
    db: &TestDb,
    adjust: impl FnOnce(&mut ServerConfig),
) -> (Server, tempfile::TempDir) {
    let data = tempfile::tempdir().expect("temp dir");
    let mut config = config_on(db, data.path());
    adjust(&mut config);
    let server = Server::start(config).await.expect("server starts");
    (server, data)
}

/// The configuration of a server on 127.0.0.1:0 over `db`, keeping artifacts under `data`.
pub fn config_on(db: &TestDb, data: &Path) -> ServerConfig {
    ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        root_url: None,
        database_url: db.url.clone(),
        amqp_url: None,
        data_dir: data.to_path_buf(),
        artifact_s3: None,
        root_access_token: ROOT_ACCESS_TOKEN.into(),
        encryption_keys: vec![("test".into(), "a test encryption key".into())],
        claim_timeout_secs: relyard::config::DEFAULT_CLAIM_TIMEOUT_SECS,
        reaper_interval: relyard::config::DEFAULT_REAPER_INTERVAL,
        tls: None,
        updates: UpdatesConfig::default(),
        github: None,
    }
}

pub const ROOT_ACCESS_TOKEN: &str = "a-root-access-token-for-updates-tests";

/// A schema-4 app release for product "Firefox" on one Windows platform with locale `de`.
pub fn release(name: &str, version: &str, build_id: &str) -> Value {
    json!({
        "name": name, "schema_version": 4, "hashFunction": "sha512",
        "appVersion": version, "displayVersion": version, "platformVersion": version,
        "fileUrls": {"*": {"completes": {"*": "http://archive.mozilla.org/pub/firefox/%LOCALE%/%OS_FTP%/firefox.complete.mar"}}},
        "platforms": {"WINNT_x86_64-msvc": {"buildID": build_id, "OS_FTP": "win64", "OS_BOUNCER": "win64",
            "locales": {"de": {"completes": [{"filesize": 1234, "from": "*", "hashValue": "abc"}]}}}}
    })
}

/// A rule sending channel `release` of product Firefox to `mapping`.
pub fn rule(mapping: &str, priority: i64) -> Rule {
    Rule {
        priority: Some(priority),
        background_rate: Some(100),
        mapping: Some(mapping.into()),
        product: Some("Firefox".into()),
        channel: Some("release".into()),
        update_type: "minor".into(),
        ..Default::default()
    }
}

pub const UPDATE_URL: &str =
    "/update/6/Firefox/1.0/20200101000000/WINNT_x86_64-msvc/de/release/Windows_NT%2010.0/ISET:SSE4_2,MEM:16000/default/default/update.xml";

/// Stores releases 2.0 and 3.0 and a rule to 2.0; returns the rule.
pub async fn seed(db: &relyard_store::Db) -> Rule {
    for (name, version, build) in [
        ("Firefox-2.0", "2.0", "20210101000000"),
        ("Firefox-3.0", "3.0", "20220101000000"),
    ] {
        store::create_release(
            db,
            "tester",
            name,
            "Firefox",
            &release(name, version, build),
        )
        .await
        .expect("release stored");
    }
    store::create_rule(db, "tester", &rule("Firefox-2.0", 100))
        .await
        .expect("rule stored")
}

/// GETs `url` of `server` and returns (status, body).
pub async fn get(client: &reqwest::Client, base: &str, url: &str) -> (u16, String) {
    let resp = client
        .get(format!("{base}{url}"))
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// Waits until `server` answers [`UPDATE_URL`] with a body containing `want`, waking on each of
/// its catalog loads; fails after `deadline`.
pub async fn wait_until_served(server: &Server, want: &str, deadline: Duration) {
    let client = reqwest::Client::new();
    let mut loads = server.updates.loads();
    let until = tokio::time::Instant::now() + deadline;
    loop {
        let (status, body) = get(&client, &server.root_url, UPDATE_URL).await;
        if status == 200 && body.contains(want) {
            return;
        }
        match tokio::time::timeout_at(until, loads.changed()).await {
            Ok(Ok(())) => {}
            _ => panic!(
                "{} never served {want:?}; last answer {status}: {body}",
                server.root_url
            ),
        }
    }
}
