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
    let star_partials = merged(
        json!({"h1": "http://a.com/h1-partial-catchall", "h2": "http://a.com/h2-partial-catchall"}),
        extra_star_partials,
    );
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

/// The h1/h2 pair of TestSchema5Blob, TestSchema6Blob and TestSchema8Blob:
/// h2 (the update) with `attrs` on top, a complete for everyone and a
/// partial from h1; `extra` adds fields to the (partial, complete) entries.
fn h_pair(schema: u32, attrs: Value, extra: (Value, Value)) -> Fixture {
    let h1 = json!({"name": "h1", "schema_version": schema, "platforms": {"p": {"buildID": "10", "locales": {"l": {}}}}});
    let partial = merged(
        json!({"filesize": 8, "from": "h1", "hashValue": "9"}),
        extra.0,
    );
    let complete = merged(
        json!({"filesize": 40, "from": "*", "hashValue": "41"}),
        extra.1,
    );
    let h2 = json!({
        "name": "h2", "schema_version": schema, "hashFunction": "sha512",
        "fileUrls": {
            "c1": {"partials": {"h1": "http://a.com/h1-partial.mar"}, "completes": {"*": "http://a.com/complete.mar"}},
            "*": {"partials": {"h1": "http://a.com/h1-partial-catchall"}, "completes": {"*": "http://a.com/complete-catchall"}}
        },
        "platforms": {"p": {"buildID": 50, "OS_FTP": "p", "OS_BOUNCER": "p", "locales": {"l": {
            "partials": [partial], "completes": [complete]
        }}}}
    });
    Fixture::new(vec![h1, merged(h2, attrs)], json!({"a.com": ["h"]}))
}

/// h2's patches for a client on h1 asking on channel c1.
fn h_c1_patches() -> Vec<String> {
    vec![
        patch("complete", "http://a.com/complete.mar", "41", "40"),
        patch("partial", "http://a.com/h1-partial.mar", "9", "8"),
    ]
}

/// The optional attributes h2 carries in schemas 5, 6 and 8.
fn h2_attrs() -> Value {
    json!({
        "appVersion": "31.0", "displayVersion": "31.0",
        "detailsUrl": "http://example.org/details/%LOCALE%", "actions": "silent",
        "openURL": "http://example.org/url/%LOCALE%", "notificationURL": "http://example.org/notification/%LOCALE%",
        "alertURL": "http://example.org/alert/%LOCALE%", "showPrompt": false, "showNeverForVersion": true, "promptWaitTime": 12345
    })
}

/// `a` with `b`'s keys added (both objects).
fn merged(mut a: Value, b: Value) -> Value {
    if let (Some(x), Some(y)) = (a.as_object_mut(), b.as_object()) {
        x.extend(y.clone());
    }
    a
}

/// TestSchema6Blob.setUp.
fn schema6() -> Fixture {
    h_pair(6, h2_attrs(), (json!({}), json!({})))
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
    assert_eq!(body, h_c1_patches());
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
    assert_eq!(body, h_c1_patches());
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
    let gmp = json!({"name": "g", "schema_version": 1000, "hashFunction": "sha512", "vendors": {}});
    assert!(matches!(Release::from_json(gmp), Ok(Release::Gmp(_))));
    let sb = json!({"name": "s", "schema_version": 4000, "products": ["a"]});
    assert!(matches!(Release::from_json(sb), Ok(Release::Super(_))));
    let addons = json!({"name": "s", "schema_version": 4000, "blobs": ["a"]});
    assert!(matches!(Release::from_json(addons), Ok(Release::Super(_))));
    let empty = json!({"name": "s", "schema_version": 4000});
    assert!(Release::from_json(empty).is_err());
    let sa = json!({"name": "x", "schema_version": 5000, "hashFunction": "sha512"});
    assert!(matches!(
        Release::from_json(sa),
        Ok(Release::SystemAddons(_))
    ));
    let guardian = json!({"name": "g", "schema_version": 10000, "version": "1.0", "platforms": {}});
    assert!(matches!(
        Release::from_json(guardian),
        Ok(Release::Guardian(_))
    ));
    assert!(
        Release::from_json(json!({"name": "x", "schema_version": 10000})).is_err(),
        "Guardian needs a version"
    );
}

/// TestSchema2Blob.setUp (j1, j2 and k).
fn schema2() -> Fixture {
    let j1 = json!({"name": "j1", "schema_version": 2, "platforms": {"p": {"buildID": "28", "locales": {"l": {}}}}});
    let j2 = json!({
        "name": "j2", "schema_version": 2, "hashFunction": "sha512",
        "appVersion": "40.0", "displayVersion": "40.0", "platformVersion": "40.0",
        "fileUrls": {"c1": "http://a.com/%FILENAME%"},
        "ftpFilenames": {"partial": "j1-partial.mar", "complete": "complete.mar"},
        "platforms": {"p": {"buildID": 30, "OS_FTP": "o", "OS_BOUNCER": "o", "locales": {"l": {
            "partial": {"filesize": 6, "from": "j1", "hashValue": "5"},
            "complete": {"filesize": 38, "from": "*", "hashValue": "34"}
        }}}}
    });
    let k = json!({
        "name": "k", "schema_version": 2, "hashFunction": "sha512",
        "appVersion": "50.0", "displayVersion": "50.0", "platformVersion": "50.0",
        "detailsUrl": "http://example.org/details/%locale%", "licenseUrl": "http://example.org/license/%LOCALE%",
        "actions": "silent", "billboardURL": "http://example.org/billboard/%LOCALE%",
        "openURL": "http://example.org/url/%locale%", "notificationURL": "http://example.org/notification/%locale%",
        "alertURL": "http://example.org/alert/%LOCALE%", "showPrompt": false, "showNeverForVersion": true,
        "fileUrls": {"c1": "http://a.com/%filename%/%os_ftp%/%os_bouncer%"},
        "ftpFilenames": {"complete": "complete.mar"},
        "platforms": {"p": {"buildID": 35, "OS_FTP": "o", "OS_BOUNCER": "o", "locales": {
            "l": {"complete": {"filesize": 40, "from": "*", "hashValue": "35"}},
            "l2": {"isOSUpdate": true, "complete": {"filesize": 50, "from": "*", "hashValue": "45"}}
        }}}
    });
    Fixture::new(vec![j1, j2, k], json!({"a.com": ["j", "k"]}))
}

#[test]
fn schema2_patches_and_attributes() {
    let f = schema2();
    let j2_header = r#"<update type="minor" displayVersion="40.0" appVersion="40.0" platformVersion="40.0" buildID="30">"#;
    let complete = patch("complete", "http://a.com/complete.mar", "34", "38");
    // testSchema2CompleteOnly
    let mut q = query("35.0", "4", "l", "c1");
    q.product = "j".into();
    assert_eq!(
        f.render("j2", &q),
        (
            j2_header.to_string(),
            vec![complete.clone()],
            "</update>".to_string()
        )
    );
    // testSchema2WithPartial
    let mut q = query("39.0", "28", "l", "c1");
    q.product = "j".into();
    let (h, body, _) = f.render("j2", &q);
    assert_eq!(h, j2_header);
    assert_eq!(
        body,
        vec![
            complete,
            patch("partial", "http://a.com/j1-partial.mar", "5", "6")
        ]
    );
    // testSchema2WithOptionalAttributes, testSchema2WithIsOSUpdate
    for (locale, os_update, hash, size) in [
        ("l", "", "35", "40"),
        ("l2", r#"isOSUpdate="true" "#, "45", "50"),
    ] {
        let mut q = query("35.0", "4", locale, "c1");
        q.product = "k".into();
        let (h, body, _) = f.render("k", &q);
        let expected = format!(
            concat!(
                r#"<update type="minor" displayVersion="50.0" appVersion="50.0" platformVersion="50.0" "#,
                r#"buildID="35" detailsURL="http://example.org/details/{l}" licenseURL="http://example.org/license/{l}" "#,
                r#"{os}billboardURL="http://example.org/billboard/{l}" showPrompt="false" showNeverForVersion="true" "#,
                r#"actions="silent" openURL="http://example.org/url/{l}" notificationURL="http://example.org/notification/{l}" "#,
                r#"alertURL="http://example.org/alert/{l}">"#
            ),
            l = locale,
            os = os_update
        );
        assert_eq!(h, expected);
        assert_eq!(
            body,
            vec![patch(
                "complete",
                "http://a.com/complete.mar/o/o",
                hash,
                size
            )]
        );
    }
}

/// TestSchema3Blob.setUp (f1, f2, f3, g1, g2).
fn schema3() -> Fixture {
    let small = |name: &str, build: &str| json!({"name": name, "schema_version": 3, "platforms": {"p": {"buildID": build, "locales": {"l": {}}}}});
    let f3 = json!({
        "name": "f3", "schema_version": 3, "hashFunction": "sha512",
        "appVersion": "25.0", "displayVersion": "25.0", "platformVersion": "25.0",
        "platforms": {"p": {"buildID": 29, "locales": {
            "l": {
                "partials": [
                    {"filesize": 2, "from": "f1", "hashValue": "3", "fileUrl": "http://a.com/p1"},
                    {"filesize": 4, "from": "f2", "hashValue": "5", "fileUrl": "http://a.com/p2"}
                ],
                "completes": [
                    {"filesize": 29, "from": "f2", "hashValue": "6", "fileUrl": "http://a.com/c1"},
                    {"filesize": 30, "from": "*", "hashValue": "31", "fileUrl": "http://a.com/c2"}
                ]
            },
            "m": {"completes": [{"filesize": 32, "from": "*", "hashValue": "33", "fileUrl": "http://a.com/c2m"}]}
        }}}
    });
    let g2 = json!({
        "name": "g2", "schema_version": 3, "hashFunction": "sha512",
        "appVersion": "26.0", "displayVersion": "26.0", "platformVersion": "26.0",
        "fileUrls": {"c1": "http://a.com/%FILENAME%", "c2": "http://a.com/%product%"},
        "ftpFilenames": {"partials": {"g1": "g1-partial.mar"}, "completes": {"*": "complete.mar"}},
        "bouncerProducts": {"partials": {"g1": "g1-partial"}, "completes": {"*": "complete"}},
        "platforms": {"p": {"buildID": 40, "OS_FTP": "o", "OS_BOUNCER": "o", "locales": {"l": {
            "partials": [{"filesize": 4, "from": "g1", "hashValue": "5"}],
            "completes": [{"filesize": 34, "from": "*", "hashValue": "35"}]
        }}}}
    });
    Fixture::new(
        vec![small("f1", "5"), small("f2", "6"), f3, small("g1", "8"), g2],
        json!({"a.com": ["h"]}),
    )
}

#[test]
fn schema3_multiple_updates() {
    let f = schema3();
    let f3_header = r#"<update type="minor" displayVersion="25.0" appVersion="25.0" platformVersion="25.0" buildID="29">"#;
    // testSchema3MultipleUpdates: the first complete and first partial that fit.
    let (h, body, _) = f.render("f3", &query("22.0", "5", "l", "a"));
    assert_eq!(h, f3_header);
    assert_eq!(
        body,
        vec![
            patch("complete", "http://a.com/c2", "31", "30"),
            patch("partial", "http://a.com/p1", "3", "2")
        ]
    );
    let (_, body, _) = f.render("f3", &query("23.0", "6", "l", "a"));
    assert_eq!(
        body,
        vec![
            patch("complete", "http://a.com/c1", "6", "29"),
            patch("partial", "http://a.com/p2", "5", "4")
        ]
    );
    // testSchema3NoPartial, testSchema3NoPartialBlock
    let (_, body, _) = f.render("f3", &query("20.0", "1", "l", "a"));
    assert_eq!(body, vec![patch("complete", "http://a.com/c2", "31", "30")]);
    let (_, body, _) = f.render("f3", &query("20.0", "1", "m", "a"));
    assert_eq!(
        body,
        vec![patch("complete", "http://a.com/c2m", "33", "32")]
    );
    // testSchema3FtpSubstitutions, testSchema3BouncerSubstitutions
    let g2_header = r#"<update type="minor" displayVersion="26.0" appVersion="26.0" platformVersion="26.0" buildID="40">"#;
    for (channel, complete, partial) in [
        (
            "c1",
            "http://a.com/complete.mar",
            "http://a.com/g1-partial.mar",
        ),
        ("c2", "http://a.com/complete", "http://a.com/g1-partial"),
    ] {
        let (h, body, _) = f.render("g2", &query("23.0", "8", "l", channel));
        assert_eq!(h, g2_header);
        assert_eq!(
            body,
            vec![
                patch("complete", complete, "35", "34"),
                patch("partial", partial, "5", "4")
            ],
            "{channel}"
        );
    }
}

#[test]
fn schema4_first_channel_block_decides() {
    // TestSchema4Blob.testSchema4MismatchedLocalePartialsAndFileUrls: the
    // client is h0, but c1's block has no URL for a partial from h0, so no
    // partial (the "*" block is not consulted). h2 is not a stored release.
    let mut f = schema4();
    f.releases.remove("h2");
    let h3 = json!({
        "name": "h3", "schema_version": 4, "hashFunction": "sha512",
        "appVersion": "32.0", "displayVersion": "32.0", "platformVersion": "32.0",
        "fileUrls": v4_urls(json!({"h0": "http://a.com/h0-partial-catchall.mar"})),
        "platforms": {"p": {"buildID": 500, "OS_FTP": "p", "OS_BOUNCER": "p", "locales": {"l": {
            "partials": [
                {"filesize": 60, "from": "h2", "hashValue": "70"},
                {"filesize": 80, "from": "h1", "hashValue": "90"},
                {"filesize": 90, "from": "h0", "hashValue": "100"}
            ],
            "completes": [{"filesize": 400, "from": "*", "hashValue": "410"}]
        }}}}
    });
    let r = Release::from_json(h3).expect("h3");
    f.releases.insert("h3".into(), r);
    let (h, body, _) = f.render("h3", &query("29.0", "5", "l", "c1"));
    assert_eq!(
        h,
        r#"<update type="minor" displayVersion="32.0" appVersion="32.0" platformVersion="32.0" buildID="500">"#
    );
    assert_eq!(
        body,
        vec![patch("complete", "http://a.com/complete.mar", "410", "400")]
    );
}

#[test]
fn schema5_optional_attributes() {
    // TestSchema5Blob.testSchema5OptionalAttributes
    let attrs = json!({
        "platformVersion": "31.0", "licenseUrl": "http://example.org/license/%LOCALE%",
        "billboardURL": "http://example.org/billboard/%LOCALE%"
    });
    let f = h_pair(5, merged(h2_attrs(), attrs), (json!({}), json!({})));
    let (h, body, _) = f.render("h2", &query("30.0", "10", "l", "c1"));
    assert_eq!(
        h,
        concat!(
            r#"<update type="minor" displayVersion="31.0" appVersion="31.0" platformVersion="31.0" "#,
            r#"buildID="50" detailsURL="http://example.org/details/l" licenseURL="http://example.org/license/l" "#,
            r#"billboardURL="http://example.org/billboard/l" showPrompt="false" showNeverForVersion="true" "#,
            r#"actions="silent" openURL="http://example.org/url/l" notificationURL="http://example.org/notification/l" "#,
            r#"alertURL="http://example.org/alert/l" promptWaitTime="12345">"#
        )
    );
    assert_eq!(body, h_c1_patches());
}

#[test]
fn schema8_binary_transparency() {
    // TestSchema8Blob.testSchema8OptionalAttributes
    let proof = |s: &str, n: usize| s.repeat(n).chars().take(834).collect::<String>();
    let (partial_proof, complete_proof) = (
        proof("834charpartialsproof", 42),
        proof("834charcompletesproof", 40),
    );
    let attrs = json!({"binTransMerkleRoot": "merkle_root", "binTransCertificate": "cert", "binTransSCTList": "sct_list"});
    let proofs = (
        json!({"binTransInclusionProof": partial_proof}),
        json!({"binTransInclusionProof": complete_proof}),
    );
    let f = h_pair(8, merged(h2_attrs(), attrs), proofs);
    let (h, body, _) = f.render("h2", &query("30.0", "10", "l", "c1"));
    assert_eq!(
        h,
        concat!(
            r#"<update type="minor" displayVersion="31.0" appVersion="31.0" platformVersion="None" "#,
            r#"buildID="50" detailsURL="http://example.org/details/l" showPrompt="false" showNeverForVersion="true" "#,
            r#"actions="silent" openURL="http://example.org/url/l" notificationURL="http://example.org/notification/l" "#,
            r#"alertURL="http://example.org/alert/l" promptWaitTime="12345" "#,
            r#"binTransMerkleRoot="merkle_root" binTransCertificate="cert" binTransSCTList="sct_list">"#
        )
    );
    let with_proof = |p: String, proof: &str| {
        format!(
            r#"{} binTransInclusionProof="{proof}"/>"#,
            p.trim_end_matches("/>")
        )
    };
    assert_eq!(
        body,
        vec![
            with_proof(
                patch("complete", "http://a.com/complete.mar", "41", "40"),
                &complete_proof
            ),
            with_proof(
                patch("partial", "http://a.com/h1-partial.mar", "9", "8"),
                &partial_proof
            ),
        ]
    );
}

/// Vendor / add-on "c" of test_gmp.py's and test_systemaddons.py's blob.
fn vendor_c() -> Value {
    json!({"version": "1", "platforms": {
        "p": {"filesize": 2, "hashValue": "3", "fileUrl": "http://a.com/blah"},
        "q": {"filesize": 4, "hashValue": "5", "fileUrl": "http://boring.com/blah"},
        "q2": {"alias": "q"}
    }})
}

/// tests/blobs/test_gmp.py, TestSchema1Blob.setUp.
fn gmp() -> Fixture {
    let blob = json!({
        "name": "fake", "schema_version": 1000, "hashFunction": "SHA512",
        "vendors": {
            "c": vendor_c(),
            "d": {"version": "5", "platforms": {
                "q": {"filesize": 10, "hashValue": "11", "fileUrl": "http://boring.com/foo"},
                "r": {"filesize": 666, "hashValue": "666", "fileUrl": "http://evil.com/fire"},
                "t": {"filesize": 21, "hashValue": "22", "fileUrl": "http://boring.com/qux",
                      "mirrorUrls": ["http://boring.com/qux_alt", "http://boring.com/qux_alt2"]},
                "u": {"filesize": 23, "hashValue": "24", "fileUrl": "http://boring.com/baz", "mirrorUrls": ["http://evil.com/fire"]},
                "default": {"filesize": 20, "hashValue": "50", "fileUrl": "http://boring.com/bar"}
            }}
        }
    });
    Fixture::new(vec![blob], json!({"a.com": ["gg"], "boring.com": ["gg"]}))
}

fn gmp_query(target: &str) -> UpdateQuery {
    let mut q = query("3", "1", "l", "a");
    q.product = "gg".into();
    q.build_target = target.into();
    q
}

fn addon(id: &str, url: &str, hash: &str, size: &str, version: &str) -> String {
    format!(
        r#"<addon id="{id}" URL="{url}" hashFunction="SHA512" hashValue="{hash}" size="{size}" version="{version}"/>"#
    )
}

#[test]
fn gmp_addons() {
    let f = gmp();
    let render = |target: &str| f.render("fake", &gmp_query(target));
    let wrap = |body: Vec<String>| ("<addons>".to_string(), body, "</addons>".to_string());
    let d_default = addon("d", "http://boring.com/bar", "50", "20", "5");
    // testGMPUpdate
    assert_eq!(
        render("p"),
        wrap(vec![
            addon("c", "http://a.com/blah", "3", "2", "1"),
            d_default.clone()
        ])
    );
    // testGMPUpdateWithAlias: c through its alias, d through default.
    assert_eq!(
        render("q2"),
        wrap(vec![
            addon("c", "http://boring.com/blah", "5", "4", "1"),
            d_default.clone()
        ])
    );
    // testGMPUpdateWithMirror
    assert_eq!(
        render("t"),
        wrap(vec![
            r#"<addon id="d" URL="http://boring.com/qux" hashFunction="SHA512" hashValue="22" size="21" version="5">"#.into(),
            r#"<mirror URL="http://boring.com/qux_alt"/>"#.into(),
            r#"<mirror URL="http://boring.com/qux_alt2"/>"#.into(),
            "</addon>".into(),
        ])
    );
    // testGMPUpdateSingleAddons
    assert_eq!(render("q5"), wrap(vec![d_default]));
    // testGMPUpdateMultipleAddons
    assert_eq!(
        render("q"),
        wrap(vec![
            addon("c", "http://boring.com/blah", "5", "4", "1"),
            addon("d", "http://boring.com/foo", "11", "10", "5")
        ])
    );
    // testGMPWithForbiddenDomain, testGMPWithForbiddenDomainInMirror
    assert_eq!(render("r"), wrap(vec![]));
    assert_eq!(
        render("u"),
        wrap(vec![addon("d", "http://boring.com/baz", "24", "23", "5")])
    );
}

#[test]
fn gmp_bad_alias_is_bad_data() {
    // TestSchema1Blob.testGetPlatformDataRaisesBadDataError, seen from the renderer.
    let blob = json!({"name": "x", "schema_version": 1000, "hashFunction": "SHA512",
                      "vendors": {"c": {"version": "1", "platforms": {"f": {"alias": "nowhere"}}}}});
    let f = Fixture::new(vec![blob], json!({}));
    let ctx = RenderContext {
        allowlist: &f.allowlist,
        force_hosts: &f.force_hosts,
        releases: &f.releases,
    };
    assert!(matches!(
        f.releases["x"].render(&gmp_query("f"), "minor", &ctx),
        Err(crate::error::UpdatesError::BadData(_))
    ));
}

/// tests/blobs/test_systemaddons.py, TestSchema1Blob.setUp: blob1 and the
/// uninstall / no-uninstall / empty variants.
fn system_addons() -> Fixture {
    let blob1 = json!({
        "name": "fake", "schema_version": 5000, "hashFunction": "SHA512",
        "addons": {
            "c": vendor_c(),
            "d": {"version": "5", "platforms": {
                "q": {"filesize": 10, "hashValue": "11", "fileUrl": "http://boring.com/foo"},
                "r": {"filesize": 666, "hashValue": "666", "fileUrl": "http://evil.com/fire"},
                "default": {"filesize": 20, "hashValue": "50", "fileUrl": "http://boring.com/bar"}
            }}
        }
    });
    let variant = |name: &str, extra: Value| {
        merged(
            json!({"name": name, "schema_version": 5000, "hashFunction": "SHA512"}),
            extra,
        )
    };
    Fixture::new(
        vec![
            blob1,
            variant("uninstall", json!({"uninstall": true})),
            variant("no-uninstall", json!({"uninstall": false})),
            variant("empty", json!({"addons": {}})),
        ],
        json!({"a.com": ["gg"], "boring.com": ["gg"]}),
    )
}

#[test]
fn system_addons_xml() {
    let f = system_addons();
    let q = |target: &str| gmp_query(target);
    // testXML (header and footer compared unstripped there)
    let ctx = RenderContext {
        allowlist: &f.allowlist,
        force_hosts: &f.force_hosts,
        releases: &f.releases,
    };
    let parts = f.releases["fake"]
        .render(&q("p"), "minor", &ctx)
        .expect("renders");
    assert_eq!(
        (parts.header.as_str(), parts.footer.as_str()),
        ("    <addons>", "    </addons>")
    );
    assert_eq!(
        f.render("fake", &q("p")).1,
        vec![
            addon("c", "http://a.com/blah", "3", "2", "1"),
            addon("d", "http://boring.com/bar", "50", "20", "5")
        ]
    );
    // testXMLWhenEmptyAndNotUninstall, testXMLWhenUninstall, testXMLNoAddonsNoUninstallBlob
    let none = (String::new(), vec![], String::new());
    assert_eq!(f.render("empty", &q("t")), none);
    assert_eq!(
        f.render("uninstall", &q("p")),
        ("<addons>".to_string(), vec![], "</addons>".to_string())
    );
    assert_eq!(f.render("no-uninstall", &q("p")), none);
}
