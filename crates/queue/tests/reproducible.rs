//! Reproducibility reruns (`extra.reproducibleOf`) go to another worker than the original's
//! while one is claiming; and a task waiting on two tasks that resolve at once is scheduled.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::json;

fn ids(items: &[relyard_queue::ClaimItem]) -> BTreeSet<String> {
    items.iter().map(|i| i.status.task_id.clone()).collect()
}

/// The original, its rerun and a plain task behind them, all pending on `prov/wt`.
async fn original_rerun_and_another(h: &Harness) -> (String, String, String) {
    let (original, rerun, other) = (slug(), slug(), slug());
    h.create_ok(&original, body()).await;
    h.create_ok(
        &rerun,
        with(body(), json!({"extra": {"reproducibleOf": original}})),
    )
    .await;
    h.create_ok(&other, body()).await;
    (original, rerun, other)
}

#[tokio::test]
async fn a_rerun_waits_for_another_worker_while_one_is_claiming() {
    let h = harness().await;
    // w2 has asked for work (nothing yet): the queue knows it is claiming.
    assert!(h
        .queue
        .try_claim("prov/wt", "wg", "w2", 1)
        .await
        .unwrap()
        .is_empty());
    let (original, rerun, other) = original_rerun_and_another(&h).await;

    // w1 takes the original and looks past the held-back rerun to the task behind it.
    let first = h.queue.try_claim("prov/wt", "wg", "w1", 3).await.unwrap();
    assert_eq!(
        ids(&first),
        BTreeSet::from([original.clone(), other.clone()])
    );
    // w1 does not get the rerun of its own task; w2 does.
    assert!(h
        .queue
        .try_claim("prov/wt", "wg", "w1", 3)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(h.state(&rerun).await, "pending");
    let second = h.queue.try_claim("prov/wt", "wg", "w2", 3).await.unwrap();
    assert_eq!(ids(&second), BTreeSet::from([rerun.clone()]));
    assert_eq!(second[0].worker_id, "w2");
}

#[tokio::test]
async fn with_one_worker_claiming_it_runs_both() {
    let h = harness().await;
    let (original, rerun, other) = original_rerun_and_another(&h).await;
    let all = h.queue.try_claim("prov/wt", "wg", "w1", 3).await.unwrap();
    assert_eq!(ids(&all), BTreeSet::from([original, rerun, other]));
}

#[tokio::test]
async fn a_task_waiting_on_two_tasks_resolved_at_once_is_scheduled() {
    let h = harness().await;
    for _ in 0..10 {
        let (a, b, sink) = (slug(), slug(), slug());
        h.create_ok(&a, body()).await;
        h.create_ok(&b, body()).await;
        h.create_ok(&sink, with(body(), json!({"dependencies": [a, b]})))
            .await;
        let claimed = h.queue.try_claim("prov/wt", "wg", "w1", 2).await.unwrap();
        assert_eq!(ids(&claimed), BTreeSet::from([a.clone(), b.clone()]));
        // Two workers reporting in the same moment (two transactions on PostgreSQL).
        let (ra, rb) = tokio::join!(
            h.queue.report_completed(&a, 0),
            h.queue.report_completed(&b, 0)
        );
        ra.expect("a completes");
        rb.expect("b completes");
        assert_eq!(
            h.state(&sink).await,
            "pending",
            "the sink was never scheduled"
        );
        let sink_claim = h.queue.try_claim("prov/wt", "wg", "w1", 1).await.unwrap();
        assert_eq!(ids(&sink_claim), BTreeSet::from([sink]));
        h.queue
            .report_completed(&sink_claim[0].status.task_id, 0)
            .await
            .expect("sink completes");
    }
}
