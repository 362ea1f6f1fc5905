//! The Secrets API over HTTP (in-process, `oneshot`), with a chosen caller in place of Hawk.

mod common;

use axum::http::{Method, StatusCode};
use common::{app, call, ctx, in_days, set_body, setup};
use relyard_core::Timestamp;
use relyard_store::Row;
use serde_json::{json, Value};

const ALL: &[&str] = &["secrets:*"];

#[tokio::test]
async fn ping() {
    let (_db, svc) = setup().await;
    let (status, body) = call(&app(&svc, "c", &[]), Method::GET, "/ping", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["alive"], json!(true));
}

#[tokio::test]
async fn set_get_list_remove() {
    let (_db, svc) = setup().await;
    let api = app(&svc, "admin", ALL);
    let expires = Timestamp::parse("2099-05-06T07:08:09.010Z").unwrap();
    let (s, body) = call(
        &api,
        Method::PUT,
        "/secret/plain",
        Some(&set_body(r#"{"k": "v"}"#, expires)),
    )
    .await;
    assert_eq!((s, body), (StatusCode::OK, json!({})));

    let (s, body) = call(&api, Method::GET, "/secret/plain", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        json!({"secret": {"k": "v"}, "expires": "2099-05-06T07:08:09.010Z"})
    );

    let (s, body) = call(&api, Method::GET, "/secrets", None).await;
    assert_eq!((s, body), (StatusCode::OK, json!({"secrets": ["plain"]})));

    let (s, body) = call(&api, Method::DELETE, "/secret/plain", None).await;
    assert_eq!((s, body), (StatusCode::OK, json!({})));
    let (s, body) = call(&api, Method::GET, "/secret/plain", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "ResourceNotFound");
    assert_eq!(body["requestInfo"]["path"], "/api/secrets/v1/secret/plain");
}

/// Taskcluster's `remove` "will succeed whether or not the secret exists"; the audit tells apart.
#[tokio::test]
async fn remove_of_a_missing_secret_succeeds_and_is_audited_as_not_found() {
    let (_db, svc) = setup().await;
    let (s, body) = call(&app(&svc, "c", ALL), Method::DELETE, "/secret/never", None).await;
    assert_eq!((s, body), (StatusCode::OK, json!({})));
    let (_, log) = call(&app(&svc, "c", ALL), Method::GET, "/audit", None).await;
    assert_eq!(log["entries"][0]["outcome"], "not-found");
    assert_eq!(log["entries"][0]["action"], "remove");
}

#[tokio::test]
async fn names_with_slashes_raw_or_percent_encoded() {
    let (_db, svc) = setup().await;
    let api = app(
        &svc,
        "c",
        &[
            "secrets:set:project/releng/*",
            "secrets:get:project/releng/*",
        ],
    );
    // Set with the encoding the official clients use, read back with raw slashes, and vice versa.
    let body = set_body(r#"{"n": 1}"#, in_days(1));
    assert_eq!(
        call(
            &api,
            Method::PUT,
            "/secret/project%2Freleng%2Fdeploy",
            Some(&body)
        )
        .await
        .0,
        StatusCode::OK
    );
    let (s, got) = call(&api, Method::GET, "/secret/project/releng/deploy", None).await;
    assert_eq!((s, &got["secret"]), (StatusCode::OK, &json!({"n": 1})));

    let body = set_body(r#"{"n": 2}"#, in_days(1));
    assert_eq!(
        call(
            &api,
            Method::PUT,
            "/secret/project/releng/sign",
            Some(&body)
        )
        .await
        .0,
        StatusCode::OK
    );
    let (s, got) = call(&api, Method::GET, "/secret/project%2Freleng%2Fsign", None).await;
    assert_eq!((s, &got["secret"]), (StatusCode::OK, &json!({"n": 2})));

    let all = app(&svc, "c", ALL);
    let (_, list) = call(&all, Method::GET, "/secrets", None).await;
    let mut names: Vec<String> = serde_json::from_value(list["secrets"].clone()).unwrap();
    names.sort();
    assert_eq!(names, ["project/releng/deploy", "project/releng/sign"]);

    // The scope is checked against the decoded name.
    let narrow = app(&svc, "c", &["secrets:get:project/releng/deploy"]);
    assert_eq!(
        call(
            &narrow,
            Method::GET,
            "/secret/project%2Freleng%2Fdeploy",
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &narrow,
            Method::GET,
            "/secret/project%2Freleng%2Fsign",
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    assert_eq!(
        call(
            &api,
            Method::DELETE,
            "/secret/project%2Freleng%2Fdeploy",
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&api, Method::GET, "/secret/project/releng/deploy", None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn forbidden_whether_or_not_the_secret_exists_and_nothing_is_touched() {
    let (tdb, svc) = setup().await;
    svc.set("exists", json!({"v": 1}), in_days(1), &ctx("owner"))
        .await
        .unwrap();
    let outsider = app(
        &svc,
        "outsider",
        &["secrets:get:other", "secrets:set:other"],
    );
    let body = set_body(r#"{"v": 2}"#, in_days(1));
    for name in ["exists", "missing"] {
        let path = format!("/secret/{name}");
        let answers = [
            call(&outsider, Method::GET, &path, None).await,
            call(&outsider, Method::PUT, &path, Some(&body)).await,
            call(&outsider, Method::DELETE, &path, None).await,
            // Scopes come first: even a bad body gets 403, not 400.
            call(&outsider, Method::PUT, &path, Some("{}")).await,
        ];
        for (s, b) in answers {
            assert_eq!(s, StatusCode::FORBIDDEN, "{name}: {b}");
            assert_eq!(b["code"], "InsufficientScopes");
            assert!(b["requestInfo"]["details"]["unsatisfied"]
                .as_str()
                .unwrap()
                .ends_with(&format!(":{name}")));
        }
    }
    assert_eq!(
        call(&outsider, Method::GET, "/secrets", None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&outsider, Method::GET, "/audit", None).await.0,
        StatusCode::FORBIDDEN
    );
    // Refused calls left no audit rows and did not change the secret.
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM secrets_audit")
        .fetch_one(tdb.db.reader())
        .await
        .unwrap()
        .get("n");
    assert_eq!(n, 1);
    assert_eq!(
        svc.get("exists", &ctx("owner")).await.unwrap().secret,
        json!({"v": 1})
    );
}

#[tokio::test]
async fn expired_answers_404_and_is_purged() {
    let (tdb, svc) = setup().await;
    let api = app(&svc, "c", ALL);
    let past = Timestamp::now().plus_secs(-30);
    assert_eq!(
        call(
            &api,
            Method::PUT,
            "/secret/stale",
            Some(&set_body("{}", past))
        )
        .await
        .0,
        StatusCode::OK
    );
    let (_, list) = call(&api, Method::GET, "/secrets", None).await;
    assert_eq!(list["secrets"], json!([]));
    let (s, body) = call(&api, Method::GET, "/secret/stale", None).await;
    assert_eq!(
        (s, body["code"].clone()),
        (StatusCode::NOT_FOUND, json!("ResourceNotFound"))
    );
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM secrets")
        .fetch_one(tdb.db.reader())
        .await
        .unwrap()
        .get("n");
    assert_eq!(n, 0);
}

#[tokio::test]
async fn bad_bodies_are_400_naming_the_problem_and_write_nothing() {
    let (_db, svc) = setup().await;
    let api = app(&svc, "c", ALL);
    let exp = in_days(1);
    let cases = [
        (
            format!(r#"{{"secret": {{}}, "expires": "{exp}", "extra": 1}}"#),
            "\"extra\"",
        ),
        (r#"{"secret": {}}"#.to_string(), "\"expires\""),
        (format!(r#"{{"expires": "{exp}"}}"#), "\"secret\""),
        (
            format!(r#"{{"secret": "text", "expires": "{exp}"}}"#),
            "\"secret\" must be a JSON object",
        ),
        (
            format!(r#"{{"secret": [1, 2], "expires": "{exp}"}}"#),
            "\"secret\" must be a JSON object",
        ),
        (
            r#"{"secret": {}, "expires": "soon"}"#.to_string(),
            "invalid date-time",
        ),
        ("{not json".to_string(), "not valid JSON"),
    ];
    for (body, needle) in cases {
        let (s, b) = call(&api, Method::PUT, "/secret/x", Some(&body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(b["code"], "InputValidationError");
        assert!(
            b["message"].as_str().unwrap().contains(needle),
            "{body}: {}",
            b["message"]
        );
    }
    assert_eq!(
        call(&api, Method::GET, "/secret/x", None).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, log) = call(&api, Method::GET, "/audit", None).await;
    // Only the final get: a refused set is never audited as a write.
    assert_eq!(log["entries"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn list_pages_with_limit_and_token() {
    let (_db, svc) = setup().await;
    for i in 0..5 {
        svc.set(&format!("s{i}"), json!({}), in_days(1), &ctx("c"))
            .await
            .unwrap();
    }
    let api = app(&svc, "c", &["secrets:list-secrets"]);
    let mut seen = Vec::new();
    let mut path = "/secrets?limit=2".to_string();
    loop {
        let (s, body) = call(&api, Method::GET, &path, None).await;
        assert_eq!(s, StatusCode::OK);
        seen.extend(
            body["secrets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string()),
        );
        match body["continuationToken"].as_str() {
            Some(t) => path = format!("/secrets?limit=2&continuationToken={t}"),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["s0", "s1", "s2", "s3", "s4"]);
    let (s, body) = call(&api, Method::GET, "/secrets?limit=0", None).await;
    assert_eq!(
        (s, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("InvalidRequestArguments"))
    );
    let (s, _) = call(
        &api,
        Method::GET,
        "/secrets?continuationToken=garbage!",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn audit_endpoint_lists_accesses_without_values() {
    let (_db, svc) = setup().await;
    let canary = "audit-canary-value-41c9";
    let alice = app(&svc, "alice", ALL);
    let body = set_body(&format!(r#"{{"pw": "{canary}"}}"#), in_days(1));
    call(&alice, Method::PUT, "/secret/db%2Fpw", Some(&body)).await;
    call(
        &app(&svc, "bob", &["secrets:get:*"]),
        Method::GET,
        "/secret/db/pw",
        None,
    )
    .await;
    call(&alice, Method::GET, "/secret/other", None).await;

    let auditor = app(&svc, "auditor", &["secrets:audit"]);
    let (s, log) = call(&auditor, Method::GET, "/audit", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!log.to_string().contains(canary));
    let entries = log["entries"].as_array().unwrap();
    let summary: Vec<(String, String, String, String)> = entries.iter().map(fields).collect();
    let want = [
        ("alice", "get", "other", "not-found"),
        ("bob", "get", "db/pw", "ok"),
        ("alice", "set", "db/pw", "ok"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(c, a, n, o)| (c.to_string(), a.to_string(), n.to_string(), o.to_string()))
        .collect();
    assert_eq!(summary, want);
    let e = &entries[0];
    assert_eq!(e["sourceIp"], common::CLIENT_IP);
    assert!(Timestamp::parse(e["time"].as_str().unwrap()).is_ok());
    let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 6, "{e}");

    let (_, filtered) = call(&auditor, Method::GET, "/audit?name=db%2Fpw&limit=1", None).await;
    assert_eq!(filtered["entries"].as_array().unwrap().len(), 1);
    assert_eq!(filtered["entries"][0]["clientId"], "bob");
    let token = filtered["continuationToken"].as_str().unwrap();
    let (_, rest) = call(
        &auditor,
        Method::GET,
        &format!("/audit?name=db%2Fpw&continuationToken={token}"),
        None,
    )
    .await;
    assert_eq!(rest["entries"][0]["action"], "set");
    assert!(rest.get("continuationToken").is_none());
}

fn fields(e: &Value) -> (String, String, String, String) {
    let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
    (s("clientId"), s("action"), s("name"), s("outcome"))
}
