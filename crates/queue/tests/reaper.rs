//! The reaper, driven with an injected clock: claim expiry with retries, deadlines, expiry.

mod common;

use std::time::Duration;

use common::*;
use relyard_core::{ErrorCode, Timestamp};
use relyard_queue::model::{ReasonCreated, ReasonResolved};
use relyard_queue::QueueConfig;
use serde_json::json;

#[tokio::test]
async fn expired_claims_are_retried_while_retries_remain() {
    let h = harness().await;
    let id = slug();
    h.create_ok(&id, with(body(), json!({"retries": 1}))).await;
    h.claim_one().await;
    let later = Timestamp::now().plus_secs(1201);
    let report = h.queue.reap(later).await.unwrap();
    assert_eq!(report.claims_expired, 1);
    let s = h.queue.status(&id).await.unwrap();
    assert_eq!(
        s.runs[0].reason_resolved,
        Some(ReasonResolved::ClaimExpired)
    );
    assert_eq!(s.runs[1].reason_created, ReasonCreated::Retry);
    assert_eq!(s.state, "pending");
    // The late worker learns its run is gone.
    assert_eq!(
        h.queue.reclaim_task(&id, 0).await.unwrap_err().code,
        ErrorCode::RequestConflict
    );
    // A second pass finds nothing more to do.
    assert_eq!(h.queue.reap(later).await.unwrap().claims_expired, 0);
    h.claim_one().await;
    h.queue
        .reap(Timestamp::now().plus_secs(1201))
        .await
        .unwrap();
    let s = h.queue.status(&id).await.unwrap();
    assert_eq!((s.state.as_str(), s.runs.len()), ("exception", 2));
}

#[tokio::test]
async fn deadlines_resolve_unscheduled_pending_and_running_tasks() {
    // A claim that outlives the deadline, so the running task meets its deadline, not claim expiry.
    let h = harness_with(QueueConfig {
        claim_timeout_secs: 7200,
        claim_wait: Duration::from_millis(300),
        ..QueueConfig::default()
    })
    .await;
    let mut rx = h.bus.subscribe();
    let running = slug();
    h.create_ok(&running, body()).await;
    h.claim_one().await;
    let pending = slug();
    h.create_ok(&pending, with(body(), json!({"taskGroupId": running})))
        .await;
    let unscheduled = slug();
    h.create_ok(
        &unscheduled,
        with(
            body(),
            json!({"taskGroupId": running, "dependencies": [pending]}),
        ),
    )
    .await;

    let report = h
        .queue
        .reap(Timestamp::now().plus_secs(3601))
        .await
        .unwrap();
    assert_eq!(report.deadlines_exceeded, 3);
    for id in [&running, &pending, &unscheduled] {
        let s = h.queue.status(id).await.unwrap();
        assert_eq!(s.state, "exception");
        assert_eq!(
            s.runs.last().unwrap().reason_resolved,
            Some(ReasonResolved::DeadlineExceeded)
        );
    }
    let s = h.queue.status(&unscheduled).await.unwrap();
    assert_eq!(s.runs[0].reason_created, ReasonCreated::Exception);
    assert_eq!(h.queue.task_queue_counts("prov/wt").await.unwrap(), (0, 0));
    next_event(&mut rx, "task-group-resolved", |p| {
        p["taskGroupId"] == running.as_str()
    })
    .await;
}

#[tokio::test]
async fn expired_tasks_are_deleted() {
    let h = harness().await;
    let id = slug();
    h.create_ok(&id, body()).await;
    let keep = slug();
    let now = Timestamp::now();
    h.create_ok(
        &keep,
        with(body(), json!({"expires": now.plus_days(30).to_string()})),
    )
    .await;
    let report = h.queue.reap(now.plus_days(400)).await.unwrap();
    assert_eq!(report.tasks_deleted, 2);
    assert_eq!(
        h.queue.status(&id).await.unwrap_err().code,
        ErrorCode::ResourceNotFound
    );
    assert_eq!(h.queue.pending_count("prov/wt").await.unwrap(), 0);
}
