//! The server's background loop enacts a due, signed-off scheduled change and serves it.

use std::time::Duration;

use relyard_testing::TestDb;
use relyard_updates::store::{self, ChangeType, NewChange};

use crate::common::{seed, server_on, wait_until_served};

#[tokio::test]
async fn a_due_scheduled_change_is_enacted_and_served() {
    let db = TestDb::new().await;
    let (server, _data) = server_on(&db, |c| {
        c.updates.scheduler_interval = Duration::from_millis(200);
    })
    .await;
    let rule = seed(&server.db).await;
    server.updates.changed().await.expect("reload");
    wait_until_served(&server, r#"displayVersion="2.0""#, Duration::from_secs(5)).await;

    let mut next = rule.clone();
    next.mapping = Some("Firefox-3.0".into());
    let when = relyard_core::Timestamp::now().millis() + 300;
    let sc = store::schedule_rule_change(
        &server.db,
        "tester",
        &NewChange {
            change_type: ChangeType::Update,
            rule: next,
            when,
        },
    )
    .await
    .expect("scheduled");
    // Nothing protects this product, so no sign-off is needed: it is enacted when due.
    wait_until_served(&server, r#"displayVersion="3.0""#, Duration::from_secs(10)).await;
    assert!(relyard_core::Timestamp::now().millis() >= when);
    let done = store::get_scheduled_change(&server.db, sc.sc_id)
        .await
        .expect("read")
        .expect("exists");
    assert!(done.complete, "{done:?}");
    server.stop().await.expect("stops");
}
