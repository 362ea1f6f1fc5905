//! The admin API's rules over HTTP behind relyard auth (Bearer callers), following Balrog's
//! `tests/admin/views/test_rules.py`: create, read by id and alias, modify and delete with
//! data_version, a stale data_version refused with nothing changed, revisions and revert,
//! column values, scopes per product, bad bodies answered 400, protected rules refused.

#[path = "common/admin.rs"]
mod admin_common;

use admin_common::{empty_blob, Admin};
use serde_json::json;

const ADMIN: &[&str] = &["updates:admin"];

async fn with_release(a: &Admin, admin: &str, name: &str) {
    let r = a
        .call(
            Some(admin),
            "PUT",
            &format!("/releases/{name}"),
            Some(&json!({"name": name, "product": "Firefox", "blob": empty_blob(name)})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn new_rule(a: &Admin, auth: &str, body: serde_json::Value) -> i64 {
    let r = a.call(Some(auth), "POST", "/rules", Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.text.trim().parse().expect("rule id")
}

fn firefox_rule(mapping: &str) -> serde_json::Value {
    json!({"mapping": mapping, "product": "Firefox", "channel": "nightly", "priority": 100,
           "backgroundRate": 100, "update_type": "minor", "alias": "firefox-nightly"})
}

/// A server with release Firefox-1, a rule mapping to it, and an admin's Bearer token.
async fn one_rule() -> (Admin, String, i64) {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", ADMIN).await;
    with_release(&a, &admin, "Firefox-1").await;
    let id = new_rule(&a, &admin, firefox_rule("Firefox-1")).await;
    (a, admin, id)
}

#[tokio::test]
async fn create_read_modify_delete_with_data_versions() {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", ADMIN).await;
    with_release(&a, &admin, "Firefox-1").await;
    with_release(&a, &admin, "Firefox-2").await;
    let id = new_rule(&a, &admin, firefox_rule("Firefox-1")).await;

    let got = a
        .call(Some(&admin), "GET", &format!("/rules/{id}"), None)
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("X-Data-Version"), Some("1"));
    assert_eq!(got.body["mapping"], "Firefox-1");
    assert_eq!(got.body["rule_id"], id);
    let by_alias = a.call(None, "GET", "/rules/firefox-nightly", None).await;
    assert_eq!(by_alias.body["rule_id"], id);

    // A form with numbers as strings, as Balrog's UI sends them.
    let modified = a
        .call_raw(
            Some(&admin),
            "PUT",
            &format!("/rules/{id}"),
            Some("mapping=Firefox-2&data_version=1&backgroundRate=50"),
            "application/x-www-form-urlencoded",
        )
        .await;
    assert_eq!(modified.status, 200, "{}", modified.text);
    assert_eq!(modified.body, json!({"new_data_version": 2}));

    // Stale: refused as Balrog's OutdatedDataError, and nothing changes.
    let stale = a
        .call(
            Some(&admin),
            "POST",
            &format!("/rules/{id}"),
            Some(&json!({"mapping": "Firefox-1", "data_version": 1})),
        )
        .await;
    assert_eq!(stale.status, 400, "{}", stale.text);
    assert_eq!(stale.body["detail"], "OutdatedDataError");
    let now = a.call(None, "GET", &format!("/rules/{id}"), None).await;
    assert_eq!(now.header("X-Data-Version"), Some("2"));
    assert_eq!(now.body["mapping"], "Firefox-2");
    assert_eq!(now.body["backgroundRate"], 50);
    assert_eq!(now.body["channel"], "nightly", "fields not given are kept");

    let listed = a.call(None, "GET", "/rules?product=Firefox", None).await;
    assert_eq!(listed.body["count"], 1);
    let none = a
        .call(None, "GET", "/rules?product=Thunderbird", None)
        .await;
    assert_eq!(none.body["count"], 0);

    let column = a.call(None, "GET", "/rules/columns/mapping", None).await;
    assert_eq!(column.body, json!({"count": 1, "mapping": ["Firefox-2"]}));
    let unknown = a.call(None, "GET", "/rules/columns/nope", None).await;
    assert_eq!(unknown.status, 404);

    let stale_delete = a
        .call(
            Some(&admin),
            "DELETE",
            &format!("/rules/{id}?data_version=1"),
            None,
        )
        .await;
    assert_eq!(stale_delete.status, 400);
    let deleted = a
        .call(
            Some(&admin),
            "DELETE",
            &format!("/rules/{id}?data_version=2"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let gone = a.call(None, "GET", &format!("/rules/{id}"), None).await;
    assert_eq!(gone.status, 404);
}

#[tokio::test]
async fn revisions_are_paginated_and_revert_restores_a_revision() {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", ADMIN).await;
    with_release(&a, &admin, "Firefox-1").await;
    with_release(&a, &admin, "Firefox-2").await;
    let id = new_rule(&a, &admin, firefox_rule("Firefox-1")).await;
    for (dv, mapping) in [(1, "Firefox-2"), (2, "Firefox-1"), (3, "Firefox-2")] {
        let body = json!({"mapping": mapping, "data_version": dv});
        let r = a
            .call(Some(&admin), "PUT", &format!("/rules/{id}"), Some(&body))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let page = a
        .call(
            None,
            "GET",
            &format!("/rules/{id}/revisions?page=1&limit=2"),
            None,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.body["count"], 4);
    let revs = page.body["rules"].as_array().expect("rules");
    assert_eq!(revs.len(), 2);
    assert_eq!(revs[0]["data_version"], 4, "newest first");
    assert_eq!(revs[0]["changed_by"], "test/admin");
    let second = a
        .call(
            None,
            "GET",
            &format!("/rules/{id}/revisions?page=2&limit=2"),
            None,
        )
        .await;
    let oldest = &second.body["rules"][1];
    assert_eq!(oldest["data_version"], 1);
    assert_eq!(oldest["mapping"], "Firefox-1");

    let change_id = second.body["rules"][0]["change_id"].clone();
    let reverted = a
        .call(
            Some(&admin),
            "POST",
            &format!("/rules/{id}/revisions"),
            Some(&json!({"change_id": change_id})),
        )
        .await;
    assert_eq!(reverted.status, 200, "{}", reverted.text);
    let now = a.call(None, "GET", &format!("/rules/{id}"), None).await;
    assert_eq!(now.body["mapping"], "Firefox-2");
    assert_eq!(now.header("X-Data-Version"), Some("5"));
    let bad = a
        .call(
            Some(&admin),
            "POST",
            &format!("/rules/{id}/revisions"),
            Some(&json!({"change_id": 9999})),
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn scopes_decide_per_product() {
    let (a, _admin, id) = one_rule().await;

    let nobody = a.bearer("test/nobody", &[]).await;
    let body = json!({"backgroundRate": 10, "data_version": 1});
    let refused = a
        .call(Some(&nobody), "PUT", &format!("/rules/{id}"), Some(&body))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.body["code"], "InsufficientScopes");

    let tb = a
        .bearer("test/tb", &["updates:rule:modify:Thunderbird"])
        .await;
    let other = a
        .call(Some(&tb), "PUT", &format!("/rules/{id}"), Some(&body))
        .await;
    assert_eq!(other.status, 403);
    // Moving the rule to Thunderbird needs Firefox's permission too.
    let moving = json!({"product": "Thunderbird", "data_version": 1});
    let moved = a
        .call(Some(&tb), "PUT", &format!("/rules/{id}"), Some(&moving))
        .await;
    assert_eq!(moved.status, 403);

    let ff = a.bearer("test/ff", &["updates:rule:*"]).await;
    let ok = a
        .call(Some(&ff), "PUT", &format!("/rules/{id}"), Some(&body))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);

    let unauthenticated = a
        .call(
            Some("Bearer not-a-token"),
            "PUT",
            &format!("/rules/{id}"),
            Some(&body),
        )
        .await;
    assert_eq!(unauthenticated.status, 401);
}

#[tokio::test]
async fn bad_bodies_are_400() {
    let (a, admin, id) = one_rule().await;
    let path = format!("/rules/{id}");
    let cases: Vec<(&str, &str, String)> = vec![
        ("POST", "/rules", "{not json".into()),
        ("POST", "/rules", "[1, 2]".into()),
        ("POST", "/rules", json!({"product": "Firefox"}).to_string()),
        (
            "POST",
            "/rules",
            json!({"mapping": "nope", "priority": 1, "backgroundRate": 1}).to_string(),
        ),
        (
            "POST",
            "/rules",
            json!({"mapping": "Firefox-1", "priority": "high", "backgroundRate": 1}).to_string(),
        ),
        (
            "POST",
            "/rules",
            json!({"mapping": "Firefox-1", "priority": 1, "backgroundRate": 101}).to_string(),
        ),
        (
            "POST",
            "/rules",
            json!({"mapping": "Firefox-1", "priority": 1, "backgroundRate": 1, "bogus": 1})
                .to_string(),
        ),
        ("PUT", &path, json!({"mapping": "Firefox-1"}).to_string()),
        (
            "PUT",
            &path,
            json!({"version": "abc", "data_version": 1}).to_string(),
        ),
        (
            "PUT",
            &path,
            json!({"version": ">1.0,2.0", "data_version": 1}).to_string(),
        ),
        (
            "PUT",
            &path,
            json!({"version": "~1.0", "data_version": 1}).to_string(),
        ),
        (
            "PUT",
            &path,
            json!({"buildID": ">abc", "data_version": 1}).to_string(),
        ),
        (
            "PUT",
            &path,
            json!({"priority": -1, "data_version": 1}).to_string(),
        ),
        ("PUT", &path, json!({"data_version": "x"}).to_string()),
        (
            "PUT",
            &path,
            json!({"jaws": "maybe", "data_version": 1}).to_string(),
        ),
        (
            "PUT",
            &path,
            json!({"channel": 5, "data_version": 1}).to_string(),
        ),
        ("DELETE", &path, String::new()),
    ];
    for (method, path, body) in cases {
        let r = a
            .call_raw(Some(&admin), method, path, Some(&body), "application/json")
            .await;
        assert_eq!(r.status, 400, "{method} {path} {body}: {}", r.text);
    }
    let dup = a
        .call(
            Some(&admin),
            "POST",
            "/rules",
            Some(&firefox_rule("Firefox-1")),
        )
        .await;
    assert_eq!(dup.status, 400, "a taken alias: {}", dup.text);
    let missing = a.call(None, "GET", "/rules/424242", None).await;
    assert_eq!(missing.status, 404);
    let still = a.call(None, "GET", &format!("/rules/{id}"), None).await;
    assert_eq!(still.header("X-Data-Version"), Some("1"));
}

#[tokio::test]
async fn protected_rules_change_only_through_scheduled_changes() {
    let (a, admin, id) = one_rule().await;
    a.require_signoffs(&admin, "Firefox", "nightly", "relman", 1)
        .await;
    let body = json!({"backgroundRate": 10, "data_version": 1});
    let refused = a
        .call(Some(&admin), "PUT", &format!("/rules/{id}"), Some(&body))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.body["detail"], "Signoff Required");
    let delete = a
        .call(
            Some(&admin),
            "DELETE",
            &format!("/rules/{id}?data_version=1"),
            None,
        )
        .await;
    assert_eq!(delete.status, 400);
    let now = a.call(None, "GET", &format!("/rules/{id}"), None).await;
    assert_eq!(now.body["backgroundRate"], 100);
}

#[tokio::test]
async fn rules_history_lists_rule_and_scheduled_changes() {
    let (a, admin, id) = one_rule().await;
    let body = json!({"backgroundRate": 7, "data_version": 1});
    a.call(Some(&admin), "PUT", &format!("/rules/{id}"), Some(&body))
        .await;
    let when = relyard_core::Timestamp::now().millis() + 60_000;
    let change = json!({"change_type": "delete", "rule_id": id, "data_version": 2,
                        "when": when});
    let sc = a
        .call(
            Some(&admin),
            "POST",
            "/scheduled_changes/rules",
            Some(&change),
        )
        .await;
    assert_eq!(sc.status, 200, "{}", sc.text);
    let all = a
        .call(None, "GET", "/rules/history?product=Firefox", None)
        .await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(all.body["Rules"]["count"], 2);
    assert_eq!(all.body["Rules"]["revisions"][0]["backgroundRate"], 7);
    assert_eq!(all.body["Rules scheduled change"]["count"], 1);
    let nobody = a
        .call(None, "GET", "/rules/history?changed_by=someone", None)
        .await;
    assert_eq!(nobody.body["Rules"]["count"], 0);
    let bad = a
        .call(None, "GET", "/rules/history?timestamp_from=x", None)
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn valid_version_and_build_id_patterns_are_taken() {
    let (a, admin, id) = one_rule().await;
    for (dv, (field, value)) in (1..).zip([
        ("version", "<70.0"),
        ("version", "70.0,71.0.1"),
        ("version", "70.*"),
        ("buildID", ">=20240101000000"),
        ("buildID", "20240101000000"),
    ]) {
        let mut body = json!({"data_version": dv});
        body[field] = json!(value);
        let r = a
            .call(Some(&admin), "PUT", &format!("/rules/{id}"), Some(&body))
            .await;
        assert_eq!(r.status, 200, "{field}={value}: {}", r.text);
    }
}
