//! The admin API's v1 releases over HTTP behind relyard auth, following Balrog's
//! `tests/admin/views/test_releases.py`: PUT/GET/HEAD with X-Data-Version, the merging POST
//! with `data` as a JSON string (balrogclient), single locales, the three-way merge of
//! concurrent locale submissions (different locales merge, the same locale conflicts),
//! read_only, revisions, listing and delete.

#[path = "common/admin.rs"]
mod admin_common;

use admin_common::{empty_blob, Admin};
use serde_json::{json, Value};

fn locale(hash: &str) -> Value {
    json!({"complete": {"filesize": 1234, "from": "*", "hashValue": hash,
                        "fileUrl": "http://download.mozilla.org/?product=f&os=win"}})
}

fn locale_body(hash: &str, data_version: Option<i64>) -> Value {
    let mut b = json!({"product": "Firefox", "hashFunction": "sha512", "schema_version": 1,
                       "data": locale(hash).to_string()});
    if let Some(dv) = data_version {
        b["data_version"] = json!(dv);
    }
    b
}

#[tokio::test]
async fn put_get_head_and_merging_post() {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", &["updates:admin"]).await;
    let body = json!({"name": "Firefox-1", "product": "Firefox", "blob": empty_blob("Firefox-1")});
    let created = a
        .call(Some(&admin), "PUT", "/releases/Firefox-1", Some(&body))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);

    let got = a.call(None, "GET", "/releases/Firefox-1", None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("X-Data-Version"), Some("1"));
    assert_eq!(got.body, empty_blob("Firefox-1"));
    let head = a.call(None, "HEAD", "/releases/Firefox-1", None).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("X-Data-Version"), Some("1"));
    let missing = a.call(None, "HEAD", "/releases/nope", None).await;
    assert_eq!(missing.status, 404);

    // PUT of an existing release needs its data_version.
    let again = a
        .call(Some(&admin), "PUT", "/releases/Firefox-1", Some(&body))
        .await;
    assert_eq!(again.status, 400);

    // POST merges the top-level keys of `data` (a JSON string) into the blob.
    let post = json!({"name": "Firefox-1", "product": "Firefox", "hashFunction": "sha512",
                      "data": json!({"appv": "2.0", "extv": "2.0"}).to_string(),
                      "data_version": 1});
    let merged = a
        .call(Some(&admin), "POST", "/releases/Firefox-1", Some(&post))
        .await;
    assert_eq!(merged.status, 200, "{}", merged.text);
    assert_eq!(merged.body, json!({"new_data_version": 2}));
    let got = a.call(None, "GET", "/releases/Firefox-1", None).await;
    assert_eq!(got.body["appv"], "2.0");
    assert_eq!(got.body["schema_version"], 1);

    // Another product's name is refused, as is a stale data_version on a whole-blob PUT.
    let wrong = json!({"product": "Thunderbird", "data": "{}", "data_version": 2});
    let refused = a
        .call(Some(&admin), "POST", "/releases/Firefox-1", Some(&wrong))
        .await;
    assert_eq!(refused.status, 400);

    // POST of a release that does not exist creates it.
    let fresh = json!({"name": "Firefox-2", "product": "Firefox", "hashFunction": "sha512",
                       "schema_version": 1, "data": json!({"appv": "3.0", "extv": "3.0",
                       "platforms": {}}).to_string()});
    let made = a
        .call(Some(&admin), "POST", "/releases/Firefox-2", Some(&fresh))
        .await;
    assert_eq!(made.status, 201, "{}", made.text);

    let names = a.call(None, "GET", "/releases?names_only=1", None).await;
    assert_eq!(names.body, json!({"names": ["Firefox-1", "Firefox-2"]}));
    let prefixed = a
        .call(None, "GET", "/releases?name_prefix=Firefox-2", None)
        .await;
    assert_eq!(prefixed.body["releases"][0]["name"], "Firefox-2");
    assert_eq!(prefixed.body["releases"][0]["data_version"], 1);
    assert!(prefixed.body["releases"][0].get("data").is_none());
    let column = a.call(None, "GET", "/releases/columns/product", None).await;
    assert_eq!(column.body, json!({"count": 1, "product": ["Firefox"]}));

    let revisions = a
        .call(None, "GET", "/releases/Firefox-1/revisions", None)
        .await;
    assert_eq!(revisions.body["count"], 2);
    assert_eq!(revisions.body["revisions"][0]["data_version"], 2);

    let deleted = a
        .call(
            Some(&admin),
            "DELETE",
            "/releases/Firefox-2?data_version=1",
            None,
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let gone = a.call(None, "GET", "/releases/Firefox-2", None).await;
    assert_eq!(gone.status, 404);
}

#[tokio::test]
async fn concurrent_locale_submissions_merge_unless_they_touch_the_same_locale() {
    let a = Admin::start().await;
    let admin = a
        .bearer(
            "test/builder",
            &["updates:release:*", "updates:release_locale:*"],
        )
        .await;
    let first = a
        .call(
            Some(&admin),
            "PUT",
            "/releases/R/builds/p/de",
            Some(&locale_body("aa", None)),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["new_data_version"], 1);

    // Two build machines read data_version 1 and submit different locales.
    let fr = a
        .call(
            Some(&admin),
            "PUT",
            "/releases/R/builds/p/fr",
            Some(&locale_body("bb", Some(1))),
        )
        .await;
    assert_eq!(fr.status, 201, "{}", fr.text);
    assert_eq!(fr.body["new_data_version"], 2);
    let en = a
        .call(
            Some(&admin),
            "PUT",
            "/releases/R/builds/p/en-US",
            Some(&locale_body("cc", Some(1))),
        )
        .await;
    assert_eq!(en.status, 201, "merged against data_version 1: {}", en.text);
    assert_eq!(en.body["new_data_version"], 3);
    let blob = a.call(None, "GET", "/releases/R", None).await;
    let locales = &blob.body["platforms"]["p"]["locales"];
    assert_eq!(locales["de"], locale("aa"));
    assert_eq!(locales["fr"], locale("bb"));
    assert_eq!(locales["en-US"], locale("cc"));

    // Replacing a locale answers 200; a stale write to a locale someone else changed conflicts.
    let de = a
        .call(
            Some(&admin),
            "PUT",
            "/releases/R/builds/p/de",
            Some(&locale_body("dd", Some(3))),
        )
        .await;
    assert_eq!(de.status, 200, "{}", de.text);
    let clash = a
        .call(
            Some(&admin),
            "PUT",
            "/releases/R/builds/p/de",
            Some(&locale_body("ee", Some(3))),
        )
        .await;
    assert_eq!(clash.status, 400, "{}", clash.text);
    assert_eq!(clash.body["detail"], "OutdatedDataError");
    let one = a.call(None, "GET", "/releases/R/builds/p/de", None).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body, locale("dd"));
    assert_eq!(one.header("X-Data-Version"), Some("4"));
    let none = a.call(None, "GET", "/releases/R/builds/p/xx", None).await;
    assert_eq!(none.status, 404);

    // A locale submitted without data_version for an existing release is refused.
    let bare = a
        .call(
            Some(&admin),
            "PUT",
            "/releases/R/builds/p/it",
            Some(&locale_body("ff", None)),
        )
        .await;
    assert_eq!(bare.status, 400);
}

#[tokio::test]
async fn read_only_releases_refuse_changes() {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", &["updates:admin"]).await;
    let body = json!({"name": "R", "product": "Firefox", "blob": empty_blob("R")});
    a.call(Some(&admin), "PUT", "/releases/R", Some(&body))
        .await;
    let ro = a.call(None, "GET", "/releases/R/read_only", None).await;
    assert_eq!(ro.body, json!({"read_only": false}));

    let setter = a
        .bearer("test/setter", &["updates:release_read_only:set:Firefox"])
        .await;
    let set = a
        .call(
            Some(&setter),
            "PUT",
            "/releases/R/read_only",
            Some(&json!({"read_only": true, "data_version": 1})),
        )
        .await;
    assert_eq!(set.status, 201, "{}", set.text);
    assert_eq!(set.body["new_data_version"], 2);
    let unset = a
        .call(
            Some(&setter),
            "PUT",
            "/releases/R/read_only",
            Some(&json!({"read_only": false, "data_version": 2})),
        )
        .await;
    assert_eq!(unset.status, 403, "unset is its own scope");

    let put =
        json!({"name": "R", "product": "Firefox", "blob": empty_blob("R"), "data_version": 2});
    let refused = a.call(Some(&admin), "PUT", "/releases/R", Some(&put)).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let locale = a
        .call(
            Some(&admin),
            "PUT",
            "/releases/R/builds/p/de",
            Some(&locale_body("aa", Some(2))),
        )
        .await;
    assert_eq!(locale.status, 403);
}

#[tokio::test]
async fn bad_release_bodies_are_400() {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", &["updates:admin"]).await;
    let cases = [
        ("PUT", "/releases/R", "{".to_string()),
        (
            "PUT",
            "/releases/R",
            json!({"product": "Firefox"}).to_string(),
        ),
        (
            "PUT",
            "/releases/R",
            json!({"product": "Firefox", "blob": empty_blob("S")}).to_string(),
        ),
        (
            "PUT",
            "/releases/R",
            json!({"product": "Firefox", "blob": {"name": "R"}}).to_string(),
        ),
        (
            "PUT",
            "/releases/R",
            json!({"product": "Firefox", "blob": "not json"}).to_string(),
        ),
        (
            "PUT",
            "/releases/R",
            json!({"product": "Firefox", "blob": [1]}).to_string(),
        ),
        (
            "POST",
            "/releases/R",
            json!({"product": "Firefox", "data": "{}"}).to_string(),
        ),
        (
            "POST",
            "/releases/R",
            json!({"product": 5, "data": "{}"}).to_string(),
        ),
        (
            "PUT",
            "/releases/R/builds/p/de",
            json!({"product": "Firefox"}).to_string(),
        ),
        (
            "PUT",
            "/releases/R/builds/p/de",
            json!({"product": "Firefox", "data": "[]"}).to_string(),
        ),
    ];
    for (method, path, body) in cases {
        let r = a
            .call_raw(Some(&admin), method, path, Some(&body), "application/json")
            .await;
        assert_eq!(r.status, 400, "{method} {path} {body}: {}", r.text);
    }
    let list = a.call(None, "GET", "/releases", None).await;
    assert_eq!(list.body, json!({"releases": []}));
}

#[tokio::test]
async fn many_build_machines_at_once_all_land() {
    let a = std::sync::Arc::new(Admin::start().await);
    let admin = a.bearer("test/builder", &["updates:admin"]).await;
    let first = a
        .call(
            Some(&admin),
            "PUT",
            "/releases/R/builds/p/de",
            Some(&locale_body("aa", None)),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    // Eight submissions, all based on data_version 1, at the same time.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (a, admin) = (a.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            let path = format!("/releases/R/builds/p/l{i}");
            let body = locale_body(&format!("h{i}"), Some(1));
            a.call(Some(&admin), "PUT", &path, Some(&body)).await
        }));
    }
    for t in tasks {
        let r = t.await.expect("task");
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let blob = a.call(None, "GET", "/releases/R", None).await;
    assert_eq!(blob.header("X-Data-Version"), Some("9"));
    let locales = blob.body["platforms"]["p"]["locales"]
        .as_object()
        .expect("locales");
    assert_eq!(locales.len(), 9, "{locales:?}");
    for i in 0..8 {
        assert_eq!(locales[&format!("l{i}")], locale(&format!("h{i}")));
    }
}
