//! claimWork: ordering, batching, wake-ups, shutdown, and no double claims.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use relyard_queue::QueueConfig;
use serde_json::json;

#[tokio::test]
async fn claims_by_priority_then_age() {
    let h = harness().await;
    let low = slug();
    h.create_ok(&low, with(body(), json!({"priority": "low"})))
        .await;
    let lowest = slug();
    h.create_ok(&lowest, body()).await;
    let high = slug();
    h.create_ok(&high, with(body(), json!({"priority": "high"})))
        .await;
    let low2 = slug();
    h.create_ok(&low2, with(body(), json!({"priority": "low"})))
        .await;
    let highest = slug();
    h.create_ok(&highest, with(body(), json!({"priority": "highest"})))
        .await;

    let listed = h
        .queue
        .list_pending_tasks("prov/wt", None, 2)
        .await
        .unwrap();
    assert_eq!(
        listed
            .0
            .iter()
            .map(|p| p.task_id.clone())
            .collect::<Vec<_>>(),
        vec![highest.clone(), high.clone()]
    );
    let rest = h
        .queue
        .list_pending_tasks("prov/wt", listed.1.as_deref(), 10)
        .await
        .unwrap();
    assert_eq!(rest.0.len(), 3);

    let order: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(h.claim_one().await.0);
        }
        v
    };
    assert_eq!(order, vec![highest, high, low, low2, lowest]);
    assert_eq!(h.queue.task_queue_counts("prov/wt").await.unwrap(), (0, 5));
    let claimed = h
        .queue
        .list_claimed_tasks("prov/wt", None, 10)
        .await
        .unwrap();
    assert_eq!(claimed.0.len(), 5);
    assert!(h
        .queue
        .claim_work("prov/wt", "wg", "w1", 1)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn claims_up_to_the_requested_count() {
    let h = harness().await;
    for _ in 0..40 {
        h.create_ok(&slug(), body()).await;
    }
    assert_eq!(
        h.queue
            .claim_work("prov/wt", "wg", "w1", 32)
            .await
            .unwrap()
            .len(),
        32
    );
    assert_eq!(
        h.queue
            .claim_work("prov/wt", "wg", "w1", 32)
            .await
            .unwrap()
            .len(),
        8
    );
}

#[tokio::test]
async fn a_waiting_claim_wakes_when_a_task_becomes_pending() {
    let h = harness_with(QueueConfig {
        claim_wait: Duration::from_secs(60),
        ..QueueConfig::default()
    })
    .await;
    let dep = slug();
    h.create_ok(&dep, with(body(), json!({"taskQueueId": "prov/elsewhere"})))
        .await;
    let t = slug();
    h.create_ok(
        &t,
        with(body(), json!({"taskGroupId": dep, "dependencies": [dep]})),
    )
    .await;

    let mut rx = h.bus.subscribe();
    let q = Arc::clone(&h.queue);
    let waiter = tokio::spawn(async move { q.claim_work("prov/wt", "wg", "w1", 1).await });
    // Wait until the claimer has looked once and found nothing: its empty look is a read, so
    // watch for it indirectly by letting the task run, then resolve the dependency.
    tokio::task::yield_now().await;
    let other = h
        .queue
        .claim_work("prov/elsewhere", "wg", "w2", 1)
        .await
        .unwrap();
    h.queue
        .report_completed(&dep, other[0].run_id)
        .await
        .unwrap();
    next_event(&mut rx, "task-pending", |p| {
        p["status"]["taskId"] == t.as_str()
    })
    .await;
    // The 60 s long poll answers with the task long before it would have given up.
    let items = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("woken")
        .unwrap()
        .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].status.task_id, t);
}

#[tokio::test]
async fn shutdown_ends_waiting_claims_at_once() {
    let h = harness_with(QueueConfig {
        claim_wait: Duration::from_secs(600),
        ..QueueConfig::default()
    })
    .await;
    let q = Arc::clone(&h.queue);
    let waiter = tokio::spawn(async move { q.claim_work("prov/wt", "wg", "w1", 1).await });
    tokio::task::yield_now().await;
    h.shutdown.cancel();
    let items = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("returned")
        .unwrap()
        .unwrap();
    assert!(items.is_empty());
}

#[tokio::test]
async fn concurrent_claimers_never_share_a_task() {
    let h = harness().await;
    let mut all = HashSet::new();
    for _ in 0..200 {
        let id = slug();
        h.create_ok(&id, body()).await;
        all.insert(id);
    }
    let mut joins = Vec::new();
    for w in 0..8 {
        let q = Arc::clone(&h.queue);
        joins.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let items = q
                    .claim_work("prov/wt", "wg", &format!("w{w}"), 7)
                    .await
                    .unwrap();
                if items.is_empty() {
                    return got;
                }
                for i in items {
                    q.report_completed(&i.status.task_id, i.run_id)
                        .await
                        .unwrap();
                    got.push(i.status.task_id);
                }
            }
        }));
    }
    let mut seen = HashSet::new();
    for j in joins {
        for id in j.await.unwrap() {
            assert!(seen.insert(id), "a task was claimed twice");
        }
    }
    assert_eq!(seen, all);
}
