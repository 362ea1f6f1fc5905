//! Every admin endpoint answers bad input (broken JSON, wrong types, missing fields, NULs,
//! unknown ids) with a 4xx, never a 500, on both backends.

#[path = "common/admin.rs"]
mod admin_common;

use admin_common::{empty_blob, Admin};
use serde_json::json;

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/rules"),
    ("PUT", "/rules/1"),
    ("POST", "/rules/1"),
    ("DELETE", "/rules/1?data_version=x"),
    ("DELETE", "/rules/zz?data_version=1"),
    ("POST", "/rules/1/revisions"),
    ("GET", "/rules/1/revisions?page=0&limit=x"),
    ("GET", "/rules/columns/%00"),
    ("POST", "/releases"),
    ("PUT", "/releases/R"),
    ("POST", "/releases/R"),
    ("DELETE", "/releases/R?data_version=%00"),
    ("PUT", "/releases/R/builds/p/l"),
    ("PUT", "/releases/R/read_only"),
    ("GET", "/releases/%00"),
    ("GET", "/releases/R/revisions?page=-1"),
    ("POST", "/scheduled_changes/rules"),
    ("POST", "/scheduled_changes/rules/1"),
    ("DELETE", "/scheduled_changes/rules/1?data_version=q"),
    ("POST", "/scheduled_changes/rules/1/signoffs"),
    ("POST", "/scheduled_changes/rules/1/enact"),
    ("POST", "/scheduled_changes/releases"),
    ("POST", "/scheduled_changes/releases/1"),
    ("POST", "/scheduled_changes/releases/1/signoffs"),
    ("GET", "/scheduled_changes/releases/99999999999999999999"),
    ("POST", "/required_signoffs/product"),
    ("DELETE", "/required_signoffs/product?product=F"),
    ("POST", "/emergency_shutoff"),
    ("DELETE", "/emergency_shutoff/F/c?data_version=1"),
    ("PUT", "/v2/releases/R"),
    ("POST", "/v2/releases/R"),
    ("PUT", "/v2/releases/R/read_only"),
    ("GET", "/users/%00/roles"),
];

#[tokio::test]
async fn bad_input_is_never_a_500() {
    let a = Admin::start().await;
    let admin = a
        .bearer("test/admin", &["updates:admin", "updates:role:*"])
        .await;
    let blob = json!({"name": "R", "product": "Firefox", "blob": empty_blob("R")});
    a.call(Some(&admin), "PUT", "/releases/R", Some(&blob))
        .await;
    a.protected_rule(&admin, "R", 1).await;
    let wrong_types = json!({
        "data_version": "x", "sc_data_version": [], "when": {}, "role": 5, "product": 1,
        "channel": true, "name": 3, "blob": 7, "data": 8, "mapping": [], "priority": "p",
        "backgroundRate": {}, "rule_id": "r", "change_type": 9, "read_only": "maybe",
        "change_id": "c", "signoffs_required": "n", "old_data_versions": {".": "x"},
        "old_data_version": null, "alias": 1, "jaws": 2,
    });
    let bodies = [
        "{".to_string(),
        "[]".to_string(),
        "\"x\"".to_string(),
        "null".to_string(),
        "{}".to_string(),
        wrong_types.to_string(),
        json!({"product": "a\u{0}b", "name": "R", "mapping": "R\u{0}"}).to_string(),
        json!({"change_type": "update", "rule_id": 424242, "data_version": 1,
               "when": 99999999999999_i64})
        .to_string(),
    ];
    for (method, path) in ROUTES {
        for body in &bodies {
            let r = a
                .call_raw(Some(&admin), method, path, Some(body), "application/json")
                .await;
            assert!(
                (400..500).contains(&r.status),
                "{method} {path} {body}: {} {}",
                r.status,
                r.text
            );
        }
        let form = a
            .call_raw(
                Some(&admin),
                method,
                path,
                Some("data_version=x&when=%00&role="),
                "application/x-www-form-urlencoded",
            )
            .await;
        assert!(
            (400..500).contains(&form.status),
            "{method} {path} form: {} {}",
            form.status,
            form.text
        );
    }
}
