//! Start-up steps before the first claim: numeric order, a failing step retried before the next,
//! exit 2 halts; and the hook hears about steps and tasks.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::common::{sh, Env};

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[tokio::test]
async fn steps_run_in_numeric_order_and_a_failing_step_is_retried_before_the_next() {
    let env = Env::new().await;
    let steps = env.path("steps");
    std::fs::create_dir(&steps).expect("mkdir");
    let order = env.path("order");
    let flag = env.path("failed-once");
    let o = order.display();
    script(&steps.join("2-first"), &format!("echo 2-first >> {o}"));
    script(&steps.join("10-last"), &format!(
        "if [ ! -e {f} ]; then touch {f}; echo 10-last-failed >> {o}; exit 1; fi; echo 10-last >> {o}",
        f = flag.display()
    ));
    script(&steps.join("3-middle"), &format!("echo 3-middle >> {o}"));
    let hook_log = env.path("hook.log");
    let hook = env.path("hook");
    script(
        &hook,
        &format!(
            "cat >> {}; echo >> {}",
            hook_log.display(),
            hook_log.display()
        ),
    );
    let _worker = env.worker(
        "steps",
        &[
            "--startup-steps",
            &steps.to_string_lossy(),
            "--step-tries",
            "3",
            "--step-sleeptime",
            "0",
            "--hook",
            &hook.to_string_lossy(),
        ],
    );
    let id = env
        .create(&env.task(
            "after-steps",
            json!({"command": [sh(&format!("echo task >> {o}"))], "maxRunTime": 30}),
        ))
        .await;
    assert_eq!(env.wait_resolved(&id).await["state"], "completed");
    assert_eq!(
        std::fs::read_to_string(&order).expect("order"),
        "2-first\n3-middle\n10-last-failed\n10-last\ntask\n"
    );
    // The task's "after" event comes once the task has been resolved; wait for it.
    let mut events: Vec<serde_json::Value> = Vec::new();
    for _ in 0..250 {
        let text = std::fs::read_to_string(&hook_log).unwrap_or_default();
        events = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("the hook gets JSON"))
            .collect();
        if events
            .iter()
            .any(|e| e["kind"] == "task" && e["result"] == "completed")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let step_results: Vec<String> = events
        .iter()
        .filter(|e| e["kind"] == "step" && e["name"] == "10-last")
        .map(|e| format!("{}:{}", e["try"], e["result"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        step_results,
        ["1:running", "1:retry", "2:running", "2:ok"],
        "{events:#?}"
    );
    let task_events: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["kind"] == "task").collect();
    assert_eq!(task_events.len(), 2, "{events:#?}");
    assert_eq!(task_events[0]["taskId"], id.as_str());
    assert_eq!(task_events[0]["result"], "running");
    assert_eq!(task_events[1]["result"], "completed");
    assert!(task_events[1]["durationMs"].is_u64());
}

#[tokio::test]
async fn a_step_exiting_2_halts_the_worker_before_it_claims() {
    let env = Env::new().await;
    let steps = env.path("steps");
    std::fs::create_dir(&steps).expect("mkdir");
    let order = env.path("order");
    let o = order.display();
    script(&steps.join("1-ok"), &format!("echo 1-ok >> {o}"));
    script(
        &steps.join("2-halt"),
        &format!("echo 2-halt >> {o}; exit 2"),
    );
    script(&steps.join("3-never"), &format!("echo 3-never >> {o}"));
    let halt = env.path("halt.sh");
    script(
        &halt,
        &format!("echo halt-step $RELYARD_HALTED_STEP >> {o}"),
    );
    let id = env
        .create(&env.task(
            "never-claimed",
            json!({"command": [["true"]], "maxRunTime": 30}),
        ))
        .await;
    let mut worker = env.worker(
        "halting",
        &[
            "--startup-steps",
            &steps.to_string_lossy(),
            "--halt-step",
            &halt.to_string_lossy(),
        ],
    );
    let exit = worker.wait(Duration::from_secs(30)).await;
    assert!(!exit.success(), "a halted worker exits non-zero");
    assert_eq!(
        std::fs::read_to_string(&order).expect("order"),
        "1-ok\n2-halt\nhalt-step 2-halt\n"
    );
    assert_eq!(
        env.status(&id).await["state"],
        "pending",
        "a halted worker claimed a task"
    );
}

#[tokio::test]
async fn the_recycle_policy_reboots_after_a_failed_task() {
    let env = Env::new().await;
    let rebooted = env.path("rebooted");
    let policy = env.path("recycle.json");
    std::fs::write(
        &policy,
        json!({
            "rebootCommand": ["sh", "-c", format!("echo $0 > {}", rebooted.display()), "reboot"],
            "rules": [{"results": ["failed"], "taskName": ["^flaky-"], "action": "reboot"}],
            "default": "continue",
        })
        .to_string(),
    )
    .expect("write policy");
    // Capacity 1: no claimWork is waiting when the policy ends the worker, so it exits at once
    // (a call in flight is always waited for: its answer may hold tasks already ours).
    let mut worker = env.worker(
        "recycled",
        &[
            "--capacity",
            "1",
            "--recycle-policy",
            &policy.to_string_lossy(),
        ],
    );
    // A completed task, and a failed one whose name the rule does not match, change nothing.
    let fine = env
        .create(&env.task(
            "flaky-but-fine",
            json!({"command": [["true"]], "maxRunTime": 30}),
        ))
        .await;
    assert_eq!(env.wait_resolved(&fine).await["state"], "completed");
    let other = env
        .create(&env.task("other", json!({"command": [["false"]], "maxRunTime": 30})))
        .await;
    assert_eq!(env.wait_resolved(&other).await["state"], "failed");
    assert!(!rebooted.exists());
    let flaky = env
        .create(&env.task(
            "flaky-and-failing",
            json!({"command": [["false"]], "maxRunTime": 30}),
        ))
        .await;
    assert_eq!(env.wait_resolved(&flaky).await["state"], "failed");
    let exit = worker.wait(Duration::from_secs(30)).await;
    assert!(exit.success(), "{exit:?}");
    assert_eq!(
        std::fs::read_to_string(&rebooted)
            .expect("the reboot command ran")
            .trim(),
        "reboot"
    );
}
