//! Update pins over HTTP: `ClientTestPinning` of Balrog's
//! `tests/web/test_client.py` (fixture, URLs and expected documents).

mod common;

use common::{assert_empty, assert_security_headers, assert_xml, rule, v1_blob, Server};
use relyard_updates::{PinnableRelease, Rule};
use serde_json::json;

const NIGHTLY: &str = "Firefox-mozilla-central-nightly-";

/// `ClientTestPinning.setUp`.
async fn pinning() -> Server {
    let releases = [
        ("1", "1.0", "30000101000010", "1"),
        ("2", "2.0", "30000101000020", "2"),
        ("2-1", "2.1", "30000101000021", "2_1"),
        ("2-2", "2.2", "30000101000022", "2_2"),
        ("2-3", "2.3", "30000101000023", "2_3"),
        ("3", "3.0", "30000101000030", "3"),
        ("4", "4.0", "30000101000040", "4"),
        ("5", "5.0", "30000101000050", "5"),
    ];
    let mut blobs: Vec<_> = releases
        .iter()
        .map(|(suffix, appv, build, file)| {
            let url = format!("http://a.com/{file}");
            v1_blob(
                &format!("{NIGHTLY}{suffix}"),
                Some(appv),
                build,
                &[("l", "3", "4", &url)],
            )
        })
        .collect();
    blobs.push(json!({"name": "desupport", "schema_version": 50, "detailsUrl": "http://example.com/desupport", "displayVersion": "1"}));
    let rules = vec![
        Rule {
            version: Some("<3.0".into()),
            ..rule(1, 200, 100, &format!("{NIGHTLY}3"), "b")
        },
        rule(2, 90, 100, &format!("{NIGHTLY}5"), "b"),
        Rule {
            os_version: Some("obsolete".into()),
            ..rule(3, 100, 100, "desupport", "b")
        },
    ];
    let s = Server::start(rules, blobs, json!({"a.com": ["b"]}), &["http://a.com"], 99).await;
    let pins = [
        ("1.", "1"),
        ("1.0.", "1"),
        ("2.0.", "2"),
        ("2.1.", "2-1"),
        ("2.2.", "2-2"),
        ("2.", "2-3"),
        ("2.3.", "2-3"),
        ("3.", "3"),
        ("3.0.", "3"),
        ("4.", "4"),
        ("4.0.", "4"),
        ("5.", "5"),
        ("5.0.", "5"),
    ];
    s.service.load_pins(
        pins.iter()
            .map(|(v, m)| PinnableRelease {
                product: "b".into(),
                channel: "c".into(),
                version: v.to_string(),
                mapping: format!("{NIGHTLY}{m}"),
            })
            .collect(),
    );
    s
}

fn url(version: &str, build: &str, pin: Option<&str>) -> String {
    let base = format!("/update/6/b/{version}/{build}/p/l/c/a/a/a/a/update.xml");
    match pin {
        Some(p) => format!("{base}?pin={p}"),
        None => base,
    }
}

const V3: &str = r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="3.0" extensionVersion="3.0" buildID="30000101000030">
        <patch type="complete" URL="http://a.com/3" hashFunction="sha512" hashValue="4" size="3"/>
    </update>
</updates>"#;

const V4: &str = r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="4.0" extensionVersion="4.0" buildID="30000101000040">
        <patch type="complete" URL="http://a.com/4" hashFunction="sha512" hashValue="4" size="3"/>
    </update>
</updates>"#;

const V2_2: &str = r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="2.2" extensionVersion="2.2" buildID="30000101000022">
        <patch type="complete" URL="http://a.com/2_2" hashFunction="sha512" hashValue="4" size="3"/>
    </update>
</updates>"#;

#[tokio::test]
async fn unpinned() {
    let s = pinning().await;
    // testUnpinnedRecent
    assert_xml(
        &s.get(&url("3.0", "30000101000030", None)).await,
        r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="5.0" extensionVersion="5.0" buildID="30000101000050">
        <patch type="complete" URL="http://a.com/5" hashFunction="sha512" hashValue="4" size="3"/>
    </update>
</updates>"#,
    );
    // testUnpinnedWatershed
    assert_xml(&s.get(&url("1.0", "30000101000010", None)).await, V3);
}

#[tokio::test]
async fn pinned() {
    let s = pinning().await;
    // testMajorPinSameVersion, testMinorPinSameVersion
    assert_empty(&s.get(&url("1.0", "30000101000010", Some("1."))).await);
    assert_empty(&s.get(&url("1.0", "30000101000010", Some("1.0."))).await);
    // testMajorPinWatershed, testMinorPinWatershed
    assert_xml(&s.get(&url("1.0", "30000101000010", Some("5."))).await, V3);
    assert_xml(
        &s.get(&url("1.0", "30000101000010", Some("5.0."))).await,
        V3,
    );
    // testMajorPin
    assert_xml(
        &s.get(&url("1.0", "30000101000010", Some("2."))).await,
        r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="2.3" extensionVersion="2.3" buildID="30000101000023">
        <patch type="complete" URL="http://a.com/2_3" hashFunction="sha512" hashValue="4" size="3"/>
    </update>
</updates>"#,
    );
    // testMinorPinThroughMajorVersion, testMinorPin
    assert_xml(
        &s.get(&url("1.0", "30000101000010", Some("2.2."))).await,
        V2_2,
    );
    assert_xml(
        &s.get(&url("2.0", "30000101000020", Some("2.2."))).await,
        V2_2,
    );
    // testMajorPinFromWatershed, testMinorPinFromWatershed
    assert_xml(&s.get(&url("3.0", "30000101000030", Some("4."))).await, V4);
    assert_xml(
        &s.get(&url("3.0", "30000101000030", Some("4.0."))).await,
        V4,
    );
    // testMajorPinUpdateBackwards, testMinorPinUpdateBackwards
    assert_empty(&s.get(&url("2.0", "30000101000020", Some("1."))).await);
    assert_empty(&s.get(&url("2.2", "30000101000022", Some("2.1."))).await);
}

#[tokio::test]
async fn broken_and_empty_pins() {
    let s = pinning().await;
    // testBrokenPin
    let got = s.get(&url("2.2", "30000101000022", Some("2"))).await;
    assert_eq!(
        (got.status, got.body.as_str()),
        (400, "Version Pin String '2' is invalid.")
    );
    assert_security_headers(&got);
    // testEmptyPin
    let got = s.get(&url("1.0", "30000101000010", Some(""))).await;
    assert_eq!(got.status, 400);
}

#[tokio::test]
async fn pin_with_desupport() {
    // testPinWithDesupport: byte-exact, with the blank line and the
    // unindented </update>.
    let s = pinning().await;
    let got = s
        .get("/update/6/b/3.0/30000101000020/p/l/c/obsolete/a/a/a/update.xml?pin=4.")
        .await;
    assert_xml(
        &got,
        r#"<?xml version="1.0"?>
<updates>

    <update type="minor" unsupported="true" detailsURL="http://example.com/desupport" displayVersion="1">
</update>
</updates>"#,
    );
}
