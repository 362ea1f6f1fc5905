//! Two servers on one database: a change written through server A is served by server B,
//! which hears of it only through the bus (PostgreSQL) or its data-version check (SQLite).

use std::time::Duration;

use relyard_testing::TestDb;
use relyard_updates::store;

use crate::common::{seed, server_on, wait_until_served};

#[tokio::test]
async fn a_change_through_one_server_is_served_by_the_other() {
    let db = TestDb::new().await;
    let (a, _a_data) = server_on(&db, |_| {}).await;
    let (b, _b_data) = server_on(&db, |_| {}).await;

    let rule = seed(&a.db).await;
    a.updates.changed().await.expect("A reloads");
    wait_until_served(&b, r#"displayVersion="2.0""#, Duration::from_secs(10)).await;

    let mut moved = rule.clone();
    moved.mapping = Some("Firefox-3.0".into());
    store::update_rule(&a.db, "tester", &moved)
        .await
        .expect("rule updated");
    a.updates.changed().await.expect("A reloads");
    wait_until_served(&b, r#"displayVersion="3.0""#, Duration::from_secs(10)).await;

    // B's periodic check finds nothing new: no further load.
    let loads = *b.updates.loads().borrow();
    assert!(!b.updates.reload_if_changed().await.expect("check"));
    assert_eq!(*b.updates.loads().borrow(), loads);

    a.stop().await.expect("A stops");
    b.stop().await.expect("B stops");
}
