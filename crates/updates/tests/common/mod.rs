//! Starts the updates router on an ephemeral port and fetches URLs from it.

// Each test binary includes this module and uses a different part of it.
#![allow(dead_code)]

use std::sync::Arc;

use relyard_updates::allowlist::{DomainAllowlist, ForceHosts};
use relyard_updates::{router, Rule, UpdatesService};
use serde_json::Value;

/// A fresh test database (SQLite, or PostgreSQL with `TEST_DATABASE_URL`) with the updates
/// tables.
pub async fn migrated_db() -> relyard_testing::TestDb {
    let tdb = relyard_testing::TestDb::new().await;
    tdb.db
        .migrate(&relyard_updates::migrations())
        .await
        .expect("migrate");
    tdb
}

pub struct Server {
    pub base: String,
    pub service: UpdatesService,
    client: reqwest::Client,
}

pub struct Got {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Got {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The rule fields the Balrog fixtures set, the rest wildcards.
pub fn rule(id: i64, priority: i64, rate: i64, mapping: &str, product: &str) -> Rule {
    Rule {
        rule_id: id,
        priority: Some(priority),
        background_rate: Some(rate),
        mapping: Some(mapping.into()),
        product: Some(product.into()),
        update_type: "minor".into(),
        data_version: 1,
        ..Default::default()
    }
}

/// A schema-1 blob with one platform `p` whose locales each have one
/// complete: (locale, filesize, hashValue, fileUrl). This is the shape of
/// most releases in Balrog's `tests/web/test_client.py` fixtures.
pub fn v1_blob(
    name: &str,
    appv: Option<&str>,
    build_id: &str,
    locales: &[(&str, &str, &str, &str)],
) -> Value {
    let mut locs = serde_json::Map::new();
    for (loc, size, hash, url) in locales {
        locs.insert(
            loc.to_string(),
            serde_json::json!({"complete": {"filesize": size, "from": "*", "hashValue": hash, "fileUrl": url}}),
        );
    }
    let mut blob = serde_json::json!({
        "name": name, "schema_version": 1, "hashFunction": "sha512",
        "platforms": {"p": {"buildID": build_id, "locales": locs}}
    });
    if let (Some(v), Some(m)) = (appv, blob.as_object_mut()) {
        m.insert("appv".into(), v.into());
        m.insert("extv".into(), v.into());
    }
    blob
}

/// Release "b" of test_client.py's and test_json.py's fixtures.
pub fn b_blob() -> Value {
    v1_blob(
        "b",
        Some("1.0"),
        "2",
        &[
            ("l", "3", "4", "http://a.com/z"),
            ("xh", "5", "6", "http://a.com/x"),
        ],
    )
}

impl Server {
    /// Serves `rules` and `releases` with a dice that always rolls `roll`.
    pub async fn start(
        rules: Vec<Rule>,
        releases: Vec<Value>,
        allowlist: Value,
        force_hosts: &[&str],
        roll: u8,
    ) -> Server {
        let service = UpdatesService::new(Arc::new(move || roll));
        service.load_rules(rules);
        service.load_releases(releases).expect("valid releases");
        service.set_allowlist(DomainAllowlist::from_json(&allowlist).expect("allow-list"));
        service.set_force_hosts(ForceHosts(
            force_hosts.iter().map(|s| s.to_string()).collect(),
        ));
        Server::serve(service).await
    }

    /// Serves an already loaded service (e.g. one built from a database).
    pub async fn serve(service: UpdatesService) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = router(service.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Server {
            base: format!("http://{addr}"),
            service,
            client: reqwest::Client::new(),
        }
    }

    pub async fn get(&self, path: &str) -> Got {
        self.get_with_ua(path, None).await
    }

    pub async fn get_with_ua(&self, path: &str, ua: Option<&str>) -> Got {
        let mut req = self.client.get(format!("{}{}", self.base, path));
        if let Some(ua) = ua {
            req = req.header("User-Agent", ua);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.expect("body");
        Got {
            status,
            headers,
            body,
        }
    }
}

/// The document Balrog's test expects. The Python tests write it with a
/// trailing newline that minidom drops; Balrog's response has none.
pub fn expected(xml: &str) -> String {
    xml.trim_end_matches('\n').to_string()
}

/// test_client.py's answer for release "b" on platform p, locale l.
pub const B_UPDATE: &str = r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="1.0" extensionVersion="1.0" buildID="2">
        <patch type="complete" URL="http://a.com/z" hashFunction="sha512" hashValue="4" size="3"/>
    </update>
</updates>
"#;

pub const EMPTY: &str = "<?xml version=\"1.0\"?>\n<updates>\n</updates>";

pub fn assert_xml(got: &Got, want: &str) {
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.header("content-type"), Some("text/xml; charset=utf-8"));
    assert_eq!(got.body, expected(want));
}

pub fn assert_empty(got: &Got) {
    assert_xml(got, EMPTY);
}

/// The headers Balrog's `after_request` sets on every answer, 400s included.
pub fn assert_security_headers(got: &Got) {
    assert_eq!(
        got.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    assert_eq!(
        got.header("strict-transport-security"),
        Some("max-age=31536000;")
    );
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(got.header("cache-control"), Some("public, max-age=90"));
}
