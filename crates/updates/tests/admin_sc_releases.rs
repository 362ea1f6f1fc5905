//! Scheduled release changes over HTTP, after Balrog's `test_scheduled_changes.py`
//! (`TestReleasesScheduledChanges`): a release that a protected rule maps to changes only
//! through a scheduled change, which `store::enact_due` enacts once two different people
//! holding the role signed off; an unprotected insert is enacted when due.

#[path = "common/admin.rs"]
mod admin_common;

use admin_common::{empty_blob, Admin};
use relyard_updates::store;
use serde_json::json;

#[tokio::test]
async fn protected_release_changes_wait_for_two_signers() {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", &["updates:admin"]).await;
    let body = json!({"name": "R", "product": "Firefox", "blob": empty_blob("R")});
    assert_eq!(
        a.call(Some(&admin), "PUT", "/releases/R", Some(&body))
            .await
            .status,
        201
    );
    a.protected_rule(&admin, "R", 2).await;

    let mut blob = empty_blob("R");
    blob["appv"] = json!("2.0");
    let direct = json!({"name": "R", "product": "Firefox", "blob": blob, "data_version": 1});
    let refused = a
        .call(Some(&admin), "PUT", "/releases/R", Some(&direct))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.body["detail"], "Signoff Required");

    let when = relyard_core::Timestamp::now().millis() + 3_600_000;
    let change = json!({"change_type": "update", "name": "R", "data": blob.to_string(),
                        "data_version": 1, "when": when});
    let sc = a
        .call(
            Some(&admin),
            "POST",
            "/scheduled_changes/releases",
            Some(&change),
        )
        .await;
    assert_eq!(sc.status, 200, "{}", sc.text);
    let sc_id = sc.body["sc_id"].as_i64().expect("sc_id");
    let listed = a
        .call(None, "GET", "/scheduled_changes/releases", None)
        .await;
    assert_eq!(
        listed.body["scheduled_changes"][0]["required_signoffs"],
        json!({"relman": 2})
    );

    let signoffs = format!("/scheduled_changes/releases/{sc_id}/signoffs");
    let relman = json!({"role": "relman"});
    let bill = a.bearer("test/bill", &["updates:role:relman"]).await;
    let mary = a.bearer("test/mary", &["updates:role:relman"]).await;
    let run = || async {
        let r = store::enact_due(&a.db, "test-server", when + 1)
            .await
            .expect("enact_due");
        a.service.changed().await.expect("reload");
        r
    };
    for _ in 0..2 {
        let r = a.call(Some(&bill), "POST", &signoffs, Some(&relman)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(run().await.releases_waiting, vec![sc_id]);
    }
    let got = a.call(None, "GET", "/releases/R", None).await;
    assert_eq!(got.body["appv"], "1.0");

    let r = a.call(Some(&mary), "POST", &signoffs, Some(&relman)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(run().await.releases_enacted, vec![sc_id]);
    let got = a.call(None, "GET", "/releases/R", None).await;
    assert_eq!(got.body["appv"], "2.0");
    assert_eq!(got.header("X-Data-Version"), Some("2"));
    let revisions = a.call(None, "GET", "/releases/R/revisions", None).await;
    assert_eq!(revisions.body["revisions"][0]["changed_by"], "test/admin");

    // An insert of a release no rule maps to needs no sign-off: enacted when due.
    let insert = json!({"change_type": "insert", "name": "S", "product": "Firefox",
                        "data": empty_blob("S"), "when": when});
    let sc = a
        .call(
            Some(&admin),
            "POST",
            "/scheduled_changes/releases",
            Some(&insert),
        )
        .await;
    assert_eq!(sc.status, 200, "{}", sc.text);
    let early = store::enact_due(&a.db, "test-server", when - 1_000)
        .await
        .expect("enact_due");
    assert!(early.releases_enacted.is_empty(), "not due yet");
    assert_eq!(
        run().await.releases_enacted,
        vec![sc.body["sc_id"].as_i64().expect("id")]
    );
    let s = a.call(None, "GET", "/releases/S", None).await;
    assert_eq!(s.status, 200);
}

#[tokio::test]
async fn bad_scheduled_release_changes_are_400() {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", &["updates:admin"]).await;
    let body = json!({"name": "R", "product": "Firefox", "blob": empty_blob("R")});
    a.call(Some(&admin), "PUT", "/releases/R", Some(&body))
        .await;
    let when = relyard_core::Timestamp::now().millis() + 3_600_000;
    let cases = [
        json!({"change_type": "update", "name": "R", "data": empty_blob("R"), "when": when}),
        json!({"change_type": "update", "name": "R", "data_version": 1, "when": when}),
        json!({"change_type": "update", "name": "R", "data_version": 7,
               "data": empty_blob("R"), "when": when}),
        json!({"change_type": "insert", "name": "R", "product": "Firefox",
               "data": empty_blob("R"), "when": when}),
        json!({"change_type": "insert", "name": "T", "product": "Firefox",
               "data": empty_blob("U"), "when": when}),
        json!({"change_type": "insert", "name": "T", "product": "Firefox",
               "data": {"name": "T"}, "when": when}),
        json!({"change_type": "insert", "name": "T", "data": "{", "when": when}),
        json!({"change_type": "delete", "name": "R", "when": when}),
        json!({"change_type": "delete", "name": "R", "data_version": 1}),
    ];
    for body in cases {
        let r = a
            .call(
                Some(&admin),
                "POST",
                "/scheduled_changes/releases",
                Some(&body),
            )
            .await;
        assert!(r.status == 400, "{body}: {} {}", r.status, r.text);
    }
    let none = a
        .call(None, "GET", "/scheduled_changes/releases?all=1", None)
        .await;
    assert_eq!(none.body["count"], 0);
}
