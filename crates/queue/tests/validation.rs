//! createTask validation: 400s naming the field, and nothing written.

mod common;

use common::*;
use relyard_core::Timestamp;
use serde_json::json;

#[tokio::test]
async fn invalid_definitions_are_refused_by_field() {
    let h = harness().await;
    let now = Timestamp::now();
    let cases = vec![
        (json!({"unknownField": 1}), "unknownField"),
        (
            json!({"created": now.plus_secs(-16 * 60).to_string()}),
            "created",
        ),
        (
            json!({"deadline": now.plus_days(5).plus_secs(16 * 60).to_string()}),
            "deadline",
        ),
        (
            json!({"deadline": now.plus_secs(-60).to_string(), "created": now.plus_secs(-120).to_string()}),
            "deadline",
        ),
        (json!({"expires": now.plus_secs(60).to_string()}), "expires"),
        (json!({"retries": 99}), "retries"),
        (json!({"taskGroupId": "not-a-slug"}), "taskGroupId"),
        (json!({"schedulerId": "has space"}), "schedulerId"),
        (json!({"routes": ["x".repeat(250)]}), "routes"),
        (json!({"dependencies": [slug(), "bad"]}), "dependencies"),
        (json!({"metadata": {"name": "n"}}), "metadata"),
        (json!({"payload": []}), "payload"),
        (json!({"created": "yesterday"}), "created"),
    ];
    let before = h.row_counts().await;
    for (patch, field) in cases {
        let err = h
            .create(&slug(), with(body(), patch))
            .await
            .expect_err(field);
        assert_eq!(
            err.status(),
            http::StatusCode::BAD_REQUEST,
            "{field}: {}",
            err.message
        );
        assert!(err.message.contains(field), "{field}: {}", err.message);
    }
    let mut no_payload = body();
    no_payload.as_object_mut().unwrap().remove("payload");
    let err = h.create(&slug(), no_payload).await.unwrap_err();
    assert!(err.message.contains("payload"));
    let err = h.queue.task_definition(&slug(), b"{not json").unwrap_err();
    assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
    let err = h.create("not-a-slugid", body()).await.unwrap_err();
    assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
    assert_eq!(
        h.row_counts().await,
        before,
        "refused requests write nothing"
    );
}
