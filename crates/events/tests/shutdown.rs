//! Shutting down: the publisher's last drain of the outbox finishes before `Bus::stopped`
//! returns, so a server that closes its database after it neither loses that drain's events
//! to a closed pool nor leaves them for its next start.

use relyard_events::{enqueue, Bus, BusConfig, Event};
use relyard_testing::TestDb;
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn stopped_returns_after_the_last_drain_delivered_what_was_committed() {
    let test_db = TestDb::new().await;
    let db = test_db.db.clone();
    db.migrate(&relyard_events::migrations())
        .await
        .expect("migrate");
    let shutdown = CancellationToken::new();
    let bus = Bus::start(db.clone(), BusConfig::default(), shutdown.clone())
        .await
        .expect("bus");
    let mut events = bus.subscribe();

    // Committed without a kick: only the drain at shutdown (or a sweep a second later)
    // publishes it.
    let event = Event {
        exchange: "exchange/taskcluster-queue/v1/task-pending".into(),
        routing_key: "primary.TASKID.0._._.prov.wt.-.GROUP._".into(),
        cc: vec![],
        payload: json!({"status": {"taskId": "TASKID"}}),
    };
    let mut tx = db.begin().await.expect("begin");
    enqueue(&mut tx, &event).await.expect("enqueue");
    tx.commit().await.expect("commit");

    shutdown.cancel();
    bus.stopped().await;
    let delivered = events
        .try_recv()
        .expect("the event was delivered before stopped()");
    assert_eq!(delivered.event.payload, event.payload);
    db.close().await;
}
