//! Release pinning through the admin API, after Balrog's `test_releases_v2.py` pinnable tests
//! and its pinning docs: `PUT /v2/releases/<name>/pinnable` points a pin at a release, the
//! public endpoint then serves it to clients sending that pin, a pin never moves back to an
//! older release, and a pinned release cannot be deleted.

#[path = "common/admin.rs"]
mod admin_common;

use admin_common::Admin;
use serde_json::{json, Value};

/// A Firefox 1.0 client on release that sends `pin`.
fn pinned_url(pin: &str) -> String {
    format!("/update/6/Firefox/1.0/1/p/l/release/a/SSE/default/a/update.xml?pin={pin}")
}

/// A schema-1 release of version `version` whose complete patch names its version.
fn release(version: &str) -> Value {
    json!({"name": format!("Firefox-{version}"), "schema_version": 1, "hashFunction": "sha512",
        "appv": version, "extv": version, "platforms": {"p": {"buildID": "2", "locales": {"l":
        {"complete": {"filesize": 12, "from": "*", "hashValue": "13",
            "fileUrl": format!("http://download.mozilla.org/?product=firefox-{version}")}}}}}})
}

async fn put_pin(a: &Admin, auth: &str, release: &str, body: Value) -> admin_common::Reply {
    let path = format!("/v2/releases/{release}/pinnable");
    a.call(Some(auth), "PUT", &path, Some(&body)).await
}

#[tokio::test]
async fn a_pin_serves_its_release_and_never_moves_back() {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", &["updates:admin"]).await;
    for version in ["2.0", "2.1", "3.0"] {
        let name = format!("Firefox-{version}");
        a.put_release(&admin, &name, "Firefox", release(version))
            .await;
    }
    let rule = json!({"mapping": "Firefox-3.0", "product": "Firefox", "channel": "release",
                      "priority": 100, "backgroundRate": 100, "update_type": "minor"});
    let r = a.call(Some(&admin), "POST", "/rules", Some(&rule)).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // No pin stored for `2.`: the client gets the newest release, as Balrog answers.
    let (_, before) = a.public(&pinned_url("2.")).await;
    assert!(before.contains("firefox-3.0"), "{before}");

    let pin = json!({"product": "Firefox", "channel": "release", "version": "2."});
    let set = put_pin(&a, &admin, "Firefox-2.1", pin.clone()).await;
    assert_eq!(
        (set.status, &set.body),
        (200, &json!({".": 1})),
        "{}",
        set.text
    );
    let (_, pinned) = a.public(&pinned_url("2.")).await;
    assert!(pinned.contains("firefox-2.1"), "{pinned}");
    // Other pins and unpinned clients are unchanged.
    let (_, other) = a.public(&pinned_url("3.")).await;
    assert!(other.contains("firefox-3.0"), "{other}");

    let got = a
        .call(None, "GET", "/v2/pins/Firefox/release/2.", None)
        .await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(
        got.body,
        json!({"product": "Firefox", "channel": "release", "version": "2.",
               "mapping": "Firefox-2.1", "data_version": 1})
    );
    let missing = a
        .call(None, "GET", "/v2/pins/Firefox/release/9.", None)
        .await;
    assert_eq!(missing.status, 404, "{}", missing.text);

    // An older build does not take the pin; the same or a newer one does.
    let older = put_pin(&a, &admin, "Firefox-2.0", pin.clone()).await;
    assert_eq!(older.status, 200, "{}", older.text);
    assert_eq!(
        older.body,
        json!({"pin_not_set": true, "reason": "existing_pin_is_newer"})
    );
    let again = put_pin(&a, &admin, "Firefox-2.1", pin.clone()).await;
    assert_eq!(again.body, json!({".": 2}), "{}", again.text);
    let history = relyard_updates::store::pin_history(&a.db, "Firefox", "release", "2.")
        .await
        .expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].old, None);
    assert_eq!(
        history[1].new.as_ref().map(|n| &n["data_version"]),
        Some(&json!(2))
    );
    assert!(history.iter().all(|h| h.changed_by == "test/admin"));

    // A release a pin names cannot be deleted, like one a rule maps to.
    let delete = a
        .call(
            Some(&admin),
            "DELETE",
            "/releases/Firefox-2.1?data_version=1",
            None,
        )
        .await;
    assert_eq!(delete.status, 400, "{}", delete.text);
    assert!(delete.text.contains("pinned"), "{}", delete.text);
}

#[tokio::test]
async fn pins_need_their_product_scope_and_valid_input() {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", &["updates:admin"]).await;
    a.put_release(&admin, "Firefox-2.0", "Firefox", release("2.0"))
        .await;
    let pin = json!({"product": "Firefox", "channel": "release", "version": "2."});

    let thunderbird = a
        .bearer("test/tb", &["updates:pinnable_release:create:Thunderbird"])
        .await;
    let refused = put_pin(&a, &thunderbird, "Firefox-2.0", pin.clone()).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let creator = a
        .bearer("test/creator", &["updates:pinnable_release:create:Firefox"])
        .await;
    let made = put_pin(&a, &creator, "Firefox-2.0", pin.clone()).await;
    assert_eq!(made.status, 200, "{}", made.text);
    // Changing an existing pin is `modify`, which this caller does not hold.
    let modify = put_pin(&a, &creator, "Firefox-2.0", pin.clone()).await;
    assert_eq!(modify.status, 403, "{}", modify.text);

    let no_release = put_pin(&a, &admin, "Firefox-9.0", pin.clone()).await;
    assert_eq!(no_release.status, 404, "{}", no_release.text);
    for version in ["2", "2.x.", "1.2.3.", ""] {
        let bad = json!({"product": "Firefox", "channel": "release", "version": version});
        let r = put_pin(&a, &admin, "Firefox-2.0", bad).await;
        assert_eq!(r.status, 400, "{version:?}: {}", r.text);
    }
    let scheduled = json!({"product": "Firefox", "channel": "release", "version": "2.",
                           "when": 4_102_444_800_000_i64});
    let r = put_pin(&a, &admin, "Firefox-2.0", scheduled).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let missing = json!({"product": "Firefox", "version": "2."});
    let r = put_pin(&a, &admin, "Firefox-2.0", missing).await;
    assert_eq!(r.status, 400, "{}", r.text);

    // Nothing but the one good request changed the pin.
    let got = a
        .call(None, "GET", "/v2/pins/Firefox/release/2.", None)
        .await;
    assert_eq!(got.body["data_version"], 1, "{}", got.text);
}
