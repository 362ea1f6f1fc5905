//! The public endpoint over HTTP, with the fixtures, URLs and expected XML of
//! Balrog's `tests/web/test_client.py` (`ClientTestBase.setup` and the test
//! named in each comment).

mod common;

use common::{
    assert_empty, assert_security_headers, assert_xml, b_blob, rule, v1_blob, Server, B_UPDATE,
};
use relyard_updates::{EmergencyShutoff, Rule};
use serde_json::json;

/// `ClientTestBase.setup`: the schema-1 products b, s, q (+fallback), c, c2,
/// distTest, d (evil domain), e (no extv) and f (memory rules).
async fn base() -> Server {
    let mut rules = vec![
        Rule {
            alias: Some("moz-releng".into()),
            ..rule(1, 90, 100, "b", "b")
        },
        Rule {
            instruction_set: Some("SSE".into()),
            ..rule(2, 90, 100, "s", "s")
        },
        Rule {
            fallback_mapping: Some("fallback".into()),
            ..rule(3, 90, 0, "q", "q")
        },
        Rule {
            distribution: Some("default".into()),
            ..rule(42024, 90, 100, "c", "c")
        },
        Rule {
            distribution: Some("mozilla1,mozilla2,mozilla3".into()),
            ..rule(5, 90, 100, "distTest", "distTest")
        },
        rule(6, 80, 100, "c2", "c"),
        rule(7, 90, 100, "d", "d"),
        rule(8, 90, 0, "e", "e"),
    ];
    // The highest-priority rule throttles everything and has no fallback.
    let never = "product_that_should_not_be_updated";
    rules.push(rule(12, 1000, 0, &format!("{never}-1.1"), never));
    rules.push(rule(13, 90, 100, &format!("{never}-2.0"), never));
    for (id, channel, memory) in [(9, "a", "<=8000"), (10, "b", "9000"), (11, "c", ">10000")] {
        rules.push(Rule {
            channel: Some(channel.into()),
            memory: Some(memory.into()),
            ..rule(id, 90, 100, "f", "f")
        });
    }
    let releases = vec![
        b_blob(),
        v1_blob("s", Some("1.0"), "5", &[("l", "5", "5", "http://a.com/s")]),
        v1_blob("q", Some("1.0"), "5", &[("l", "5", "5", "http://a.com/q")]),
        v1_blob(
            "fallback",
            Some("1.0"),
            "5",
            &[("l", "5", "5", "http://a.com/fallback")],
        ),
        v1_blob(
            "c",
            Some("10.0"),
            "11",
            &[("l", "12", "13", "http://a.com/y")],
        ),
        v1_blob(
            "distTest",
            Some("10.0"),
            "11",
            &[("l", "12", "13", "http://a.com/distTest")],
        ),
        v1_blob(
            "c2",
            Some("15.0"),
            "51",
            &[("l", "52", "53", "http://a.com/x")],
        ),
        v1_blob(
            "d",
            Some("20.0"),
            "21",
            &[("l", "22", "23", "http://evil.com/y")],
        ),
        v1_blob("e", None, "25", &[("l", "22", "23", "http://a.com/y")]),
        v1_blob(
            "f",
            Some("1.0"),
            "35",
            &[("l", "33", "34", "http://a.com/f")],
        ),
        v1_blob(
            &format!("{never}-1.1"),
            Some("1.1"),
            "2",
            &[("l", "3", "4", "http://a.com/z")],
        ),
        v1_blob(
            &format!("{never}-2.0"),
            Some("2.0"),
            "2",
            &[("l", "3", "4", "http://a.com/z")],
        ),
    ];
    let allowlist = json!({
        "a.com": ["b", "c", "e", "f", "response-a", "response-b", "s", "responseblob-a", "responseblob-b", "q", "fallback", "distTest"],
        "download.mozilla.org": ["Firefox"], "archive.mozilla.org": ["Firefox"], "ftp.mozilla.org": ["SystemAddons"]
    });
    // The dice would roll 99; every rate in this fixture is 0 or 100.
    Server::start(
        rules,
        releases,
        allowlist,
        &["http://a.com", "http://download.mozilla.org"],
        99,
    )
    .await
}

const C_UPDATE: &str = r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="10.0" extensionVersion="10.0" buildID="11">
        <patch type="complete" URL="http://a.com/y" hashFunction="sha512" hashValue="13" size="12"/>
    </update>
</updates>
"#;

const C2_UPDATE: &str = r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="15.0" extensionVersion="15.0" buildID="51">
        <patch type="complete" URL="http://a.com/x" hashFunction="sha512" hashValue="53" size="52"/>
    </update>
</updates>
"#;

#[tokio::test]
async fn every_url_form() {
    let s = base().await;
    // testVersion1Get, testVersion2Get, testVersion3GetWithUpdate, testVersion4Get,
    // testDeprecatedEsrVersionStyleGetsUpdates
    for url in [
        "/update/1/b/1.0/1/p/l/a/update.xml",
        "/update/2/b/1.0/0/p/l/a/a/update.xml",
        "/update/3/b/1.0/1/p/l/a/a/a/a/update.xml",
        "/update/4/b/1.0/1/p/l/a/a/a/a/1/update.xml",
        "/update/5/b/1.0/1/p/l/a/a/a/a/1/update.xml",
        "/update/3/b/1.0esrpre/1/p/l/a/a/a/a/update.xml",
    ] {
        assert_xml(&s.get(url).await, B_UPDATE);
    }
}

#[tokio::test]
async fn never_update_to_yourself_or_backwards() {
    let s = base().await;
    assert_empty(&s.get("/update/3/b/1.0/2/p/l/a/a/a/a/update.xml").await); // testDontUpdateToYourself
    assert_empty(&s.get("/update/3/b/1.0/5/p/l/a/a/a/a/update.xml").await); // testDontUpdateBackwards
    assert_empty(
        &s.get("/update/3/c/15.0/1/p/l/a/a/default/a/update.xml")
            .await,
    ); // testDontDecreaseVersion
    assert_empty(&s.get("/update/3/e/20.0/1/p/l/a/a/a/a/update.xml").await); // testEmptySnippetMissingExtv
}

#[tokio::test]
async fn the_best_rule_decides_alone() {
    let s = base().await;
    // testUpdateBackgroundRateSetTo0: the priority-1000 rule drops the
    // request; the lower rule that would update is not consulted.
    let got = s
        .get("/update/3/product_that_should_not_be_updated/1.0/1/p/l/a/a/a/a/update.xml")
        .await;
    assert_empty(&got);
    assert_eq!(got.header("rule-id"), Some("12"));
    // testVersion3Get: no rule for product a.
    assert_empty(&s.get("/update/3/a/1.0/1/a/a/a/a/a/a/update.xml").await);
}

#[tokio::test]
async fn distribution_lists() {
    let s = base().await;
    // testVersion2GetIgnoresRuleWithDistribution: /update/2 has no distribution.
    assert_xml(
        &s.get("/update/2/c/10.0/1/p/l/a/a/update.xml").await,
        C2_UPDATE,
    );
    // testVersion3GetWithDistribution, testVersion4GetWithDistribution, testVersion6GetWithDistribution
    for url in [
        "/update/3/c/1.0/1/p/l/a/a/default/a/update.xml",
        "/update/4/c/1.0/1/p/l/a/a/default/a/a/update.xml",
        "/update/6/c/1.0/1/p/l/a/a/SSE/default/a/update.xml",
    ] {
        assert_xml(&s.get(url).await, C_UPDATE);
    }
    // testVersion6GetDoesntMatchWrongDistribution: the lower-priority c2 rule.
    assert_xml(
        &s.get("/update/6/c/1.0/1/p/l/a/a/SSE/a/a/update.xml").await,
        C2_UPDATE,
    );
    // testVersion6GetWithDistributionInList
    assert_xml(
        &s.get("/update/6/distTest/1.0/1/p/l/a/a/SSE/mozilla2/a/update.xml")
            .await,
        r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="10.0" extensionVersion="10.0" buildID="11">
        <patch type="complete" URL="http://a.com/distTest" hashFunction="sha512" hashValue="13" size="12"/>
    </update>
</updates>
"#,
    );
    // testVersion6GetWithDistributionNotInList, testVersion6GetNotMatchSubstringDistribution
    assert_empty(
        &s.get("/update/6/distTest/1.0/1/p/l/a/a/SSE/notinlist/a/update.xml")
            .await,
    );
    assert_empty(
        &s.get("/update/6/distTest/1.0/1/p/l/a/a/SSE/zilla/a/update.xml")
            .await,
    );
}

#[tokio::test]
async fn system_capabilities_columns() {
    let s = base().await;
    // testVersion6GetWithInstructionSetMatch / WithoutInstructionSetMatch
    assert_xml(
        &s.get("/update/6/s/1.0/1/p/l/a/a/SSE/a/a/update.xml").await,
        r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="1.0" extensionVersion="1.0" buildID="5">
        <patch type="complete" URL="http://a.com/s" hashFunction="sha512" hashValue="5" size="5"/>
    </update>
</updates>
"#,
    );
    assert_empty(&s.get("/update/6/s/1.0/1/p/l/a/a/SSE2/a/a/update.xml").await);
    // testVersion6GetWith{LessThanEqualTo,Exact,GreaterThan}Memory[Encoded]
    let f = r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="1.0" extensionVersion="1.0" buildID="35">
        <patch type="complete" URL="http://a.com/f" hashFunction="sha512" hashValue="34" size="33"/>
    </update>
</updates>
"#;
    for url in [
        "/update/6/f/1.0/1/p/l/a/a/ISET:SSE3,MEM:8000/a/a/update.xml",
        "/update/6/f/1.0/1/p/l/a/a/ISET%3aSSE3%2cMEM%3a8000/a/a/update.xml",
        "/update/6/f/1.0/1/p/l/b/a/ISET:SSE3,MEM:9000/a/a/update.xml",
        "/update/6/f/1.0/1/p/l/b/a/ISET%3aSSE3%2cMEM%3a9000/a/a/update.xml",
        "/update/6/f/1.0/1/p/l/c/a/ISET:SSE3,MEM:11000/a/a/update.xml",
        "/update/6/f/1.0/1/p/l/c/a/ISET%3aSSE3%2cMEM%3a11000/a/a/update.xml",
    ] {
        assert_xml(&s.get(url).await, f);
    }
    assert_empty(
        &s.get("/update/6/f/1.0/1/p/l/a/a/ISET:SSE3,MEM:9000/a/a/update.xml")
            .await,
    );
}

#[tokio::test]
async fn fallback_mapping_and_backwards() {
    let s = base().await;
    // testVersion6GetWithFallbackMapping: backgroundRate 0 always falls back.
    assert_xml(
        &s.get("/update/6/q/1.0/1/p/l/a/a/a/a/1/update.xml").await,
        r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="1.0" extensionVersion="1.0" buildID="5">
        <patch type="complete" URL="http://a.com/fallback" hashFunction="sha512" hashValue="5" size="5"/>
    </update>
</updates>
"#,
    );
    // testShouldNotServeUpdateForOldVersion
    assert_empty(&s.get("/update/6/q/2.0/1/p/l/a/a/a/a/1/update.xml").await);
}

#[tokio::test]
async fn forbidden_domain_leaves_an_empty_update() {
    // testGetURLNotInAllowlist: the <update> stays, its patch is dropped.
    let s = base().await;
    let got = s.get("/update/3/d/20.0/1/p/l/a/a/a/a/update.xml").await;
    assert_eq!(got.status, 200);
    assert!(got.body.starts_with(
        "<?xml version=\"1.0\"?>\n<updates>\n    <update type=\"minor\" version=\"20.0\""
    ));
    assert!(
        got.body.ends_with("\">\n    </update>\n</updates>"),
        "{}",
        got.body
    );
}

#[tokio::test]
async fn avast_and_force() {
    let s = base().await;
    // testBadAvastURLsFromBug1125231, testFixForBug1125231DoesntBreakXhLocale
    let a = s
        .get("/update/4/b/1.0/1/p/x86%20l/a/a/a/a/1/update.xml")
        .await;
    assert_xml(&a, B_UPDATE);
    assert_xml(
        &s.get("/update/4/b/1.0/1/p/xh/a/a/a/a/1/update.xml").await,
        r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="1.0" extensionVersion="1.0" buildID="2">
        <patch type="complete" URL="http://a.com/x" hashFunction="sha512" hashValue="6" size="5"/>
    </update>
</updates>
"#,
    );
    // testAvastURLsWithGoodQueryArgs: a.com is a force host.
    let forced = r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="1.0" extensionVersion="1.0" buildID="2">
        <patch type="complete" URL="http://a.com/z?force=1" hashFunction="sha512" hashValue="4" size="3"/>
    </update>
</updates>
"#;
    let base_url = "/update/4/b/1.0/1/p/l/a/a/a/a/1/update.xml";
    assert_xml(&s.get(&format!("{base_url}?force=1&avast=1")).await, forced);
    // testAvastURLsWithBadQueryArgs, testAvastURLsWithUnescapedBadQueryArgs
    let plain_force = s.get(&format!("{base_url}?force=1")).await.body;
    for q in [
        "force=1%3Favast=1",
        "force=1?avast=1",
        "force=1?avast=",
        "force=1?avast",
    ] {
        assert_eq!(
            s.get(&format!("{base_url}?{q}")).await.body,
            plain_force,
            "{q}"
        );
    }
    // testForceParamWithBadInputs: anything but 1 / -1 is no force.
    for x in ["", "1)", "avast", "%22%7Csleep%207%20%23"] {
        assert_xml(&s.get(&format!("{base_url}?force={x}")).await, B_UPDATE);
    }
}

#[tokio::test]
async fn malformed_and_unknown_paths_answer_empty() {
    let s = base().await;
    // testNonSubstitutedUrlVariablesReturnEmptyUpdate: valid form, unknown product.
    assert_empty(
        &s.get(
            "/update/1/%PRODUCT%/%VERSION%/%BUILD_ID%/%BUILD_TARGET%/%LOCALE%/%CHANNEL%/update.xml",
        )
        .await,
    );
    // Wrong segment counts and unknown versions go to Balrog's 404 handler: 200 + empty.
    for url in [
        "/update/3/b/1.0/1/p/l/a/update.xml",
        "/update/9/b/1.0/1/p/l/a/update.xml",
        "/update/whatever",
        "/update",
    ] {
        let got = s.get(url).await;
        assert_empty(&got);
        assert_eq!(got.header("rule-id"), None, "{url}");
    }
    // testUnicodeAcceptedInURLFields
    let got = s
        .get("/update/4/%C3%83%C3%83/20.0/1/p/l/a/a/a/a/1/update.xml")
        .await;
    assert_eq!(got.status, 200);
}

#[tokio::test]
async fn headers() {
    let s = base().await;
    // test_serve_update_with_rule_information_in_header
    let got = s
        .get("/update/6/c/1.0/1/p/l/a/a/SSE/default/a/update.xml")
        .await;
    assert_eq!(got.header("rule-id"), Some("42024"));
    assert_eq!(got.header("rule-data-version"), Some("1"));
    // testCacheControlIsSet, testContentSecurityPolicyIsSet (and HSTS / nosniff)
    let got = s
        .get("/update/3/c/15.0/1/p/l/a/a/default/a/update.xml")
        .await;
    assert_eq!(got.header("cache-control"), Some("public, max-age=90"));
    assert_security_headers(&got);
    // No rule at all: "unknown".
    let got = s
        .get("/update/3/nothing/1.0/1/p/l/a/a/a/a/update.xml")
        .await;
    assert_eq!(
        (got.header("rule-id"), got.header("rule-data-version")),
        (Some("unknown"), Some("unknown"))
    );
}

#[tokio::test]
async fn bad_data_answers_400_text() {
    let s = base().await;
    // A bad version reaches MozillaVersion in "never update backwards".
    let got = s.get("/update/3/b/66.0abc/1/p/l/a/a/a/a/update.xml").await;
    assert_eq!(got.status, 400);
    assert_eq!(
        got.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(got.body, "Version number 66.0abc is invalid.");
    // Bad data is html-escaped (testEscapedOutputOn400).
    let got = s
        .get("/update/3/b/50.1.0zibj5%3Cimg%3E/1/p/l/a/a/a/a/update.xml")
        .await;
    assert_eq!(
        (got.status, got.body.as_str()),
        (400, "Version number 50.1.0zibj5&lt;img&gt; is invalid.")
    );
    // A locale the release does not have.
    let got = s.get("/update/3/b/0.5/1/p/fr/a/a/a/a/update.xml").await;
    assert_eq!(
        (got.status, got.body.as_str()),
        (400, "No such locale 'fr' in platform 'p'")
    );
    // test{ContentSecurityPolicy,StrictTransportSecurity,XContentTypeOptions}IsSetFor400
    assert_security_headers(&got);
    assert_eq!(got.header("rule-id"), None);
    // testUnicodeAcceptedInQueryFieldName: undeclared query arguments are refused.
    let got = s
        .get("/update/6/3/e/2.0.0/1/p/l/a/a/a/a/update.xml?foo=1")
        .await;
    assert_eq!(got.status, 400);
}

/// `ClientTestMig64.setUp` and `ClientTestJaws.setUp`: product a has no
/// column, b requires true, c requires false.
async fn booleans(column: fn(&mut Rule, bool)) -> Server {
    let mut b = rule(2, 90, 100, "b", "b");
    column(&mut b, true);
    let mut c = rule(3, 90, 100, "c", "c");
    column(&mut c, false);
    let releases = vec![
        v1_blob("a", Some("1.0"), "2", &[("l", "3", "4", "http://a.com/z")]),
        v1_blob(
            "b",
            Some("2.0"),
            "12",
            &[("l", "13", "14", "http://a.com/z1")],
        ),
        v1_blob(
            "c",
            Some("3.0"),
            "22",
            &[("l", "23", "24", "http://a.com/z2")],
        ),
    ];
    Server::start(
        vec![rule(1, 90, 100, "a", "a"), b, c],
        releases,
        json!({"a.com": ["a", "b", "c"]}),
        &["http://a.com"],
        99,
    )
    .await
}

const B2: &str = r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="2.0" extensionVersion="2.0" buildID="12">
        <patch type="complete" URL="http://a.com/z1" hashFunction="sha512" hashValue="14" size="13"/>
    </update>
</updates>
"#;

const A1: &str = r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="1.0" extensionVersion="1.0" buildID="2">
        <patch type="complete" URL="http://a.com/z" hashFunction="sha512" hashValue="4" size="3"/>
    </update>
</updates>
"#;

#[tokio::test]
async fn mig64_truth_table() {
    let s = booleans(|r, v| r.mig64 = Some(v)).await;
    // ClientTestMig64.testRuleNullQueryNull / testRuleNullQueryTrue
    assert_xml(&s.get("/update/3/a/1.0/1/p/l/a/a/a/a/update.xml").await, A1);
    assert_xml(
        &s.get("/update/3/a/1.0/1/p/l/a/a/a/a/update.xml?mig64=1")
            .await,
        A1,
    );
    // ClientTestMig64.testRuleFalseQueryNull / FalseQueryTrue / TrueQueryNull / TrueQueryTrue
    assert_empty(&s.get("/update/3/c/1.0/2/p/l/a/a/a/a/update.xml").await);
    assert_empty(
        &s.get("/update/3/c/1.0/2/p/l/a/a/a/a/update.xml?mig64=1")
            .await,
    );
    assert_empty(&s.get("/update/3/b/1.0/2/p/l/a/a/a/a/update.xml").await);
    assert_xml(
        &s.get("/update/3/b/1.0/2/p/l/a/a/a/a/update.xml?mig64=1")
            .await,
        B2,
    );
}

#[tokio::test]
async fn jaws_truth_table() {
    let s = booleans(|r, v| r.jaws = Some(v)).await;
    // ClientTestJaws.testRuleNullQuery{Null,True,False}
    for caps in [
        "a",
        "ISET:SSE3,MEM:8096,JAWS:1",
        "ISET:SSE3,MEM:8096,JAWS:0",
    ] {
        assert_xml(
            &s.get(&format!("/update/6/a/1.0/1/p/l/a/a/{caps}/a/a/update.xml"))
                .await,
            A1,
        );
    }
    // ClientTestJaws.testRule{False,True}Query{Null,True,False}
    assert_empty(&s.get("/update/6/c/1.0/2/p/l/a/a/a/a/a/update.xml").await);
    assert_empty(
        &s.get("/update/6/c/1.0/2/p/l/a/a/JAWS:1/a/a/update.xml")
            .await,
    );
    assert_xml(
        &s.get("/update/6/c/1.0/2/p/l/a/a/ISET:SSE3,MEM:8096,JAWS:0/a/a/update.xml")
            .await,
        r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="3.0" extensionVersion="3.0" buildID="22">
        <patch type="complete" URL="http://a.com/z2" hashFunction="sha512" hashValue="24" size="23"/>
    </update>
</updates>
"#,
    );
    assert_empty(&s.get("/update/6/b/1.0/2/p/l/a/a/a/a/a/update.xml").await);
    assert_xml(
        &s.get("/update/6/b/1.0/2/p/l/a/a/ISET:SSE3,MEM:8096,JAWS:1/a/a/update.xml")
            .await,
        B2,
    );
    assert_empty(
        &s.get("/update/6/b/1.0/2/p/l/a/a/ISET:SSE3,MEM:8096,JAWS:0/a/a/update.xml")
            .await,
    );
}

#[tokio::test]
async fn emergency_shutoff() {
    // ClientTestEmergencyShutoff.testShutoffUpdates / testShutoffUpdatesFallbackChannel
    let s = base().await;
    for url in [
        "/update/3/b/1.0/1/p/l/a/a/a/a/update.xml",
        "/update/3/b/1.0/1/p/l/a-cck-foo/a/a/a/update.xml",
    ] {
        s.service.load_shutoffs(vec![]);
        assert_xml(&s.get(url).await, B_UPDATE);
        s.service.load_shutoffs(vec![EmergencyShutoff {
            product: "b".into(),
            channel: "a".into(),
        }]);
        let got = s.get(url).await;
        assert_empty(&got);
        assert_eq!(got.header("rule-id"), Some("unknown"));
    }
}

/// `ClientTestCompactXML.setUp`: the release whose name triggers bug 1517743's workaround.
async fn compact() -> Server {
    let name = "Firefox-mozilla-central-nightly-latest";
    let blob = v1_blob(
        name,
        Some("1.0"),
        "30000101000000",
        &[("l", "3", "4", "http://a.com/z")],
    );
    Server::start(
        vec![rule(1, 90, 100, name, "b")],
        vec![blob],
        json!({"a.com": ["b"]}),
        &["http://a.com"],
        99,
    )
    .await
}

#[tokio::test]
async fn compact_xml_for_two_broken_nightlies() {
    let s = compact().await;
    // testGoodNightly
    assert_xml(
        &s.get("/update/6/b/1.0/20181212121212/p/l/a/a/a/a/a/update.xml")
            .await,
        r#"<?xml version="1.0"?>
<updates>
    <update type="minor" version="1.0" extensionVersion="1.0" buildID="30000101000000">
        <patch type="complete" URL="http://a.com/z" hashFunction="sha512" hashValue="4" size="3"/>
    </update>
</updates>"#,
    );
    // testBrokenNightly
    assert_xml(
        &s.get("/update/6/b/1.0/20190103220533/p/l/a/a/a/a/a/update.xml")
            .await,
        concat!(
            r#"<?xml version="1.0"?><updates><update type="minor" version="1.0" extensionVersion="1.0" buildID="30000101000000">"#,
            r#"<patch type="complete" URL="http://a.com/z" hashFunction="sha512" hashValue="4" size="3"/></update></updates>"#
        ),
    );
}

/// Firefox 54.0.1 and 56.0 from Balrog's `tests/data/Firefox-*-build1.json`,
/// reduced to the platforms, locale and patches the case below reads.
fn firefox_54_and_56() -> Vec<serde_json::Value> {
    let ff54 = json!({
        "name": "Firefox-54.0.1-build1", "schema_version": 4, "hashFunction": "sha512",
        "appVersion": "54.0.1", "displayVersion": "54.0.1", "platformVersion": "54.0.1",
        "detailsUrl": "https://www.mozilla.org/%LOCALE%/firefox/54.0.1/releasenotes/",
        "platforms": {
            "WINNT_x86-msvc": {"OS_BOUNCER": "win", "OS_FTP": "win32", "locales": {"en-US": {
                "appVersion": "54.0.1", "buildID": "20170628075643", "displayVersion": "54.0.1", "platformVersion": "54.0.1"
            }}},
            "WINNT_x86-msvc-x86": {"alias": "WINNT_x86-msvc"}
        }
    });
    let ff56 = json!({
        "name": "Firefox-56.0-build1", "schema_version": 4, "hashFunction": "sha512",
        "appVersion": "56.0", "displayVersion": "56.0", "platformVersion": "56.0",
        "detailsUrl": "https://www.mozilla.org/%LOCALE%/firefox/56.0/releasenotes/",
        "fileUrls": {"*": {
            "completes": {"*": "http://download.mozilla.org/?product=firefox-56.0-complete&os=%OS_BOUNCER%&lang=%LOCALE%"},
            "partials": {
                "Firefox-54.0.1-build1": "http://download.mozilla.org/?product=firefox-56.0-partial-54.0.1&os=%OS_BOUNCER%&lang=%LOCALE%",
                "Firefox-55.0.3-build2": "http://download.mozilla.org/?product=firefox-56.0-partial-55.0.3&os=%OS_BOUNCER%&lang=%LOCALE%"
            }
        }},
        "platforms": {
            "WINNT_x86-msvc": {"OS_BOUNCER": "win", "OS_FTP": "win32", "locales": {"en-US": {
                "appVersion": "56.0", "buildID": "20170918210324", "displayVersion": "56.0", "platformVersion": "56.0",
                "completes": [{"filesize": 38171451, "from": "*", "hashValue": "3530e6d88cb44c0360ec2aec4e171bdc4a45a6062d2fcbca25264882876dce3486a23a903a71fa612f93fcf9261067dbe22e2f4f8cc8e7dd3e55578095b43b4e"}],
                "partials": [
                    {"filesize": 26673535, "from": "Firefox-54.0.1-build1", "hashValue": "ce5820a550a7b9c9d0be29c629242def63ff333bc12b5d2d45d23c8e2b238adda9bd9f7ef14649616aae8b78e9545e8e7ec3fe93ac1b3d808027254087790af6"},
                    {"filesize": 12552331, "from": "Firefox-55.0.3-build2", "hashValue": "7180e48b1bd665002e1e13ea63a04ef740e71c5f442c13e0fd69927ab1e882383e2cefd0b251feee8f930847b4ec89281d86f1d8d708214c3d5807187ab02093"}
                ]
            }}},
            "WINNT_x86-msvc-x64": {"alias": "WINNT_x86-msvc"},
            "WINNT_x86-msvc-x86": {"alias": "WINNT_x86-msvc"}
        }
    });
    vec![ff54, ff56]
}

#[tokio::test]
async fn partial_from_a_release_missing_the_alias() {
    // test_get_with_release_with_missing_alias_in_from_release: the client's
    // build target is only an alias in 56.0; 54.0.1 has no such platform,
    // but the platform both alias to matches, so the partial is served.
    let rules = vec![Rule {
        channel: Some("release".into()),
        ..rule(1, 100, 100, "Firefox-56.0-build1", "Firefox")
    }];
    let allowlist =
        json!({"download.mozilla.org": ["Firefox"], "archive.mozilla.org": ["Firefox"]});
    let s = Server::start(
        rules,
        firefox_54_and_56(),
        allowlist,
        &["http://download.mozilla.org"],
        99,
    )
    .await;
    let got = s
        .get(concat!(
            "/update/6/Firefox/54.0.1/20170628075643/WINNT_x86-msvc-x64/en-US/release",
            "/Windows_NT 6.1.0.0 (x86)/ISET:SSE3,MEM:4096,JAWS:0/default/default/update.xml"
        ))
        .await;
    // Balrog's expected document wraps long tags over lines for its minidom
    // comparison; the bytes it sends keep each tag on one line.
    assert_xml(
        &got,
        concat!(
            "<?xml version=\"1.0\"?>\n<updates>\n",
            r#"    <update type="minor" displayVersion="56.0" appVersion="56.0" platformVersion="56.0" buildID="20170918210324""#,
            r#" detailsURL="https://www.mozilla.org/en-US/firefox/56.0/releasenotes/">"#,
            "\n",
            r#"        <patch type="complete" URL="http://download.mozilla.org/?product=firefox-56.0-complete&amp;os=win&amp;lang=en-US" hashFunction="sha512""#,
            r#" hashValue="3530e6d88cb44c0360ec2aec4e171bdc4a45a6062d2fcbca25264882876dce3486a23a903a71fa612f93fcf9261067dbe22e2f4f8cc8e7dd3e55578095b43b4e""#,
            r#" size="38171451"/>"#,
            "\n",
            r#"        <patch type="partial" URL="http://download.mozilla.org/?product=firefox-56.0-partial-54.0.1&amp;os=win&amp;lang=en-US" hashFunction="sha512""#,
            r#" hashValue="ce5820a550a7b9c9d0be29c629242def63ff333bc12b5d2d45d23c8e2b238adda9bd9f7ef14649616aae8b78e9545e8e7ec3fe93ac1b3d808027254087790af6""#,
            r#" size="26673535"/>"#,
            "\n    </update>\n</updates>"
        ),
    );
    // The same request forced: download.mozilla.org is a force host, and the
    // appended "&force=1" is escaped like the rest of the URL.
    let forced = s
        .get(concat!(
            "/update/6/Firefox/54.0.1/20170628075643/WINNT_x86-msvc-x64/en-US/release",
            "/Windows_NT 6.1.0.0 (x86)/ISET:SSE3,MEM:4096,JAWS:0/default/default/update.xml?force=1"
        ))
        .await;
    assert!(
        forced
            .body
            .contains("lang=en-US&amp;force=1\" hashFunction"),
        "{}",
        forced.body
    );
}

/// The GMP superblobs of `ClientTestBase.setup`: "gmp" answers products
/// response-a and response-b, "gmp-with-one-response-product" only
/// response-a (both blobs are named "superblob"; rules map release names).
async fn superblobs() -> Server {
    let s = base().await;
    let mut rules = s.service.catalog().rules.clone();
    rules.extend([
        rule(20, 200, 100, "gmp", "gmp"),
        rule(
            21,
            200,
            100,
            "gmp-with-one-response-product",
            "gmp-with-one-response-product",
        ),
        rule(22, 190, 100, "response-a", "response-a"),
        rule(23, 180, 100, "response-b", "response-b"),
    ]);
    s.service.load_rules(rules);
    let superblob = |products: &[&str]| json!({"name": "superblob", "schema_version": 4000, "products": products});
    let svc = &s.service;
    svc.put_named_release("gmp", None, superblob(&["response-a", "response-b"]))
        .expect("gmp");
    svc.put_named_release(
        "gmp-with-one-response-product",
        None,
        superblob(&["response-a"]),
    )
    .expect("one");
    let complete = |size: u64, url: &str| json!({"complete": {"filesize": size, "from": "*", "hashValue": "23", "fileUrl": url}});
    let a = json!({"name": "response-a", "schema_version": 1, "extv": "2.5", "hashFunction": "sha512", "platforms": {
        "p": {"buildID": "25", "locales": {"l": complete(22, "http://a.com/public")}},
        "q": {"buildID": "25", "locales": {"l": complete(22, "http://a.com/public-q")}}
    }});
    let b = json!({"name": "response-b", "schema_version": 1, "extv": "2.5", "hashFunction": "sha512", "platforms": {
        "p": {"buildID": "25", "locales": {"l": complete(27777777, "http://a.com/b")}}
    }});
    svc.put_release(a).expect("a");
    svc.put_release(b).expect("b");
    s
}

#[tokio::test]
async fn superblob_response_products() {
    let s = superblobs().await;
    // testGetWithResponseProducts
    let got = s.get("/update/4/gmp/1.0/1/p/l/a/a/a/a/1/update.xml").await;
    assert_xml(
        &got,
        r#"<?xml version="1.0"?>
<updates>
    <addons>
        <patch type="complete" URL="http://a.com/public" hashFunction="sha512" hashValue="23" size="22"/>
        <patch type="complete" URL="http://a.com/b" hashFunction="sha512" hashValue="23" size="27777777"/>
    </addons>
</updates>
"#,
    );
    // testGMPResponseWithoutSigning: no Autograph, no Content-Signature.
    assert_eq!(got.header("content-signature"), None);
    assert_eq!(got.header("rule-id"), Some("20"));
    // testGetWithResponseProductsWithAbsentRule, testGetWithResponseProductsWithOneRule
    let only_q = r#"<?xml version="1.0"?>
<updates>
    <addons>
        <patch type="complete" URL="http://a.com/public-q" hashFunction="sha512" hashValue="23" size="22"/>
    </addons>
</updates>
"#;
    assert_xml(
        &s.get("/update/4/gmp/1.0/1/q/l/a/a/a/a/1/update.xml").await,
        only_q,
    );
    assert_xml(
        &s.get("/update/4/gmp-with-one-response-product/1.0/1/q/l/a/a/a/a/1/update.xml")
            .await,
        only_q,
    );
}

/// The system add-on rules and releases of `ClientTestBase.setup`.
async fn system_addons() -> Server {
    let s = base().await;
    let mut rules = s.service.catalog().rules.clone();
    let glob = "superblobaddon-with-multiple-response-blob-glob";
    rules.extend([
        rule(
            30,
            180,
            100,
            "systemaddons-uninstall",
            "systemaddons-uninstall",
        ),
        rule(31, 180, 100, "systemaddons", "systemaddons"),
        Rule {
            version: Some("99.8.*".into()),
            ..rule(32, 200, 100, glob, glob)
        },
        rule(
            33,
            200,
            100,
            "superblobaddon-with-one-response-blob",
            "superblobaddon-with-one-response-blob",
        ),
        rule(
            34,
            200,
            100,
            "superblobaddon-with-multiple-response-blob",
            "superblobaddon-with-multiple-response-blob",
        ),
    ]);
    s.service.load_rules(rules);
    let put = |name: &str, blob: serde_json::Value| {
        s.service
            .put_named_release(name, Some(name), blob)
            .expect(name)
    };
    put(
        "systemaddons-uninstall",
        json!({"name": "fake", "schema_version": 5000, "hashFunction": "SHA512", "uninstall": true}),
    );
    put(
        "systemaddons",
        json!({"name": "fake", "schema_version": 5000, "hashFunction": "SHA512", "uninstall": false, "addons": {
            "c": {"version": "1", "platforms": {"p": {"filesize": 2, "hashValue": "3", "fileUrl": "http://a.com/blah"}}}
        }}),
    );
    let superblob =
        |blobs: &[&str]| json!({"name": "superblobaddon", "schema_version": 4000, "blobs": blobs});
    put(
        "superblobaddon-with-one-response-blob",
        superblob(&["responseblob-a"]),
    );
    put(
        "superblobaddon-with-multiple-response-blob",
        superblob(&["responseblob-a", "responseblob-b"]),
    );
    put(glob, superblob(&["responseblob-a", "responseblob-b"]));
    put(
        "responseblob-a",
        json!({"name": "responseblob-a", "schema_version": 5000, "hashFunction": "SHA512", "addons": {
            "c": {"version": "1", "platforms": {
                "p": {"filesize": 2, "hashValue": "3", "fileUrl": "http://a.com/e"},
                "q": {"filesize": 4, "hashValue": "5", "fileUrl": "http://a.com/e"},
                "q2": {"alias": "q"}
            }},
            "d": {"version": "5", "platforms": {
                "q": {"filesize": 10, "hashValue": "11", "fileUrl": "http://a.com/c"},
                "default": {"filesize": 20, "hashValue": "50", "fileUrl": "http://a.com/c"}
            }}
        }}),
    );
    put(
        "responseblob-b",
        json!({"name": "responseblob-b", "schema_version": 5000, "hashFunction": "sha512", "uninstall": false, "addons": {
            "b": {"version": "1", "platforms": {"p": {"filesize": 27, "hashValue": "23", "fileUrl": "http://a.com/b"}}}
        }}),
    );
    s
}

#[tokio::test]
async fn system_addons_and_blob_superblobs() {
    let s = system_addons().await;
    // testSystemAddonsBlobWithUninstall
    assert_xml(
        &s.get("/update/4/systemaddons-uninstall/1.0/1/z/p/a/b/c/d/1/update.xml")
            .await,
        "<?xml version=\"1.0\"?>\n<updates>\n    <addons>\n    </addons>\n</updates>\n",
    );
    // testSystemAddonsBlobWithoutUninstall: a.com is not allowed for this
    // product, so nothing is servable and the wrapper becomes two empty lines.
    assert_xml(
        &s.get("/update/4/systemaddons/1.0/1/z/p/a/b/c/d/1/update.xml")
            .await,
        "<?xml version=\"1.0\"?>\n<updates>\n\n\n</updates>\n",
    );
    // testSuperBlobAddOnMultipleUpdates, testSuperBlobAddOnMultipleUpdatesGlob
    let multiple = r#"<?xml version="1.0"?>
<updates>
    <addons>
        <addon id="c" URL="http://a.com/e" hashFunction="SHA512" hashValue="3" size="2" version="1"/>
        <addon id="d" URL="http://a.com/c" hashFunction="SHA512" hashValue="50" size="20" version="5"/>
        <addon id="b" URL="http://a.com/b" hashFunction="sha512" hashValue="23" size="27" version="1"/>
    </addons>
</updates>
"#;
    assert_xml(
        &s.get("/update/3/superblobaddon-with-multiple-response-blob/1.0/1/p/l/a/a/a/a/update.xml")
            .await,
        multiple,
    );
    let glob = "/update/3/superblobaddon-with-multiple-response-blob-glob";
    assert_xml(
        &s.get(&format!("{glob}/99.8.1/1/p/l/a/a/a/a/update.xml"))
            .await,
        multiple,
    );
    // testSuperBlobAddOnNoUpdatesGlob
    assert_empty(
        &s.get(&format!("{glob}/99.9.0/1/p/l/a/a/a/a/update.xml"))
            .await,
    );
    // testSuperBlobAddOnOneUpdates
    assert_xml(
        &s.get("/update/3/superblobaddon-with-one-response-blob/1.0/1/p/l/a/a/a/a/update.xml")
            .await,
        r#"<?xml version="1.0"?>
<updates>
    <addons>
        <addon id="c" URL="http://a.com/e" hashFunction="SHA512" hashValue="3" size="2" version="1"/>
        <addon id="d" URL="http://a.com/c" hashFunction="SHA512" hashValue="50" size="20" version="5"/>
    </addons>
</updates>
"#,
    );
}
