//! Balrog's v2 release endpoints (`/v2/releases/<name>`), after its
//! `tests/admin/views/test_releases_v2.py`: whole-blob PUT, merging POST, `old_data_versions`,
//! GET with `{blob, data_versions, sc_blob, sc_data_versions, required_signoffs}`, changes to a
//! protected release scheduled with `when`, read_only and delete.

#[path = "common/admin.rs"]
mod admin_common;

use admin_common::{empty_blob, Admin};
use serde_json::json;

#[tokio::test]
async fn put_post_get_schedule_and_delete() {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", &["updates:admin"]).await;
    let put = json!({"blob": empty_blob("R"), "product": "Firefox"});
    let made = a
        .call(Some(&admin), "PUT", "/v2/releases/R", Some(&put))
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    assert_eq!(made.body, json!({".": 1}));

    let post = json!({"blob": {"appv": "2.0"}, "old_data_versions": {".": 1}});
    let merged = a
        .call(Some(&admin), "POST", "/v2/releases/R", Some(&post))
        .await;
    assert_eq!(merged.status, 200, "{}", merged.text);
    assert_eq!(merged.body, json!({".": 2}));
    let got = a.call(None, "GET", "/v2/releases/R", None).await;
    assert_eq!(got.body["blob"]["appv"], "2.0");
    assert_eq!(got.body["blob"]["extv"], "1.0");
    assert_eq!(got.body["data_versions"], json!({".": 2}));
    assert_eq!(got.body["sc_blob"], json!({}));

    // From version 1 again, changing the same key another way: a conflict.
    let stale = json!({"blob": {"appv": "3.0"}, "old_data_versions": {".": 1}});
    let refused = a
        .call(Some(&admin), "POST", "/v2/releases/R", Some(&stale))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    let versions = a
        .call(None, "GET", "/v2/releases/R/data_version", None)
        .await;
    assert_eq!(versions.body, json!({"data_versions": {".": 2}}));

    // Protected: direct writes are refused, scheduled ones wait.
    a.protected_rule(&admin, "R", 1).await;
    let direct = json!({"blob": {"appv": "4.0"}, "old_data_versions": {".": 2}});
    let refused = a
        .call(Some(&admin), "POST", "/v2/releases/R", Some(&direct))
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["detail"], "Signoff Required");
    let when = relyard_core::Timestamp::now().millis() + 3_600_000;
    let scheduled = json!({"blob": {"appv": "4.0"}, "old_data_versions": {".": 2},
                           "when": when});
    let sc = a
        .call(Some(&admin), "POST", "/v2/releases/R", Some(&scheduled))
        .await;
    assert_eq!(sc.status, 200, "{}", sc.text);
    assert_eq!(sc.body["sc_data_versions"], json!({".": 1}));
    let got = a.call(None, "GET", "/v2/releases/R", None).await;
    assert_eq!(got.body["blob"]["appv"], "2.0");
    assert_eq!(got.body["sc_blob"]["appv"], "4.0");
    assert_eq!(got.body["sc_data_versions"], json!({".": 1}));
    assert_eq!(got.body["required_signoffs"], json!({"relman": 1}));
    let listed = a.call(None, "GET", "/releases?name_prefix=R", None).await;
    assert_eq!(
        listed.body["releases"][0]["required_signoffs"],
        json!({"relman": 1})
    );

    let ro = json!({"read_only": true, "old_data_version": 2});
    let set = a
        .call(Some(&admin), "PUT", "/v2/releases/R/read_only", Some(&ro))
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.body["new_data_version"], 3);

    let other = json!({"blob": empty_blob("S"), "product": "Firefox"});
    a.call(Some(&admin), "PUT", "/v2/releases/S", Some(&other))
        .await;
    let deleted = a.call(Some(&admin), "DELETE", "/v2/releases/S", None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let gone = a.call(None, "GET", "/v2/releases/S", None).await;
    assert_eq!(gone.status, 404);

    for (method, body) in [
        ("PUT", json!({"product": "Firefox"})),
        ("PUT", json!({"blob": "x", "product": "Firefox"})),
        (
            "PUT",
            json!({"blob": empty_blob("R"), "product": "Firefox"}),
        ),
        ("POST", json!({"blob": {"appv": "5"}})),
        (
            "POST",
            json!({"blob": {"appv": "5"}, "old_data_versions": 3}),
        ),
    ] {
        let r = a
            .call(Some(&admin), method, "/v2/releases/R", Some(&body))
            .await;
        assert_eq!(r.status, 400, "{method} {body}: {}", r.text);
    }
}
