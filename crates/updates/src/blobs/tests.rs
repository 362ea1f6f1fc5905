//! Blob rendering, with the cases and expected lines of Balrog's
//! `tests/blobs/test_apprelease.py` (class named per test). The blobs are
//! written here in a compact form; only fields the cases use are kept.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::*;
use crate::allowlist::{DomainAllowlist, ForceHosts};
use crate::request::{Force, UpdateQuery};

struct Fixture {
    releases: HashMap<String, Release>,
    allowlist: DomainAllowlist,
    force_hosts: ForceHosts,
}

impl Fixture {
    fn new(blobs: Vec<Value>, allowlist: Value) -> Fixture {
        let releases = blobs
            .into_iter()
            .map(|b| {
                let r = Release::from_json(b).expect("valid blob");
                (r.name().to_string(), r)
            })
            .collect();
        Fixture {
            releases,
            allowlist: DomainAllowlist::from_json(&allowlist).expect("allow-list"),
            force_hosts: ForceHosts(vec!["http://a.com".into()]),
        }
    }

    /// (header, patches, footer), each stripped as the Python tests compare them.
    fn render(&self, blob: &str, q: &UpdateQuery) -> (String, Vec<String>, String) {
        let ctx = RenderContext {
            allowlist: &self.allowlist,
            force_hosts: &self.force_hosts,
            releases: &self.releases,
        };
        let parts = self.releases[blob]
            .render(q, "minor", &ctx)
            .expect("renders");
        (
            parts.header.trim().to_string(),
            parts.body.iter().map(|l| l.trim().to_string()).collect(),
            parts.footer.trim().to_string(),
        )
    }
}

fn query(version: &str, build_id: &str, locale: &str, channel: &str) -> UpdateQuery {
    let mut q = UpdateQuery::for_test("h", version, build_id, "p", locale, channel);
    q.distribution = Some("a".into());
    q.dist_version = Some("a".into());
    q.os_version = "a".into();
    q
}

fn patch(kind: &str, url: &str, hash: &str, size: &str) -> String {
    format!(
        r#"<patch type="{kind}" URL="{url}" hashFunction="sha512" hashValue="{hash}" size="{size}"/>"#
    )
}

fn v4_urls(extra_star_partials: Value) -> Value {
    let mut star_partials =
        json!({"h1": "http://a.com/h1-partial-catchall", "h2": "http://a.com/h2-partial-catchall"});
    if let (Some(m), Some(extra)) = (
        star_partials.as_object_mut(),
        extra_star_partials.as_object(),
    ) {
        m.extend(extra.clone());
    }
    json!({
        "c1": {"partials": {"h1": "http://a.com/h1-partial.mar", "h2": "http://a.com/h2-partial.mar"},
               "completes": {"*": "http://a.com/complete.mar"}},
        "c2": {"partials": {"h1": "http://a.com/h1-%LOCALE%-partial", "h2": "http://a.com/h2-%LOCALE%-partial"},
               "completes": {"*": "http://a.com/%LOCALE%-complete"}},
        "*": {"partials": star_partials, "completes": {"*": "http://a.com/complete-catchall"}}
    })
}

/// TestSchema4Blob.setUp.
fn schema4() -> Fixture {
    let small = |name: &str, build: &str| json!({"name": name, "schema_version": 4, "platforms": {"p": {"buildID": build, "locales": {"l": {}}}}});
    let h2 = json!({
        "name": "h2", "schema_version": 4, "hashFunction": "sha512",
        "appVersion": "31.0", "displayVersion": "31.0", "platformVersion": "31.0",
        "fileUrls": v4_urls(json!({})),
        "platforms": {"p": {"buildID": 50, "OS_FTP": "p", "OS_BOUNCER": "p", "locales": {"l": {
            "partials": [{"filesize": 6, "from": "h2", "hashValue": "7"}, {"filesize": 8, "from": "h1", "hashValue": "9"}],
            "completes": [{"filesize": 40, "from": "*", "hashValue": "41"}]
        }}}}
    });
    Fixture::new(
        vec![small("h0", "5"), small("h1", "10"), h2],
        json!({"a.com": ["h", "g"]}),
    )
}

#[test]
fn schema4_with_partials() {
    // TestSchema4Blob.testSchema4WithPartials: the partial from h1 is chosen
    // (the client is h1), URLs per channel, fallback to "*".
    let f = schema4();
    let header = r#"<update type="minor" displayVersion="31.0" appVersion="31.0" platformVersion="31.0" buildID="50">"#;
    for (channel, complete, partial) in [
        (
            "c1",
            "http://a.com/complete.mar",
            "http://a.com/h1-partial.mar",
        ),
        ("c2", "http://a.com/l-complete", "http://a.com/h1-l-partial"),
        (
            "c3",
            "http://a.com/complete-catchall",
            "http://a.com/h1-partial-catchall",
        ),
    ] {
        let (h, body, footer) = f.render("h2", &query("30.0", "10", "l", channel));
        assert_eq!(h, header);
        assert_eq!(
            body,
            vec![
                patch("complete", complete, "41", "40"),
                patch("partial", partial, "9", "8")
            ],
            "{channel}"
        );
        assert_eq!(footer, "</update>");
    }
}

#[test]
fn schema4_no_partials() {
    // TestSchema4Blob.testSchema4NoPartials: buildID 2 is no known release.
    let f = schema4();
    for (channel, complete) in [
        ("c1", "http://a.com/complete.mar"),
        ("c2", "http://a.com/l-complete"),
        ("c3", "http://a.com/complete-catchall"),
    ] {
        let (_, body, _) = f.render("h2", &query("25.0", "2", "l", channel));
        assert_eq!(
            body,
            vec![patch("complete", complete, "41", "40")],
            "{channel}"
        );
    }
}

#[test]
fn schema4_forbidden_product_drops_patches() {
    // TestSchema4Blob.testAllowedDomainWrongProduct, seen from the renderer:
    // a.com is allowed for h and g only.
    let f = schema4();
    let mut q = query("30.0", "10", "l", "c1");
    q.product = "other".into();
    let (_, body, _) = f.render("h2", &q);
    assert!(body.is_empty());
}

/// TestSchema6Blob.setUp.
fn schema6() -> Fixture {
    let h1 = json!({"name": "h1", "schema_version": 6, "platforms": {"p": {"buildID": "10", "locales": {"l": {}}}}});
    let h2 = json!({
        "name": "h2", "schema_version": 6, "hashFunction": "sha512", "appVersion": "31.0", "displayVersion": "31.0",
        "detailsUrl": "http://example.org/details/%LOCALE%", "actions": "silent",
        "openURL": "http://example.org/url/%LOCALE%", "notificationURL": "http://example.org/notification/%LOCALE%",
        "alertURL": "http://example.org/alert/%LOCALE%", "showPrompt": false, "showNeverForVersion": true, "promptWaitTime": 12345,
        "fileUrls": {
            "c1": {"partials": {"h1": "http://a.com/h1-partial.mar"}, "completes": {"*": "http://a.com/complete.mar"}},
            "*": {"partials": {"h1": "http://a.com/h1-partial-catchall"}, "completes": {"*": "http://a.com/complete-catchall"}}
        },
        "platforms": {"p": {"buildID": 50, "OS_FTP": "p", "OS_BOUNCER": "p", "locales": {"l": {
            "partials": [{"filesize": 8, "from": "h1", "hashValue": "9"}],
            "completes": [{"filesize": 40, "from": "*", "hashValue": "41"}]
        }}}}
    });
    Fixture::new(vec![h1, h2], json!({"a.com": ["h"]}))
}

#[test]
fn schema6_optional_attributes() {
    // TestSchema6Blob.testSchema6OptionalAttributes: platformVersion="None".
    let (h, body, _) = schema6().render("h2", &query("30.0", "10", "l", "c1"));
    assert_eq!(
        h,
        concat!(
            r#"<update type="minor" displayVersion="31.0" appVersion="31.0" platformVersion="None" "#,
            r#"buildID="50" detailsURL="http://example.org/details/l" showPrompt="false" showNeverForVersion="true" "#,
            r#"actions="silent" openURL="http://example.org/url/l" notificationURL="http://example.org/notification/l" "#,
            r#"alertURL="http://example.org/alert/l" promptWaitTime="12345">"#
        )
    );
    assert_eq!(
        body,
        vec![
            patch("complete", "http://a.com/complete.mar", "41", "40"),
            patch("partial", "http://a.com/h1-partial.mar", "9", "8")
        ]
    );
}

/// TestSchema9Blob.setUp.
fn schema9() -> Fixture {
    let locales = |l: Value| json!({"de": l.clone(), "en-US": l.clone(), "l": l});
    let h1 = json!({"name": "h1", "schema_version": 9, "updateLine": {}, "platforms": {"p": {"buildID": "10", "locales": locales(json!({}))}}});
    let h2 = json!({
        "name": "h2", "schema_version": 9, "hashFunction": "sha512", "appVersion": "31.0.2", "displayVersion": "31.0.2",
        "updateLine": [
            {"for": {}, "fields": {"detailsURL": "http://example.org/details/%LOCALE%", "type": "minor"}},
            {"for": {"locales": ["de", "en-US"], "channels": ["release*"], "versions": ["<31.0"], "buildIDs": ["<20"]},
             "fields": {"actions": "showURL", "openURL": "http://example.org/url/%LOCALE%"}}
        ],
        "fileUrls": {
            "c1": {"partials": {"h1": "http://a.com/h1-partial.mar"}, "completes": {"*": "http://a.com/complete.mar"}},
            "*": {"partials": {"h1": "http://a.com/h1-partial-catchall"}, "completes": {"*": "http://a.com/complete-catchall"}}
        },
        "platforms": {"p": {"buildID": 50, "OS_FTP": "p", "OS_BOUNCER": "p", "locales": locales(json!({
            "partials": [{"filesize": 8, "from": "h1", "hashValue": "9"}],
            "completes": [{"filesize": 40, "from": "*", "hashValue": "41"}]
        }))}}
    });
    Fixture::new(vec![h1, h2], json!({"a.com": ["h"]}))
}

#[test]
fn schema9_update_line_groups() {
    let f = schema9();
    let catchall = vec![
        patch("complete", "http://a.com/complete-catchall", "41", "40"),
        patch("partial", "http://a.com/h1-partial-catchall", "9", "8"),
    ];
    let plain = |loc: &str| {
        format!(
            r#"<update appVersion="31.0.2" buildID="50" detailsURL="http://example.org/details/{loc}" displayVersion="31.0.2" type="minor">"#
        )
    };
    // testWithoutActionsByLocale
    let (h, body, _) = f.render("h2", &query("30.0", "10", "l", "release"));
    assert_eq!((h, &body), (plain("l"), &catchall));
    // testWithoutActionsByChannel
    let (h, body, _) = f.render("h2", &query("30.0", "10", "de", "c1"));
    assert_eq!(h, plain("de"));
    assert_eq!(
        body,
        vec![
            patch("complete", "http://a.com/complete.mar", "41", "40"),
            patch("partial", "http://a.com/h1-partial.mar", "9", "8")
        ]
    );
    // testWithoutActionsByVersion
    let (h, body, _) = f.render("h2", &query("31.0", "10", "de", "release"));
    assert_eq!((h, &body), (plain("de"), &catchall));
    // testWithoutActionsByBuildID: buildID 30 is not h1, so no partial either.
    let (h, body, _) = f.render("h2", &query("30.0", "30", "de", "release"));
    assert_eq!(
        (h, body),
        (
            plain("de"),
            vec![patch(
                "complete",
                "http://a.com/complete-catchall",
                "41",
                "40"
            )]
        )
    );
    // testWithActions
    let (h, body, _) = f.render("h2", &query("30.0", "10", "de", "release"));
    assert_eq!(
        h,
        concat!(
            r#"<update actions="showURL" appVersion="31.0.2" buildID="50" detailsURL="http://example.org/details/de""#,
            r#" displayVersion="31.0.2" openURL="http://example.org/url/de" type="minor">"#
        )
    );
    assert_eq!(body, catchall);
}

/// TestOldVersionSpecialCases.setUp.
fn old_version_special_cases() -> Fixture {
    let h = json!({
        "name": "h", "schema_version": 1, "appv": "12.0", "extv": "12.0", "hashFunction": "sha512",
        "detailsUrl": "http://example.org/details", "oldVersionSpecialCases": true,
        "platforms": {"p": {"buildID": 1, "locales": {"m": {"complete": {"filesize": 1, "from": "*", "hashValue": "1", "fileUrl": "http://boring.com/a"}}}}}
    });
    Fixture::new(vec![h], json!({"boring.com": ["h"]}))
}

#[test]
fn schema1_old_version_special_cases() {
    let f = old_version_special_cases();
    // test2_0, test3_0, test3_5, test3_6
    let cases = [
        (
            "2.0.0.20",
            r#"<update type="minor" version="2.0.0.20" buildID="1" detailsURL="http://example.org/details">"#,
        ),
        (
            "3.0.9",
            r#"<update type="minor" version="3.0.9" buildID="1" detailsURL="http://example.org/details">"#,
        ),
        (
            "3.5.19",
            r#"<update type="minor" version="12.0" buildID="1" detailsURL="http://example.org/details">"#,
        ),
        (
            "3.6",
            r#"<update type="minor" version="12.0" extensionVersion="3.6" buildID="1" detailsURL="http://example.org/details">"#,
        ),
    ];
    for (version, header) in cases {
        let (h, body, footer) = f.render("h", &query(version, "0", "m", "a"));
        assert_eq!(h, header, "{version}");
        assert_eq!(
            body,
            vec![patch("complete", "http://boring.com/a", "1", "1")]
        );
        assert_eq!(footer, "</update>");
    }
}

/// TestSpecialQueryParams.setUp.
fn special_query_params() -> Fixture {
    let complete = |url: &str| json!({"complete": {"filesize": 1, "from": "*", "hashValue": "1", "fileUrl": url}});
    let h = json!({
        "name": "h", "schema_version": 1, "appv": "1.0", "extv": "1.0", "hashFunction": "sha512",
        "detailsUrl": "http://example.org/details", "licenseUrl": "http://example.org/license",
        "platforms": {"p": {"buildID": 1, "locales": {"l": complete("http://a.com/?foo=a"), "m": complete("http://boring.com/a")}}}
    });
    Fixture::new(vec![h], json!({"a.com": ["h"], "boring.com": ["h"]}))
}

#[test]
fn schema1_force_hosts() {
    let f = special_query_params();
    let header = concat!(
        r#"<update type="minor" version="1.0" extensionVersion="1.0" buildID="1" "#,
        r#"detailsURL="http://example.org/details" licenseURL="http://example.org/license">"#
    );
    // testSpecialQueryParam, testSpecialQueryParamForced, testSpecialQueryParamForcedFail,
    // testNonSpecialQueryParam, testNonSpecialQueryParamForced
    let cases = [
        ("l", None, "http://a.com/?foo=a"),
        ("l", Some(Force::Main), "http://a.com/?foo=a&force=1"),
        ("l", Some(Force::Fallback), "http://a.com/?foo=a&force=-1"),
        ("m", None, "http://boring.com/a"),
        ("m", Some(Force::Main), "http://boring.com/a"),
    ];
    for (locale, force, url) in cases {
        let mut q = query("0.5", "0", locale, "a");
        q.force = force;
        let (h, body, _) = f.render("h", &q);
        assert_eq!(h, header);
        assert_eq!(
            body,
            vec![patch("complete", url, "1", "1")],
            "{locale} {force:?}"
        );
    }
}

#[test]
fn desupport() {
    // TestDesupportBlob.testDesupport
    let d = json!({"name": "d1", "schema_version": 50, "detailsUrl": "http://moo.com/%locale%/cow/%version%/%os%", "displayVersion": "50.0"});
    let f = Fixture::new(vec![d], json!({"a.com": ["a"], "moo.com": ["d"]}));
    let mut q = UpdateQuery::for_test(
        "d",
        "<version>",
        "1",
        "Darwin_x86_64-gcc3-u-i386-x86_64",
        "<locale>",
        "c",
    );
    q.locale = "<locale>".into();
    let (h, body, footer) = f.render("d1", &q);
    assert_eq!(h, "");
    assert_eq!(
        body,
        vec![
            r#"<update type="minor" unsupported="true" detailsURL="http://moo.com/<locale>/cow/<version>/Darwin" displayVersion="50.0">"#
        ]
    );
    assert_eq!(footer, "</update>");
}

#[test]
fn missing_locale_is_bad_data() {
    // tests/web/test_client.py: "No such locale 'fr' in platform ..." answers 400.
    let f = schema6();
    let ctx = RenderContext {
        allowlist: &f.allowlist,
        force_hosts: &f.force_hosts,
        releases: &f.releases,
    };
    let err = f.releases["h2"]
        .render(&query("30.0", "10", "fr", "c1"), "minor", &ctx)
        .err();
    assert_eq!(
        err,
        Some(crate::error::UpdatesError::BadData(
            "No such locale 'fr' in platform 'p'".into()
        ))
    );
}

#[test]
fn schema_dispatch() {
    assert!(matches!(
        Release::from_json(json!({"name": "x"})),
        Err(crate::error::UpdatesError::InvalidBlob(_))
    ));
    assert!(
        Release::from_json(json!({"name": "x", "schema_version": 7})).is_err(),
        "schema 7 was removed"
    );
    for v in [1, 2, 3, 4, 5, 6, 8, 9] {
        assert!(
            Release::from_json(json!({"name": "x", "schema_version": v, "platforms": {}})).is_ok(),
            "{v}"
        );
    }
}
