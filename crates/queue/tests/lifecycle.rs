//! The task state machine: create, schedule, claim, reclaim, resolve, retry, rerun, cancel.

mod common;

use common::*;
use relyard_core::ErrorCode;
use relyard_queue::model::{ReasonCreated, ReasonResolved, RunState};
use serde_json::json;

#[tokio::test]
async fn create_claim_complete() {
    let h = harness().await;
    let mut rx = h.bus.subscribe();
    let id = slug();
    let s = h
        .create_ok(
            &id,
            with(body(), json!({"routes": ["index.a"], "tags": {"k": "v"}})),
        )
        .await;
    assert_eq!(s.state, "pending");
    assert_eq!(s.runs[0].reason_created, ReasonCreated::Scheduled);
    let defined = next_event(&mut rx, "task-defined", |p| {
        p["status"]["taskId"] == id.as_str()
    })
    .await;
    assert_eq!(
        defined.event.routing_key,
        format!("primary.{id}._._._.prov.wt.-.{id}._")
    );
    assert_eq!(defined.event.cc, vec!["route.index.a".to_string()]);
    assert_eq!(defined.event.payload["status"]["state"], "unscheduled");
    assert_eq!(defined.event.payload["task"]["tags"]["k"], "v");
    let pending = next_event(&mut rx, "task-pending", |p| {
        p["status"]["taskId"] == id.as_str()
    })
    .await;
    assert_eq!(pending.event.payload["runId"], 0);

    let items = h.queue.claim_work("prov/wt", "wg", "w1", 4).await.unwrap();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item.status.state, "running");
    assert_eq!(item.task.metadata.name, "t");
    assert!(item
        .credentials
        .client_id
        .starts_with(&format!("task-client/{id}/0/on/wg/w1/until/")));
    let running = next_event(&mut rx, "task-running", |p| {
        p["status"]["taskId"] == id.as_str()
    })
    .await;
    assert_eq!(
        running.event.routing_key,
        format!("primary.{id}.0.wg.w1.prov.wt.-.{id}._")
    );
    assert!(running.event.payload["takenUntil"].is_string());

    let re = h.queue.reclaim_task(&id, 0).await.unwrap();
    assert!(re.taken_until >= item.taken_until);

    let s = h.queue.report_completed(&id, 0).await.unwrap();
    assert_eq!(s.state, "completed");
    assert_eq!(s.runs[0].reason_resolved, Some(ReasonResolved::Completed));
    // A repeated report is answered with the same status; a different one conflicts.
    assert_eq!(
        h.queue.report_completed(&id, 0).await.unwrap().state,
        "completed"
    );
    assert_eq!(
        h.queue.report_failed(&id, 0).await.unwrap_err().code,
        ErrorCode::RequestConflict
    );
    assert_eq!(
        h.queue.reclaim_task(&id, 0).await.unwrap_err().code,
        ErrorCode::RequestConflict
    );
    assert_eq!(
        h.queue.report_completed(&id, 1).await.unwrap_err().code,
        ErrorCode::ResourceNotFound
    );
    next_event(&mut rx, "task-completed", |p| {
        p["status"]["taskId"] == id.as_str()
    })
    .await;
    let g = next_event(&mut rx, "task-group-resolved", |p| {
        p["taskGroupId"] == id.as_str()
    })
    .await;
    assert_eq!(g.event.routing_key, format!("primary.{id}.-._"));

    let counts = h.queue.task_queue_counts("prov/wt").await.unwrap();
    assert_eq!(counts, (0, 0));
}

#[tokio::test]
async fn create_is_idempotent_for_identical_definitions() {
    let h = harness().await;
    let id = slug();
    let now = relyard_core::Timestamp::now();
    // The same instants written with more digits are the same definition.
    let b1 = with(
        body(),
        json!({"created": now.to_string(), "deadline": now.plus_secs(600).to_string()}),
    );
    let micro = |t: relyard_core::Timestamp| t.to_string().replace('Z', "000Z");
    let b2 = with(
        body(),
        json!({"created": micro(now), "deadline": micro(now.plus_secs(600))}),
    );
    h.create_ok(&id, b1.clone()).await;
    let before = h.row_counts().await;
    let again = h.create_ok(&id, b2).await;
    assert_eq!(again.state, "pending");
    assert_eq!(
        h.row_counts().await,
        before,
        "an idempotent repeat writes nothing"
    );
    let different = with(b1, json!({"priority": "high"}));
    assert_eq!(
        h.create(&id, different).await.unwrap_err().code,
        ErrorCode::RequestConflict
    );
}

#[tokio::test]
async fn failed_and_exception_reports_and_retries() {
    let h = harness().await;
    let a = slug();
    h.create_ok(&a, with(body(), json!({"retries": 1}))).await;
    let (t, r) = h.claim_one().await;
    assert_eq!((t.as_str(), r), (a.as_str(), 0));
    // worker-shutdown retries while retries are left.
    let s = h
        .queue
        .report_exception(&a, 0, "worker-shutdown")
        .await
        .unwrap();
    assert_eq!(s.runs.len(), 2);
    assert_eq!(s.runs[0].state, RunState::Exception);
    assert_eq!(s.runs[1].reason_created, ReasonCreated::Retry);
    assert_eq!(s.retries_left, 0);
    assert_eq!(s.state, "pending");
    // Repeating it changes nothing.
    assert_eq!(
        h.queue
            .report_exception(&a, 0, "worker-shutdown")
            .await
            .unwrap()
            .runs
            .len(),
        2
    );
    let (_, r) = h.claim_one().await;
    assert_eq!(r, 1);
    // No retries left: intermittent-task is final.
    let s = h
        .queue
        .report_exception(&a, 1, "intermittent-task")
        .await
        .unwrap();
    assert_eq!(s.state, "exception");
    assert_eq!(s.runs.len(), 2);
    assert_eq!(
        h.queue
            .report_exception(&a, 1, "bogus")
            .await
            .unwrap_err()
            .code,
        ErrorCode::InputValidationError
    );

    let b = slug();
    h.create_ok(&b, body()).await;
    h.claim_one().await;
    let s = h
        .queue
        .report_exception(&b, 0, "intermittent-task")
        .await
        .unwrap();
    assert_eq!(s.runs[1].reason_created, ReasonCreated::TaskRetry);
    h.claim_one().await;
    let s = h.queue.report_failed(&b, 1).await.unwrap();
    assert_eq!(s.state, "failed");

    let c = slug();
    h.create_ok(&c, body()).await;
    h.claim_one().await;
    let s = h
        .queue
        .report_exception(&c, 0, "malformed-payload")
        .await
        .unwrap();
    assert_eq!((s.state.as_str(), s.runs.len()), ("exception", 1));

    // superseded is final too, even with retries left.
    let d = slug();
    h.create_ok(&d, body()).await;
    h.claim_one().await;
    let s = h.queue.report_exception(&d, 0, "superseded").await.unwrap();
    assert_eq!((s.state.as_str(), s.runs.len()), ("exception", 1));
    assert_eq!(s.runs[0].reason_resolved, Some(ReasonResolved::Superseded));
}

#[tokio::test]
async fn cancel_schedule_and_rerun() {
    let h = harness().await;
    // cancel an unscheduled task: it gets an exception run.
    let dep = slug();
    h.create_ok(&dep, body()).await;
    let t = slug();
    let s = h
        .create_ok(
            &t,
            with(body(), json!({"dependencies": [dep], "taskGroupId": dep})),
        )
        .await;
    assert_eq!(s.state, "unscheduled");
    let s = h.queue.cancel_task(&t).await.unwrap();
    assert_eq!(s.runs[0].reason_created, ReasonCreated::Exception);
    assert_eq!(s.runs[0].reason_resolved, Some(ReasonResolved::Canceled));
    assert_eq!(
        h.queue.cancel_task(&t).await.unwrap().runs.len(),
        1,
        "cancel is idempotent"
    );

    // schedule an unscheduled task regardless of its dependencies.
    let u = slug();
    h.create_ok(
        &u,
        with(body(), json!({"dependencies": [dep], "taskGroupId": dep})),
    )
    .await;
    assert_eq!(h.queue.schedule_task(&u).await.unwrap().state, "pending");
    assert_eq!(
        h.queue.schedule_task(&u).await.unwrap().runs.len(),
        1,
        "schedule is idempotent"
    );

    // cancel a running task; the worker's reclaim then conflicts.
    let (claimed, _) = h.claim_one().await;
    let s = h.queue.cancel_task(&claimed).await.unwrap();
    assert_eq!(s.state, "exception");
    assert_eq!(
        h.queue.reclaim_task(&claimed, 0).await.unwrap_err().code,
        ErrorCode::RequestConflict
    );
    assert_eq!(
        h.queue
            .report_completed(&claimed, 0)
            .await
            .unwrap_err()
            .code,
        ErrorCode::RequestConflict
    );

    // rerun: nothing while pending; a new run once resolved; 409 at 50 runs.
    let r = slug();
    h.create_ok(&r, with(body(), json!({"retries": 0}))).await;
    assert_eq!(h.queue.rerun_task(&r).await.unwrap().runs.len(), 1);
    h.queue.cancel_task(&r).await.unwrap();
    let s = h.queue.rerun_task(&r).await.unwrap();
    assert_eq!(
        (s.state.as_str(), s.runs[1].reason_created),
        ("pending", ReasonCreated::Rerun)
    );
    for _ in 2..50 {
        h.queue.cancel_task(&r).await.unwrap();
        h.queue.rerun_task(&r).await.unwrap();
    }
    h.queue.cancel_task(&r).await.unwrap();
    assert_eq!(h.queue.status(&r).await.unwrap().runs.len(), 50);
    assert_eq!(
        h.queue.rerun_task(&r).await.unwrap_err().code,
        ErrorCode::RequestConflict
    );

    assert_eq!(
        h.queue.cancel_task(&slug()).await.unwrap_err().code,
        ErrorCode::ResourceNotFound
    );
}

#[tokio::test]
async fn groups_scheduler_ids_seal_and_cancel() {
    let h = harness().await;
    let g = slug();
    let a = slug();
    h.create_ok(
        &a,
        with(body(), json!({"taskGroupId": g, "schedulerId": "sched"})),
    )
    .await;
    let err = h
        .create(&slug(), with(body(), json!({"taskGroupId": g})))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RequestConflict);
    let b = slug();
    h.create_ok(
        &b,
        with(body(), json!({"taskGroupId": g, "schedulerId": "sched"})),
    )
    .await;

    let page1 = h.queue.list_task_group(&g, None, 1).await.unwrap();
    assert_eq!(page1["tasks"].as_array().unwrap().len(), 1);
    let token = page1["continuationToken"].as_str().unwrap().to_string();
    let page2 = h.queue.list_task_group(&g, Some(&token), 1).await.unwrap();
    assert_eq!(page2["tasks"].as_array().unwrap().len(), 1);
    assert_ne!(
        page1["tasks"][0]["status"]["taskId"],
        page2["tasks"][0]["status"]["taskId"]
    );
    assert_eq!(page2["schedulerId"], "sched");

    let mut rx = h.bus.subscribe();
    let info = h.queue.seal_task_group(&g).await.unwrap();
    assert!(info.sealed.is_some());
    next_event(&mut rx, "task-group-sealed", |p| {
        p["taskGroupId"] == g.as_str()
    })
    .await;
    let before = h.row_counts().await;
    let err = h
        .create(
            &slug(),
            with(body(), json!({"taskGroupId": g, "schedulerId": "sched"})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RequestConflict);
    assert_eq!(
        h.row_counts().await,
        before,
        "a refused createTask writes nothing"
    );

    let res = h.queue.cancel_task_group(&g).await.unwrap();
    assert_eq!(res.task_group_size, 2);
    assert_eq!(res.cancelled_count, 2);
    next_event(&mut rx, "task-group-resolved", |p| {
        p["taskGroupId"] == g.as_str() && p["sealed"].is_string()
    })
    .await;
    assert_eq!(h.state(&a).await, "exception");
    assert_eq!(
        h.queue.task_group(&slug()).await.unwrap_err().code,
        ErrorCode::ResourceNotFound
    );
}
