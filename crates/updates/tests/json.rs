//! The `/json/1` and `/json/2` routes over HTTP, with the fixture and
//! parametrized cases of Balrog's `tests/web/test_json.py`.

mod common;

use common::{assert_security_headers, b_blob, rule, Server};
use relyard_updates::Rule;
use serde_json::{json, Value};

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn guardian(name: &str, version: &str, platforms: Value) -> Value {
    json!({"name": name, "product": "Guardian", "schema_version": 10000, "version": version,
           "required": true, "hashFunction": "sha512", "platforms": platforms})
}

fn win_mac(version: &str, win_hash: &str, mac_hash: &str) -> Value {
    json!({
        "WINNT_x86_64": {"fileUrl": format!("https://good.com/{version}.msi"), "hashValue": win_hash},
        "Darwin_x86_64": {"fileUrl": format!("https://good.com/{version}.dmg"), "hashValue": mac_hash}
    })
}

/// `guardian_db` and `appconfig` of test_json.py.
async fn guardian_db() -> Server {
    let g = "Guardian";
    let rules = vec![
        Rule {
            channel: s("release"),
            os_version: s("EvilOS"),
            ..rule(1, 150, 100, "Guardian-Evil-1.0.0.0", g)
        },
        Rule {
            channel: s("evilrelease"),
            ..rule(2, 150, 100, "Guardian-Evil-1.0.0.0", g)
        },
        Rule {
            channel: s("release"),
            version: s("<0.5.0.0"),
            ..rule(3, 120, 100, "Guardian-0.5.0.0", g)
        },
        Rule {
            os_version: s("obsolete"),
            ..rule(4, 110, 100, "Guardian-0.6.0.0", g)
        },
        Rule {
            channel: s("release"),
            ..rule(5, 100, 100, "Guardian-1.0.0.0", g)
        },
        Rule {
            channel: s("release-rollout"),
            fallback_mapping: s("Guardian-0.5.0.0"),
            ..rule(6, 100, 0, "Guardian-1.0.0.0", g)
        },
        Rule {
            channel: s("alpha"),
            os_version: s("ignored"),
            build_id: s("12345"),
            locale: s("ignored"),
            memory: s("123"),
            instruction_set: s("ignored"),
            jaws: Some(true),
            mig64: Some(false),
            distribution: s("ignored"),
            dist_version: s("ignored"),
            header_architecture: s("ignored"),
            ..rule(7, 100, 100, "Guardian-1.0.0.0", g)
        },
        Rule {
            alias: s("moz-releng"),
            ..rule(8, 90, 100, "b", "b")
        },
        Rule {
            alias: s("locale"),
            locale: s("loc"),
            ..rule(9, 91, 100, "b", "b")
        },
    ];
    let releases = vec![
        guardian(
            "Guardian-Evil-1.0.0.0",
            "1.0.0.0",
            json!({"Darwin_x86_64": {"fileUrl": "https://evil.com/1.0.0.0.dmg", "hashValue": "ghijkl"}}),
        ),
        guardian(
            "Guardian-0.5.0.0",
            "0.5.0.0",
            win_mac("0.5.0.0", "abcdef", "ghijkl"),
        ),
        guardian(
            "Guardian-0.6.0.0",
            "0.6.0.0",
            win_mac("0.6.0.0", "abcpqr", "ghivwx"),
        ),
        guardian(
            "Guardian-1.0.0.0",
            "1.0.0.0",
            win_mac("1.0.0.0", "mnopqr", "stuvwx"),
        ),
        b_blob(),
    ];
    Server::start(rules, releases, json!({"good.com": ["Guardian"]}), &[], 99).await
}

fn release(version: &str, hash: &str) -> Value {
    json!({"required": true, "url": format!("https://good.com/{version}.msi"), "version": version,
           "hashFunction": "sha512", "hashValue": hash})
}

async fn check(s: &Server, url: &str, code: u16, expected: Value) {
    let got = s.get(url).await;
    assert_eq!(got.status, code, "{url}: {}", got.body);
    assert_security_headers(&got);
    if code == 200 {
        assert_eq!(
            got.header("content-type"),
            Some("application/json"),
            "{url}"
        );
        assert!(got.header("rule-id").is_some() && got.header("rule-data-version").is_some());
        let body: Value = serde_json::from_str(&got.body).expect("JSON");
        assert_eq!(body, expected, "{url}");
    } else {
        assert_eq!(got.body, "", "{url}");
    }
}

#[tokio::test]
async fn guardian_response_v1() {
    // testGuardianResponseV1 / ...WithoutSigning
    let s = guardian_db().await;
    let cases = [
        (
            "0.4.0.0",
            "WINNT_x86_64",
            "release",
            200,
            release("0.5.0.0", "abcdef"),
        ),
        (
            "0.6.0.0",
            "WINNT_x86_64",
            "release",
            200,
            release("1.0.0.0", "mnopqr"),
        ),
        (
            "0.99.99.99",
            "WINNT_x86_64",
            "release",
            200,
            release("1.0.0.0", "mnopqr"),
        ),
        ("1.0.0.0", "WINNT_x86_64", "release", 404, json!({})),
        ("0.6.0.0", "Linux_x86_64", "release", 404, json!({})),
        ("0.6.0.0", "WINNT_x86_64", "beta", 404, json!({})),
        // The alpha rule uses fields this kind of query does not have.
        ("0.6.0.0", "WINNT_x86_64", "alpha", 404, json!({})),
        ("0.6.0.0", "Darwin_x86_64", "evilrelease", 200, json!({})),
    ];
    for (version, target, channel, code, expected) in cases {
        check(
            &s,
            &format!("/json/1/Guardian/{version}/{target}/{channel}/update.json"),
            code,
            expected,
        )
        .await;
    }
}

#[tokio::test]
async fn guardian_response_v2() {
    // testGuardianResponseV2
    let s = guardian_db().await;
    let cases = [
        (
            "0.4.0.0",
            "WINNT_x86_64",
            "release",
            "Windows 10",
            200,
            release("0.5.0.0", "abcdef"),
        ),
        (
            "0.5.0.0",
            "WINNT_x86_64",
            "release",
            "current",
            200,
            release("1.0.0.0", "mnopqr"),
        ),
        (
            "0.5.0.0",
            "WINNT_x86_64",
            "release",
            "obsolete",
            200,
            release("0.6.0.0", "abcpqr"),
        ),
        (
            "0.6.0.0",
            "WINNT_x86_64",
            "release",
            "Windows 10",
            200,
            release("1.0.0.0", "mnopqr"),
        ),
        (
            "0.99.99.99",
            "WINNT_x86_64",
            "release",
            "Windows 10",
            200,
            release("1.0.0.0", "mnopqr"),
        ),
        (
            "1.0.0.0",
            "WINNT_x86_64",
            "release",
            "Windows 10",
            404,
            json!({}),
        ),
        (
            "0.6.0.0",
            "Linux_x86_64",
            "release",
            "Linux",
            404,
            json!({}),
        ),
        (
            "0.6.0.0",
            "WINNT_x86_64",
            "beta",
            "Windows 10",
            404,
            json!({}),
        ),
        (
            "0.6.0.0",
            "WINNT_x86_64",
            "alpha",
            "Windows 10",
            404,
            json!({}),
        ),
        (
            "0.6.0.0",
            "Darwin_x86_64",
            "evilrelease",
            "Darwin 13",
            200,
            json!({}),
        ),
    ];
    for (version, target, channel, os, code, expected) in cases {
        check(
            &s,
            &format!("/json/2/Guardian/{version}/{target}/{channel}/{os}/update.json"),
            code,
            expected,
        )
        .await;
    }
}

#[tokio::test]
async fn gradual_rollout_and_bytes() {
    // testGuardianResponseV1WithGradualRollout: rate 0, force picks the side.
    let s = guardian_db().await;
    let url = "/json/1/Guardian/0.4.0.0/WINNT_x86_64/release-rollout/update.json";
    check(
        &s,
        &format!("{url}?force=1"),
        200,
        release("1.0.0.0", "mnopqr"),
    )
    .await;
    check(
        &s,
        &format!("{url}?force=-1"),
        200,
        release("0.5.0.0", "abcdef"),
    )
    .await;
    check(&s, url, 200, release("0.5.0.0", "abcdef")).await;
    // testCacheControlIsSet is in check(). The bytes are json.dumps of
    // GuardianBlob.getResponse's dict, in its key order.
    let got = s
        .get("/json/1/Guardian/0.4.0.0/WINNT_x86_64/release/update.json")
        .await;
    assert_eq!(
        got.body,
        r#"{"version": "0.5.0.0", "url": "https://good.com/0.5.0.0.msi", "required": true, "hashFunction": "sha512", "hashValue": "abcdef"}"#
    );
    assert_eq!(got.header("rule-id"), Some("3"));
    // Only `force` is declared on these routes; unknown paths are plain 404s.
    assert_eq!(s.get(&format!("{url}?mig64=1")).await.status, 400);
    let got = s
        .get("/json/3/Guardian/0.4.0.0/WINNT_x86_64/release/update.json")
        .await;
    assert_eq!(
        (got.status, got.header("content-type")),
        (404, Some("text/plain; charset=utf-8"))
    );
}

#[tokio::test]
async fn guardian_blob_on_an_xml_route_is_wrong_blob_type() {
    let s = guardian_db().await;
    let got = s
        .get("/update/3/Guardian/0.4.0.0/1/WINNT_x86_64/l/release/a/a/a/update.xml")
        .await;
    assert_eq!((got.status, got.body.as_str()), (400, "Wrong blob type"));
}
