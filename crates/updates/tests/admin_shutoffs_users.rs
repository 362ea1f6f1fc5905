//! Emergency shutoffs and the users endpoints over HTTP, after Balrog's
//! `tests/admin/views/test_emergency_shutoff.py` and `test_permissions.py`: a shutoff stops
//! the public answers for its product/channel at once and is deleted with its data_version,
//! both changes recorded in its history;
//! `/users/current`, `/users/<u>/permissions` and `/users/<u>/roles` are read from scopes.

#[path = "common/admin.rs"]
mod admin_common;

use admin_common::Admin;
use serde_json::json;

const UPDATE: &str = "/update/6/Firefox/1.0/1/p/l/release/a/SSE/default/a/update.xml";

#[tokio::test]
async fn a_shutoff_stops_updates_until_deleted() {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", &["updates:admin"]).await;
    let blob = json!({"name": "R", "schema_version": 1, "hashFunction": "sha512",
        "appv": "10.0", "extv": "10.0", "platforms": {"p": {"buildID": "11", "locales": {"l":
        {"complete": {"filesize": 12, "from": "*", "hashValue": "13",
                      "fileUrl": "http://download.mozilla.org/?product=firefox"}}}}}});
    let r = a
        .call(
            Some(&admin),
            "PUT",
            "/releases/R",
            Some(&json!({"name": "R", "product": "Firefox", "blob": blob})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let rule = json!({"mapping": "R", "product": "Firefox", "channel": "release",
                      "priority": 100, "backgroundRate": 100, "update_type": "minor"});
    assert_eq!(
        a.call(Some(&admin), "POST", "/rules", Some(&rule))
            .await
            .status,
        200
    );
    let (status, before) = a.public(UPDATE).await;
    assert_eq!(status, 200);
    assert!(before.contains("<update "), "{before}");

    let sre = a.bearer("test/sre", &["updates:emergency_shutoff:*"]).await;
    let other = a
        .bearer("test/tb", &["updates:emergency_shutoff:create:Thunderbird"])
        .await;
    let body = json!({"product": "Firefox", "channel": "release"});
    let refused = a
        .call(Some(&other), "POST", "/emergency_shutoff", Some(&body))
        .await;
    assert_eq!(refused.status, 403);
    let made = a
        .call(Some(&sre), "POST", "/emergency_shutoff", Some(&body))
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    assert_eq!(made.body["data_version"], 1);
    let twice = a
        .call(Some(&sre), "POST", "/emergency_shutoff", Some(&body))
        .await;
    assert_eq!(twice.status, 400);
    let (_, during) = a.public(UPDATE).await;
    assert!(!during.contains("<update "), "shut off: {during}");

    let listed = a.call(None, "GET", "/emergency_shutoff", None).await;
    assert_eq!(listed.body["count"], 1);
    let one = a
        .call(None, "GET", "/emergency_shutoff/Firefox/release", None)
        .await;
    assert_eq!(one.header("X-Data-Version"), Some("1"));
    let stale = a
        .call(
            Some(&sre),
            "DELETE",
            "/emergency_shutoff/Firefox/release?data_version=2",
            None,
        )
        .await;
    assert_eq!(stale.status, 400);
    let deleted = a
        .call(
            Some(&sre),
            "DELETE",
            "/emergency_shutoff/Firefox/release?data_version=1",
            None,
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let (_, after) = a.public(UPDATE).await;
    assert_eq!(after, before);
    let gone = a
        .call(None, "GET", "/emergency_shutoff/Firefox/release", None)
        .await;
    assert_eq!(gone.status, 404);
    // Both changes are in the history, with who made them; the refused ones are not.
    let history = relyard_updates::store::shutoff_history(&a.db, "Firefox", "release")
        .await
        .expect("history");
    let rows: Vec<_> = history
        .iter()
        .map(|h| (h.changed_by.as_str(), h.old.is_some(), h.new.is_some()))
        .collect();
    assert_eq!(rows, [("test/sre", false, true), ("test/sre", true, false)]);
    assert_eq!(
        history[1].old.as_ref().map(|o| &o["data_version"]),
        Some(&json!(1))
    );
    for bad in [
        json!({"product": "Firefox"}),
        json!({"product": 1, "channel": "x"}),
    ] {
        let r = a
            .call(Some(&sre), "POST", "/emergency_shutoff", Some(&bad))
            .await;
        assert_eq!(r.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn users_are_read_from_scopes() {
    let a = Admin::start().await;
    let bill = a
        .bearer(
            "test/bill",
            &[
                "updates:rule:modify:Firefox",
                "updates:role:relman",
                "updates:scheduled_change:enact",
            ],
        )
        .await;
    let me = a.call(Some(&bill), "GET", "/users/current", None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["username"], "test/bill");
    assert_eq!(me.body["roles"], json!({"relman": {"data_version": 1}}));
    assert_eq!(
        me.body["permissions"]["rule"]["options"],
        json!({"actions": ["modify"], "products": ["Firefox"]})
    );
    assert!(me.body["permissions"].get("admin").is_none());
    assert!(me.body["permissions"].get("scheduled_change").is_some());

    let roles = a
        .call(Some(&bill), "GET", "/users/test%2Fbill/roles", None)
        .await;
    assert_eq!(
        roles.body,
        json!({"roles": [{"role": "relman", "data_version": 1}]})
    );
    let perms = a
        .call(Some(&bill), "GET", "/users/test%2Fbill/permissions", None)
        .await;
    assert_eq!(perms.body["rule"], me.body["permissions"]["rule"]);
    let other = a
        .call(Some(&bill), "GET", "/users/someone/permissions", None)
        .await;
    assert_eq!(
        other.status, 403,
        "viewing others needs updates:permission:view"
    );
    let viewer = a.bearer("test/viewer", &["updates:permission:view"]).await;
    let seen = a
        .call(Some(&viewer), "GET", "/users/test%2Fbill/roles", None)
        .await;
    assert_eq!(seen.body, roles.body, "{}", seen.text);
    let unknown = a
        .call(Some(&viewer), "GET", "/users/nobody/permissions", None)
        .await;
    assert_eq!(unknown.status, 404);
    let anonymous = a.call(None, "GET", "/users/current", None).await;
    assert_eq!(anonymous.body["username"], "anonymous");
}
