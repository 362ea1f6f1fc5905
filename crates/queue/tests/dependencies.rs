//! Dependencies: chains, diamonds, all-resolved, and dependents becoming pending in the
//! resolving transaction.

mod common;

use common::*;
use relyard_core::ErrorCode;
use serde_json::json;

#[tokio::test]
async fn chain_runs_in_order() {
    let h = harness().await;
    let g = slug();
    let ids: Vec<String> = (0..5).map(|_| slug()).collect();
    for (i, id) in ids.iter().enumerate() {
        let deps: Vec<&String> = if i == 0 { vec![] } else { vec![&ids[i - 1]] };
        h.create_ok(
            id,
            with(body(), json!({"taskGroupId": g, "dependencies": deps})),
        )
        .await;
    }
    for (i, id) in ids.iter().enumerate() {
        for later in &ids[i + 1..] {
            assert_eq!(h.state(later).await, "unscheduled");
        }
        let (t, r) = h.claim_one().await;
        assert_eq!(&t, id);
        // The next link is pending as soon as this report returns: same transaction.
        let s = h.queue.report_completed(&t, r).await.unwrap();
        assert_eq!(s.state, "completed");
        if let Some(next) = ids.get(i + 1) {
            assert_eq!(h.state(next).await, "pending");
        }
    }
    let deps = h
        .queue
        .list_dependent_tasks(&ids[0], None, 10)
        .await
        .unwrap();
    assert_eq!(deps["tasks"][0]["status"]["taskId"], ids[1].as_str());
}

#[tokio::test]
async fn diamond_waits_for_every_branch() {
    let h = harness().await;
    let mut rx = h.bus.subscribe();
    let root = slug();
    h.create_ok(&root, body()).await;
    let mids: Vec<String> = (0..20).map(|_| slug()).collect();
    for m in &mids {
        h.create_ok(
            m,
            with(body(), json!({"taskGroupId": root, "dependencies": [root]})),
        )
        .await;
    }
    let sink = slug();
    h.create_ok(
        &sink,
        with(body(), json!({"taskGroupId": root, "dependencies": mids})),
    )
    .await;

    let (t, r) = h.claim_one().await;
    assert_eq!(t, root);
    h.queue.report_completed(&t, r).await.unwrap();
    assert_eq!(h.queue.pending_count("prov/wt").await.unwrap(), 20);
    let items = h.queue.claim_work("prov/wt", "wg", "w1", 32).await.unwrap();
    assert_eq!(items.len(), 20);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(
            h.state(&sink).await,
            "unscheduled",
            "sink waits for all {} branches",
            mids.len()
        );
        h.queue
            .report_completed(&item.status.task_id, item.run_id)
            .await
            .unwrap();
        let _ = i;
    }
    assert_eq!(h.state(&sink).await, "pending");

    // Paging over the 20 dependents of the root.
    let p1 = h.queue.list_dependent_tasks(&root, None, 15).await.unwrap();
    assert_eq!(p1["tasks"].as_array().unwrap().len(), 15);
    let tok = p1["continuationToken"].as_str().unwrap().to_string();
    let p2 = h
        .queue
        .list_dependent_tasks(&root, Some(&tok), 15)
        .await
        .unwrap();
    assert_eq!(p2["tasks"].as_array().unwrap().len(), 5);
    assert!(p2.get("continuationToken").is_none());

    let (t, r) = h.claim_one().await;
    assert_eq!(t, sink);
    h.queue.report_completed(&t, r).await.unwrap();
    let g = next_event(&mut rx, "task-group-resolved", |p| {
        p["taskGroupId"] == root.as_str()
    })
    .await;
    assert_eq!(g.event.payload["schedulerId"], "-");
}

#[tokio::test]
async fn all_completed_blocks_on_failure_and_all_resolved_does_not() {
    let h = harness().await;
    let a = slug();
    h.create_ok(&a, body()).await;
    let strict = slug();
    h.create_ok(
        &strict,
        with(body(), json!({"taskGroupId": a, "dependencies": [a]})),
    )
    .await;
    let lenient = slug();
    h.create_ok(
        &lenient,
        with(
            body(),
            json!({"taskGroupId": a, "dependencies": [a], "requires": "all-resolved"}),
        ),
    )
    .await;
    let (t, r) = h.claim_one().await;
    h.queue.report_failed(&t, r).await.unwrap();
    assert_eq!(h.state(&strict).await, "unscheduled");
    assert_eq!(h.state(&lenient).await, "pending");

    // Dependencies already resolved at creation count at once.
    let late = slug();
    let s = h
        .create_ok(
            &late,
            with(
                body(),
                json!({"taskGroupId": a, "dependencies": [a], "requires": "all-resolved"}),
            ),
        )
        .await;
    assert_eq!(s.state, "pending");
    let late2 = slug();
    let s = h
        .create_ok(
            &late2,
            with(body(), json!({"taskGroupId": a, "dependencies": [a]})),
        )
        .await;
    assert_eq!(s.state, "unscheduled");

    // A rerun that completes releases the all-completed dependents.
    h.queue.rerun_task(&a).await.unwrap();
    let items = h.queue.claim_work("prov/wt", "wg", "w1", 32).await.unwrap();
    let rerun = items
        .iter()
        .find(|i| i.status.task_id == a)
        .expect("rerun claimed");
    h.queue.report_completed(&a, rerun.run_id).await.unwrap();
    assert_eq!(h.state(&strict).await, "pending");
    assert_eq!(h.state(&late2).await, "pending");
}

#[tokio::test]
async fn missing_dependencies_are_refused_without_writes() {
    let h = harness().await;
    let before = h.row_counts().await;
    let err = h
        .create(&slug(), with(body(), json!({"dependencies": [slug()]})))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InputError);
    assert!(err.message.contains("dependencies"), "{}", err.message);
    assert_eq!(h.row_counts().await, before);
}

#[tokio::test]
async fn many_dependencies() {
    let h = harness().await;
    let g = slug();
    let ids: Vec<String> = (0..1200).map(|_| slug()).collect();
    for id in &ids {
        h.create_ok(
            id,
            with(
                body(),
                json!({"taskGroupId": g, "taskQueueId": "prov/other"}),
            ),
        )
        .await;
    }
    let sink = slug();
    let s = h
        .create_ok(
            &sink,
            with(
                body(),
                json!({"taskGroupId": g, "dependencies": ids, "requires": "all-resolved"}),
            ),
        )
        .await;
    assert_eq!(s.state, "unscheduled");
    for id in &ids {
        h.queue.cancel_task(id).await.unwrap();
    }
    assert_eq!(h.state(&sink).await, "pending");
}
